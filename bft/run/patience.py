"""Patience: a run projected to take far longer than a user waits is stopped early.

Theory of operation. The size budgets (``bft.run.budget``) refuse what cannot
run on this machine at all; many sizes within them still run for hours (PBFT
with 3,000 replicas delivers millions of messages a round), and a command that
sits silent for an hour is indistinguishable from a hang. So the command-line
runs (``bft run``, ``bft replay``, the runs ``bft check`` makes before it
searches) are watched: every few seconds of the process's CPU time a timer
signal compares the rounds done with the rounds asked for, and when
the whole run is projected to take longer than the patience (a minute of
CPU time by default) it is stopped with one line that gives the projection and the way
on: ``--long`` lets it finish, smaller ``--nodes``/``--rounds`` make it
shorter. A run that finishes within the first look is never affected, and
one that is merely slow but within the patience goes on.

The projection assumes the rounds left cost what the rounds done cost on
average (before the first round ends, that the first round is typical).
Time is CPU time (``ITIMER_VIRTUAL``, ``SIGVTALRM``): the work a run needs,
not how busy the machine is, and a timer that leaves ``SIGALRM`` to whoever
runs bft (a test harness's watchdog; its timer and handler are untouched). It
is stopped by raising ``TooLong`` from the signal handler: a subclass of the
engine's ``Interrupted``, so protocol and adversary code cannot swallow it as
their own bug, and the command line reports it as bad input (exit status 2).
Only the main thread of a POSIX process can take timer signals; elsewhere
(a worker thread, Windows) nothing is watched.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator

from bft.core.errors import TooLong

#: how long a run may be projected to take before it needs ``--long``: the command line's
#: runs are the ones a user sits and waits for (the shipped scenarios take seconds; the
#: scale runs of the benchmarks go through the Python API, which is never watched)
PATIENCE_SECONDS = 60.0
#: the first look at a run's progress, then every ``LOOK_EVERY`` seconds
FIRST_LOOK = 5.0
LOOK_EVERY = 5.0


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 120:
        minutes = f"{seconds / 60:.1f}"
        return "1 minute" if minutes == "1.0" else f"{minutes} minutes"
    if seconds < 7200:
        return f"{math.ceil(seconds / 60)} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:,.0f} days"


def projection(elapsed: float, done: int, total: int) -> float:
    """The whole run's projected wall time after ``done`` of ``total`` rounds in
    ``elapsed`` seconds (with no round done yet, as if the first were typical)."""
    return elapsed * total / max(done, 1)


@contextlib.contextmanager
def watched(
    progress: Callable[[], tuple[int, int]],
    owner: str,
    limit: float | None = PATIENCE_SECONDS,
) -> Iterator[None]:
    """While the block runs, stop it with ``TooLong`` once ``progress()`` (rounds done,
    rounds asked for) projects more than ``limit`` seconds (``None``: never)."""
    if (
        limit is None
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    start = time.process_time()

    def look(signum: int, frame: object) -> None:
        elapsed = time.process_time() - start
        done, total = progress()
        projected = projection(elapsed, done, total)
        if done < total and projected > limit:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            raise TooLong(
                f"{owner}: this run is projected to take about {_duration(projected)} "
                f"({done:,} of {total:,} rounds in {elapsed:.0f} s of CPU time), more than "
                f"the {_duration(limit)} a run may take without --long; pass --long to let "
                "it finish, or make it smaller (--nodes, --rounds)"
            )

    previous = signal.signal(signal.SIGVTALRM, look)
    outer = signal.setitimer(signal.ITIMER_VIRTUAL, FIRST_LOOK, LOOK_EVERY)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, *outer)
        signal.signal(signal.SIGVTALRM, previous)
