"""Small helpers shared by the tests."""

from __future__ import annotations

from typing import Any

from bft import scenario
from bft.runner import RunResult, run


def run_named(name: str, *, adversaries: list[str] | None = None, **overrides: Any) -> RunResult:
    """Run a shipped scenario with command-line style overrides."""
    base = scenario.load(name)
    advs = None if adversaries is None else [scenario.parse_adversary(a) for a in adversaries]
    params = overrides.pop("params", None)
    return run(scenario.with_overrides(base, adversaries=advs, params=params, **overrides))
