"""Human-readable reports of runs (tables with tabulate).

The verdict table fits the terminal: the witness column wraps inside its own
column (``tabulate``'s ``maxcolwidths``), and when the width leaves it fewer
than ``MIN_WITNESS`` characters each verdict is printed as a line (property,
kind, verdict) followed by its witness, indented, so nothing wraps at the
terminal's edge and misaligns.
"""

from __future__ import annotations

import shutil
import sys
import textwrap

from bft.run.runner import RunResult

if "tabulate" in sys.modules or "wcwidth" in sys.modules:
    from tabulate import tabulate
else:
    # tabulate without its optional wide-character support: importing wcwidth is a tenth
    # of ``bft run``'s start-up, and these tables are ASCII (run metrics, property names
    # and witnesses), whose width both measure alike; wcwidth stays importable afterwards
    sys.modules["wcwidth"] = None  # type: ignore[assignment]
    try:
        from tabulate import tabulate
    finally:
        del sys.modules["wcwidth"]


def format_value(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


MIN_WITNESS = 24


def verdict_table(rows: list[tuple[str, str, str, str]], width: int) -> str:
    """Rows of (property, kind, verdict, witness) as a table at most ``width`` wide."""
    headers = ["property", "kind", "verdict", "witness"]
    # tabulate makes a column at least its header plus two wide
    fixed = [max([len(h) + 2, *(len(row[i]) for row in rows)]) for i, h in enumerate(headers[:3])]
    room = width - sum(fixed) - 2 * 3  # tabulate's two-space column gaps
    if room >= MIN_WITNESS:
        if not any(row[3] for row in rows):
            return tabulate([row[:3] for row in rows], headers=headers[:3])
        return tabulate(rows, headers=headers, maxcolwidths=[None, None, None, room])
    lines = [tabulate([row[:3] for row in rows], headers=headers[:3])]
    for name, _, _, witness in rows:
        if witness:
            lines.extend(
                textwrap.wrap(
                    f"{name}: {witness}", width, initial_indent="  ", subsequent_indent="    "
                )
            )
    return "\n".join(lines)


def run_report(result: RunResult, width: int | None = None) -> str:
    """The report ``bft run`` prints; ``width`` defaults to the terminal's ($COLUMNS
    or the terminal's size; unlimited when the output is a file or a pipe)."""
    if width is None:
        width = shutil.get_terminal_size((0, 0)).columns or 10**6
    width = max(width, 40)
    prepared = result.prepared
    scenario = prepared.scenario
    adversaries = (
        ", ".join(
            name
            + (
                ""
                if not params
                else ":" + ",".join(f"{k}={v}" for k, v in params.items() if v is not None)
            )
            for name, params in prepared.adversary_configs
        )
        or "none"
    )
    params = ", ".join(f"{k}={v}" for k, v in prepared.params.items())
    lines = [
        f"scenario {scenario.name}: {prepared.spec.name} ({params})",
        f"adversaries: {adversaries}; network: {prepared.network.describe()}; "
        f"seed {scenario.seed}; {prepared.rounds} rounds; signatures {scenario.signatures}",
    ]
    notes = []
    if result.beyond_bound:
        notes.append(
            f"BEYOND THE PROTOCOL'S FAULT MODEL: {result.beyond_bound} "
            "(a violation here is not a protocol bug)"
        )
    if result.record.corrupted:
        notes.append(f"corrupted nodes: {sorted(result.record.corrupted)}")
    if result.record.crashed:
        notes.append(f"crashed nodes (faulty, not Byzantine): {sorted(result.record.crashed)}")
    for event in result.record.adversary_errors:
        notes.append(f"ADVERSARY ERROR in round {event.round}: {event.detail}")
    for note in notes:
        lines.extend(textwrap.wrap(note, width, subsequent_indent="  "))
    lines.append("")
    lines.append(
        tabulate(
            [(k, format_value(v)) for k, v in result.metrics.items()], headers=["metric", "value"]
        )
    )
    lines.append("")
    rows = []
    for name, verdict in result.verdicts.items():
        status = "holds" if verdict.holds else "VIOLATED"
        if verdict.holds and not verdict.exercised:
            status = "holds (vacuous)"
        rows.append((name, result.properties[name].kind, status, verdict.witness or ""))
    lines.append(verdict_table(rows, width))
    for event in result.record.refused[:10]:
        lines.append(f"refused in round {event.round}: {event.detail}")
    if len(result.record.refused) > 10:
        lines.append(f"... and {len(result.record.refused) - 10} more refused adversary actions")
    lines.append("")
    lines.append(f"trace digest {result.digest}")
    return "\n".join(lines)
