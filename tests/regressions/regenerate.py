"""Rewrite the saved counterexamples after an intended change of behaviour.

A saved counterexample fails ``tests/test_replay.py`` when the trace it
records no longer matches: the protocol, the engine or the trace format
changed. If the change was intended, regenerate them (each by the same search
that found it) and review the diff: ``python tests/regressions/regenerate.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from bft.run import scenario  # noqa: E402
from bft.search.driver import Searcher  # noqa: E402
from tests.quality.planted import PLANTED, register_all, searcher_for  # noqa: E402


def main() -> None:
    register_all()
    generals = scenario.load("byzantine-generals")
    searches: list[tuple[str, Searcher, int, int, str | None]] = [
        (
            "om-three-generals",
            Searcher(scenario.with_overrides(generals, params={"n": 3})),
            200,
            0,
            None,
        ),
        ("om-two-traitors", Searcher(generals, faults=2), 200, 0, None),
        ("pbft-two-faults", Searcher(scenario.load("pbft-normal"), faults=2), 500, 1, "--faults 2"),
    ]
    for name in ("om-bad-tiebreak", "pbft-first-reply", "pbft-low-prepare-quorum"):
        bug = next(b for b in PLANTED if b.name == name)
        searches.append((name, searcher_for(bug, bug.name), 200, 0, None))
    for name, searcher, examples, seed, flags in searches:
        cex = searcher.search(examples=examples, seed=seed).counterexample
        if cex is None:
            raise SystemExit(f"{name}: no counterexample any more (the bug is gone?)")
        if flags:
            cex.document["description"] = cex.document["description"].replace(
                "':", f" {flags}':", 1
            )
        cex.write(HERE / f"{name}.toml")
        print(f"{name}: {cex.property}: {cex.schedule}")


if __name__ == "__main__":
    main()
