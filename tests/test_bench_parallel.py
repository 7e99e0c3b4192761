"""Executors give the same rows; an interrupted sweep resumes with only the missing runs."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bft import bench
from bft.bench.sweep import parse_adversary, parse_protocol
from bft.cli import main
from bft.run import scenario
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
    distributed = pytest.importorskip("distributed", reason="Dask is the optional extra bft[dask]")
    with distributed.LocalCluster(
        n_workers=1,
        processes=False,
        threads_per_worker=1,
        protocol="tcp",
        dashboard_address=None,
    ) as cluster:
        sweep = small_sweep()
        serial = bench.run_sweep(sweep)
        on_dask = bench.run_sweep(sweep, scheduler=cluster.scheduler_address)
        assert on_dask.rows == serial.rows
        assert on_dask.cells == serial.cells
        # The same through the command line.
        argv = ["bench", "generals", "--seeds", "2", "--rows", "--format", "json"]
        assert main([*argv, "--scheduler", cluster.scheduler_address]) == 0
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


# -- interrupting and resuming -----------------------------------------------------------

# OM(3) with 12 generals: about 25 ms a run, so the sweep is still going when it is stopped.
SLOW = ["bench", "byzantine-generals", "--protocols", "om:n=12,m=3", "--adversaries", "none",
        "--seeds", "80", "--code-version", "test", "--format", "json"]  # fmt: skip


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def start_and_stop(db: Path, sig: int, extra: list[str], at_least: int = 5) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bft", *SLOW, "--db", str(db), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while stored(db) < at_least:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep stored nothing within a minute"
        time.sleep(0.02)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    return proc


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


def test_a_killed_sweep_resumes_with_only_the_missing_runs(tmp_path) -> None:
    db = tmp_path / "runs.sqlite"
    proc = start_and_stop(db, signal.SIGKILL, [])
    assert proc.returncode == -signal.SIGKILL
    kept = stored(db)
    assert 5 <= kept < 80
    payload = resume(db, [])
    assert payload["runs"] == {"total": 80, "stored": kept, "ran": 80 - kept}
    assert stored(db) == 80
    # Resumed results equal an uninterrupted run's.
    fresh = resume(tmp_path / "fresh.sqlite", [])
    assert fresh["cells"] == payload["cells"]


def test_ctrl_c_with_two_jobs_keeps_finished_runs_and_exits_130(tmp_path) -> None:
    db = tmp_path / "runs.sqlite"
    proc = start_and_stop(db, signal.SIGINT, ["--jobs", "2"])
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 130, err
    assert "bft: interrupted" in err and "Traceback" not in err
    kept = stored(db)
    assert 5 <= kept < 80
    payload = resume(db, ["--jobs", "2"])
    assert payload["runs"] == {"total": 80, "stored": kept, "ran": 80 - kept}
    assert stored(db) == 80


def test_no_worker_outlives_an_interrupted_sweep(tmp_path) -> None:
    db = tmp_path / "runs.sqlite"
    proc = start_and_stop(db, signal.SIGINT, ["--jobs", "2"])
    assert proc.returncode == 130
    # Forked workers carry the parent's command line, which names this test's database.
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert [line for line in listing.splitlines() if str(db) in line] == []
