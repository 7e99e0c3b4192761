"""gossip-health: quarantine bounds the poison walk; the login storm is survived."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import digest_in_fresh_process, run_named

SMALL = {"clients": 300}


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_poison_walk_stops_after_k_correlated_deaths(k: int) -> None:
    # The home server dies unattributed (the poison came in an old session); each
    # later server announces the session's first request, dies, is attributed, and
    # after k of those the poisoner is refused everywhere: k + 1 servers, not all 20.
    result = run_named("poison-call", protocol="gossip-health", params={**SMALL, "quarantine_k": k})
    assert result.metrics["servers_frozen"] == k + 1
    assert result.metrics["servers_frozen"] < result.prepared.params["n"]
    assert result.metrics["quarantined_clients"] == 1
    assert result.verdicts["reply-correct"].holds


def test_poison_call_full_scenario_freezes_fewer_than_all_servers() -> None:
    result = run_named("poison-call", protocol="gossip-health")
    servers = result.prepared.params["n"]
    assert result.metrics["servers_frozen"] == 3 < servers  # default k = 2
    assert result.metrics["availability_final"] > 0.95
    assert result.ok, result.violated


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    poisoners=st.integers(1, 2),
    k=st.integers(1, 3),
    at=st.integers(0, 30),
)
def test_quarantine_bounds_the_walk_for_any_seed(
    seed: int, poisoners: int, k: int, at: int
) -> None:
    result = run_named(
        "poison-call",
        protocol="gossip-health",
        adversaries=[f"poison-call:count={poisoners},at={at}"],
        params={**SMALL, "quarantine_k": k},
        seed=seed,
        rounds=120,
    )
    frozen = result.metrics["servers_frozen"]
    assert 1 <= frozen <= poisoners * (k + 1), frozen
    assert result.verdicts["no-exceptions"].holds
    assert result.verdicts["reply-correct"].holds


def test_skype_2007_recovers_under_gossip_health() -> None:
    result = run_named("skype-2007", protocol="gossip-health")
    verdict = result.verdicts["recovers"]
    assert verdict.holds and verdict.exercised, verdict.witness
    assert result.metrics["servers_down_max"] == 0  # admission control refuses the storm
    assert result.metrics["quarantined_clients"] == 0  # no honest client is quarantined
    assert result.ok, result.violated


def test_crashed_servers_are_detected_and_avoided() -> None:
    result = run_named(
        "skype-2007",
        protocol="gossip-health",
        adversaries=["crash:role=server,count=3,at=30"],
        params={"clients": 400},
        rounds=330,
    )
    verdict = result.verdicts["completeness"]
    assert verdict.holds and verdict.exercised, verdict.witness
    assert result.metrics["detection_rounds_max"] is not None
    assert result.metrics["availability_final"] > 0.95
    assert result.metrics["false_positive_rate"] == 0.0


@pytest.mark.parametrize(
    "args",
    [
        ["poison-call", "--protocol", "gossip-health", "--param", "clients=200", "--rounds", "80"],
        ["swim-slow-member", "--param", "lifeguard=true", "--rounds", "200"],
    ],
)
def test_runs_replay_byte_identically_under_any_hash_seed(args: list[str]) -> None:
    digests = {digest_in_fresh_process(["run", *args, "--json"], seed) for seed in ("0", "12345")}
    assert len(digests) == 1
