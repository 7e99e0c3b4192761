"""Sweep speed-up on 2 cores, paired with a CPU-burn control measured in the same run.

The question: how much of what 2 processes can give does ``run_sweep(jobs=2)``
get? Each repeat measures, back to back: a control, a pure-CPU function (a
tight integer loop: no memory traffic, no results) run twice in this process
and then once in each of 2 freshly forked processes, sized to take as long
as the serial sweep; and the sweep with ``jobs=1`` and with ``jobs=2``, both
storing every run in an SQLite file as ``bft bench --db`` does. The order is
serial control, serial sweep, parallel control, parallel sweep (reversed in
odd repeats), so a change in load hits both members of a pair alike. The
control's speed-up is what the machine offers at that moment (below 2 when
other work occupies the cores); the figure of merit is the sweep's speed-up
divided by the control's: the median over repeats, and the same from the
times summed over all repeats. Target: at least 0.9.

The parallel sweep's time is also taken apart, to show where it loses:

* run-time inflation: the runs' own summed time with 2 workers over the
  same with 1 (two Python processes on two cores share caches and memory
  bandwidth; the executor cannot remove this, only not add to it);
* the parent's CPU time: decoding the workers' rows and storing them;
* idle worker time: 2 x wall time minus the summed run time, i.e. start-up,
  task hand-off, result transfer and the tail where one worker has nothing
  left to do.

Workload: one sweep of OM(3) with 12 generals (about 15-25 ms a run) x {none,
a random liar} x 60 seeds = 120 runs (quick: 20 seeds). The Dask case (a
LocalCluster with 2 single-threaded worker processes, started outside the
timing) is included when Dask is installed and ``quick`` is off; on one
machine it is expected to gain little, since Dask is for more machines.

    python benchmarks/bench_sweep.py            # full: 5 paired repeats, about a minute
    python benchmarks/bench_sweep.py --quick    # 1 repeat, a few seconds
    python benchmarks/bench_sweep.py --repeats=9 --no-dask
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bft import bench  # noqa: E402
from bft.bench.sweep import parse_adversary, parse_protocol  # noqa: E402
from bft.run import scenario  # noqa: E402


def _sweep(seeds: int) -> bench.Sweep:
    return bench.build(
        scenario.load("byzantine-generals"),
        [parse_protocol("om:n=12,m=3")],
        [parse_adversary("none"), parse_adversary("traitor:strategy=random")],
        range(seeds),
    )


# -- the control ------------------------------------------------------------------------


def burn(loops: int) -> int:
    """Pure CPU: an integer loop in the interpreter (no allocation beyond small ints)."""
    total = 0
    for i in range(loops):
        total += i & 7
    return total


def _burn_in_child(loops: int, conn: object) -> None:
    conn.send(burn(loops))  # type: ignore[attr-defined]


def control_serial(loops: int) -> float:
    """Seconds to burn ``loops`` twice in this process."""
    start = time.perf_counter()
    burn(loops)
    burn(loops)
    return time.perf_counter() - start


def control_parallel(loops: int) -> float:
    """Seconds to burn ``loops`` once in each of 2 freshly forked processes."""
    ctx = multiprocessing.get_context("fork")
    start = time.perf_counter()
    pipes = [ctx.Pipe(duplex=False) for _ in range(2)]
    procs = [ctx.Process(target=_burn_in_child, args=(loops, w)) for _, w in pipes]
    for p in procs:
        p.start()
    for r, _ in pipes:
        r.recv()
    for p in procs:
        p.join()
    return time.perf_counter() - start


def _calibrate() -> float:
    loops = 200_000
    start = time.perf_counter()
    burn(loops)
    return loops / (time.perf_counter() - start)


# -- the sweep --------------------------------------------------------------------------


def timed_sweep(sweep: bench.Sweep, db: str, jobs: int) -> dict[str, float]:
    """Wall time, parent CPU time and the runs' summed time of one sweep from empty."""
    cpu = time.process_time()
    start = time.perf_counter()
    result = bench.run_sweep(sweep, jobs=jobs, db=db, version="bench", progress=False)
    wall = time.perf_counter() - start
    assert result.ran == sweep.runs and not getattr(result, "failures", None)
    return {
        "wall": wall,
        "parent_cpu": time.process_time() - cpu,
        "runs": sum(r.seconds for r in result.rows),
    }


def _dask_rate(sweep: bench.Sweep, repeats: int) -> list[float] | None:
    try:
        from distributed import LocalCluster
    except ImportError:
        return None
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = bench.run_sweep(sweep, scheduler=cluster.scheduler_address, progress=False)
            rates.append(result.ran / (time.perf_counter() - start))
        return rates
    finally:
        cluster.close()


