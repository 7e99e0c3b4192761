"""Exhaustive small-scope checking (`bft check --exhaustive`): scope, reductions, first bug.

Four measurements, each printed as a Markdown table for benchmarks/README.md:

* **scope in a budget**: each shipped protocol at its smallest scenario (n = 4, f = 1,
  the declared fault model), explored with growing ``--max-actions`` for a wall-time
  budget (default 60 s) on ``--jobs`` processes; the scope covered completely, as
  actions x rounds, with schedules, distinct states and states per second;
* **beyond the bound**: OM with n = 3 and PBFT with two faults; the shortest
  counterexample, found first, and the time it took;
* **reductions**: one scope explored with and without state deduplication and the
  symmetry reduction; schedules, states, time and what each one saves;
* **time to the first bug**: planted bugs whose counterexample fits the scope, found by
  the exhaustive explorer (with its guarantee that nothing shorter exists) and by the
  default guided search, over the same fault model.

Run: ``python benchmarks/bench_exhaustive.py`` (``--seconds 60 --jobs 2``;
``--quick``: 10 s budgets).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bft.run import scenario  # noqa: E402
from bft.search.driver import Searcher  # noqa: E402
from bft.search.exhaustive import Exhaustive  # noqa: E402
from tests.quality import planted, planted_families  # noqa: E402

#: the smallest scenario of each shipped protocol, and the rounds explored (an
#: exhaustive scope is actions x rounds: long runs are cut to their first phase)
SMALLEST: list[tuple[str, str | None, int | None]] = [
    ("byzantine-generals", None, None),
    ("dolev-strong", None, None),
    ("phase-king", None, None),
    ("pbft-normal", None, 20),
    ("zyzzyva-normal", None, 20),
    ("hotstuff-normal", None, 20),
    ("fab-normal", None, 20),
]


def scope_in_budget(name: str, rounds: int | None, seconds: float, jobs: int) -> dict[str, Any]:
    base = scenario.with_overrides(scenario.load(name), rounds=rounds)
    searcher = Searcher(base, max_actions=8)
    outcome = Exhaustive(searcher, 8).run(seconds=seconds, jobs=jobs)
    return {
        "scenario": name,
        "protocol": outcome.prepared.spec.name,
        "rounds": outcome.model.rounds,
        "complete": outcome.complete,
        "partial": outcome.partial,
        "schedules": outcome.counts.schedules,
        "states": outcome.counts.states,
        "seconds": outcome.seconds,
        "found": None if outcome.counterexample is None else outcome.counterexample.property,
        "kinds": len(outcome.kinds),
        "skipped": ",".join(outcome.skipped_kinds) or "-",
    }


def beyond_bound(seconds: float, jobs: int) -> list[dict[str, Any]]:
    """OM with one traitor among three, PBFT with two faults among four. PBFT's runs are
    cut to 60 rounds, not 20: its liveness deadline for a request of round 0 is round 52
    (``liveness_bound``), and in 20 rounds only a fork (a safety violation, which takes
    four coordinated Byzantine actions at n = 4) could show that two faults are too many."""
    pbft = scenario.load("pbft-normal")
    cases: list[tuple[str, Any, Any, int, int | None, list[str] | None]] = [
        ("OM, n = 3, one traitor", scenario.load("byzantine-generals"), {"n": 3}, 1, None, None),
        ("PBFT, n = 4, two crash faults", pbft, None, 2, 60, ["crash"]),
        ("PBFT, n = 4, two faults, every kind", pbft, None, 2, 60, None),
    ]
    rows = []
    for label, base, params, faults, rounds, kinds in cases:
        loaded = scenario.with_overrides(base, params=params, rounds=rounds, adversaries=[])
        searcher = Searcher(loaded, faults=faults, kinds=kinds, max_actions=4)
        outcome = Exhaustive(searcher, 4).run(seconds=seconds, jobs=jobs)
        cex = outcome.counterexample
        rows.append(
            {
                "case": label,
                "rounds": outcome.model.rounds,
                "found": cex is not None,
                "actions": None if cex is None else len(cex.schedule),
                "property": None if cex is None else cex.property,
                "schedule": None if cex is None else cex.schedule.describe(),
                "schedules": outcome.counts.schedules,
                "seconds": outcome.seconds,
            }
        )
    return rows


def reductions(name: str, size: int) -> list[dict[str, Any]]:
    base = scenario.with_overrides(scenario.load(name), adversaries=[])
    rows = []
    for dedup in (True, False):
        for symmetry in (True, False):
            searcher = Searcher(base, max_actions=size)
            start = time.perf_counter()
            outcome = Exhaustive(searcher, size, dedup=dedup, symmetry=symmetry).run()
            took = time.perf_counter() - start
            rows.append(
                {
                    "dedup": dedup,
                    "symmetry": symmetry,
                    "schedules": outcome.counts.schedules,
                    "states": outcome.counts.states,
                    "cut_by_states": outcome.counts.cut_by_states,
                    "cut_by_symmetry": outcome.counts.cut_by_symmetry,
                    "seconds": took,
                }
            )
    return rows


#: planted bugs that need a schedule (not violated by the scenario as shipped) and whose
#: counterexample fits a small scope; the rest are violated as written or need long runs
FITTING = ("om-bad-tiebreak", "ds-outer-signature", "ds-early-relay-cutoff")


def first_bug(seconds: float, seeds: int) -> list[dict[str, Any]]:
    planted.register_all()
    planted_families.register_all()
    by_name = {b.name: b for b in [*planted.PLANTED, *planted_families.FAMILY_PLANTED]}
    rows = []
    for name in FITTING:
        bug = by_name[name]
        needs = {"n": 5} if name == "om-bad-tiebreak" else None
        loaded = scenario.with_overrides(scenario.load(bug.scenario), protocol=name, params=needs)
        start = time.perf_counter()
        outcome = Exhaustive(Searcher(loaded, max_actions=3), 3).run(seconds=seconds)
        took = time.perf_counter() - start
        guided = []
        for seed in range(seeds):
            out = Searcher(loaded).search(
                examples=None, seconds=seconds, seed=seed, shrink_seconds=10
            )
            cex = out.counterexample
            guided.append(None if cex is None else (cex.seconds_to_first, len(cex.schedule)))
        found = [g for g in guided if g is not None]
        cex = outcome.counterexample
        rows.append(
            {
                "bug": name,
                "exhaustive s": None if cex is None else round(took, 2),
                "exhaustive actions": None if cex is None else len(cex.schedule),
                "guarantee": outcome.guarantee(),
                "guided found": f"{len(found)}/{seeds}",
                "guided median s to first": statistics.median(g[0] for g in found)
                if found
                else None,
                "guided median actions (shrunk)": statistics.median(g[1] for g in found)
                if found
                else None,
            }
        )
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    """For run_all.py: states per second of the exhaustive explorer on each smallest
    scenario (baseline: schedules per second of the same exploration, so the ratio is
    states per schedule), and the reductions' time against the unreduced exploration."""
    seconds = 10.0 if quick else 60.0
    rows = []
    for name, _, rounds in SMALLEST:
        row = scope_in_budget(name, rounds, seconds, 2)
        rate = row["states"] / max(row["seconds"], 1e-9)
        per = row["schedules"] / max(row["seconds"], 1e-9)
        rows.append(
            {
                "benchmark": "exhaustive",
                "case": f"{name}: complete up to {row['complete']} action(s) x {row['rounds']} rounds",
                "value": round(rate, 1),
                "unit": "states/s",
                "baseline": round(per, 1),
                "ratio": round(rate / per, 2) if per else None,
            }
        )
    reduced = reductions("byzantine-generals", 2)
    full = next(r for r in reduced if not r["dedup"] and not r["symmetry"])
    for r in reduced:
        rows.append(
            {
                "benchmark": "exhaustive-reductions",
                "case": f"generals, 2 actions, dedup={r['dedup']} symmetry={r['symmetry']}",
                "value": r["schedules"],
                "unit": "schedules",
                "baseline": full["schedules"],
                "ratio": round(r["schedules"] / full["schedules"], 2),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(none)"
    keys = list(rows[0])
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = []
        for key in keys:
            value = row[key]
            cells.append(f"{value:.2f}" if isinstance(value, float) else str(value))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parts", default="scope,beyond,reductions,first-bug")
    parser.add_argument(
        "--beyond-seconds",
        type=float,
        default=600.0,
        help="budget of each beyond-the-bound case (PBFT's every-kind case needs minutes)",
    )
    args = parser.parse_args(argv)
    seconds = 10.0 if args.quick else args.seconds
    parts = set(args.parts.split(","))
    if "scope" in parts:
        rows = []
        for name, _, rounds in SMALLEST:
            row = scope_in_budget(name, rounds, seconds, args.jobs)
            row["states_per_s"] = row["states"] / max(row["seconds"], 1e-9)
            row["schedules_per_s"] = row["schedules"] / max(row["seconds"], 1e-9)
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
        print("### Scope covered in", seconds, "s on", args.jobs, "jobs\n")
        print(markdown(rows), "\n", flush=True)
    if "beyond" in parts:
        print("### Beyond the bound: the shortest counterexample first\n")
        budget = seconds if args.quick else args.beyond_seconds
        print(markdown(beyond_bound(budget, args.jobs)), "\n", flush=True)
    if "reductions" in parts:
        print("### Reductions (byzantine-generals, up to 2 actions)\n")
        print(markdown(reductions("byzantine-generals", 2)), "\n", flush=True)
    if "first-bug" in parts:
        print("### Time to the first bug: exhaustive vs guided\n")
        print(markdown(first_bug(seconds, args.seeds)), "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
