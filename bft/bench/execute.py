"""Running a sweep: the worker, three executors, storage and aggregation.

Theory of operation. ``run_sweep`` validates every cell, computes every
run's key, asks the store which runs it already holds, and hands the rest to
an executor as ``(task, scenario)`` pairs. Executors yield ``(task, row)``
as runs finish, in any order; the main process stores each row in its own
transaction at once and advances the progress bar. Rows are then put back in
sweep order (protocol, adversary, seed), so the result does not depend on
the executor, on the batching or on what was stored before.

* ``serial``: in this process, one run after another.
* ``processes``: a ``ProcessPoolExecutor`` with ``jobs`` workers. Runs are
  sent in batches whose size adapts to the measured run time (about 0.2 s
  of work per batch: the 0.26 ms per-task overhead stays negligible, and an
  interrupt loses at most one batch per worker). At most two batches per
  worker are in flight, so batch sizes follow the estimate.
* ``dask``: the same batches on a Dask distributed cluster (``--scheduler``),
  about 1 s of work per batch since a Dask task costs milliseconds. Each
  batch reports the worker's source digest; a worker running other code is
  an error, since its results would be stored under the wrong version.

A run that fails validation at run time (say an adversary asking for more
nodes than the protocol has) marks its cell "n/a" with the reason; so does a
run that raises (a bug outside node code, which the engine does not catch),
counted in ``SweepResult.crashed``. Neither is stored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

import attrs

from bft.bench.progress import Progress
from bft.bench.stats import Summary, summarize
from bft.bench.store import Store, code_version, source_digest
from bft.bench.sweep import Cell, Sweep
from bft.core.encoding import to_plain
from bft.core.errors import ConfigError, PluginError
from bft.run import runner
from bft.run.scenario import Scenario

Task = tuple[int, Scenario]
Row = dict[str, Any]

PROCESS_BATCH_SECONDS = 0.2
DASK_BATCH_SECONDS = 1.0
MAX_BATCH = 512


# -- the worker -------------------------------------------------------------------


def run_one(scenario: Scenario) -> Row:
    """Run one scenario; a JSON-ready row (or ``{"error": reason}`` for a bad config)."""
    start = time.perf_counter()
    try:
        result = runner.run(scenario)
    except PluginError as exc:  # a plug-in's bug: the cell failed, like a run that raised
        return {"error": f"{exc} (seed {scenario.seed})", "crashed": True}
    except ConfigError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a bug outside node code: report the cell, go on
        return {
            "error": f"run raised {type(exc).__name__}: {exc} (seed {scenario.seed})",
            "crashed": True,
        }
    seconds = time.perf_counter() - start
    record = result.record
    names = sorted({name for per_round in record.tallies for name in per_round})
    row = {
        "metrics": to_plain(dict(result.metrics)),
        "properties": {
            name: {
                "holds": verdict.holds,
                "exercised": verdict.exercised,
                "kind": result.properties[name].kind,
            }
            for name, verdict in result.verdicts.items()
        },
        "series": {name: to_plain(record.tally(name)) for name in names},
        "digest": result.digest,
    }
    row = json.loads(json.dumps(row))  # the exact form a stored row comes back in
    row["seconds"] = seconds
    return row


def run_batch(batch: Sequence[Task]) -> tuple[str, list[tuple[int, Row]]]:
    """Run a batch of tasks; also return this worker's source digest."""
    return source_digest(), [(task, run_one(sc)) for task, sc in batch]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# -- executors --------------------------------------------------------------------


class _Batcher:
    """Cuts tasks into batches of about ``target`` seconds of work, by measured run time,
    and of at most 1/(2 x workers) of what is left, so the last batches end together."""

    def __init__(self, tasks: Sequence[Task], target: float, workers: int = 1) -> None:
        self.tasks = deque(tasks)
        self.target = target
        self.workers = workers
        self.seconds = 0.0
        self.runs = 0

    def __bool__(self) -> bool:
        return bool(self.tasks)

    def next(self) -> list[Task]:
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


def serial(tasks: Sequence[Task]) -> Iterator[tuple[int, Row]]:
    for task, sc in tasks:
        yield task, run_one(sc)


