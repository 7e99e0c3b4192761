"""PBFT as a service-family protocol: the shared workload, metrics and poison scenario."""

from __future__ import annotations

from tests.helpers import run_named

SERVICE_METRICS = (
    "availability",
    "availability_final",
    "servers_down_max",
    "rounds_to_recover",
    "peak_load",
    "wrong_replies",
)


def test_poison_call_freezes_the_whole_pbft_monoculture_in_one_round() -> None:
    # The failover family loses one server per reconnect; PBFT runs every request on
    # every replica, so one poisoned request freezes all of them at once.
    result = run_named(
        "poison-call", protocol="pbft", params={"clients": 200}, signatures="ideal", rounds=60
    )
    m = result.metrics
    for name in SERVICE_METRICS:
        assert name in m
    assert m["servers_frozen"] == 20 and m["freeze_span"] == 0
    assert m["servers_down_max"] == 20 and m["availability_final"] == 0
    assert result.verdicts["reply-correct"].holds and result.verdicts["agreement"].holds


def test_poison_call_against_diverse_pbft_replicas_keeps_serving() -> None:
    # four variants over 20 replicas: 5 share the vulnerable one, within f = 6
    result = run_named(
        "poison-call",
        protocol="pbft",
        params={"clients": 200, "variants": 4},
        signatures="ideal",
        rounds=80,
    )
    m = result.metrics
    assert m["servers_frozen"] == 5
    assert m["availability_final"] > 0.9
    assert m["peak_load"] <= 400.0  # pace=true: a backlog never exceeds a replica's capacity
    assert result.verdicts["reply-correct"].holds and result.verdicts["agreement"].holds


def test_skype_storm_overloads_every_replica_together() -> None:
    # replication multiplies the work: each replica executes every request, so the
    # storm that overloads some failover servers overloads all PBFT replicas
    result = run_named(
        "skype-2007", protocol="pbft", params={"clients": 400}, signatures="ideal", rounds=60
    )
    m = result.metrics
    assert m["servers_down_max"] == 20
    assert m["peak_load"] > 30.0  # above one replica's capacity
    assert result.verdicts["agreement"].holds and result.verdicts["reply-correct"].holds
