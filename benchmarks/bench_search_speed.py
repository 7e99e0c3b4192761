"""Search speed: schedules per second of `bft check` against plain runs of the same scenario.

The baseline, measured in the same run: the scenario run as `bft run` runs it
(``runner.run``: prepare, execute, judge, default summary trace), with ideal signatures
as the search uses them, repeated. The search: `bft check` on a correct protocol within
its bound, so no violation stops it and the whole budget runs (generation, decoding,
coverage features, the portfolio's bookkeeping on top of each run). Ratio =
search schedules/s / plain runs/s; above 1 means a schedule costs less than a plain
run (the search runs without a trace and reuses the prepared scenario), below 1 either
search overhead or schedules whose faults make runs longer (view changes): the share of
the search's time spent inside runs tells the two apart.

Run: ``python benchmarks/bench_search_speed.py`` (``--quick``: smaller budgets).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bft.run import runner, scenario  # noqa: E402
from bft.search.driver import Searcher  # noqa: E402

#: (scenario, schedules in the search budget) for correct protocols within their bound
CASES = [("byzantine-generals", 3000), ("dolev-strong", 2000), ("pbft-normal", 300)]


def plain_rate(name: str, runs: int) -> float:
    loaded = scenario.with_overrides(scenario.load(name), signatures="ideal")
    start = time.perf_counter()
    for _ in range(runs):
        runner.run(loaded)
    return runs / (time.perf_counter() - start)


def search_rate(name: str, schedules: int) -> tuple[float, bool, float]:
    """Schedules/s, whether it stayed clean, and the share of the time spent running
    schedules (the rest is the search's own work: generation, coverage, bookkeeping)."""
    searcher = Searcher(scenario.load(name))
    in_runs = [0.0]
    run_one = searcher.run

    def timed(schedule: Any, level: str = "none") -> Any:
        begin = time.perf_counter()
        try:
            return run_one(schedule, level)
        finally:
            in_runs[0] += time.perf_counter() - begin

    searcher.run = timed  # type: ignore[method-assign]
    start = time.perf_counter()
    outcome = searcher.search(examples=schedules, seed=3)
    took = time.perf_counter() - start
    return outcome.examples / took, outcome.counterexample is None, in_runs[0] / took


def run(quick: bool = False) -> list[dict[str, Any]]:
    rows = []
    for name, budget in CASES:
        budget = budget // 5 if quick else budget
        plain = plain_rate(name, max(20, budget // 3))
        searched, clean, share = search_rate(name, budget)
        rows.append(
            {
                "benchmark": "search-speed",
                "case": name,
                "value": round(searched, 1),
                "unit": "schedules/s",
                "baseline": round(plain, 1),
                "ratio": round(searched / plain, 2),
                "clean": clean,
                "share_in_runs": round(share, 2),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    print(
        "| scenario | search schedules/s | plain runs/s | ratio | share of search time in runs "
        "| no violation |"
    )
    print("|---|---|---|---|---|---|")
    for row in run(args.quick):
        print(
            f"| {row['case']} | {row['value']} | {row['baseline']} | {row['ratio']} | "
            f"{row['share_in_runs']} | {row['clean']} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
