"""The ``bft`` command line: a plain table of subcommands.

Each subcommand lives in its own module, which is imported only when that
subcommand runs (``bft --help`` imports none of them, so start-up stays fast).
A module's ``COMMANDS`` maps a subcommand to the function that adds its
arguments and the function that runs it.

Exit status: 0 every property holds; 1 a property is violated (or a
counterexample was found); 2 bad usage or bad input, with one line on stderr
and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from bft.cli.common import EXIT_OK, EXIT_USAGE, EXIT_VIOLATION, Parser

__all__ = ["COMMANDS", "EXIT_OK", "EXIT_USAGE", "EXIT_VIOLATION", "build_parser", "main"]


class Command(NamedTuple):
    module: str  # defines COMMANDS[name] = (add_arguments, handler)
    help: str


COMMANDS: dict[str, Command] = {
    "list": Command("bft.cli.run", "list protocols, adversaries, scenarios or properties"),
    "run": Command("bft.cli.run", "run a scenario and check its properties"),
    "check": Command(
        "bft.cli.check", "search adversary schedules for a violation and shrink it to a minimal one"
    ),
    "replay": Command(
        "bft.cli.run", "re-run a scenario or counterexample file, checking its digest"
    ),
    "show": Command(
        "bft.cli.show",
        "draw a space-time diagram of a trace file (from 'bft run ... --trace FILE')",
    ),
    "bench": Command(
        "bft.cli.bench",
        "compare protocols x adversaries over seeds: table, CSV/JSON/Markdown, plots",
    ),
    "lab": Command("bft.cli.lab", "list the teaching labs, grade one, or rerun a grader case"),
}

Handler = Callable[[argparse.Namespace], int]


def build_parser(only: str | None = None) -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    """The parser, with the arguments of every subcommand (or of ``only``, when given:
    the others are listed by name and help, their modules not imported)."""
    parser = Parser(
        prog="bft", description="A deterministic lockstep testbed for BFT and failover protocols."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    handlers: dict[str, Handler] = {}
    for name, command in COMMANDS.items():
        child = sub.add_parser(name, help=command.help, description=command.help)
        if only is None or name == only:
            add_arguments, handler = importlib.import_module(command.module).COMMANDS[name]
            add_arguments(child)
            handlers[name] = handler
    return parser, handlers


def main(argv: Sequence[str] | None = None) -> int:
    from bft.core.errors import BftError, TooLong

    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser, handlers = build_parser(chosen if chosen in COMMANDS else "")
    args = parser.parse_args(argv)
    try:
        return handlers[args.command](args)
    except (BftError, TooLong) as exc:
        print(f"bft: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("bft: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
