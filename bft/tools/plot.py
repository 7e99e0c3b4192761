"""Plots of sweep results (optional extra: ``pip install 'bft[plot]'``, matplotlib).

* ``heatmap``: one metric's mean over the protocol x adversary matrix, each
  square annotated with its value (and "n/a" where the cell cannot run).
  The special metric ``violations`` is the share of runs in which some
  property was violated.
* ``series``: a per-round tally averaged over seeds, one line per chosen
  cell (chosen by ``PROTOCOL/ADVERSARY`` label patterns, ``*`` a wildcard).
  ``availability`` is derived as served / (served + unserved) when a
  protocol tallies ``served`` per round (the service family does) and is
  the default.

Both write a file whose format follows its suffix (.png, .svg, .pdf).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bft.bench.execute import SweepResult
from bft.core.errors import ConfigError

VIOLATIONS = "violations"


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ConfigError(
            "plots need matplotlib, an optional extra: pip install 'bft[plot]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _check_target(path: str | Path) -> Path:
    target = Path(path)
    if not target.parent.is_dir():
        raise ConfigError(
            f"cannot write plot {str(path)!r}: directory {str(target.parent)!r} does not exist"
        )
    if target.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ConfigError(f"plot file {str(path)!r}: use a .png, .svg or .pdf name")
    return target


def matrix(result: SweepResult, metric: str) -> tuple[list[str], list[str], list[list[float]]]:
    """Row labels, column labels and the metric's means (NaN where missing)."""
    rows = list(dict.fromkeys(c.protocol for c in result.cells))
    cols = list(dict.fromkeys(c.adversary for c in result.cells))
    grid = [[math.nan] * len(cols) for _ in rows]
    for cell in result.cells:
        if cell.error:
            continue
        if metric == VIOLATIONS:
            value = cell.violating / cell.runs if cell.runs else math.nan
        else:
            summary = cell.metrics.get(metric)
            value = summary.mean if summary and summary.mean is not None else math.nan
        grid[rows.index(cell.protocol)][cols.index(cell.adversary)] = value
    return rows, cols, grid


def heatmap(result: SweepResult, metric: str, path: str | Path) -> Path:
    known = {m for c in result.cells for m in c.metrics} | {VIOLATIONS}
    if metric not in known:
        raise ConfigError(
            f"cannot plot unknown metric {metric!r}; available: {', '.join(sorted(known))}"
        )
    target = _check_target(path)
    plt = _pyplot()
    rows, cols, grid = matrix(result, metric)
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(cols), 1.0 + 0.55 * len(rows)))
    image = ax.imshow(grid, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(cols)), labels=cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), labels=rows)
    finite = [v for line in grid for v in line if not math.isnan(v)]
    mid = (min(finite) + max(finite)) / 2 if finite else 0.0
    for i, line in enumerate(grid):
        for j, value in enumerate(line):
            text = "n/a" if math.isnan(value) else f"{value:.3g}"
            color = "black" if math.isnan(value) or value > mid else "white"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=8)
    title = "share of runs violating a property" if metric == VIOLATIONS else f"{metric} (mean)"
    ax.set_title(f"{result.sweep.name}: {title}, {len(result.sweep.seeds)} seeds", fontsize=10)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
    return target


AVAILABILITY = "availability"


def _derived(series: dict[str, list[float]]) -> dict[str, list[float]]:
    """Add ``availability`` = served / (served + unserved) per round, as the service family
    defines it, when a run tallies ``served`` (an absent ``unserved`` tally counted nothing)."""
    if AVAILABILITY in series or "served" not in series:
        return series
    served = series["served"]
    unserved = series.get("unserved", [0.0] * len(served))
    share = [s / (s + u) if s + u else math.nan for s, u in zip(served, unserved, strict=False)]
    return {**series, AVAILABILITY: share}


def series_names(result: SweepResult) -> list[str]:
    names: list[str] = []
    for row in result.rows:
        names += [n for n in _derived(row.series) if n not in names]
    return names


def mean_series(result: SweepResult, protocol: str, adversary: str, tally: str) -> list[float]:
    """Per-round mean over seeds of ``tally`` in one cell (rounds with no value skipped)."""
    runs = [
        _derived(r.series).get(tally, [])
        for r in result.rows
        if r.protocol == protocol and r.adversary == adversary
    ]
    length = max((len(s) for s in runs), default=0)
    out = []
    for t in range(length):
        values = [s[t] for s in runs if t < len(s) and not math.isnan(s[t])]
        out.append(sum(values) / len(values) if values else math.nan)
    return out


def choose_cells(
    result: SweepResult, patterns: Sequence[tuple[str, str]] | None
) -> list[tuple[str, str]]:
    """The (protocol, adversary) labels matching any pattern (``*`` wildcards), in sweep order."""
    known = [(c.protocol, c.adversary) for c in result.cells if not c.error]
    if not patterns:
        return known
    for pattern in patterns:
        if not any(
            fnmatch.fnmatchcase(p, pattern[0]) and fnmatch.fnmatchcase(a, pattern[1])
            for p, a in known
        ):
            raise ConfigError(
                f"no cell {pattern[0]}/{pattern[1]}; available: "
                + ", ".join(f"{p}/{a}" for p, a in known)
            )
    return [
        (p, a)
        for p, a in known
        if any(fnmatch.fnmatchcase(p, pp) and fnmatch.fnmatchcase(a, pa) for pp, pa in patterns)
    ]


def series(
    result: SweepResult,
    tally: str | None,
    path: str | Path,
    cells: Sequence[tuple[str, str]] | None = None,
) -> Path:
    """Per-round mean of ``tally`` for ``cells`` (default: every cell that has it)."""
    names = series_names(result)
    if not names:
        raise ConfigError("no per-round tallies in this sweep's runs (the protocols record none)")
    if tally is None:
        tally = AVAILABILITY if AVAILABILITY in names else names[0]
    if tally not in names:
        raise ConfigError(f"unknown tally {tally!r}; available: {', '.join(names)}")
    chosen = choose_cells(result, cells)
    target = _check_target(path)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.5))
    styles = ("-", "--", ":", "-.")
    for index, (protocol, adversary) in enumerate(chosen):
        values = mean_series(result, protocol, adversary, tally)
        if values:
            ax.plot(
                range(len(values)),
                values,
                label=f"{protocol} / {adversary}",
                linestyle=styles[(index // 10) % len(styles)],
            )
    ax.set_xlabel("round")
    ax.set_ylabel(f"{tally} (mean over {len(result.sweep.seeds)} seeds)")
    ax.set_title(f"{result.sweep.name}: {tally} per round", fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
    return target
