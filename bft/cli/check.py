"""``bft check SCENARIO``: search adversary schedules for a property violation.

Takes the same scenario overrides as ``bft run``. The scenario's own
adversaries (storms, poison, load) stay and the searched schedules are added
on top (``--adversary`` replaces them as in ``bft run``; ``--adversary none``
searches a fault-free world). By default the search covers the fault model the
protocol declares, minus what the scenario's adversaries already spend;
``--faults``, ``--kinds`` and ``--role`` narrow or widen it, and a search
outside the declared model says so. Budget: ``--examples`` schedules and/or
``--seconds``; ``--jobs N`` local processes or ``--scheduler`` a Dask cluster.
Exit 0 when no schedule violated a property, 1 with a minimal counterexample
(written to ``--out``), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from bft.cli.common import (
    EXIT_OK,
    EXIT_VIOLATION,
    add_long,
    add_overrides,
    patience,
    scenario_from_args,
)
from bft.core.errors import ConfigError


def check_arguments(parser: argparse.ArgumentParser) -> None:
    add_overrides(parser)
    add_long(parser)
    parser.add_argument("--examples", type=int, metavar="K", help="schedules to try (default 200)")
    parser.add_argument("--seconds", type=float, metavar="T", help="wall-time budget in seconds")
    parser.add_argument(
        "--faults",
        type=int,
        metavar="F",
        help="faulty nodes (crashed or corrupted) a schedule may add "
        "(default: what the protocol tolerates, minus what the scenario's adversaries use)",
    )
    parser.add_argument(
        "--kinds",
        metavar="K1,K2",
        help="restrict the action kinds (see 'bft list actions'; default: every kind the "
        "protocol's fault model allows)",
    )
    parser.add_argument(
        "--property",
        action="append",
        metavar="NAME",
        help="only a violation of this property counts (repeatable; default: every property "
        "the protocol guarantees within its fault bound)",
    )
    parser.add_argument(
        "--role",
        metavar="ROLE",
        help="only nodes with this role may be faulty (e.g. 'replica'; default: as the "
        "protocol declares)",
    )
    parser.add_argument(
        "--max-actions",
        type=int,
        metavar="A",
        help="longest schedule (default 6; with --exhaustive, 2)",
    )
    parser.add_argument(
        "--exhaustive",
        action="store_true",
        help="explore EVERY schedule up to --max-actions (shortest first) instead of sampling",
    )
    parser.add_argument(
        "--no-dedup",
        action="store_true",
        help="with --exhaustive: do not cut branches that reach a state already explored",
    )
    parser.add_argument(
        "--no-symmetry",
        action="store_true",
        help="with --exhaustive: explore every corrupted set, not one per symmetry orbit",
    )
    parser.add_argument("--jobs", type=int, default=1, metavar="J", help="local worker processes")
    parser.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", help="search on a Dask distributed cluster"
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


def _check_out(path: str) -> None:
    """Refuse an output path that cannot be written, before any search work."""
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"--out {path!r} is a directory; give a file name")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"--out {path!r}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise ConfigError(f"--out {path!r}: not writable")


def cmd_check(args: argparse.Namespace) -> int:
    from bft.search.driver import Searcher

    kinds = None
    if args.kinds:
        kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not args.exhaustive and (args.no_dedup or args.no_symmetry):
        raise ConfigError("--no-dedup and --no-symmetry only apply with --exhaustive")
    if args.max_actions is None:
        args.max_actions = 2 if args.exhaustive else 6
    top = 16 if args.exhaustive else 64
    if args.max_actions < (0 if args.exhaustive else 1) or args.max_actions > top:
        low = 0 if args.exhaustive else 1
        raise ConfigError(f"--max-actions must be between {low} and {top} (got {args.max_actions})")
    if args.exhaustive and args.examples is not None:
        raise ConfigError(
            "--examples does not apply with --exhaustive (it explores every schedule); "
            "bound it with --max-actions, --rounds or --seconds"
        )
    if args.jobs < 1 or args.jobs > 8 * (os.cpu_count() or 1):
        raise ConfigError(
            f"--jobs must be between 1 and {8 * (os.cpu_count() or 1)} (got {args.jobs})"
        )
    if args.scheduler and args.jobs > 1:
        raise ConfigError("--jobs and --scheduler exclude each other: Dask decides the workers")
    if args.scheduler:
        from bft.bench.execute import check_address

        check_address(args.scheduler)
    chosen = scenario_from_args(args)
    path = args.out or f"{chosen.name}-counterexample.toml"
    _check_out(path)
    targets = None
    if args.role:
        from bft.run import runner

        prepared = runner.prepare(chosen)
        roles = prepared.spec.roles(prepared.params)
        if args.role not in roles:
            raise ConfigError(
                f"--role: no node has role {args.role!r}; roles here: {', '.join(sorted(set(roles)))}"
            )
        targets = [i for i, r in enumerate(roles) if r == args.role]
    searcher = Searcher(
        chosen,
        faults=args.faults,
        kinds=kinds,
        max_actions=args.max_actions,
        targets=targets,
        properties=args.property,
        keep_adversaries="all" if args.adversary else "auto",
        patience=patience(args, args.seconds),
    )
    if args.exhaustive:
        return _exhaustive(args, searcher, path)
    progress = _ProgressLine()
    try:
        outcome = searcher.search(
            examples=args.examples,
            seconds=args.seconds,
            seed=chosen.seed,
            progress=None if args.json else progress,
            jobs=args.jobs,
            scheduler=args.scheduler,
        )
    finally:
        progress.clear()
    cex = outcome.counterexample
    if cex is not None:
        cex.write(path)
    if args.json:
        payload = outcome.to_json()
        if cex is not None:
            payload["violation"]["file"] = path
            payload["violation"]["replay"] = f"bft replay {shlex.quote(path)}"
        print(json.dumps(payload, indent=2))
    else:
        print(report(outcome, path if cex is not None else None))
    return EXIT_VIOLATION if cex is not None else EXIT_OK


def _exhaustive(args: argparse.Namespace, searcher: Any, path: str) -> int:
    from bft.search.exhaustive import Exhaustive

    if args.seconds is not None and not (0 < args.seconds <= 7 * 86400):
        raise ConfigError(f"--seconds must be a positive number of seconds (got {args.seconds})")
    explorer = Exhaustive(
        searcher, args.max_actions, dedup=not args.no_dedup, symmetry=not args.no_symmetry
    )
    outcome = explorer.run(args.seconds, jobs=args.jobs, scheduler=args.scheduler)
    cex = outcome.counterexample
    if cex is not None:
        cex.write(path)
    if args.json:
        payload = outcome.to_json()
        if cex is not None:
            payload["violation"]["file"] = path
            payload["violation"]["replay"] = f"bft replay {shlex.quote(path)}"
        print(json.dumps(payload, indent=2))
    else:
        print(exhaustive_report(outcome, path if cex is not None else None))
    return EXIT_VIOLATION if cex is not None else EXIT_OK


def exhaustive_report(outcome: Any, path: str | None) -> str:
    prepared = outcome.prepared
    params = ", ".join(f"{k}={v}" for k, v in prepared.params.items() if v is not None)
    counts = outcome.counts
    model = outcome.model
    own = [name for name, _ in prepared.adversary_configs]
    lines = [
        f"bft check {prepared.scenario.name} --exhaustive: {prepared.spec.name} ({params}), "
        f"seed {prepared.scenario.seed}",
        f"the protocol claims: {model.declared or 'nothing (no declared fault model)'}",
        f"scope: up to {outcome.max_actions} action(s) of kinds {', '.join(outcome.kinds)} "
        f"in {model.rounds} rounds; {model.describe()}",
        f"on top of the scenario's own adversaries: {', '.join(own) or 'none'}",
    ]
    if outcome.skipped_kinds:
        lines.append(
            f"left out (they cannot list their choices): {', '.join(outcome.skipped_kinds)}"
        )
    lines.append(
        f"explored {counts.schedules:,} schedules and {counts.states:,} distinct states in "
        f"{outcome.seconds:.1f} s ({outcome.jobs} job(s)); cut {counts.cut_by_states:,} "
        f"branches that reached a state already explored and {counts.cut_by_symmetry:,} "
        "symmetric corrupted sets"
    )
    lines.append("")
    cex = outcome.counterexample
    if cex is None:
        lines.append(f"guarantee: {outcome.guarantee()}")
        if outcome.partial:
            lines.append(f"then time ran out: {outcome.partial}")
    else:
        lines.append(f"VIOLATION of {cex.property}: {outcome.guarantee()}")
        for index, text in enumerate(cex.schedule.describe(), start=1):
            lines.append(f"  {index}. {text}")
        lines.append(f"witness: {cex.witness}")
        if cex.result.beyond_bound:
            lines.append(f"beyond the protocol's fault model: {cex.result.beyond_bound}")
        lines.append(f"counterexample written to {path}")
        lines.append(f"replay it with: bft replay {shlex.quote(path or '')}")
    return "\n".join(lines)


def report(outcome: Any, path: str | None) -> str:
    from tabulate import tabulate

    prepared = outcome.prepared
    params = ", ".join(f"{k}={v}" for k, v in prepared.params.items() if v is not None)
    rate = outcome.examples / outcome.seconds if outcome.seconds else 0.0
    own = [name for name, _ in prepared.adversary_configs]
    model = outcome.model
    lines = [
        f"bft check {prepared.scenario.name}: {prepared.spec.name} ({params}), seed {prepared.scenario.seed}",
        f"the protocol claims: {model.declared or 'nothing (no declared fault model)'}",
        f"searched: {model.describe()}",
        f"on top of the scenario's own adversaries: {', '.join(own) or 'none'}",
    ]
    if outcome.replaced:
        lines.append(
            f"replaced by the search: {', '.join(outcome.replaced)} (they make nodes faulty "
            "within the fault budget the search explores)"
        )
    lines += [
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
            f"({outcome.seconds:.1f} s, {rate:.0f} schedules/s, {outcome.jobs} job(s), "
            f"{outcome.coverage} coverage features reached)"
        )
    else:
        kind = cex.result.properties[cex.property].kind
        if not len(cex.schedule):
            lines.append(
                f"VIOLATION of {cex.property} ({kind}) by the scenario itself: its own "
                "adversaries suffice, no schedule was needed"
            )
        else:
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
            lines.append(f"beyond the protocol's fault model: {cex.result.beyond_bound}")
        if model.outside:
            lines.append(f"(the search was outside the declared model: {model.outside})")
        if len(cex.schedule):
            lines.append(
                "removing any one of these actions makes every searched property hold again"
            )
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
