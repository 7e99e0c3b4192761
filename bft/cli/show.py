"""``bft show TRACE``: a space-time diagram of a run, in the terminal or as an HTML page.

Every bad input -- a missing or malformed trace, a bad filter, an output path that
cannot be written -- is one line on stderr and exit status 2. The output path is
checked before the trace is read, so a typo costs nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bft.core.errors import ConfigError, shorten
from bft.core.trace import printable


def show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", help="a full trace file written by 'bft run ... --trace FILE'")
    parser.add_argument("--nodes", metavar="LIST", help="only these nodes, e.g. 0,2,5 or 0-3")
    parser.add_argument(
        "--rounds", metavar="A:B", help="only rounds A to B (inclusive; clamped to the run)"
    )
    parser.add_argument(
        "--kind", action="append", metavar="KIND", help="only this message kind (repeatable)"
    )
    parser.add_argument(
        "--width", type=int, default=100, metavar="W", help="terminal width (default 100)"
    )
    parser.add_argument(
        "--html", metavar="FILE", help="write a self-contained HTML page instead of printing"
    )


def check_output(path: str, option: str = "--html") -> Path:
    """``path`` if a file can be written there; a one-line ``ConfigError`` otherwise
    (checked before any work starts, so a typo costs nothing)."""
    name = printable(shorten(path, 80))
    if not path:
        raise ConfigError(f"{option}: empty file name")
    target = Path(path)
    try:
        if target.is_dir():
            raise ConfigError(f"{option}: cannot write {name!r}: it is a directory")
        parent = target.parent
        if not parent.is_dir():
            where = printable(shorten(str(parent), 60))
            raise ConfigError(f"{option}: cannot write {name!r}: no directory {where!r}")
        writable = os.access(parent, os.W_OK) and (
            not target.exists() or os.access(target, os.W_OK)
        )
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte...
        raise ConfigError(f"{option}: cannot write {name!r}: {exc}") from None
    if not writable:
        raise ConfigError(f"{option}: cannot write {name!r}: permission denied")
    return target


def cmd_show(args: argparse.Namespace) -> int:
    from bft.tools.diagram import load, make_view, render_html, render_text

    target = check_output(args.html) if args.html is not None else None
    try:
        diagram = load(args.trace)
        view = make_view(diagram, args.nodes, args.rounds, args.kind)
        drawn = render_html(diagram, view) if target is not None else None
        text = render_text(diagram, view, args.width) if target is None else ""
    except RecursionError:  # a message nested deeper than any protocol nests one
        name = printable(shorten(str(args.trace), 80))
        raise ConfigError(f"{name}: a message is nested too deeply to draw") from None
    if target is not None:
        page = drawn or ""
        try:
            target.write_bytes(page.encode("utf-8", "replace"))
        except OSError as exc:
            raise ConfigError(
                f"cannot write {printable(shorten(args.html, 80))!r}: {exc.strerror}"
            ) from None
        print(f"wrote {printable(args.html)}")
    else:
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        print(text.encode(encoding, "replace").decode(encoding, "replace"))
    return 0


COMMANDS = {"show": (show_arguments, cmd_show)}
