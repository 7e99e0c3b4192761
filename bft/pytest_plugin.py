"""The bft pytest plugin (entry point group ``pytest11``): profiles and fixtures.

Installed with the package, so any test suite that has bft installed gets:

* Hypothesis profiles ``dev`` (the default), ``ci`` (small budget,
  derandomized: the same examples on every run; chosen automatically when the
  ``CI`` environment variable is set) and ``thorough`` (a large budget). Pick
  one with ``BFT_HYPOTHESIS_PROFILE=thorough`` or pytest's
  ``--hypothesis-profile thorough``.
* ``bft_run``: run a scenario (a name from ``scenarios/`` or a path) with
  ``bft run``-style overrides and get the ``RunResult``.
* ``bft_search``: search a scenario's schedules for a violation with the
  profile's search budget (``SEARCH_BUDGET``) and get the ``SearchOutcome``.
* ``bft_search_budget``: that budget (schedules per search) for the profile.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

PROFILES = ("dev", "ci", "thorough")
#: Schedules per search, per profile (searches are costlier than ordinary examples).
SEARCH_BUDGET = {"dev": 200, "ci": 200, "thorough": 2000}

settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile(
    "ci",
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=500, deadline=None)


def default_profile() -> str:
    chosen = os.environ.get("BFT_HYPOTHESIS_PROFILE")
    if chosen:
        return chosen
    return "ci" if os.environ.get("CI") else "dev"


def current_profile() -> str:
    name = getattr(settings, "_current_profile", None)
    return name if name in PROFILES else default_profile()


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("hypothesis_profile", None):
        return  # Hypothesis's own plugin loads the profile named on the command line
    name = default_profile()
    if name not in PROFILES:
        raise pytest.UsageError(
            f"BFT_HYPOTHESIS_PROFILE={name!r} is not a bft profile; choose one of {', '.join(PROFILES)}"
        )
    settings.load_profile(name)


@pytest.fixture
def bft_search_budget() -> int:
    return SEARCH_BUDGET.get(current_profile(), SEARCH_BUDGET["dev"])


@pytest.fixture
def bft_run() -> Callable[..., Any]:
    """``bft_run(name_or_path, adversaries=[...], params={...}, seed=..., rounds=...)``."""
    from bft.run import runner, scenario

    def run(
        name: str, *, adversaries: list[str] | None = None, **overrides: Any
    ) -> runner.RunResult:
        base = scenario.load(name)
        advs = None if adversaries is None else [scenario.parse_adversary(a) for a in adversaries]
        return runner.run(scenario.with_overrides(base, adversaries=advs, **overrides))

    return run


@pytest.fixture
def bft_search(bft_search_budget: int) -> Callable[..., Any]:
    """``bft_search(name_or_path, faults=..., protocol=..., params={...}, examples=...)``."""
    from bft.run import scenario
    from bft.search import driver as search

    def run_search(
        name: str,
        *,
        protocol: str | None = None,
        params: dict[str, Any] | None = None,
        examples: int | None = None,
        seed: int = 0,
        **options: Any,
    ) -> search.SearchOutcome:
        base = scenario.with_overrides(scenario.load(name), protocol=protocol, params=params)
        return search.search(base, examples=examples or bft_search_budget, seed=seed, **options)

    return run_search
