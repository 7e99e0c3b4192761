"""Planted bugs on the shipped scenarios: does the default `bft check` find each one?

For every planted bug of the quality suite (``tests/quality``: PBFT, OM, SWIM,
failover, gossip-health, Dolev-Strong, Phase King), the search runs as a user
would run it: ``bft check <shipped scenario> --protocol <buggy variant>
--seconds T``, with the protocol's *declared* fault model (no hand-picked
kinds, no reduced scenario; only the node count where the bug needs it, named
in the table). Per seed it records whether the bug was found, which property
was reported (a safety bug should be reported as a safety violation), the
schedules and seconds to the first violation, and the size of the shrunk
counterexample. Three modes, each over the same seeds:

* ``search-1``: the portfolio search on one process;
* ``search-2``: the same with ``--jobs 2`` (wall time against ``search-1``);
* ``random``: uniformly random schedules of the same fault model on one
  process, no swarm masks, no guidance, no shrinking (the baseline).

Rows go to a JSON Lines file (``--out``, default
``benchmarks/results/planted.jsonl``); a rerun skips rows already there, so
an interrupted run resumes. ``--table`` prints the Markdown summary for
benchmarks/README.md from that file.

Run: ``python benchmarks/bench_planted.py --seeds 10 --seconds 60``
(``--bugs a,b`` for some bugs, ``--modes search-1,random`` for some modes).
"""

from __future__ import annotations

import argparse
import json
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
from tests.quality import planted, planted_families  # noqa: E402

MODES = ("search-1", "search-2", "random")
#: parameters a bug needs beyond its shipped scenario (anything else is as shipped)
NEEDS = {
    "om-bad-tiebreak": {"n": 5},  # a plurality only differs from a majority with 4 votes
}


def bugs() -> list[Any]:
    planted.register_all()
    planted_families.register_all()
    return [*planted.PLANTED, *planted_families.FAMILY_PLANTED]


def scenario_of(bug: Any) -> scenario.Scenario:
    return scenario.with_overrides(
        scenario.load(bug.scenario), protocol=bug.name, params=NEEDS.get(bug.name)
    )


def kind_of(searcher: Searcher, name: str | None) -> str | None:
    if name is None:
        return None
    return "safety" if name in searcher.safety_properties() else "liveness"


def measure(bug: Any, mode: str, seed: int, seconds: float) -> dict[str, Any]:
    searcher = Searcher(scenario_of(bug))
    start = time.perf_counter()
    row: dict[str, Any] = {"bug": bug.name, "scenario": bug.scenario, "mode": mode, "seed": seed}
    if mode == "random":
        out = random_search(searcher, examples=10**9, seed=seed, seconds=seconds)
        name = None
        if out.result is not None:
            violated = searcher.violated(out.result)
            safety = [v for v in violated if v in searcher.safety_properties()]
            name = (safety or violated)[0]
        row.update(
            found=out.schedule is not None,
            property=name,
            schedules=out.examples,
            seconds=round(out.seconds, 3),
            actions=None if out.schedule is None else len(out.schedule),
        )
    else:
        jobs = int(mode.rsplit("-", 1)[1])
        outcome = searcher.search(
            examples=None, seconds=seconds, seed=seed, jobs=jobs, shrink_seconds=30
        )
        cex = outcome.counterexample
        row.update(
            found=cex is not None,
            property=None if cex is None else cex.property,
            schedules=outcome.examples if cex is None else cex.found_after,
            seconds=round(outcome.seconds if cex is None else cex.seconds_to_first, 3),
            actions=None if cex is None else len(cex.schedule),
            first_actions=None if cex is None else cex.first_size,
        )
    row["kind"] = kind_of(searcher, row["property"])
    row["expected"] = list(bug.breaks)
    row["wall"] = round(time.perf_counter() - start, 1)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    """Per bug: found (of seeds) and median schedules/seconds to the first violation per
    mode; the property reported; the counterexample size."""
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        by.setdefault((row["bug"], row["mode"]), []).append(row)
    names = list(dict.fromkeys(r["bug"] for r in rows))
    lines = [
        "| planted bug | scenario | breaks | search: found, reported as | search-1 median "
        "schedules / s | random median schedules / s | search-2 median s | actions |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def med(rs: list[dict[str, Any]], key: str) -> str:
        found = [r[key] for r in rs if r["found"]]
        if not rs:
            return "-"
        if not found or len(found) * 2 < len(rs):
            return f"not found in {len(rs) - len(found)} of {len(rs)}"
        return f"{statistics.median(found):g}"

    for name in names:
        s1, s2, rnd = (by.get((name, m), []) for m in MODES)
        first = (s1 or s2 or rnd)[0]
        reported = sorted({r["property"] for r in s1 + s2 if r["found"]})
        good = sum(1 for r in s1 if r["found"] and r["property"] in r["expected"])
        sizes = [r["actions"] for r in s1 if r["found"]]
        lines.append(
            f"| {name} | {first['scenario']} | {', '.join(first['expected'])} | "
            f"{good}/{len(s1)}: {', '.join(p or '-' for p in reported) or '-'} | "
            f"{med(s1, 'schedules')} / {med(s1, 'seconds')} | "
            f"{med(rnd, 'schedules')} / {med(rnd, 'seconds')} | {med(s2, 'seconds')} | "
            f"{statistics.median(sizes) if sizes else '-'} |"
        )
    return "\n".join(lines)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """For run_all.py: per bug found by schedules (not as written), the search's median
    seconds to the first violation against uniformly random schedules (ratio < 1: the
    search is faster). Quick: 3 seeds, 10 s, three bugs."""
    seeds, seconds = (3, 10.0) if quick else (10, 60.0)
    chosen = [b for b in bugs() if not quick or b.name in QUICK]
    rows = []
    for bug in chosen:
        search = [measure(bug, "search-1", seed, seconds) for seed in range(seeds)]
        if all(r["schedules"] == 0 for r in search):
            continue  # violated by the scenario as written: nothing to compare
        rnd = [measure(bug, "random", seed, seconds) for seed in range(seeds)]
        ours = statistics.median(r["seconds"] for r in search)
        theirs = statistics.median(r["seconds"] for r in rnd)
        rows.append(
            {
                "benchmark": "planted",
                "case": f"{bug.name} ({sum(r['found'] for r in search)}/{seeds} found)",
                "value": ours,
                "unit": "s to first violation (median)",
                "baseline": theirs,
                "ratio": round(ours / theirs, 2) if theirs else None,
            }
        )
    return rows


QUICK = ("om-bad-tiebreak", "ds-outer-signature", "pbft-first-reply")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--bugs", default="")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "planted.jsonl"))
    parser.add_argument("--table", action="store_true", help="print the summary and stop")
    args = parser.parse_args(argv)
    out = Path(args.out)
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    if args.table:
        print(table(rows))
        return 0
    done = {(r["bug"], r["mode"], r["seed"]) for r in rows}
    wanted = set(args.bugs.split(",")) if args.bugs else None
    modes = [m for m in args.modes.split(",") if m]
    for mode in modes:
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    for bug in bugs():
        if wanted is not None and bug.name not in wanted:
            continue
        for seed in range(args.seeds):
            for mode in modes:
                if (bug.name, mode, seed) in done:
                    continue
                row = measure(bug, mode, seed, args.seconds)
                with out.open("a") as fh:
                    fh.write(json.dumps(row, sort_keys=True) + "\n")
                print(json.dumps(row, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
