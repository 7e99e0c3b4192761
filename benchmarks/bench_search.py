"""Property-based search: speed, time to the first bug, and counterexample size.

Three measurements, each against a baseline measured in the same run:

* ``schedules/s``: schedules explored per second by the Hypothesis search on a
  correct protocol within its bound (no violation, so the whole budget runs),
  against plain random schedules of the same fault model (the cost of
  generation and targeting on top of running the engine).
* ``time to first bug`` and ``schedules to first bug`` for every planted bug
  and for OM beyond its bound, median over seeds: the Hypothesis search
  against uniformly random schedules in the same fault model with no
  shrinking (ByzzFuzz-style random network and process faults).
* ``counterexample size`` (actions): the shrunk, 1-minimal counterexample the
  search reports against the first failing random schedule; and ``time to
  minimal`` (search + shrinking + the 1-minimality pass).

Run: ``python benchmarks/bench_search.py`` (``--quick``: fewer seeds).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bft.run import scenario  # noqa: E402
from bft.search.driver import Searcher, random_search  # noqa: E402
from tests.quality.planted import PLANTED, register_all, searcher_for  # noqa: E402

BUDGET = 400  # schedules per search (per seed)


def targets() -> list[tuple[str, Any]]:
    """(label, a Searcher factory argument) for each bug to find."""
    register_all()
    base = scenario.load("byzantine-generals")
    out: list[tuple[str, Any]] = [
        ("om n=3 (beyond bound)", (scenario.with_overrides(base, params={"n": 3}), None)),
        ("om n=4, 2 faults (beyond bound)", (base, 2)),
    ]
    for bug in PLANTED:
        out.append((f"planted {bug.name}", bug))
    return out


def _row(case: str, value: float | None, unit: str, baseline: float | None) -> dict[str, Any]:
    ratio = None if value is None or not baseline else value / baseline
    return {
        "benchmark": "search",
        "case": case,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "ratio": ratio,
    }


def throughput(examples: int) -> list[dict[str, Any]]:
    base = scenario.load("byzantine-generals")
    searcher = Searcher(base)
    start = time.perf_counter()
    outcome = searcher.search(examples=examples, seed=0)
    search_rate = outcome.examples / (time.perf_counter() - start)
    random_outcome = random_search(searcher, examples, seed=0)
    random_rate = random_outcome.examples / random_outcome.seconds
    return [_row("om n=4 f=1 (correct): schedules/s", search_rate, "schedules/s", random_rate)]


def hunt(seeds: int) -> list[dict[str, Any]]:
    rows = []
    for label, target in targets():
        if isinstance(target, tuple):
            searcher = Searcher(target[0], faults=target[1])
        else:
            searcher = searcher_for(target, target.name)
        s_time, s_count, s_size, s_total, s_found = [], [], [], [], 0
        r_time, r_count, r_size, r_found = [], [], [], 0
        for seed in range(seeds):
            start = time.perf_counter()
            outcome = searcher.search(examples=BUDGET, seed=seed)
            total = time.perf_counter() - start
            cex = outcome.counterexample
            if cex is not None:
                s_found += 1
                s_time.append(cex.seconds_to_first)
                s_count.append(cex.found_after)
                s_size.append(len(cex.schedule))
                s_total.append(total)
            rnd = random_search(searcher, BUDGET, seed=seed)
            if rnd.schedule is not None:
                r_found += 1
                r_time.append(rnd.seconds)
                r_count.append(rnd.examples)
                r_size.append(len(rnd.schedule))

        def med(values: list[float]) -> float | None:
            return statistics.median(values) if values else None

        rows += [
            _row(f"{label}: found (of {seeds} seeds)", s_found, "seeds", r_found),
            _row(f"{label}: time to first bug", med(s_time), "s", med(r_time)),
            _row(f"{label}: schedules to first bug", med(s_count), "schedules", med(r_count)),
            _row(f"{label}: counterexample size", med(s_size), "actions", med(r_size)),
            _row(f"{label}: time to minimal counterexample", med(s_total), "s", med(r_time)),
        ]
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    return throughput(200 if quick else 1000) + hunt(3 if quick else 5)


def main() -> None:
    from tabulate import tabulate

    rows = run(quick="--quick" in sys.argv)
    table = [
        (
            r["case"],
            "-" if r["value"] is None else f"{r['value']:.3g}",
            r["unit"],
            "-" if r["baseline"] is None else f"{r['baseline']:.3g}",
            "-" if r["ratio"] is None else f"{r['ratio']:.2f}",
        )
        for r in rows
    ]
    print(
        tabulate(
            table,
            headers=["case", "search", "unit", "random (no shrinking)", "ratio"],
        )
    )


if __name__ == "__main__":
    main()
