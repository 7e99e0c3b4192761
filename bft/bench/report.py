"""Formatting sweep results: a table, CSV, JSON or Markdown.

The table and Markdown show one line per cell with the chosen metrics as
``mean ± 95% CI`` and the properties violated in some runs as
``name k/n``. CSV and JSON carry everything: every metric's mean, CI
half-width and count, every property's violation and exercise counts; with
``rows=True`` one line per run instead.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from bft.bench.execute import CellResult, SweepResult
from bft.core.errors import ConfigError

FORMATS = ("table", "csv", "json", "markdown")
#: Engine-level metrics every protocol reports; shown only when asked for (or no others exist).
GENERIC = (
    "messages",
    "deliveries",
    "dropped",
    "delayed",
    "lost",
    "rejected",
    "refused",
    "signatures",
    "verifications",
)
MAX_AUTO_COLUMNS = 6


def all_metrics(result: SweepResult) -> list[str]:
    names: list[str] = []
    for cell in result.cells:
        names += [m for m in cell.metrics if m not in names]
    return names


def shown_metrics(result: SweepResult, requested: Sequence[str] = ()) -> list[str]:
    """The metric columns: those requested (checked), else the protocols' own plus messages."""
    present = all_metrics(result)
    if requested:
        missing = [m for m in requested if m not in present]
        if missing and present:
            raise ConfigError(
                f"unknown metric {missing[0]!r} for this sweep; available: "
                + ", ".join(repr(m) for m in present)
            )
        return list(requested)
    own = [m for m in present if m not in GENERIC]
    return [*own[: MAX_AUTO_COLUMNS - 1], "messages"]


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    if value == int(value):
        return str(int(value))
    return f"{value:.4g}"


def _half_width(ci: float) -> str:
    return f"{ci:,.0f}" if ci >= 100 else f"{ci:.2g}"


def cell_value(cell: CellResult, metric: str) -> str:
    if cell.error:
        return "n/a"
    summary = cell.metrics.get(metric)
    if summary is None or summary.mean is None:
        return "-"
    text = _num(summary.mean)
    if summary.ci95:
        text += f" ± {_half_width(summary.ci95)}"
    if summary.n < cell.runs:
        text += f" (n={summary.n})"
    return text


def violations(cell: CellResult) -> str:
    if cell.error:
        return "n/a"
    bad = [f"{name} {c.violated}/{c.runs}" for name, c in cell.properties.items() if c.violated]
    return ", ".join(bad) if bad else "none"


def _table_rows(result: SweepResult, metrics: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    headers = ["protocol", "adversary", "runs", *metrics, "violated (runs)"]
    body = [
        [c.protocol, c.adversary, str(c.runs), *(cell_value(c, m) for m in metrics), violations(c)]
        for c in result.cells
    ]
    return headers, body


def footer(result: SweepResult) -> str:
    total = result.reused + result.ran
    where = f" from {result.db}" if result.db and result.reused else ""
    text = (
        f"{total} runs ({len(result.sweep.seeds)} seeds x {len(result.cells)} cells): "
        f"{result.reused} stored{where}, {result.ran} run now in {result.seconds:.1f} s; "
        f"code {result.code_version}"
    )
    if result.failures:
        text += f"; {len(result.failures)} runs failed (see the n/a cells)"
    return text


def _flat(cell: CellResult, metrics: Sequence[str], props: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "protocol": cell.protocol,
        "adversary": cell.adversary,
        "protocol_name": cell.protocol_name,
        "runs": cell.runs,
        "runs_violating": None if cell.error else cell.violating,
    }
    for m in metrics:
        s = cell.metrics.get(m)
        out[f"{m}_mean"] = s.mean if s else None
        out[f"{m}_ci95"] = s.ci95 if s else None
    for p in props:
        c = cell.properties.get(p)
        out[f"{p}_violated"] = c.violated if c else None
    out["error"] = cell.error
    return out


def render(
    result: SweepResult, fmt: str = "table", metrics: Sequence[str] = (), rows: bool = False
) -> str:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; available: {', '.join(FORMATS)}")
    if fmt == "json":
        payload: dict[str, Any] = {
            "sweep": result.sweep.name,
            "description": result.sweep.description,
            "scenario": result.sweep.scenario.name,
            "seeds": list(result.sweep.seeds),
            "code_version": result.code_version,
            "runs": {
                "total": result.reused + result.ran,
                "stored": result.reused,
                "ran": result.ran,
            },
            "unavailable": list(result.sweep.unavailable),
            "notes": result.notes,
            "cells": [c.to_json() for c in result.cells],
            "failed_runs": [f.to_json() for f in result.failures],
            "damaged_rows": [{"key": d.key, "reason": d.reason} for d in result.damaged],
        }
        if rows:
            payload["rows"] = [r.to_json() for r in result.rows]
        return json.dumps(payload, indent=2)
    if rows:
        return _render_rows(result, fmt, shown_metrics(result, metrics) if metrics else ())
    if fmt == "csv":
        names = all_metrics(result)
        props: list[str] = []
        for cell in result.cells:
            props += [p for p in cell.properties if p not in props]
        buffer = io.StringIO()
        flat = [_flat(c, names, props) for c in result.cells]
        writer = csv.DictWriter(buffer, fieldnames=list(flat[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
        return buffer.getvalue().rstrip("\n")
    if not metrics:  # the sweep's own choice, less those no protocol in this run reports
        present = all_metrics(result)
        metrics = [m for m in result.sweep.metrics if m in present]
    chosen = shown_metrics(result, metrics)
    headers, body = _table_rows(result, chosen)
    table = tabulate(body, headers, tablefmt="github" if fmt == "markdown" else "simple")
    lines = [table, "", footer(result)]
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def _render_rows(result: SweepResult, fmt: str, metrics: Sequence[str] = ()) -> str:
    names = list(metrics) or all_metrics(result)
    flat = []
    for r in result.rows:
        item: dict[str, Any] = {"protocol": r.protocol, "adversary": r.adversary, "seed": r.seed}
        item.update({m: r.metrics.get(m) for m in names})
        item["violated"] = ",".join(n for n, v in r.properties.items() if not v["holds"])
        item["digest"] = r.digest[:16]
        flat.append(item)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=list(flat[0]) if flat else ["protocol"], lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(flat)
        return buffer.getvalue().rstrip("\n")
    return tabulate(flat, "keys", tablefmt="github" if fmt == "markdown" else "simple")
