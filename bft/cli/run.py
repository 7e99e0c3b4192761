"""``bft run``, ``bft replay`` and ``bft list``: run scenarios and see what exists."""

from __future__ import annotations

import argparse
import sys

from bft.cli.common import (
    EXIT_OK,
    add_isolate,
    add_long,
    add_overrides,
    emit,
    patience,
    register_isolated,
    scenario_from_args,
)
from bft.core import registry
from bft.core.errors import ConfigError
from bft.run import scenario


def run_arguments(parser: argparse.ArgumentParser) -> None:
    add_overrides(parser)
    parser.add_argument("--trace", metavar="FILE", help="write the full trace as JSON Lines")
    add_long(parser)


def replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file")
    add_isolate(parser)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--trace",
        metavar="FILE",
        help="also write the full trace as JSON Lines (for 'bft show'), whatever level "
        "the file's digest was recorded at",
    )
    add_long(parser)


def list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "what",
        nargs="?",
        choices=("protocols", "adversaries", "scenarios", "properties", "actions"),
        help="what to list",
    )


def cmd_run(args: argparse.Namespace) -> int:
    from bft.run.runner import run

    result = run(scenario_from_args(args), trace_path=args.trace, patience=patience(args))
    return emit(result, args.json)


REPLAY_KEYS = ("digest", "level", "property", "witness")


def cmd_replay(args: argparse.Namespace) -> int:
    """Re-run a scenario or counterexample file; a file whose [replay] digest does not
    match, or that is malformed in any way, is refused with one line (exit 2).

    The digest is checked at the level the file recorded it (usually ``summary``);
    ``--trace FILE`` then writes a *full* trace of the same run (a second, identical
    run at the full level when the recorded level is not full). The text report
    ends by saying whether the digest matched."""
    from bft.cli.show import check_output
    from bft.core.trace import LEVELS
    from bft.run.runner import run

    if args.trace is not None:
        check_output(args.trace, "--trace")
    register_isolated(args.isolate)
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
    one_run = args.trace if level == "full" else None
    try:
        result = run(loaded, trace_path=one_run, level=level, patience=patience(args))
    except ConfigError as exc:
        if args.file in str(exc):
            raise
        raise ConfigError(f"{args.file}: {exc}") from None
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        # a value of the right TOML type but the wrong shape deep inside the file
        raise ConfigError(
            f"{args.file}: malformed scenario ({type(exc).__name__}: {exc})"
        ) from None
    if not replay and any(a.name == "schedule" for a in loaded.adversaries):
        # said after the run, so that bad input still gets exactly one line
        print(
            f"bft: warning: {args.file} holds a schedule but no [replay] table (a truncated "
            "counterexample?): it ran without a digest to check",
            file=sys.stderr,
        )
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
    if args.trace is not None and one_run is None:
        # the same run, every message traced
        run(loaded, trace_path=args.trace, level="full", patience=patience(args))
    extra: dict[str, object] = {"replayed_digest_matches": recorded is not None}
    if args.trace is not None:
        extra["trace"] = args.trace
    status = emit(result, args.json, extra)
    if not args.json:
        if recorded is not None:
            print(
                f"replay: the trace digest matches the one {args.file} records "
                f"({recorded[:16]}..., {level} trace)"
            )
        else:
            print(f"replay: {args.file} records no digest, so there was nothing to compare")
        if args.trace is not None:
            print(f"full trace written to {args.trace} (draw it with 'bft show {args.trace}')")
    return status


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
        elif section == "actions":
            from bft.search.actions import kinds

            for name, kind in kinds().items():
                where = "" if kind.generated else " (in files only)"
                rows.append((name, kind.fault + where, kind.summary))
        else:
            from bft.core.params import resolve
            from bft.core.properties import NO_EXCEPTIONS

            for name in registry.names("protocol"):
                spec = registry.protocol(name)()
                params = resolve(name, spec.params, {})
                for prop in [*spec.properties(params), NO_EXCEPTIONS]:
                    rows.append((name, prop.name, prop.kind, prop.description))
        print(tabulate(rows, tablefmt="plain"))
    return EXIT_OK


COMMANDS = {
    "run": (run_arguments, cmd_run),
    "replay": (replay_arguments, cmd_replay),
    "list": (list_arguments, cmd_list),
}
