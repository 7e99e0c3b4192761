"""Local worker processes for a sweep: they run batches of tasks and die with their parent.

Theory of operation. ``Workers`` starts ``jobs`` processes, with ``fork``
where the platform has it: the task table, every imported module and every
registered protocol are inherited, so nothing is imported or pickled again
(with ``spawn`` the table is pickled once per worker). A worker holds the
whole table and receives only lists of task indices over its own pipe; it
answers each list with ``[(index, row), ...]``. The parent keeps two
batches in flight per worker (the one it runs and the next, waiting in the
pipe), so a worker goes on at once, without waiting for the parent to be
scheduled, to read its answer or to store it; the messages are a few bytes
each, so the pipe never fills that way; the other way, the pipe's buffer is
widened (1 MiB asked) so that a worker can write a batch's rows while the
parent is busy storing. There are no helper threads in the parent: it waits
on the pipes and on the workers' exit sentinels together.

Dying with the parent. A worker asks the Linux kernel to SIGKILL it when its
parent dies (``prctl(PR_SET_PDEATHSIG)``), then checks that the parent has
not already gone; where that is not available a daemon thread polls
``os.getppid()``. So a SIGKILL of ``bft bench`` leaves no worker running a
sweep nobody reads, holding the database and the parent's output pipes.
Workers ignore SIGINT (a Ctrl-C at the terminal reaches the whole process
group; the parent decides) and die on SIGTERM. ``close`` kills them all and
waits for them; the parent calls it on every way out, interrupts included.

A worker that dies (``os._exit`` in node code, a segfault, the OOM killer)
is replaced. The runs of the batch it was running are retried one per
batch, so a run that kills a worker is isolated; that run is reported as
``lost`` with the way the worker ended (the caller does not store it: the
cause may lie outside the run). The batch waiting behind it is sent again.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
AHEAD = 2  # batches in flight per worker: the one it runs and the next
PIPE_BUFFER = 1 << 20  # bytes
WATCH_INTERVAL = 0.2  # seconds between parent checks where prctl is not available
JOIN_TIMEOUT = 5.0

Row = dict[str, Any]


class Batches(Protocol):
    """Where batches of table indices come from (``bft.bench.execute._Batcher``)."""

    def __bool__(self) -> bool: ...

    def next(self) -> list[int]: ...

    def observe(self, rows: Sequence[tuple[int, Row]]) -> None: ...


# -- in the worker ------------------------------------------------------------------------


def die_with_parent(parent: int) -> bool:
    """Arrange for this process to end when process ``parent`` does; True if the kernel
    does it (Linux), False if a polling thread does."""
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)
    if not armed:
        threading.Thread(
            target=_watch_parent, args=(parent,), name="bft-watch-parent", daemon=True
        ).start()
    return armed


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL)
    os._exit(1)


def _worker_main(
    conn: Connection, table: Sequence[Any], run: Callable[[Any], Row], parent: int
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not a handler inherited from the parent
    die_with_parent(parent)
    gc.freeze()  # inherited objects: the collector need not scan (and copy) them again
    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):
            return
        if batch is None:
            return
        conn.send([(index, run(table[index])) for index in batch])


# -- in the parent ------------------------------------------------------------------------


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def _widen(conn: Connection, option: int) -> None:
    """Ask for a pipe buffer of ``PIPE_BUFFER`` bytes (the kernel may grant less), so that a
    worker can write a batch's rows while the parent is busy, instead of waiting for it."""
    try:
        sock = socket.socket(fileno=os.dup(conn.fileno()))
    except OSError:
        return
    with sock, contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, option, PIPE_BUFFER)


class _Worker:
    def __init__(self, ctx: Any, table: Sequence[Any], run: Callable[[Any], Row]) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        _widen(child, socket.SO_SNDBUF)
        _widen(self.conn, socket.SO_RCVBUF)
        self.proc = ctx.Process(
            target=_worker_main,
            args=(child, table, run, os.getpid()),
            name="bft-bench-worker",
            daemon=True,
        )
        self.proc.start()
        child.close()
        self.batches: deque[list[int]] = deque()  # sent, not answered; the first one runs

    def send(self, batch: list[int]) -> bool:
        self.batches.append(batch)
        try:
            self.conn.send(batch)
        except OSError:  # it died; the sentinel says so next
            return False
        return True

    def ended(self) -> str:
        """How the process ended, once it has."""
        self.proc.join(JOIN_TIMEOUT)
        code = self.proc.exitcode
        if code is None:
            return "the worker stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the worker process was killed by {name}"
        return f"the worker process exited with status {code}"

    def stop(self, kill: bool) -> None:
        if kill:
            with contextlib.suppress(Exception):
                self.proc.kill()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)

    def reap(self) -> None:
        self.proc.join(JOIN_TIMEOUT)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(JOIN_TIMEOUT)
        self.conn.close()


class Workers:
    """``jobs`` worker processes running ``run`` over items of ``table``."""

    def __init__(self, table: Sequence[Any], run: Callable[[Any], Row], jobs: int) -> None:
        self.table = table
        self.run_item = run
        self.ctx = _context()
        self.workers: list[_Worker] = []
        try:
            for _ in range(jobs):
                self.workers.append(_Worker(self.ctx, table, run))
        except BaseException:
            self.close(kill=True)
            raise

    def run(self, batches: Batches) -> Iterator[list[tuple[int, Row]]]:
        """Yield the rows of each batch as it finishes (in any order)."""
        retry: deque[list[int]] = deque()

        def feed(worker: _Worker) -> None:
            while len(worker.batches) < AHEAD and (retry or batches):
                worker.send(retry.popleft() if retry else batches.next())

        while True:
            for worker in self.workers:
                feed(worker)
            busy = [w for w in self.workers if w.batches]
            if not busy:
                return
            ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy]))
            for worker in busy:
                if worker.conn not in ready and worker.proc.sentinel not in ready:
                    continue
                try:
                    # An answer, or the end of the pipe; a worker that ended without closing
                    # it (a process it started holds it open) has its sentinel ready instead.
                    if not worker.conn.poll():
                        raise EOFError
                    rows = worker.conn.recv()
                except (EOFError, OSError):
                    yield from self._replace(worker, retry)
                    continue
                worker.batches.popleft()
                batches.observe(rows)
                feed(worker)
                yield rows

    def _replace(self, worker: _Worker, retry: deque[list[int]]) -> Iterator[list[tuple[int, Row]]]:
        running, *waiting = worker.batches or [[]]
        how = worker.ended()
        worker.reap()
        self.workers[self.workers.index(worker)] = _Worker(self.ctx, self.table, self.run_item)
        retry.extendleft(reversed(waiting))
        if len(running) > 1:
            retry.extend([index] for index in running)  # find the run that kills its worker
        elif running:
            yield [(running[0], {"status": "lost", "reason": f"{how} during this run"})]

    def close(self, kill: bool = False) -> None:
        """Stop every worker (``kill``: at once, mid-run) and wait until each has ended."""
        for worker in self.workers:
            worker.stop(kill)
        for worker in self.workers:
            worker.reap()
        self.workers = []