def processes(tasks: Sequence[Task], jobs: int) -> Iterator[tuple[int, Row]]:
    """Run on ``jobs`` local worker processes; yields rows as batches finish."""
    batcher = _Batcher(tasks, PROCESS_BATCH_SECONDS, jobs)
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_ignore_sigint)
    running: set[Future[Any]] = set()
    finished = False
    try:
        while batcher or running:
            while batcher and len(running) < 2 * jobs:
                running.add(pool.submit(run_batch, batcher.next()))
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                _, rows = future.result()
                batcher.observe(rows)
                yield from rows
        finished = True
    finally:
        if not finished:  # interrupted or failed: stop the workers now
            for worker in list((getattr(pool, "_processes", None) or {}).values()):
                with contextlib.suppress(Exception):
                    worker.terminate()
        pool.shutdown(wait=finished, cancel_futures=True)


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


def dask(tasks: Sequence[Task], address: str, timeout: float = 10.0) -> Iterator[tuple[int, Row]]:
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
            yield from rows
            fill()
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
    crashed: int = 0  # cells where a run raised (a bug outside node code), not a bad config

    @property
    def notes(self) -> list[str]:
        out = list(self.sweep.unavailable)
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
    names: list[str] = []
    for row in rows:
        names += [m for m in row.metrics if m not in names]
    metrics = {
        name: summarize(
            v if isinstance(v, int | float) else None
            for v in (row.metrics.get(name) for row in rows)
        )
        for name in names
    }
    props: dict[str, PropertyCount] = {}
    for row in rows:
        for name, verdict in row.properties.items():
            old = props.get(name, PropertyCount(verdict["kind"], 0, 0, 0))
            props[name] = PropertyCount(
                old.kind,
                old.runs + 1,
                old.violated + (not verdict["holds"]),
                old.exercised + bool(verdict["exercised"]),
            )
    violating = sum(any(not v["holds"] for v in row.properties.values()) for row in rows)
    return CellResult(
        label_p, label_a, cell.protocol_name, len(rows), metrics, props, None, violating
    )


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
    try:
        plan: list[tuple[Cell, int, str]] = [
            (cell, seed, cell.key(seed, version))
            for cell in cells
            if cell.error is None
            for seed in sweep.seeds
        ]
        stored = store.get(key for _, _, key in plan)
        rows: dict[int, Row] = {
            i: stored[key] for i, (_, _, key) in enumerate(plan) if key in stored
        }
        tasks = [
            (i, attrs.evolve(cell.scenario, seed=seed))
            for i, (cell, seed, key) in enumerate(plan)
            if key not in stored
        ]
        if scheduler:
            source: Iterator[tuple[int, Row]] = dask(tasks, scheduler, scheduler_timeout)
        elif jobs > 1 and len(tasks) > 1:
            source = processes(tasks, jobs)
        else:
            source = serial(tasks)
        errors: dict[int, str] = {}
        crashed: set[int] = set()
        bar = Progress(len(tasks), enabled=progress)
        ran = 0
        try:
            for task, row in source:
                cell, seed, key = plan[task]
                if "error" in row:
                    errors.setdefault(cell.index, row["error"])
                    if row.get("crashed"):
                        crashed.add(cell.index)
                else:
                    store.put(
                        key,
                        scenario=cell.scenario.name,
                        protocol=cell.protocol_name,
                        seed=seed,
                        code_version=version,
                        config=cell.config or {},
                        row=row,
                    )
                    rows[task] = row
                    ran += 1
                bar.advance()
        finally:
            bar.close()
            if hasattr(source, "close"):
                source.close()
    finally:
        store.close()
    if not crashed and all(cell.error or cell.index in errors for cell in cells):
        first = cells[0]
        raise ConfigError(
            f"no cell of the sweep can run; {first.protocol.label} x {first.adversary.label}: "
            f"{first.error or errors[first.index]}"
        )
    ordered: list[RunRow] = []
    by_cell: dict[int, list[RunRow]] = {}
    for i, (cell, seed, key) in enumerate(plan):
        if i not in rows or cell.index in errors:
            continue
        row = rows[i]
        run_row = RunRow(
            cell.protocol.label,
            cell.adversary.label,
            seed,
            key,
            row["metrics"],
            row["properties"],
            row["digest"],
            row["series"],
            row["seconds"],
        )
        ordered.append(run_row)
        by_cell.setdefault(cell.index, []).append(run_row)
    results = [
        aggregate(cell, by_cell.get(cell.index, []), cell.error or errors.get(cell.index))
        for cell in cells
    ]
    return SweepResult(
        sweep,
        results,
        ordered,
        len(stored),
        ran,
        version,
        db,
        time.monotonic() - start,
        len(crashed),
    )
