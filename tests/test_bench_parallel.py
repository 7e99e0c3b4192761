"""Executors give the same rows; an interrupted sweep resumes with only the missing runs."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bft import bench
from bft.bench import workers
from bft.bench.store import RUN_COLUMNS
from bft.bench.sweep import parse_adversary, parse_protocol
from bft.cli import main
from bft.run import scenario
from tests.helpers import local_dask_cluster
from tests.test_bench_support import coin, coin_scenario  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parent.parent


def small_sweep() -> bench.Sweep:
    return bench.build(
        scenario.load("byzantine-generals"),
        [parse_protocol("om"), parse_protocol("om:n=7,m=2"), parse_protocol("om:n=3")],
        [parse_adversary(a) for a in ("none", "traitor:strategy=random", "crash:nodes=[1]")],
        range(4),
    )


@pytest.mark.usefixtures("coin")
def test_serial_and_two_processes_give_identical_rows() -> None:
    sweep = small_sweep()
    serial = bench.run_sweep(sweep, jobs=1)
    assert len(serial.rows) == 36
    pooled = bench.run_sweep(sweep, jobs=2)
    assert pooled.rows == serial.rows
    assert [r.digest for r in pooled.rows] == [r.digest for r in serial.rows]
    assert pooled.cells == serial.cells
    # A protocol registered only in this process reaches forked workers too.
    coins = bench.build(
        coin_scenario(), [parse_protocol("coin")], [parse_adversary("none")], range(6)
    )
    assert bench.run_sweep(coins, jobs=2).rows == bench.run_sweep(coins).rows


def test_dask_gives_the_serial_rows(capsys) -> None:
    with local_dask_cluster(1) as address:
        sweep = small_sweep()
        serial = bench.run_sweep(sweep)
        on_dask = bench.run_sweep(sweep, scheduler=address)
        assert on_dask.rows == serial.rows
        assert on_dask.cells == serial.cells
        # The same through the command line.
        argv = ["bench", "generals", "--seeds", "2", "--rows", "--format", "json"]
        assert main([*argv, "--scheduler", address]) == 0
        via_dask = json.loads(capsys.readouterr().out)
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == via_dask["rows"]


def test_cli_rows_are_the_same_serial_and_with_two_jobs(capsys) -> None:
    argv = ["bench", "generals", "--seeds", "3", "--rows", "--format", "json"]
    assert main(argv) == 0
    serial = json.loads(capsys.readouterr().out)
    assert main([*argv, "--jobs", "2"]) == 0
    pooled = json.loads(capsys.readouterr().out)
    assert pooled["rows"] == serial["rows"] and len(serial["rows"]) == 45
    assert pooled["cells"] == serial["cells"]


def test_an_unreachable_scheduler_is_a_clear_error(capsys) -> None:
    pytest.importorskip("distributed", reason="Dask is the optional extra bft[dask]")
    rc = main(["bench", "byzantine-generals", "--seeds", "2", "--scheduler", "tcp://127.0.0.1:1",
               "--scheduler-timeout", "1"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("bft: error: cannot reach the Dask scheduler at 'tcp://127.0.0.1:1'")
    assert err.count("\n") == 1


# -- runs that raise, workers that die ------------------------------------------------------


def exploding_sweep(seeds: int = 10) -> bench.Sweep:
    return bench.build(
        coin_scenario(),
        [
            parse_protocol("coin"),
            parse_protocol("coin:explode=SystemExit,explode_seeds=[2]"),
            parse_protocol("coin:explode=KeyboardInterrupt,explode_seeds=[5]"),
            parse_protocol("coin:explode=GeneratorExit,explode_seeds=[7]"),
        ],
        [parse_adversary("none")],
        range(seeds),
    )


@pytest.mark.usefixtures("coin")
@pytest.mark.parametrize("jobs", [1, 2])
def test_runs_raising_base_exceptions_are_failed_runs_and_the_sweep_goes_on(
    tmp_path, jobs: int
) -> None:
    db = str(tmp_path / "runs.sqlite")
    result = bench.run_sweep(exploding_sweep(), jobs=jobs, db=db, version="t")
    assert (result.ran, result.crashed) == (40, 3)  # every run stored, failures included
    with sqlite3.connect(db) as conn:
        statuses = dict(conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))
    assert statuses == {"ok": 37, "failed": 3}
    assert [(f.seed, f.error["type"], f.error["message"]) for f in result.failures] == [
        (2, "SystemExit", "0"),
        (5, "KeyboardInterrupt", ""),
        (7, "GeneratorExit", ""),
    ]
    fine, *broken = result.cells
    assert fine.error is None and fine.runs == 10
    for cell, (kind, seed) in zip(
        broken, [("SystemExit: 0", 2), ("KeyboardInterrupt", 5), ("GeneratorExit", 7)], strict=True
    ):
        assert cell.error.startswith(f"1 of 10 runs failed; first: run raised {kind} at ")
        assert cell.error.endswith(f" in explode (seed {seed})")
    if jobs == 2:  # the same as in one process
        serial = bench.run_sweep(exploding_sweep(), version="t")
        assert (result.cells, result.rows, result.failures) == (
            serial.cells,
            serial.rows,
            serial.failures,
        )


@pytest.mark.usefixtures("coin")
def test_a_run_that_kills_its_worker_is_lost_and_the_rest_are_stored(tmp_path) -> None:
    db = str(tmp_path / "runs.sqlite")
    sweep = bench.build(
        coin_scenario(),
        [parse_protocol("coin"), parse_protocol("coin:explode=exit,explode_seeds=[3]")],
        [parse_adversary("none")],
        range(8),
    )
    result = bench.run_sweep(sweep, jobs=2, db=db, version="t")
    assert (result.ran, result.crashed) == (15, 1)  # the lost run is not stored
    [lost] = result.failures
    assert (lost.seed, lost.error["type"]) == (3, "lost")
    assert result.cells[1].error == (
        "1 of 8 runs failed; first: the worker process exited with status 3 during this run "
        "(seed 3)"
    )
    assert result.cells[0].runs == 8
    again = bench.run_sweep(sweep, jobs=2, db=db, version="t")
    assert (again.reused, again.ran) == (15, 0) and again.failures == result.failures


# -- workers die with their parent ----------------------------------------------------------

LINUX_PROC = Path("/proc/self/stat").exists()
needs_proc = pytest.mark.skipif(not LINUX_PROC, reason="reads process states from /proc")


def proc_stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of a process, None if there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], int(fields[19])


def children(pid: int) -> list[tuple[int, int]]:
    """(pid, start time) of the children of ``pid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat and stat[0] == pid:
                out.append((int(entry.name), stat[2]))
    return sorted(out)


