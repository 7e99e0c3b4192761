"""Planted bugs across the protocol families are caught by the property that covers their
mechanism, in a plain run of a shipped scenario, and the real protocol holds it there.

Each bug (``tests.quality.planted_families``) is one realistic mistake in one mechanism:
admission control, backoff reset and jitter, quarantine, watch deadlines, failover
hysteresis, SWIM refutation and precedence, the suspicion timeout, Dolev-Strong's chain
check and relaying, Phase King's king rule and its number of phases.
"""

from __future__ import annotations

from functools import cache

import pytest

from bft.run import scenario
from bft.run.runner import RunResult, run
from bft.run.scenario import AdversaryConfig
from tests.quality.planted_families import FAMILY_PLANTED, FamilyPlanted, register_all

FAMILIES = {
    "backoff-reconnect": "failover",
    "gossip-health": "gossip-health",
    "swim": "swim",
    "dolev-strong": "dolev-strong",
    "phase-king": "phase-king",
}


@pytest.fixture(autouse=True, scope="module")
def _registered() -> None:
    register_all()


def _adversaries(bug: FamilyPlanted) -> list[AdversaryConfig] | None:
    if bug.adversaries is None:
        return None
    return [
        scenario.parse_adversary(a) if isinstance(a, str) else AdversaryConfig(a[0], a[1])
        for a in bug.adversaries
    ]


@cache
def _run(protocol: str, bug_name: str) -> RunResult:
    bug = next(b for b in FAMILY_PLANTED if b.name == bug_name)
    base = scenario.load(bug.scenario)
    return run(scenario.with_overrides(base, protocol=protocol, adversaries=_adversaries(bug)))


def run_of(bug: FamilyPlanted, protocol: str) -> RunResult:
    """The bug's plain run with ``protocol`` (the real protocol's runs are shared by the
    bugs that use the same scenario and adversaries)."""
    same = next(
        b.name
        for b in FAMILY_PLANTED
        if (b.scenario, b.adversaries) == (bug.scenario, bug.adversaries)
    )
    return _run(protocol, bug.name if protocol == bug.name else same)


def test_at_least_eight_bugs_across_every_family() -> None:
    assert len(FAMILY_PLANTED) >= 8
    assert {FAMILIES[b.correct] for b in FAMILY_PLANTED} == set(FAMILIES.values())
    assert len({b.name for b in FAMILY_PLANTED}) == len(FAMILY_PLANTED)
    for bug in FAMILY_PLANTED:
        scenario.load(bug.scenario)  # a shipped scenario


@pytest.mark.parametrize("bug", FAMILY_PLANTED, ids=lambda b: b.name)
def test_the_property_catches_the_planted_bug(bug: FamilyPlanted) -> None:
    result = run_of(bug, bug.name)
    caught = [name for name in bug.breaks if not result.verdicts[name].holds]
    assert caught, f"{bug.name} ({bug.bug}): none of {bug.breaks} violated; {result.violated}"
    assert caught[0] == bug.breaks[0], (caught, result.verdicts[caught[0]].witness)
    witness = result.verdicts[caught[0]].witness
    assert witness and "round" in witness, witness  # a readable sentence naming the round
    assert result.beyond_bound is None  # found within the protocol's own bound
    assert result.verdicts["no-exceptions"].holds


@pytest.mark.parametrize("bug", FAMILY_PLANTED, ids=lambda b: b.name)
def test_the_real_protocol_holds_it_in_the_same_run(bug: FamilyPlanted) -> None:
    result = run_of(bug, bug.correct)
    for name in bug.breaks:
        verdict = result.verdicts[name]
        assert verdict.holds and verdict.exercised, (name, verdict.witness)
    guaranteed = [n for n in result.violated if result.properties[n].guaranteed]
    assert not guaranteed, [(n, result.verdicts[n].witness) for n in guaranteed]
