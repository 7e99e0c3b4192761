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
    add_isolate(parser)


def add_isolate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--isolate",
        action="append",
        default=[],
        metavar="FILE.py:CLASS",
        help="register the adversary class CLASS of an untrusted file, run in a sandboxed "
        "process of its own for each run, where only the adversary interface exists "
        "(repeatable; use it by its name, e.g. --adversary NAME)",
    )


def register_isolated(items: Sequence[str]) -> list[str]:
    """``--isolate FILE.py:CLASS``: register each named adversary class as a hosted one
    (``bft.tools.hosted``): the file is loaded only in sandbox workers, never here, and
    every instance talks to the run through the real controls from a worker of its own,
    so it holds no reference to the engine, its envelopes or its keys. Returns the names
    registered."""
    import re
    from pathlib import Path

    from bft.core import registry

    names = []
    for item in items:
        path, colon, cls = item.rpartition(":")
        if not colon or not path or not cls.isidentifier():
            raise ConfigError(
                f"--isolate {item!r}: expected FILE.py:CLASS (an Adversary subclass defined in "
                "that file)"
            )
        if not Path(path).is_file():
            raise ConfigError(f"--isolate {item!r}: no such file {path!r}")
        module = "isolated_" + re.sub(r"\W", "_", Path(path).stem)
        names.append(_register_hosted(registry, path, module, cls, item))
    return names


def _register_hosted(registry: Any, path: str, module: str, cls: str, item: str) -> str:
    from bft.tools.hosted import hosted_adversary_class
    from bft.tools.sandbox import Limits, Worker

    def worker_for() -> Worker:
        worker = Worker(Limits(call_seconds=10.0, cpu_seconds=600))
        worker.load(path, module)
        return worker

    try:
        hosted = hosted_adversary_class(worker_for, cls)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the untrusted file's failure, in one line
        raise ConfigError(f"--isolate {item!r}: {exc}") from None
    registry.register("adversary", hosted.name, hosted)
    return hosted.name


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
    register_isolated(getattr(args, "isolate", ()))
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


def add_long(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--long",
        action="store_true",
        help="let a run projected to take more than a minute of CPU time finish (by "
        "default it is stopped after its first seconds, with the projection)",
    )


def patience(args: argparse.Namespace, budget: float | None = None) -> float | None:
    """How long a run of this command may be projected to take (``bft.run.patience``):
    the default patience, or the command's own time budget when that is longer; with
    ``--long``, any time."""
    from bft.run.patience import PATIENCE_SECONDS

    if args.long:
        return None
    return max(PATIENCE_SECONDS, budget) if budget is not None and budget > 0 else PATIENCE_SECONDS