def alive(pid: int, started: int) -> bool:
    """Whether that process (not a later one with its pid) still runs; a zombie does not."""
    stat = proc_stat(pid)
    return stat is not None and stat[2] == started and stat[1] not in "ZX"


def wait_dead(procs: list[tuple[int, int]], within: float = 5.0) -> list[tuple[int, int]]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        left = [p for p in procs if alive(*p)]
        if not left:
            return []
        time.sleep(0.02)
    return [p for p in procs if alive(*p)]


def _sleeper(use_prctl: bool) -> None:
    if not use_prctl:
        sys.platform = "elsewhere"  # no prctl: the polling thread must do it
    assert workers.die_with_parent(os.getppid()) is use_prctl
    time.sleep(60)


def _middle(queue: multiprocessing.Queue, use_prctl: bool) -> None:
    child = multiprocessing.get_context("fork").Process(target=_sleeper, args=(use_prctl,))
    child.start()
    queue.put(child.pid)
    time.sleep(0.5)  # time to arm
    os._exit(0)  # no clean-up: as if killed


@needs_proc
@pytest.mark.parametrize("use_prctl", [True, False], ids=["prctl", "polling"])
def test_a_worker_ends_when_its_parent_dies(use_prctl: bool) -> None:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    middle = ctx.Process(target=_middle, args=(queue, use_prctl))
    middle.start()
    pid = queue.get(timeout=10)
    stat = proc_stat(pid)
    assert stat is not None
    middle.join(10)
    assert wait_dead([(pid, stat[2])], within=3.0) == []


# -- interrupting and resuming ----------------------------------------------------------------

