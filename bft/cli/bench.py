"""``bft bench``: protocol x adversary comparisons over seeds, stored, tabulated, plotted.

    bft bench                                   # the headline matrix (benchmarks/sweeps/headline.toml)
    bft bench byzantine-generals --protocols om,om:n=7,m=2 --adversaries none,traitor --seeds 10
    bft bench generals --jobs 2 --db results.sqlite --format markdown --plot matrix.png

The argument is a sweep file (by name from ``benchmarks/sweeps/`` or a
path) or a scenario to use as the base; ``--protocols``, ``--adversaries``
and ``--seeds`` replace the sweep's lists. The exit status is 0 when the
sweep completes (property violations are results, shown in the table), 1
when a run raised an exception (a bug; its cell shows n/a and the reason,
and the exception's type, message and location are stored in ``--db``), 2
for bad input, 130 when interrupted by SIGINT (Ctrl-C) and 143 by SIGTERM
(the workers are stopped; finished runs are kept in ``--db``).

An option that only refines another (``--plot-metric`` refines ``--plot``,
``--series`` and ``--cells`` refine ``--plot-series``,
``--scheduler-timeout`` refines ``--scheduler``, ``--metrics`` the table and
Markdown columns or the plot) is refused without it, rather than silently
ignored.
"""

from __future__ import annotations

import argparse
import math
import sys

from bft.core.errors import ConfigError
from bft.run import scenario as scenarios

DEFAULT_TARGET = "headline"
DEFAULT_SCHEDULER_TIMEOUT = 10.0
MAX_SCHEDULER_TIMEOUT = 3600.0


def bench_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Compare protocols x adversaries over seeds: mean and 95% CI per metric, "
        "property violation counts, stored in SQLite (an interrupted sweep resumes), "
        "run serially, on local processes or on Dask; exit 0 when the sweep completes."
    )
    p.add_argument(
        "target",
        nargs="?",
        default=DEFAULT_TARGET,
        help="a sweep (name in benchmarks/sweeps/ or a path) or a scenario as the base "
        f"(default: {DEFAULT_TARGET})",
    )
    p.add_argument(
        "--protocols",
        metavar="P[:k=v],...",
        help="protocols to compare, e.g. om,om:n=7,m=2 (default: the sweep's or the scenario's)",
    )
    p.add_argument(
        "--adversaries",
        metavar="A[:k=v][+B],...",
        help="adversaries to compare; '+' composes, 'none' is fault-free, "
        "'scenario' keeps the scenario's own",
    )
    p.add_argument("--seeds", metavar="N|A..B|S,S,...", help="N seeds 0..N-1, a range or a list")
    p.add_argument("--jobs", type=int, default=1, metavar="J", help="local worker processes")
    p.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", help="run on a Dask distributed cluster"
    )
    p.add_argument(
        "--scheduler-timeout",
        metavar="S",
        help="seconds to wait for the Dask scheduler and a worker "
        f"(default {DEFAULT_SCHEDULER_TIMEOUT:g})",
    )
    p.add_argument(
        "--db", metavar="FILE", help="SQLite file: store every run, reuse stored ones (resume)"
    )
    p.add_argument(
        "--code-version",
        metavar="TEXT",
        help="key stored results by this version instead of the source digest",
    )
    p.add_argument(
        "--format",
        choices=("table", "csv", "json", "markdown"),
        default="table",
        dest="fmt",
        help="output format (default: table)",
    )
    p.add_argument("--rows", action="store_true", help="one line per run instead of per cell")
    p.add_argument("--metrics", metavar="M,...", help="metric columns for table and markdown")
    p.add_argument(
        "--plot", metavar="FILE", help="heat map of a metric over the matrix (.png/.svg/.pdf)"
    )
    p.add_argument(
        "--plot-metric",
        metavar="M",
        help="metric for --plot (default: the first column; 'violations' for the share of "
        "runs violating a property)",
    )
    p.add_argument(
        "--plot-series", metavar="FILE", help="a per-round tally over rounds, one line per cell"
    )
    p.add_argument("--series", metavar="TALLY", help="the tally for --plot-series")
    p.add_argument("--cells", metavar="P/A,...", help="cells for --plot-series (default: all)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a parameter for every cell",
    )
    p.add_argument("--rounds", type=int, metavar="R", help="rounds for every cell")
    p.add_argument("--signatures", choices=("real", "ideal"))
    p.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress bar on stderr (auto: only on a terminal)",
    )


def sweep_from_args(args: argparse.Namespace):  # noqa: ANN201 - a bft.bench.Sweep
    from bft.bench import sweep as sweeps
    from bft.cli.common import parse_params

    protocols = (
        [sweeps.parse_protocol(t) for t in sweeps.split_specs(args.protocols)]
        if args.protocols is not None
        else None
    )
    adversaries = (
        [sweeps.parse_adversary(t) for t in sweeps.split_specs(args.adversaries)]
        if args.adversaries is not None
        else None
    )
    if args.protocols is not None and not protocols:
        raise ConfigError("--protocols is empty: name at least one (see 'bft list protocols')")
    if args.adversaries is not None and not adversaries:
        raise ConfigError("--adversaries is empty: name at least one (see 'bft list adversaries')")
    seeds = sweeps.parse_seeds(args.seeds) if args.seeds is not None else None
    params = parse_params(args.param, None)
    loaded = sweeps.load(args.target)
    if isinstance(loaded, sweeps.Sweep):
        base = scenarios.with_overrides(
            loaded.scenario, params=params, rounds=args.rounds, signatures=args.signatures
        )
        notes = [
            n
            for n in loaded.unavailable
            if not (protocols is not None and n.startswith("protocol"))
            and not (adversaries is not None and n.startswith("adversary"))
        ]
        return sweeps.build(
            base,
            protocols if protocols is not None else loaded.protocols,
            adversaries if adversaries is not None else loaded.adversaries,
            seeds if seeds is not None else loaded.seeds,
            name=loaded.name,
            description=loaded.description,
            metrics=loaded.metrics,
            unavailable=notes,
        )
    base = scenarios.with_overrides(
        loaded, params=params, rounds=args.rounds, signatures=args.signatures
    )
    return sweeps.build(base, protocols, adversaries, seeds)


