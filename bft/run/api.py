"""Running scenarios from Python: the functions ``bft.run`` and ``bft.load_scenario``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bft.run import scenario as scenarios
from bft.run.runner import RunResult
from bft.run.runner import run as _run
from bft.run.scenario import AdversaryConfig, Scenario


def load_scenario(name_or_path: str) -> Scenario:
    """A packaged or plug-in scenario by name, or a scenario file by path."""
    return scenarios.load(name_or_path)


def run(
    scenario: str | Scenario,
    *,
    protocol: str | None = None,
    params: Mapping[str, Any] | None = None,
    adversaries: Sequence[str | AdversaryConfig] | None = None,
    seed: int | None = None,
    rounds: int | None = None,
    signatures: str | None = None,
    trace: str | Path | None = None,
) -> RunResult:
    """Run a scenario (a name, a path or a ``Scenario``) with ``bft run``'s overrides.

    ``adversaries`` replaces the scenario's own (``["none"]`` or ``[]`` runs
    fault-free), each a ``NAME[:k=v,...]`` string as on the command line.
    ``trace`` writes the full trace to that file.
    """
    base = scenario if isinstance(scenario, Scenario) else scenarios.load(scenario)
    configs = None
    if adversaries is not None:
        configs = [
            a if isinstance(a, AdversaryConfig) else scenarios.parse_adversary(a)
            for a in adversaries
        ]
    chosen = scenarios.with_overrides(
        base,
        protocol=protocol,
        params=dict(params) if params else None,
        adversaries=configs,
        seed=seed,
        rounds=rounds,
        signatures=signatures,
    )
    return _run(chosen, trace_path=trace)
