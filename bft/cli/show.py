"""``bft show TRACE``: a space-time diagram of a run, in the terminal or as an HTML page."""

from __future__ import annotations

import argparse
from pathlib import Path


def show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", help="a full trace file written by 'bft run ... --trace FILE'")
    parser.add_argument("--nodes", metavar="LIST", help="only these nodes, e.g. 0,2,5 or 0-3")
    parser.add_argument("--rounds", metavar="A:B", help="only rounds A to B (inclusive)")
    parser.add_argument(
        "--kind", action="append", metavar="KIND", help="only this message kind (repeatable)"
    )
    parser.add_argument(
        "--width", type=int, default=100, metavar="W", help="terminal width (default 100)"
    )
    parser.add_argument(
        "--html", metavar="FILE", help="write a self-contained HTML page instead of printing"
    )


def cmd_show(args: argparse.Namespace) -> int:
    from bft.core.errors import ConfigError
    from bft.tools.show import load, make_view, render_html, render_text

    diagram = load(args.trace)
    view = make_view(diagram, args.nodes, args.rounds, args.kind)
    if args.html:
        try:
            Path(args.html).write_text(render_html(diagram, view), encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write {args.html!r}: {exc.strerror}") from None
        print(f"wrote {args.html}")
    else:
        print(render_text(diagram, view, args.width))
    return 0


COMMANDS = {"show": (show_arguments, cmd_show)}