# OM(3) with 12 generals: about 20 ms a run, so the sweep is still going when it is stopped.
SEEDS = 120
SLOW = ["bench", "byzantine-generals", "--protocols", "om:n=12,m=3", "--adversaries", "none",
        "--seeds", str(SEEDS), "--code-version", "test", "--format", "json", "--rows"]  # fmt: skip


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def rows_of(db: Path) -> dict[str, tuple]:
    """Every stored run by key: everything but timing and the time it was stored."""
    kept = [c for c in RUN_COLUMNS if c not in ("seconds", "finished", "checksum")]
    with sqlite3.connect(db) as conn:
        rows = conn.execute(f"SELECT {', '.join(kept)} FROM runs").fetchall()
    conn.close()
    return {row[0]: row for row in rows}


def start(db: Path, extra: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bft", *SLOW, "--db", str(db), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_stored(proc: subprocess.Popen, db: Path, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while stored(db) < at_least:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep stored nothing within a minute"
        time.sleep(0.01)


def start_and_stop(db: Path, sig: int, extra: list[str], at_least: int = 5):
    """Start a sweep, send ``sig`` once ``at_least`` runs are stored; the process and the
    workers it had (pid, start time) just before."""
    proc = start(db, extra)
    wait_stored(proc, db, at_least)
    had = children(proc.pid) if LINUX_PROC else []
    proc.send_signal(sig)
    proc.wait(timeout=30)
    return proc, had


def resume(db: Path, extra: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bft", *SLOW, "--db", str(db), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr  # no progress bar off a terminal
    return json.loads(done.stdout)


def test_a_killed_serial_sweep_resumes_with_only_the_missing_runs(tmp_path) -> None:
    db = tmp_path / "runs.sqlite"
    proc, _ = start_and_stop(db, signal.SIGKILL, [])
    assert proc.returncode == -signal.SIGKILL
    kept = stored(db)
    assert 5 <= kept < SEEDS
    payload = resume(db, [])
    assert payload["runs"] == {"total": SEEDS, "stored": kept, "ran": SEEDS - kept}
    assert stored(db) == SEEDS


@needs_proc
@pytest.mark.slow  # about 10 s on a busy 2-core machine
def test_sigkills_with_two_jobs_leave_no_worker_and_lose_nothing(tmp_path) -> None:
    db = tmp_path / "runs.sqlite"
    kept = []
    for at_least in (5, 40):  # two real SIGKILLs, the second one in a resumed sweep
        proc, had = start_and_stop(db, signal.SIGKILL, ["--jobs", "2"], at_least)
        assert proc.returncode == -signal.SIGKILL
        assert len(had) == 2, had  # the two workers, recorded before the kill
        assert wait_dead(had, within=5.0) == [], "a worker outlived its killed parent"
        kept.append(stored(db))
    assert 5 <= kept[0] < kept[1] < SEEDS, kept
    payload = resume(db, ["--jobs", "2"])
    assert payload["runs"] == {"total": SEEDS, "stored": kept[1], "ran": SEEDS - kept[1]}
    # Every stored run equals the one a clean serial sweep stores: none lost, none
    # duplicated, none different.
    serial_db = tmp_path / "serial.sqlite"
    serial = resume(serial_db, [])
    resumed, clean = rows_of(db), rows_of(serial_db)
    assert len(resumed) == len(clean) == SEEDS
    assert resumed == clean
    assert payload["rows"] == serial["rows"] and payload["cells"] == serial["cells"]


@needs_proc
@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_or_sigterm_stops_the_workers_and_keeps_finished_runs(
    tmp_path, sig: int, status: int
) -> None:
    db = tmp_path / "runs.sqlite"
    proc, had = start_and_stop(db, sig, ["--jobs", "2"])
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == status, err
    kept = stored(db)
    assert err == (
        f"bft: interrupted by {signal.Signals(sig).name}; {kept} runs "
        f"finished and stored in {db}; run the same command to resume\n"
    )
    assert len(had) == 2 and [p for p in had if alive(*p)] == []  # gone when it exits
    assert 5 <= kept < SEEDS
    payload = resume(db, ["--jobs", "2"])
    assert payload["runs"] == {"total": SEEDS, "stored": kept, "ran": SEEDS - kept}
    assert stored(db) == SEEDS
