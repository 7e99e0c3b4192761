"""Running independent search tasks on local processes or a Dask cluster, in order.

``ordered(fn, make_task, jobs=..., scheduler=...)`` yields ``fn(task)`` for
each task ``make_task(0), make_task(1), ...`` (until it returns None) *in task
order*, with at most ``window(jobs)`` tasks in flight; the caller may stop early
(``close()`` the iterator) and the remaining work is cancelled. When
``make_task(i)`` is called, the results of tasks ``0 .. i - window - 1`` have all
been consumed, so a task may depend on them deterministically: the answer
depends on the job count, never on timing.

Local workers are forked (they inherit in-process registrations, such as a
test's planted protocols) and die with their parent: on Linux the kernel sends
them SIGKILL when the parent dies (``PR_SET_PDEATHSIG``), elsewhere they poll.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from bft.core.errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")


def _die_with_parent(parent: int) -> None:
    """Worker initializer: exit when the parent process dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)
            return

    def watch() -> None:  # pragma: no cover - non-Linux fallback
        import time

        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


MakeTask = Callable[[int], Any]


def window(jobs: int) -> int:
    """Tasks in flight with ``jobs`` workers (1: one at a time, serially)."""
    return 1 if jobs <= 1 else 2 * jobs


def ordered(
    fn: Callable[[T], R],
    make_task: Callable[[int], T | None],
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    timeout: float = 10.0,
    first_here: Callable[[T, Callable[[], None]], R] | None = None,
) -> Iterator[R]:
    """``fn(task)`` for every task, in order (see the module docstring). With local
    processes, ``first_here(task, start_workers)`` (same result as ``fn(task)``) runs
    task 0 in this process, and calls ``start_workers()`` at a safe point once it has
    run long enough to be worth the workers' start-up (a few milliseconds of forking):
    the workers then take the next tasks while it goes on. An answer found early in
    the first task comes exactly as soon as it would serially; one that takes longer
    gets the other workers' help. Where the workers start never changes the answer."""
    if scheduler:
        return _dask(fn, make_task, scheduler, timeout)
    if jobs <= 1:
        return _serial(fn, make_task)
    return _processes(fn, make_task, jobs, first_here)


def _serial(fn: Callable[[T], R], make_task: Callable[[int], T | None]) -> Iterator[R]:
    index = 0
    while (task := make_task(index)) is not None:
        yield fn(task)
        index += 1


def _processes(
    fn: Callable[[T], R],
    make_task: Callable[[int], T | None],
    jobs: int,
    first_here: Callable[[T, Callable[[], None]], R] | None = None,
) -> Iterator[R]:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pool: ProcessPoolExecutor | None = None
    pending: deque[Future[R]] = deque()
    index, exhausted = 0, False

    def start_pool() -> ProcessPoolExecutor:
        nonlocal pool
        if pool is None:
            pool = ProcessPoolExecutor(
                max_workers=jobs,
                mp_context=context,
                initializer=_die_with_parent,
                initargs=(os.getpid(),),
            )
        return pool

    def start_workers() -> None:
        """jobs - 1 workers take the tasks after the first (this process is the other
        job); the window fills once task 0 is done."""
        nonlocal index, exhausted
        if pool is not None:
            return
        start_pool()
        while len(pending) < jobs - 1 and (task := make_task(index)) is not None:
            pending.append(start_pool().submit(fn, task))
            index += 1
        exhausted = len(pending) < jobs - 1

    try:
        if first_here is not None:
            first = make_task(0)
            if first is None:
                return
            index = 1
            yield first_here(first, start_workers)
        while not exhausted or pending:
            while not exhausted and len(pending) < window(jobs):
                task = make_task(index)
                if task is None:
                    exhausted = True
                    break
                pending.append(start_pool().submit(fn, task))
                index += 1
            if pending:
                yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        if pool is not None:
            _stop(pool)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop ``pool`` now: cancel what waits, kill the workers, reap them."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(timeout=2)


def _dask(
    fn: Callable[[T], R], make_task: Callable[[int], T | None], address: str, timeout: float
) -> Iterator[R]:
    from bft.bench.execute import check_address

    check_address(address)
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError(
            "--scheduler needs Dask distributed, an optional extra: pip install 'bft[dask]'"
        ) from None
    import logging

    logging.getLogger("distributed").setLevel(logging.ERROR)
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError for a bad address
        raise ConfigError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except Exception:  # noqa: BLE001
            raise ConfigError(
                f"the Dask scheduler at {address!r} has no workers (waited {timeout:g} s)"
            ) from None
        workers = client.scheduler_info().get("workers", {})
        threads = max(1, sum(w.get("nthreads", 1) for w in workers.values()))
        pending: deque[Any] = deque()
        index, exhausted = 0, False
        while not exhausted or pending:
            while not exhausted and len(pending) < window(threads):
                task = make_task(index)
                if task is None:
                    exhausted = True
                    break
                pending.append(client.submit(fn, task, pure=False))
                index += 1
            if not pending:
                break
            future = pending.popleft()
            try:
                yield future.result()
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001 - e.g. bft missing on a worker
                raise ConfigError(
                    f"a Dask task failed on a worker: {type(exc).__name__}: {exc} "
                    "(is the same bft installed on every worker?)"
                ) from None
        for future in pending:
            future.cancel()
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=2)
