"""Sweep throughput: serial vs 2 local processes (and Dask), and the cost of storing each run.

Runs one sweep (OM(3) with 12 generals, about 25 ms a run, so per-task
overhead is visible but not dominant) with each executor, interleaved, and
reports runs per second with the serial run as the baseline. Target on 2
cores: at least 1.7x with 2 processes. A control row measures, in the same
run, the speed-up of a pure CPU burn on 2 processes: when other work
occupies the cores it falls below 2 and the sweep's speed-up with it. The Dask case (a LocalCluster with 2
single-threaded worker processes, started outside the timing) is included
when Dask is installed and ``quick`` is off; on one machine it is expected
to gain little, since Dask is for more machines.

    python benchmarks/bench_sweep.py            # full
    python benchmarks/bench_sweep.py --quick    # a few seconds
"""

from __future__ import annotations

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


def _control(tasks: int = 8, n: int = 5_000_000) -> float:
    """Speed-up of a pure CPU burn on 2 processes: what the machine offers right now."""
    from concurrent.futures import ProcessPoolExecutor

    work = [range(n)] * tasks
    start = time.perf_counter()
    for item in work:
        sum(item)
    serial = time.perf_counter() - start
    start = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(sum, work))
    return serial / (time.perf_counter() - start)


def _rate(sweep: bench.Sweep, **kwargs: object) -> float:
    start = time.perf_counter()
    result = bench.run_sweep(sweep, progress=False, **kwargs)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    return (result.ran + result.reused) / elapsed


def run(quick: bool = False) -> list[dict]:
    seeds = 20 if quick else 60
    repeats = 1 if quick else 3
    sweep = _sweep(seeds)
    runs = sweep.runs
    load = os.getloadavg()[0]
    samples: dict[str, list[float]] = {"serial": [], "2 processes": [], "serial + SQLite": []}
    control: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            samples["serial"].append(_rate(sweep))
            samples["2 processes"].append(_rate(sweep, jobs=2))
            db = str(Path(tmp) / f"runs{i}.sqlite")
            samples["serial + SQLite"].append(_rate(sweep, db=db))
            control.append(_control())
    cluster = None
    if not quick:
        try:
            from distributed import LocalCluster

            cluster = LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            )
            samples["Dask LocalCluster, 2 workers"] = [
                _rate(sweep, scheduler=cluster.scheduler_address) for _ in range(repeats)
            ]
        except ImportError:
            pass
        finally:
            if cluster is not None:
                cluster.close()
    base = statistics.median(samples["serial"])
    rows = [
        {
            "benchmark": "sweep",
            "case": "1-minute load average before the run (2 cores; above 2, others compete)",
            "value": round(load, 2),
            "unit": "processes",
            "baseline": None,
            "ratio": None,
        },
        {
            "benchmark": "sweep",
            "case": "control: pure CPU burn, 2 processes vs serial (the machine's parallelism now)",
            "value": round(statistics.median(control), 2),
            "unit": "x",
            "baseline": None,
            "ratio": None,
        },
    ]
    for case, values in samples.items():
        value = statistics.median(values)
        is_base = case == "serial"
        rows.append(
            {
                "benchmark": "sweep",
                "case": f"{case} ({runs} runs of OM(3), n=12)",
                "value": round(value, 1),
                "unit": "runs/s",
                "baseline": None if is_base else round(base, 1),
                "ratio": None if is_base else round(value / base, 2),
            }
        )
    return rows


if __name__ == "__main__":
    from tabulate import tabulate

    print(tabulate(run(quick="--quick" in sys.argv), headers="keys"))
