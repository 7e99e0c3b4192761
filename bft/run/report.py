"""Human-readable reports of runs (tables with tabulate)."""

from __future__ import annotations

from tabulate import tabulate

from bft.run.runner import RunResult


def format_value(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def run_report(result: RunResult) -> str:
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
    if result.beyond_bound:
        lines.append(
            f"BEYOND THE PROTOCOL'S FAULT MODEL: {result.beyond_bound} "
            "(a violation here is not a protocol bug)"
        )
    if result.record.corrupted:
        lines.append(f"corrupted nodes: {sorted(result.record.corrupted)}")
    if result.record.crashed:
        lines.append(f"crashed by an adversary: {sorted(result.record.crashed)}")
    for event in result.record.adversary_errors:
        lines.append(f"ADVERSARY ERROR in round {event.round}: {event.detail}")
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
    lines.append(tabulate(rows, headers=["property", "kind", "verdict", "witness"]))
    for event in result.record.refused[:10]:
        lines.append(f"refused in round {event.round}: {event.detail}")
    if len(result.record.refused) > 10:
        lines.append(f"... and {len(result.record.refused) - 10} more refused adversary actions")
    lines.append("")
    lines.append(f"trace digest {result.digest}")
    return "\n".join(lines)
