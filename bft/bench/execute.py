"""Running a sweep: the worker function, three executors, storage and aggregation.

Theory of operation. ``run_sweep`` validates every cell, computes every
run's key, asks the store which runs it already holds (a damaged stored row
is named and run again), and hands the rest to an executor. Executors yield
lists of ``(task, row)`` as runs finish, in any order; a run to store comes
as the columns running it gave (JSON text and checksum, ``store.tail``),
built where it ran. The main process adds the columns it knows, commits at
least every ``FLUSH_SECONDS`` and advances the progress bar: with several
workers it does little beyond inserting rows.
Rows are then put back in sweep order (protocol, adversary, seed), so the
result depends neither on the executor, nor on the batching, nor on what was
stored before.

* ``serial``: in this process, one run after another.
* ``processes``: ``jobs`` local worker processes (``bft.bench.workers``),
  which die with the parent. Runs go out in batches whose size adapts to the
  measured run time (about 0.2 s of work per batch, so the per-batch cost
  stays negligible and an interrupt loses at most one batch per worker, and
  at most 1/(2 x workers) of what is left, so the last batches end together).
* ``dask``: batches on a Dask distributed cluster (``--scheduler``), about
  1 s of work each, since a Dask task costs milliseconds. Each batch reports
  the worker's source digest; a worker running other code is an error, since
  its results would be stored under the wrong version.

A run yields a row with a ``status``:

* ``ok``: metrics, verdicts, per-round tallies, trace digest; stored.
* ``failed``: the run raised (anything, ``BaseException`` included: a node
  calling ``sys.exit``, raising ``KeyboardInterrupt`` or ``GeneratorExit``);
  the exception's type, message and location are stored, the sweep goes on,
  and the cell shows "n/a" with the reason. Runs are pure functions of their
  key, so a stored failure is reused like a result.
* ``invalid``: the configuration failed validation at run time (say an
  adversary asking for more nodes than the protocol has); the cell shows
  "n/a"; not stored.
* ``lost``: the worker process died during the run (see ``workers``); the
  cell shows "n/a"; not stored, so a re-run tries it again.

Interruption. While a sweep runs in the main thread, SIGINT and SIGTERM
raise ``Interrupted`` in it (once; a second signal during the clean-up is
ignored): the workers are killed and waited for, every run finished so far
is committed, and a re-run resumes. Only this is a genuine interruption: an
exception raised by the run itself, ``KeyboardInterrupt`` included, is a
failed run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from types import FrameType, TracebackType
from typing import Any, NamedTuple

import attrs

from bft.bench.progress import Progress
from bft.bench.stats import Summary, summarize
from bft.bench.store import (
    Damaged,
    Store,
    Where,
    code_version,
    head,
    parse_tail,
    source_digest,
    tail,
)
from bft.bench.sweep import Cell, Sweep
from bft.bench.workers import Workers
from bft.core.encoding import to_plain
from bft.core.errors import ConfigError, PluginError
from bft.run import runner
from bft.run.scenario import Scenario

Row = dict[str, Any]
Chunk = list[tuple[int, Row]]

PROCESS_BATCH_SECONDS = 0.2
FLUSH_SECONDS = 0.2  # finished runs are committed at least this often
DASK_BATCH_SECONDS = 1.0
MAX_BATCH = 512
MESSAGE_LIMIT = 500  # characters of an exception message kept
STORED = ("ok", "failed")  # statuses a store keeps: what re-running would give again


class Task(NamedTuple):
    """One run to make: its place in the sweep's plan, what to run, where to store it."""

    index: int  # type: ignore[assignment]  # a field named like tuple.index, which it hides
    scenario: Scenario  # the cell's; run with ``where.seed``
    key: str
    where: Where


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the sweep; the runs finished before it are stored."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.stored = 0  # runs this sweep stored before it stopped
        self.db: str | None = None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


class _Stop:
    signum: int | None = None


