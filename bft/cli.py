"""The ``bft`` command line. See DESIGN.md for the contract.

Exit status: 0 every property holds; 1 a property is violated (or a
counterexample was found); 2 bad usage or bad input, with one line on stderr
and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from bft import registry, scenario
from bft.errors import BftError, ConfigError
from bft.params import parse_literal

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE = 0, 1, 2

#: Modules that add subcommands. Each defines ``install(subparsers)``, which adds
#: its parser(s) and calls ``register_command(name, handler)``.
EXTENSIONS: list[str] = ["bft.cli_bench", "bft.cli_check", "bft.cli_show", "bft.cli_lab"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _add_overrides(parser: argparse.ArgumentParser) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bft", description="A deterministic lockstep testbed for BFT and failover protocols."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p_list = sub.add_parser("list", help="list protocols, adversaries, scenarios or properties")
    p_list.add_argument(
        "what",
        nargs="?",
        choices=("protocols", "adversaries", "scenarios", "properties"),
        help="what to list",
    )

    p_run = sub.add_parser("run", help="run a scenario and check its properties")
    _add_overrides(p_run)
    p_run.add_argument("--trace", metavar="FILE", help="write the full trace as JSON Lines")

    for module in EXTENSIONS:
        importlib.import_module(module).install(sub)

    p_replay = sub.add_parser(
        "replay", help="re-run a scenario or counterexample file, checking its digest"
    )
    p_replay.add_argument("file")
    p_replay.add_argument("--json", action="store_true")
    p_replay.add_argument("--trace", metavar="FILE", help="write the full trace as JSON Lines")
    return parser


def _parse_params(items: Sequence[str], nodes: int | None) -> dict[str, Any]:
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
        params=_parse_params(args.param, args.nodes),
        adversaries=adversaries,
        seed=args.seed,
        rounds=args.rounds,
        signatures=args.signatures,
    )


def _emit(result: Any, as_json: bool, extra: dict[str, Any] | None = None) -> int:
    from bft.report import run_report

    if as_json:
        payload = result.to_json()
        if extra:
            payload.update(extra)
        print(json.dumps(payload, indent=2))
    else:
        print(run_report(result))
    return EXIT_OK if result.ok else EXIT_VIOLATION


def cmd_run(args: argparse.Namespace) -> int:
    from bft.runner import run

    result = run(scenario_from_args(args), trace_path=args.trace)
    return _emit(result, args.json)


REPLAY_KEYS = ("digest", "level", "property", "witness")


def cmd_replay(args: argparse.Namespace) -> int:
    """Re-run a scenario or counterexample file; a file whose [replay] digest does not
    match, or that is malformed in any way, is refused with one line (exit 2)."""
    from bft.runner import run
    from bft.trace import LEVELS

    loaded = scenario.load(args.file)
    replay = loaded.replay
    for key in replay:
        if key not in REPLAY_KEYS:
            raise ConfigError(
                f"{args.file}: unknown field {key!r} in [replay]; valid fields: "
                + ", ".join(repr(k) for k in REPLAY_KEYS)
            )
    recorded = replay.get("digest")
    if replay and recorded is None:
        raise ConfigError(f"{args.file}: the [replay] table records no 'digest'")
    if recorded is not None and (
        not isinstance(recorded, str)
        or len(recorded) != 64
        or any(c not in "0123456789abcdef" for c in recorded)
    ):
        raise ConfigError(
            f"{args.file}: [replay] digest must be 64 lowercase hex digits (got {recorded!r})"
        )
    level = replay.get("level", loaded.trace)
    if level not in LEVELS:
        raise ConfigError(
            f"{args.file}: [replay] level must be 'summary' or 'full' (got {level!r})"
        )
    try:
        result = run(loaded, trace_path=args.trace, level=level)
    except ConfigError as exc:
        if args.file in str(exc):
            raise
        raise ConfigError(f"{args.file}: {exc}") from None
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        # a value of the right TOML type but the wrong shape deep inside the file
        raise ConfigError(
            f"{args.file}: malformed scenario ({type(exc).__name__}: {exc})"
        ) from None
    if recorded is not None and result.digest != recorded:
        raise ConfigError(
            f"{args.file}: replay produced trace digest {result.digest[:16]}..., but the file records "
            f"{recorded[:16]}...; the file was edited or the code changed since it was written"
        )
    expected = replay.get("property")
    if expected is not None and not isinstance(expected, str):
        raise ConfigError(f"{args.file}: [replay] property must be a string (got {expected!r})")
    if expected is not None and expected not in result.violated:
        raise ConfigError(
            f"{args.file}: the file records a violation of {expected!r}, but the replay "
            f"violates {', '.join(result.violated) or 'nothing'}"
        )
    return _emit(result, args.json, {"replayed_digest_matches": recorded is not None})


def cmd_list(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    what = args.what
    sections = [what] if what else ["protocols", "adversaries", "scenarios"]
    for index, section in enumerate(sections):
        if len(sections) > 1:
            print(("\n" if index else "") + section + ":")
        rows: list[tuple[str, ...]] = []
        if section == "protocols":
            for name in registry.names("protocol"):
                spec = registry.protocol(name)
                rows.append((name, spec.summary))
        elif section == "adversaries":
            for name in registry.names("adversary"):
                rows.append((name, registry.adversary(name).summary))
        elif section == "scenarios":
            for name in scenario.available():
                loaded = scenario.load(name)
                rows.append((name, loaded.protocol, loaded.description))
        else:
            from bft.params import resolve
            from bft.properties import NO_EXCEPTIONS

            for name in registry.names("protocol"):
                spec = registry.protocol(name)()
                params = resolve(name, spec.params, {})
                for prop in [*spec.properties(params), NO_EXCEPTIONS]:
                    rows.append((name, prop.name, prop.kind, prop.description))
        print(tabulate(rows, tablefmt="plain"))
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "list": cmd_list,
    "run": cmd_run,
    "replay": cmd_replay,
}


def register_command(name: str, handler: Callable[[argparse.Namespace], int]) -> None:
    COMMANDS[name] = handler


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except BftError as exc:
        print(f"bft: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("bft: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