# An option that only refines another: (option, its attribute, the option it needs, why).
REFINES = (
    ("--plot-metric", "plot_metric", "plot", "--plot FILE", "it chooses the heat map's metric"),
    ("--series", "series", "plot_series", "--plot-series FILE", "it chooses the plotted tally"),
    ("--cells", "cells", "plot_series", "--plot-series FILE", "it chooses the plotted cells"),
    (
        "--scheduler-timeout",
        "scheduler_timeout",
        "scheduler",
        "--scheduler tcp://HOST:PORT",
        "it bounds the wait for a Dask scheduler",
    ),
)


def check_options(args: argparse.Namespace) -> float:
    """Refuse option values and combinations that cannot do what they say, before any run;
    return the scheduler timeout."""
    from bft.bench.execute import check_address
    from bft.bench.sweep import check_rounds

    for option, attr, needs, spelled, why in REFINES:
        if getattr(args, attr) is not None and not getattr(args, needs):
            raise ConfigError(f"{option} does nothing without {spelled} ({why}); add {spelled}")
    if args.metrics is not None and args.fmt in ("csv", "json") and not args.plot:
        raise ConfigError(
            f"--metrics does nothing with --format {args.fmt} (it carries every metric) "
            "unless --plot FILE is given; drop --metrics or add --plot FILE"
        )
    for option, value, what in (
        ("--db", args.db, "a file name"),
        ("--code-version", args.code_version, "a version text"),
    ):
        if value is not None and not value.strip():
            raise ConfigError(f"{option} is empty: give {what} or leave the option out")
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1 (got {args.jobs})")
    if args.scheduler and args.jobs > 1:
        raise ConfigError("--jobs and --scheduler exclude each other: Dask decides the workers")
    if args.scheduler:
        check_address(args.scheduler)
    timeout = DEFAULT_SCHEDULER_TIMEOUT
    if args.scheduler_timeout is not None:
        text = args.scheduler_timeout
        try:
            timeout = float(text)
        except ValueError:
            raise ConfigError(f"--scheduler-timeout {text!r}: expected seconds, e.g. 10") from None
        if not math.isfinite(timeout) or not 0 < timeout <= MAX_SCHEDULER_TIMEOUT:
            raise ConfigError(
                f"--scheduler-timeout {text!r}: expected a number of seconds above 0 and at "
                f"most {MAX_SCHEDULER_TIMEOUT:g}"
            )
    check_rounds(args.rounds)
    return timeout


def cmd_bench(args: argparse.Namespace) -> int:
    from bft.bench import report
    from bft.bench.execute import Interrupted, run_sweep
    from bft.bench.sweep import split_specs
    from bft.tools import plot

    timeout = check_options(args)
    sweep = sweep_from_args(args)
    cells = None
    if args.cells:
        cells = []
        for item in split_specs(args.cells):
            protocol, slash, adversary = item.partition("/")
            if not slash:
                raise ConfigError(f"--cells {item!r}: expected PROTOCOL/ADVERSARY (their labels)")
            cells.append((protocol, adversary))
    for target in (args.plot, args.plot_series):  # fail before running, not after
        if target:
            plot._check_target(target)
            plot._pyplot()
    for note in sweep.unavailable:
        print(f"bft bench: unavailable: {note}", file=sys.stderr)
    progress = {"auto": None, "always": True, "never": False}[args.progress]
    try:
        result = run_sweep(
            sweep,
            jobs=args.jobs,
            scheduler=args.scheduler,
            db=args.db,
            version=args.code_version,
            progress=progress,
            scheduler_timeout=timeout,
        )
    except Interrupted as stop:
        if stop.db:
            kept = f"{stop.stored} runs finished and stored in {stop.db}; run the same command to resume"
        else:
            kept = f"{stop.stored} runs finished, not kept (no --db)"
        print(f"bft: interrupted by {stop.name}; {kept}", file=sys.stderr)
        return 128 + stop.signum
    requested = split_specs(args.metrics) if args.metrics else []
    print(report.render(result, args.fmt, requested, rows=args.rows))
    if args.fmt in ("csv", "json"):
        for note in result.notes:
            print(f"bft bench: note: {note}", file=sys.stderr)
        print(f"bft bench: {report.footer(result)}", file=sys.stderr)
    if args.plot:
        present = report.all_metrics(result)
        default = [m for m in sweep.metrics if m in present] or report.shown_metrics(result)
        metric = args.plot_metric or (requested or default)[0]
        plot.heatmap(result, metric, args.plot)
        print(f"bft bench: wrote {args.plot}", file=sys.stderr)
    if args.plot_series:
        plot.series(result, args.series, args.plot_series, cells)
        print(f"bft bench: wrote {args.plot_series}", file=sys.stderr)
    return 1 if result.crashed else 0


COMMANDS = {"bench": (bench_arguments, cmd_bench)}
