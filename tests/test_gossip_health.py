"""gossip-health: quarantine bounds the poison walk; the login storm is survived."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bft.core.network import Network
from bft.core.record import Output, RunRecord
from bft.protocols.gossip_health.properties import failover_guided, quarantine_justified
from tests.helpers import digest_in_fresh_process, run_named

SMALL = {"clients": 300}
PROMISES = (
    "admission",
    "retry-target",
    "backoff-resets",
    "backoff-capped",
    "backoff-jitter",
    "blast-radius",
    "quarantine-justified",
    "failover-guided",
    "membership-justified",
)


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
    # every mechanism's promise holds, the quarantine's bound included when k + 1 <= 3
    assert result.properties["blast-radius"].guaranteed == (k + 1 <= 3)
    for name in PROMISES:
        verdict = result.verdicts[name]
        assert verdict.holds or not result.properties[name].guaranteed, (name, verdict.witness)
    justified = result.verdicts["quarantine-justified"]
    assert justified.holds and justified.exercised, justified.witness


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


@pytest.mark.parametrize("scenario_name", ["skype-2007", "poison-call"])
def test_shipped_scenarios_keep_every_promise(scenario_name: str) -> None:
    result = run_named(scenario_name, protocol="gossip-health")
    assert result.ok, [(n, result.verdicts[n].witness) for n in result.violated]
    exercised = {n for n in PROMISES if result.verdicts[n].exercised}
    if scenario_name == "poison-call":  # deaths attributed, a client quarantined, failovers
        assert exercised == set(PROMISES)
        assert (
            result.verdicts["blast-radius"].witness == "3 server(s) frozen by 1 poisoned client(s)"
        )
    else:  # a storm: admission and backoff; nobody dies, so nothing to attribute
        assert {"admission", "retry-target", "backoff-resets", "backoff-capped"} <= exercised


@pytest.mark.parametrize(
    ("changes", "guaranteed"),
    [
        ({}, True),
        ({"quarantine_k": 3}, False),  # 4 servers may freeze: more than blast_radius=3
        ({"quarantine_k": 3, "blast_radius": 4, "watchers": 4}, True),
        ({"quarantine_k": 3, "blast_radius": 4}, False),  # three watchers, three may be frozen
        ({"watchers": 0}, False),  # nobody watches: no attribution, no quarantine
        ({"watchers": 2}, False),  # both may be servers the walk already froze
        ({"quarantine_k": 1, "watchers": 2}, True),
        ({"timeout": 2}, False),  # the client outruns the correlation (watch_timeout=2)
        ({"timeout": 3, "watch_timeout": 3}, False),
    ],
)
def test_blast_radius_is_guaranteed_only_where_quarantine_keeps_it(
    changes: dict, guaranteed: bool
) -> None:
    from bft.core.params import resolve
    from bft.protocols.gossip_health import GossipHealth

    spec = GossipHealth()
    p = resolve("gossip-health", spec.params, changes)
    props = {prop.name: prop for prop in spec.properties(p)}
    assert props["blast-radius"].guaranteed is guaranteed


def health_record(down: list[list[int]], outputs: list[Output]) -> RunRecord:
    record = RunRecord(
        n=10,
        rounds=len(down),
        seed=0,
        params={},
        roles=("server",) * 4 + ("client",) * 6,
        network=Network(),
        down=down,
        outputs=outputs,
    )
    return record


P = {"n": 4, "quarantine_k": 2, "avoid_rounds": 10, "base": 1.0, "cap": 32.0}


def test_an_attribution_without_a_death_is_unjustified() -> None:
    announce = Output(3, 1, "announce", {"client": 7, "fingerprint": 0xABC})
    attribute = Output(6, 2, "attribute", {"server": 1, "client": 7, "fingerprint": 0xABC})
    alive = health_record([[]] * 10, [announce, attribute])
    verdict = quarantine_justified(alive, P)
    assert verdict.witness == (
        "server 2 attributed the death of server 1 to client 7's request abc in round 6, but "
        "server 1 announced it in round 3 and did not go down between then and round 6"
    )
    died = health_record([[]] * 4 + [[1]] * 6, [announce, attribute])
    assert quarantine_justified(died, P).holds
    stranger = Output(6, 2, "attribute", {"server": 1, "client": 8, "fingerprint": 0xABD})
    verdict = quarantine_justified(health_record([[]] * 4 + [[1]] * 6, [announce, stranger]), P)
    assert "server 1 never announced request abd" in verdict.witness


def test_a_quarantine_needs_k_deaths_and_a_refusal_needs_a_quarantine() -> None:
    outputs = [
        Output(3, 1, "announce", {"client": 7, "fingerprint": 1}),
        Output(6, 0, "quarantine", {"client": 7, "servers": (1,)}),
    ]
    verdict = quarantine_justified(health_record([[]] * 4 + [[1]] * 6, outputs), P)
    assert verdict.witness == (
        "server 0 quarantined client 7 in round 6 on the deaths of 1 server(s) (1); it takes "
        "quarantine_k=2"
    )
    refused = [Output(5, 8, "refused", {"server": 0, "seq": 4, "fingerprint": 9})]
    verdict = quarantine_justified(health_record([[]] * 10, refused), P)
    assert verdict.witness == (
        "server 0 refused client 8's request seq 4 as quarantined (fingerprint 9) in round 5, "
        "but no server had quarantined client 8 or that request"
    )


def retry(rnd: int, client: int, server: int, to: int, view: int) -> Output:
    data = {"server": server, "to": to, "busy": False, "sleep": 0, "answers": 0, "view": view}
    return Output(rnd, client, "backoff", data)


def test_failing_back_to_an_avoided_server_or_outside_the_view_is_caught() -> None:
    back = [retry(2, 5, 0, 1, 0b1111), retry(6, 5, 1, 0, 0b1111)]
    verdict = failover_guided(health_record([[]] * 20, back), P)
    assert verdict.witness == (
        "client 5 gave up on server 1 in round 6 and failed over to server 0, which it had "
        "given up on in round 2 and must avoid until round 12 (avoid_rounds=10), though 2 "
        "server(s) were not avoided"
    )
    later = [retry(2, 5, 0, 1, 0b1111), retry(12, 5, 1, 0, 0b1111)]  # the window is over
    assert failover_guided(health_record([[]] * 20, later), P).holds
    blind = [retry(2, 5, 0, 3, 0b0110)]  # its view held only 1 and 2 alive
    verdict = failover_guided(health_record([[]] * 20, blind), P)
    assert verdict.witness.endswith("though it held servers 1, 2 alive and did not avoid them")
