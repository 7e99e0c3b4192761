"""``bft bench``: protocol x adversary comparisons over seeds, stored, tabulated, plotted.

    bft bench                                   # the headline matrix (benchmarks/sweeps/headline.toml)
    bft bench byzantine-generals --protocols om,om:n=7,m=2 --adversaries none,traitor --seeds 10
    bft bench generals --jobs 2 --db results.sqlite --format markdown --plot matrix.png

The argument is a sweep file (by name from ``benchmarks/sweeps/`` or a
path) or a scenario to use as the base; ``--protocols``, ``--adversaries``
and ``--seeds`` replace the sweep's lists. The exit status is 0 when the
sweep completes (property violations are results, shown in the table), 1
when a run raised an exception (a bug; its cell shows n/a and the reason), 2
for bad input, 130 when interrupted (finished runs are kept in ``--db``).
"""

from __future__ import annotations

import argparse
import sys

from bft.core.errors import ConfigError
from bft.run import scenario as scenarios

DEFAULT_TARGET = "headline"


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
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait for the Dask scheduler and a worker (default 10)",
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


def cmd_bench(args: argparse.Namespace) -> int:
    from bft.bench import report
    from bft.bench.execute import check_address, run_sweep
    from bft.bench.sweep import split_specs
    from bft.tools import plot

    if args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1 (got {args.jobs})")
    if args.scheduler and args.jobs > 1:
        raise ConfigError("--jobs and --scheduler exclude each other: Dask decides the workers")
    if args.scheduler:
        check_address(args.scheduler)
    if args.scheduler_timeout <= 0:
        raise ConfigError(f"--scheduler-timeout must be positive (got {args.scheduler_timeout})")
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
    result = run_sweep(
        sweep,
        jobs=args.jobs,
        scheduler=args.scheduler,
        db=args.db,
        version=args.code_version,
        progress=progress,
        scheduler_timeout=args.scheduler_timeout,
    )
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
