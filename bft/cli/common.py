"""What the subcommands share: exit codes, scenario overrides, result output."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any, NoReturn

from bft.core.errors import ConfigError
from bft.core.params import parse_literal
from bft.run import scenario

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit with status 2 and say where to look."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def add_overrides(parser: argparse.ArgumentParser) -> None:
    """The scenario argument and the overrides ``run``, ``check`` and ``lab run`` share."""
    parser.add_argument(
        "scenario", help="a scenario name (see 'bft list scenarios') or a path to a .toml file"
    )
    parser.add_argument("--protocol", help="run this protocol instead of the scenario's")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a protocol parameter (repeatable)",
    )
    parser.add_argument("--nodes", type=int, metavar="N", help="shorthand for --param n=N")
    parser.add_argument(
        "--adversary",
        action="append",
        metavar="A[:k=v,...]",
        help="replace the scenario's adversaries (repeatable; 'none' for fault-free)",
    )
    parser.add_argument("--rounds", type=int, metavar="R", help="number of lockstep rounds")
    parser.add_argument("--seed", type=int, metavar="S", help="random seed")
    parser.add_argument(
        "--signatures", choices=("real", "ideal"), help="Ed25519 or the ideal functionality"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def parse_params(items: Sequence[str], nodes: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise ConfigError(f"--param {item!r}: expected NAME=VALUE")
        params[name.strip()] = parse_literal(value)
    if nodes is not None:
        params["n"] = nodes
    return params


def scenario_from_args(args: argparse.Namespace) -> scenario.Scenario:
    base = scenario.load(args.scenario)
    adversaries = None
    if args.adversary:
        adversaries = [scenario.parse_adversary(text) for text in args.adversary]
    return scenario.with_overrides(
        base,
        protocol=args.protocol,
        params=parse_params(args.param, args.nodes),
        adversaries=adversaries,
        seed=args.seed,
        rounds=args.rounds,
        signatures=args.signatures,
    )


def emit(result: Any, as_json: bool, extra: dict[str, Any] | None = None) -> int:
    from bft.run.report import run_report

    if as_json:
        payload = result.to_json()
        if extra:
            payload.update(extra)
        print(json.dumps(payload, indent=2))
    else:
        print(run_report(result))
    return EXIT_OK if result.ok else EXIT_VIOLATION