def run(quick: bool = False, repeats: int | None = None, with_dask: bool = True) -> list[dict]:
    seeds = 20 if quick else 60
    repeats = repeats or (1 if quick else 5)
    sweep = _sweep(seeds)
    runs = sweep.runs
    load = os.getloadavg()[0]
    calibration = _calibrate()
    samples: dict[str, list[float]] = {
        k: []
        for k in (
            "control",
            "speedup",
            "efficiency",
            "serial",
            "parallel",
            "inflation",
            "parent",
            "idle",
        )
    }
    totals = {"control 1": 0.0, "control 2": 0.0, "sweep 1": 0.0, "sweep 2": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        # Warm caches and imports; size the control like the serial sweep.
        loops = int(timed_sweep(sweep, str(Path(tmp) / "warm.sqlite"), 1)["wall"] * calibration / 2)
        for i in range(repeats):
            # Each repeat: serial control and sweep, then parallel control and sweep, back to
            # back, so a change in load hits a pair alike; odd repeats run in reverse order.
            steps = ["control 1", "sweep 1", "control 2", "sweep 2"]
            times: dict[str, float] = {}
            sweeps: dict[str, dict[str, float]] = {}
            for step in steps if i % 2 == 0 else steps[::-1]:
                if step == "control 1":
                    times[step] = control_serial(loops)
                elif step == "control 2":
                    times[step] = control_parallel(loops)
                else:
                    jobs = int(step[-1])
                    sweeps[step] = timed_sweep(sweep, str(Path(tmp) / f"{i}-{jobs}.sqlite"), jobs)
                    times[step] = sweeps[step]["wall"]
            for step, value in times.items():
                totals[step] += value
            one, two = sweeps["sweep 1"], sweeps["sweep 2"]
            samples["control"].append(times["control 1"] / times["control 2"])
            samples["speedup"].append(one["wall"] / two["wall"])
            samples["efficiency"].append(samples["speedup"][-1] / samples["control"][-1])
            samples["serial"].append(runs / one["wall"])
            samples["parallel"].append(runs / two["wall"])
            samples["inflation"].append(two["runs"] / one["runs"])
            samples["parent"].append(two["parent_cpu"] / two["wall"])
            samples["idle"].append(1 - two["runs"] / (2 * two["wall"]))
    pooled = (totals["sweep 1"] / totals["sweep 2"]) / (totals["control 1"] / totals["control 2"])
    dask = _dask_rate(sweep, repeats) if with_dask and not quick else None
    med = {k: statistics.median(v) for k, v in samples.items()}
    what = f"{runs} runs of OM(3), n=12, --db"

    def row(case: str, value: float, unit: str, baseline=None, ratio=None) -> dict:
        return {
            "benchmark": "sweep",
            "case": case,
            "value": value,
            "unit": unit,
            "baseline": baseline,
            "ratio": ratio,
        }

    rows = [
        row("1-minute load average before the run (2 cores)", round(load, 2), "processes"),
        row("control: CPU burn, 2 fresh processes vs serial", round(med["control"], 2), "x"),
        row(f"serial ({what})", round(med["serial"], 1), "runs/s"),
        row(
            f"--jobs 2 ({what})",
            round(med["parallel"], 1),
            "runs/s",
            round(med["serial"], 1),
            round(med["speedup"], 2),
        ),
        row(
            "sweep speed-up / control speed-up, median per repeat (target >= 0.9)",
            round(med["efficiency"], 3),
            "x",
        ),
        row("sweep speed-up / control speed-up, summed times", round(pooled, 3), "x"),
        row(
            "--jobs 2: runs' summed time / serial's (run-time inflation)",
            round(med["inflation"], 3),
            "x",
        ),
        row("--jobs 2: parent CPU time / wall time", round(med["parent"], 3), "share"),
        row("--jobs 2: idle worker time / 2 x wall time", round(med["idle"], 3), "share"),
    ]
    if dask:
        value = statistics.median(dask)
        rows.append(
            row(
                f"Dask LocalCluster, 2 workers ({runs} runs)",
                round(value, 1),
                "runs/s",
                round(med["serial"], 1),
                round(value / med["serial"], 2),
            )
        )
    if not quick:
        pairs = ", ".join(
            f"{c:.2f}/{p:.2f}" for c, p in zip(samples["control"], samples["speedup"], strict=True)
        )
        rows.append(row(f"per repeat, control/sweep speed-up: {pairs}", repeats, "repeats"))
    return rows


if __name__ == "__main__":
    from tabulate import tabulate

    count = next((int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--repeats=")), None)
    rows = run(quick="--quick" in sys.argv, repeats=count, with_dask="--no-dask" not in sys.argv)
    print(tabulate(rows, headers="keys"))