_stop = _Stop()


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` (once) while the block runs in the main
    thread; a signal the process ignores stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if _stop.signum is None:
            _stop.signum = signum
            raise Interrupted(signum)

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        _stop.signum = None


# -- the worker -------------------------------------------------------------------


def location(tb: TracebackType | None) -> str:
    """Where an exception was raised: the innermost Python frame as ``module:line in function``
    (module names, not file paths, so it reads the same from any directory or machine)."""
    if tb is None:
        return "unknown"
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame = tb.tb_frame
    module = frame.f_globals.get("__name__", "?")
    return f"{module}:{tb.tb_lineno} in {frame.f_code.co_name}"


def failure(exc: BaseException) -> dict[str, str]:
    message = str(exc)
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 3] + "..."
    return {
        "type": type(exc).__name__,
        "message": message,
        "location": location(exc.__traceback__),
    }


def run_one(scenario: Scenario) -> Row:
    """Run one scenario; a JSON-ready row with a ``status`` (see the module docstring)."""
    start = time.perf_counter()
    try:
        result = runner.run(scenario)
        record = result.record
        names = sorted({name for per_round in record.tallies for name in per_round})
        row: Row = {
            "status": "ok",
            "metrics": to_plain(dict(result.metrics)),
            "properties": {
                name: {
                    "holds": bool(verdict.holds),
                    "exercised": bool(verdict.exercised),
                    "kind": result.properties[name].kind,
                }
                for name, verdict in result.verdicts.items()
            },
            "series": {name: to_plain(record.tally(name)) for name in names},
            "digest": result.digest,
        }
    except PluginError as exc:  # a plug-in's bug: the run failed; report what it raised
        cause = exc.__context__ if isinstance(exc.__context__, Exception) else exc
        return {"status": "failed", "error": failure(cause), "seconds": time.perf_counter() - start}
    except ConfigError as exc:
        return {"status": "invalid", "reason": str(exc)}
    except BaseException as exc:  # noqa: BLE001 - a run's failure is a result; Ctrl-C is not
        if _stop.signum is not None:
            raise
        return {"status": "failed", "error": failure(exc), "seconds": time.perf_counter() - start}
    row["seconds"] = time.perf_counter() - start
    return row


def run_task(task: Task) -> Row:
    """``run_one``; a run to store becomes ``{"status", "stored": columns}``, its columns
    (``bft.bench.store.tail``: JSON text and checksum) built where it ran, so a parent
    with several workers receives little and only inserts it."""
    row = run_one(attrs.evolve(task.scenario, seed=task.where.seed))
    if row["status"] in STORED:
        columns = tail(task.key, task.where, row)
        return {"status": row["status"], "stored": columns, "seconds": row["seconds"]}
    return row


def run_batch(batch: Sequence[Task]) -> tuple[str, Chunk]:
    """Run a batch of tasks; also return this worker's source digest (for Dask)."""
    return source_digest(), [(task.index, run_task(task)) for task in batch]


# -- executors --------------------------------------------------------------------


class _Batcher:
    """Cuts items into batches of about ``target`` seconds of work, by measured run time,
    and of at most 1/(2 x workers) of what is left, so the last batches end together."""

    def __init__(self, items: Iterable[Any], target: float, workers: int = 1) -> None:
        self.tasks = deque(items)
        self.target = target
        self.workers = workers
        self.seconds = 0.0
        self.runs = 0

    def __bool__(self) -> bool:
        return bool(self.tasks)

    def next(self) -> list[Any]:
        if self.runs == 0:
            size = 1
        else:
            mean = max(self.seconds / self.runs, 1e-6)
            size = max(1, min(MAX_BATCH, int(self.target / mean)))
            # Near the end, smaller batches so that no worker idles while another finishes.
            size = min(size, max(1, -(-len(self.tasks) // (2 * self.workers))))
        return [self.tasks.popleft() for _ in range(min(size, len(self.tasks)))]

    def observe(self, rows: Sequence[tuple[int, Row]]) -> None:
        for _, row in rows:
            if "seconds" in row:
                self.seconds += row["seconds"]
                self.runs += 1


def serial(tasks: Sequence[Task]) -> Generator[Chunk, None, None]:
    for task in tasks:
        yield [(task.index, run_task(task))]


def processes(tasks: Sequence[Task], jobs: int) -> Generator[Chunk, None, None]:
    """Run on ``jobs`` local worker processes; yields rows as batches finish."""
    pool = Workers(tasks, run_task, jobs)
    finished = False
    try:
        for chunk in pool.run(_Batcher(range(len(tasks)), PROCESS_BATCH_SECONDS, jobs)):
            yield [(tasks[i].index, row) for i, row in chunk]
        finished = True
    finally:
        pool.close(kill=not finished)


SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")
_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def check_address(address: str) -> None:
    """A scheduler address must be ``[SCHEME://]HOST:PORT``; refuse anything else up front."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme not in SCHEMES:
        raise ConfigError(
            f"--scheduler {address!r}: unknown scheme {scheme!r}; use tcp://HOST:PORT "
            f"(schemes: {', '.join(SCHEMES)})"
        )
    if scheme != "inproc" and not _HOST_PORT.match(rest):
        raise ConfigError(f"--scheduler {address!r}: expected {scheme}://HOST:PORT")


def dask(
    tasks: Sequence[Task], address: str, timeout: float = 10.0
) -> Generator[Chunk, None, None]:
    """Run on the Dask distributed cluster whose scheduler is at ``address``."""
    check_address(address)
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ConfigError(
            "--scheduler needs Dask distributed, an optional extra: pip install 'bft[dask]'"
        ) from None
    logging.getLogger("distributed").setLevel(logging.ERROR)
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError for a bad address
        raise ConfigError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None
    mine = source_digest()
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except Exception:  # noqa: BLE001
            raise ConfigError(
                f"the Dask scheduler at {address!r} has no workers (waited {timeout:g} s)"
            ) from None
        threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
        batcher = _Batcher(tasks, DASK_BATCH_SECONDS, max(1, threads))
        queue = as_completed(loop=client.loop)
        in_flight = 0

        def fill() -> None:
            nonlocal in_flight
            while batcher and in_flight < 2 * max(1, threads):
                queue.add(client.submit(run_batch, batcher.next(), pure=False))
                in_flight += 1

        fill()
        for future in queue:
            in_flight -= 1
            try:
                theirs, rows = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. bft missing on a worker
                raise ConfigError(
                    f"a Dask task failed on a worker: {type(exc).__name__}: {exc} "
                    "(is the same bft installed on every worker?)"
                ) from None
            if theirs != mine:
                raise ConfigError(
                    f"a Dask worker runs different bft code (source digest {theirs}, "
                    f"here {mine}); install the same version on every worker"
                )
            batcher.observe(rows)
            fill()
            yield rows
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=2)


# -- results ----------------------------------------------------------------------


@attrs.frozen(hash=False)
class RunRow:
    """One run's result. Equality ignores timing, which no two executions share."""

    protocol: str
    adversary: str
    seed: int
    key: str
    metrics: dict[str, Any]
    properties: dict[str, Any]
    digest: str
    series: dict[str, list[float]] = attrs.field(eq=False, repr=False)
    seconds: float = attrs.field(eq=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "adversary": self.adversary,
            "seed": self.seed,
            "key": self.key,
            "metrics": self.metrics,
            "properties": self.properties,
            "digest": self.digest,
        }


@attrs.frozen
class FailedRun:
    """A run that raised (``error``: type, message, location) or whose worker died
    (``error["type"]`` is ``"lost"``)."""

    protocol: str
    adversary: str
    seed: int
    key: str
    error: dict[str, str]

    def describe(self) -> str:
        e = self.error
        if e["type"] == "lost":
            return f"{e['message']} (seed {self.seed})"
        text = f"{e['type']}: {e['message']}" if e["message"] else e["type"]
        return f"run raised {text} at {e['location']} (seed {self.seed})"

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class PropertyCount:
    kind: str
    runs: int
    violated: int
    exercised: int

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class CellResult:
    protocol: str
    adversary: str
    protocol_name: str
    runs: int
    metrics: dict[str, Summary]
    properties: dict[str, PropertyCount]
    error: str | None = None
    violating: int = 0  # runs in which at least one property was violated

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "adversary": self.adversary,
            "protocol_name": self.protocol_name,
            "runs": self.runs,
            "error": self.error,
            "runs_violating": None if self.error else self.violating,
            "metrics": {name: s.to_json() for name, s in self.metrics.items()},
            "properties": {name: c.to_json() for name, c in self.properties.items()},
        }


@attrs.frozen
class SweepResult:
    sweep: Sweep
    cells: list[CellResult]
    rows: list[RunRow]
    reused: int
    ran: int
    code_version: str
    db: str | None
    seconds: float
    crashed: int = 0  # cells where a run raised or its worker died (a bug), not a bad config
    failures: list[FailedRun] = attrs.Factory(list)
    damaged: list[Damaged] = attrs.Factory(list)  # stored rows found damaged and run again

    @property
    def notes(self) -> list[str]:
        out = list(self.sweep.unavailable)
        if self.damaged:
            first = ", ".join(str(d) for d in self.damaged[:3])
            more = f" and {len(self.damaged) - 3} more" if len(self.damaged) > 3 else ""
            out.append(
                f"results database {self.db}: {len(self.damaged)} damaged row(s) ignored "
                f"and run again: {first}{more}"
            )
        out += [f"{c.protocol} x {c.adversary}: n/a: {c.error}" for c in self.cells if c.error]
        for c in self.cells:
            refused = c.metrics.get("refused")
            if refused is not None and refused.mean:
                out.append(
                    f"{c.protocol} x {c.adversary}: the engine refused {refused.mean:g} adversary "
                    "actions per run on average (outside the network model or key set; "
                    "see 'refused' in 'bft run --json')"
                )
        return out


def aggregate(cell: Cell, rows: Sequence[RunRow], error: str | None) -> CellResult:
    label_p, label_a = cell.protocol.label, cell.adversary.label
    if error is not None:
        return CellResult(label_p, label_a, cell.protocol_name, 0, {}, {}, error)
    values: dict[str, list[Any]] = {}  # metric -> its numeric values, in row order
    for row in rows:
        for name, v in row.metrics.items():
            column = values.get(name)
            if column is None:
                column = values[name] = []
            if isinstance(v, int | float):
                column.append(v)
    metrics = {name: summarize(column) for name, column in values.items()}
    counts: dict[str, list[Any]] = {}  # name -> [kind, runs, violated, exercised]
    for row in rows:
        for name, verdict in row.properties.items():
            count = counts.get(name)
            if count is None:
                count = counts[name] = [verdict["kind"], 0, 0, 0]
            count[1] += 1
            count[2] += not verdict["holds"]
            count[3] += bool(verdict["exercised"])
    props = {name: PropertyCount(*count) for name, count in counts.items()}
    violating = sum(any(not v["holds"] for v in row.properties.values()) for row in rows)
    return CellResult(
        label_p, label_a, cell.protocol_name, len(rows), metrics, props, None, violating
    )


def _stale(row: Row, cell: Cell, seed: int, version: str) -> bool:
    """A stored row whose own record disagrees with the key it is stored under."""
    return row["seed"] != seed or row["code_version"] != version or row["config"] != cell.config


def run_sweep(
    sweep: Sweep,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    db: str | None = None,
    version: str | None = None,
    progress: bool | None = None,
    scheduler_timeout: float = 10.0,
) -> SweepResult:
    """Run every missing run of ``sweep``, store each as it finishes, and aggregate."""
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1 (got {jobs})")
    if jobs > (os.cpu_count() or 1) * 8:
        raise ConfigError(f"--jobs {jobs} is more than 8 per CPU ({os.cpu_count()} CPUs)")
    start = time.monotonic()
    source_digest.cache_clear()  # the sources as they are now, in a long-lived process too
    version = version or code_version()
    cells = sweep.cells()
    if all(c.error for c in cells):
        first = cells[0]
        raise ConfigError(
            f"no cell of the sweep can run; {first.protocol.label} x {first.adversary.label}: {first.error}"
        )
    store = Store(db or ":memory:")
    ran = 0
    try:
        plan: list[tuple[Cell, int, str]] = [
            (cell, seed, cell.key(seed, version))
            for cell in cells
            if cell.error is None
            for seed in sweep.seeds
        ]
        stored, damaged = store.get(key for _, _, key in plan)
        for cell, seed, key in plan:
            if key in stored and _stale(stored[key], cell, seed, version):
                del stored[key]
                damaged.append(
                    Damaged(
                        key, "its configuration, seed or code version is not the one its key names"
                    )
                )
        rows: dict[int, Row] = {
            i: stored[key] for i, (_, _, key) in enumerate(plan) if key in stored
        }
        reused = len(rows)
        tasks = [
            Task(
                i,
                cell.scenario,
                key,
                Where(cell.scenario.name, cell.protocol_name, seed, version, cell.config_text),
            )
            for i, (cell, seed, key) in enumerate(plan)
            if key not in stored
        ]
        by_index = {task.index: task for task in tasks}
        bar = Progress(len(tasks), enabled=progress)
        pending: list[tuple[Any, ...]] = []
        last = time.monotonic()

        def flush() -> None:
            nonlocal ran, last
            store.insert(pending)
            ran += len(pending)
            pending.clear()
            last = time.monotonic()

        with interruptible():
            if scheduler:
                source: Generator[Chunk, None, None] = dask(tasks, scheduler, scheduler_timeout)
            elif jobs > 1 and tasks:
                source = processes(tasks, min(jobs, len(tasks)))
            else:
                source = serial(tasks)
            stopped: Interrupted | None = None
            try:
                for chunk in source:
                    for index, row in chunk:
                        columns = row.get("stored")
                        if columns is not None:
                            task = by_index[index]
                            pending.append((*head(task.key, task.where), *columns))
                            row = parse_tail(columns)
                        rows[index] = row
                    if time.monotonic() - last >= FLUSH_SECONDS:
                        flush()
                    bar.advance(len(chunk))
            except Interrupted as exc:
                stopped = exc
            finally:
                bar.close()
                source.close()  # the workers are stopped before anything else
            flush()  # after an interrupt too: every finished run is kept
            if stopped is not None:
                stopped.stored, stopped.db = ran, db
                raise stopped
    finally:
        store.close()
    return _result(sweep, cells, plan, rows, reused, ran, version, db, start, damaged)


def _result(
    sweep: Sweep,
    cells: list[Cell],
    plan: list[tuple[Cell, int, str]],
    rows: dict[int, Row],
    reused: int,
    ran: int,
    version: str,
    db: str | None,
    start: float,
    damaged: list[Damaged],
) -> SweepResult:
    """Aggregate in sweep order: what a cell shows does not depend on completion order."""
    by_cell: dict[int, list[tuple[int, str, Row]]] = {}
    for i, (cell, seed, key) in enumerate(plan):
        if i in rows:
            by_cell.setdefault(cell.index, []).append((seed, key, rows[i]))
    ordered: list[RunRow] = []
    failures: list[FailedRun] = []
    results = []
    crashed = 0
    for cell in cells:
        runs = by_cell.get(cell.index, [])
        label_p, label_a = cell.protocol.label, cell.adversary.label
        good = [
            RunRow(
                label_p,
                label_a,
                seed,
                key,
                row["metrics"],
                row["properties"],
                row["digest"],
                row["series"],
                row["seconds"],
            )
            for seed, key, row in runs
            if row["status"] == "ok"
        ]
        bad = [
            FailedRun(
                label_p,
                label_a,
                seed,
                key,
                row["error"]
                if row["status"] == "failed"
                else {"type": "lost", "message": row["reason"], "location": "unknown"},
            )
            for seed, key, row in runs
            if row["status"] in ("failed", "lost")
        ]
        invalid = [row["reason"] for _, _, row in runs if row["status"] == "invalid"]
        error = cell.error or (invalid[0] if invalid else None)
        if error is None and bad:
            crashed += 1
            error = f"{len(bad)} of {len(runs)} runs failed; first: {bad[0].describe()}"
        failures += bad
        if error is None:
            ordered += good
        results.append(aggregate(cell, good, error))
    if not crashed and all(c.error for c in results):
        first = results[0]
        raise ConfigError(
            f"no cell of the sweep can run; {first.protocol} x {first.adversary}: {first.error}"
        )
    return SweepResult(
        sweep,
        results,
        ordered,
        reused,
        ran,
        version,
        db,
        time.monotonic() - start,
        crashed,
        failures,
        damaged,
    )
