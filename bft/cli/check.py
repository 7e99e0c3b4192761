"""``bft check SCENARIO``: search adversary schedules for a property violation.

Takes the same scenario overrides as ``bft run`` (the scenario's own
adversaries are replaced by the searched schedules, so ``--adversary`` is
refused), plus a budget
(``--examples``, ``--seconds``), the fault budget (``--faults``: faulty nodes,
crashed or corrupted; default: what the protocol claims to tolerate), and
where to write a counterexample (``--out``). Exit 0 when no schedule violated a
property, 1 with a minimal counterexample, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from typing import Any

from tabulate import tabulate

from bft.cli.common import EXIT_OK, EXIT_VIOLATION, add_overrides, scenario_from_args
from bft.core.errors import ConfigError
from bft.search.schedule import GENERATED_KINDS


def check_arguments(parser: argparse.ArgumentParser) -> None:
    add_overrides(parser)
    parser.add_argument("--examples", type=int, metavar="K", help="schedules to try (default 200)")
    parser.add_argument("--seconds", type=float, metavar="T", help="wall-time budget in seconds")
    parser.add_argument(
        "--faults",
        type=int,
        metavar="F",
        help="faulty nodes (crashed or corrupted) a schedule may use "
        "(default: as many as the protocol tolerates)",
    )
    parser.add_argument(
        "--kinds",
        metavar="K1,K2",
        help=f"restrict the action kinds (from: {', '.join(GENERATED_KINDS)})",
    )
    parser.add_argument(
        "--property",
        action="append",
        metavar="NAME",
        help="only a violation of this property counts (repeatable; default: every property the protocol guarantees within its fault bound)",
    )
    parser.add_argument(
        "--role",
        metavar="ROLE",
        help="only nodes with this role may be faulty (e.g. 'replica'; default: any node)",
    )
    parser.add_argument(
        "--max-actions", type=int, default=6, metavar="A", help="longest schedule (default 6)"
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="where to write a counterexample (default: SCENARIO-counterexample.toml)",
    )


class _ProgressLine:
    """One self-overwriting status line on stderr, only when it is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, examples: int, elapsed: float, phase: str) -> None:
        now = time.perf_counter()
        if not self.enabled or now - self.last < 0.2:
            return
        self.last = now
        rate = examples / elapsed if elapsed else 0.0
        verb = "shrinking a counterexample" if phase == "shrink" else "searching"
        sys.stderr.write(f"\r{verb}: {examples} schedules, {elapsed:.1f} s, {rate:.0f}/s   ")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled and self.last:
            sys.stderr.write("\r" + " " * 78 + "\r")
            sys.stderr.flush()


def cmd_check(args: argparse.Namespace) -> int:
    from bft.search.driver import Searcher

    kinds = None
    if args.kinds:
        kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
        for kind in kinds:
            if kind not in GENERATED_KINDS:
                raise ConfigError(
                    f"--kinds: unknown action kind {kind!r}; available: {', '.join(GENERATED_KINDS)}"
                )
    if args.adversary:
        raise ConfigError(
            "bft check searches the adversary itself (the scenario's adversaries are replaced "
            "by the searched schedules); shape the search with --faults, --kinds and --role "
            "instead of --adversary"
        )
    if args.max_actions < 1:
        raise ConfigError(f"--max-actions must be at least 1 (got {args.max_actions})")
    chosen = scenario_from_args(args)
    targets = None
    if args.role:
        from bft.run import runner

        prepared = runner.prepare(chosen)
        roles = sorted(set(prepared.spec.roles(prepared.params)))
        if args.role not in roles:
            raise ConfigError(
                f"--role: no node has role {args.role!r}; roles here: {', '.join(roles)}"
            )
        targets = [i for i, r in enumerate(prepared.spec.roles(prepared.params)) if r == args.role]
    searcher = Searcher(
        chosen,
        faults=args.faults,
        kinds=kinds,
        max_actions=args.max_actions,
        targets=targets,
        properties=args.property,
    )
    progress = _ProgressLine()
    try:
        outcome = searcher.search(
            examples=args.examples,
            seconds=args.seconds,
            seed=chosen.seed,
            progress=None if args.json else progress,
        )
    finally:
        progress.clear()
    cex = outcome.counterexample
    path = None
    if cex is not None:
        path = args.out or f"{chosen.name}-counterexample.toml"
        cex.write(path)
    if args.json:
        payload = outcome.to_json()
        if cex is not None:
            payload["violation"]["file"] = path
            payload["violation"]["replay"] = f"bft replay {shlex.quote(path or '')}"
        print(json.dumps(payload, indent=2))
    else:
        print(report(outcome, path))
    return EXIT_VIOLATION if cex is not None else EXIT_OK


def report(outcome: Any, path: str | None) -> str:
    prepared = outcome.prepared
    params = ", ".join(f"{k}={v}" for k, v in prepared.params.items() if v is not None)
    rate = outcome.examples / outcome.seconds if outcome.seconds else 0.0
    lines = [
        f"bft check {prepared.scenario.name}: {prepared.spec.name} ({params}), seed {prepared.scenario.seed}",
        f"fault model: {outcome.model.describe()}",
        f"properties searched: {', '.join(outcome.properties)}",
    ]
    unsearched = [
        p.name
        for p in prepared.spec.properties(prepared.params)
        if p.name not in outcome.properties
    ]
    if unsearched:
        lines.append(
            f"not searched: {', '.join(unsearched)} (not guaranteed within the fault bound, or "
            "not named; add --property NAME to search them)"
        )
    lines.append("")
    cex = outcome.counterexample
    if cex is None:
        lines.append(
            f"no violation in {outcome.examples} schedules "
            f"({outcome.seconds:.1f} s, {rate:.0f} schedules/s)"
        )
    else:
        kind = cex.result.properties[cex.property].kind
        lines.append(
            f"VIOLATION of {cex.property} ({kind}) after {cex.found_after} schedules "
            f"({cex.seconds_to_first:.1f} s); shrunk from {cex.first_size} to "
            f"{len(cex.schedule)} action(s):"
        )
        for index, text in enumerate(cex.schedule.describe(), start=1):
            lines.append(f"  {index}. {text}")
        lines.append(f"witness: {cex.witness}")
        others = [n for n in cex.result.violated if n != cex.property and n in outcome.properties]
        if others:
            lines.append(f"also violated: {', '.join(others)}")
        if cex.result.beyond_bound:
            lines.append(f"beyond the protocol's bound: {cex.result.beyond_bound}")
        lines.append("removing any one of these actions makes every searched property hold again")
        lines.append(f"counterexample written to {path}")
        lines.append(f"replay it with: bft replay {shlex.quote(path or '')}")
    lines.append("")
    lines.append("what was exercised (action kinds in the schedules tried):")
    rows = [(kind, s.scheduled, s.applied, s.changed) for kind, s in outcome.kinds.items()]
    lines.append(
        tabulate(rows, headers=["kind", "in schedules", "took effect", "changed the outcome"])
    )
    props = ", ".join(f"{name} {count}" for name, count in outcome.exercised.items())
    lines.append(f"runs in which each property was exercised (not vacuous): {props}")
    return "\n".join(lines)


COMMANDS = {"check": (check_arguments, cmd_check)}
