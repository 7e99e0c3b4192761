"""SWIM detector: figures from the paper, Lifeguard's effect, and properties over faults."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bft.core.errors import ConfigError
from bft.core.network import Network
from bft.core.properties import Verdict
from bft.core.record import Event, Output, RunRecord
from bft.protocols.swim.analysis import first_detections, membership_justified
from bft.protocols.swim.config import SwimConfig
from bft.protocols.swim.member import ALIVE, DEAD, SUSPECT, SwimMember
from bft.protocols.swim.messages import Ack, Alive, Dead, Ping, PingReq, Suspect
from tests.helpers import run_named

E_RATIO = math.e / (math.e - 1)  # expected periods to first detection, uniform targets


def test_first_detection_with_random_targets_is_e_over_e_minus_1_periods() -> None:
    # SWIM 3.1: each of the other members picks the crashed one with probability
    # 1/(n-1) per period, so the first probe of it comes after a geometric number of
    # periods with mean 1 / (1 - (1 - 1/(n-1))^(n-1)) -> e/(e-1). Crashes at a period
    # boundary; the probe fails (and the member is suspected) at the period's end.
    samples: list[int] = []
    for seed in range(20):
        result = run_named(
            "swim-crash",
            adversaries=["crash:count=8,at=60"],
            params={"n": 300, "targets": "random"},
            seed=seed,
            rounds=60 + 6 * 14,
        )
        found = first_detections(result.record, range(300))
        assert all(d is not None for d in found.values())
        samples.extend(d for d in found.values() if d is not None)
    assert all(d % 6 == 0 for d in samples)  # detections fall at period ends
    mean_periods = sum(samples) / len(samples) / 6
    assert len(samples) == 160
    assert abs(mean_periods - E_RATIO) <= 0.15 * E_RATIO, mean_periods


def test_round_robin_detects_no_later_than_random_on_average() -> None:
    rr = run_named("swim-crash", adversaries=["crash:count=6,at=60"], params={"n": 300}, seed=3)
    rnd = run_named(
        "swim-crash",
        adversaries=["crash:count=6,at=60"],
        params={"n": 300, "targets": "random"},
        seed=3,
    )
    assert rr.metrics["detected"] == rnd.metrics["detected"] == 6
    assert rr.metrics["detection_rounds_max"] <= (2 * 300 - 1) * 6
    assert rr.ok and rnd.ok


@pytest.mark.parametrize("n", [10, 57, 200])
def test_fault_free_load_is_exactly_one_ping_and_one_ack_per_member_per_period(n: int) -> None:
    result = run_named("swim-crash", adversaries=["none"], params={"n": n}, rounds=6 * 20)
    assert result.metrics["messages"] == 2 * n * 20
    assert result.metrics["messages_per_member_per_period"] == 2.0
    assert result.metrics["false_positives"] == 0
    assert result.verdicts["accuracy"].holds and result.verdicts["accuracy"].exercised


def test_messages_per_member_per_period_flat_in_n_under_loss_and_crashes() -> None:
    loads = {}
    for n in (100, 300, 1000):
        result = run_named(
            "swim-crash",
            adversaries=[f"crash:count={n // 100},at=30", "drop:rate=0.02"],
            params={"n": n},
            rounds=6 * 30,
        )
        loads[n] = result.metrics["messages_per_member_per_period"]
    assert max(loads.values()) <= 1.10 * min(loads.values()), loads
    assert all(2.0 < v < 2.6 for v in loads.values()), loads  # ping+ack plus some ping-reqs


def test_lifeguard_has_fewer_false_positives_with_a_slow_member() -> None:
    classic = run_named("swim-slow-member", params={"lifeguard": False})
    lifeguard = run_named("swim-slow-member", params={"lifeguard": True})
    fp_classic = classic.metrics["false_positives"]
    fp_lifeguard = lifeguard.metrics["false_positives"]
    assert fp_classic > 0
    assert fp_lifeguard < fp_classic, (fp_classic, fp_lifeguard)
    assert lifeguard.metrics["false_positive_rate"] < classic.metrics["false_positive_rate"]
    assert classic.record.refused == [] and lifeguard.record.refused == []  # lag within delta


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    loss=st.sampled_from([0.0, 0.05, 0.1, 0.2]),
    crashed=st.sets(st.integers(0, 11), min_size=1, max_size=3),
    at=st.integers(0, 40),
    lifeguard=st.booleans(),
    slow_lag=st.sampled_from([0, 3, 8]),
)
def test_completeness_holds_over_seeds_loss_and_crash_sets(
    seed: int, loss: float, crashed: set[int], at: int, lifeguard: bool, slow_lag: int
) -> None:
    # Lossy network with delta = 8 (the swim-slow-member scenario); optionally a slow
    # member (never one of the crashed). Completeness must hold within its bound.
    n = 12
    params = {"n": n, "lifeguard": lifeguard}
    nodes = "[" + ",".join(map(str, sorted(crashed))) + "]"
    adversaries = [f"crash:nodes={nodes},at={at}"]
    if loss:
        adversaries.append(f"drop:rate={loss}")
    slow = min(set(range(n)) - crashed)
    if slow_lag:
        adversaries.append(f"slow-member:nodes=[{slow}],lag={slow_lag}")
    probe = run_named("swim-slow-member", adversaries=["none"], params=params, rounds=1)
    cfg: SwimConfig = probe.prepared.spec.config(probe.prepared.params)
    rounds = at + cfg.completeness_bound() + 2
    result = run_named(
        "swim-slow-member", adversaries=adversaries, params=params, seed=seed, rounds=rounds
    )
    verdict = result.verdicts["completeness"]
    assert verdict.holds, verdict.witness
    assert verdict.exercised
    assert result.verdicts["no-exceptions"].holds
    assert not result.record.refused
    justified = result.verdicts["membership-justified"]  # crashes are declared: exercised
    assert justified.holds and justified.exercised, justified.witness
    if not loss and not slow_lag:
        accuracy = result.verdicts["accuracy"]
        assert accuracy.holds and accuracy.exercised, accuracy.witness


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    crashed=st.sets(st.integers(0, 29), max_size=5),
    targets=st.sampled_from(["round-robin", "random"]),
)
def test_accuracy_without_loss(seed: int, crashed: set[int], targets: str) -> None:
    nodes = "[" + ",".join(map(str, sorted(crashed))) + "]"
    adversaries = [f"crash:nodes={nodes},at=13"] if crashed else ["none"]
    result = run_named(
        "swim-crash",
        adversaries=adversaries,
        params={"n": 30, "targets": targets},
        seed=seed,
        rounds=300,
    )
    verdict = result.verdicts["accuracy"]
    assert verdict.holds and verdict.exercised, verdict.witness
    assert result.metrics["false_positive_rate"] == 0.0


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    loss=st.sampled_from([0.0, 0.05, 0.2]),
    lag=st.integers(1, 8),
    down=st.integers(5, 60),
    every=st.sampled_from([0, 80]),
    options=st.fixed_dictionaries(
        {
            "local_health": st.booleans(),
            "dynamic_suspicion": st.booleans(),
            "buddy": st.booleans(),
            "targets": st.sampled_from(["round-robin", "random"]),
            "k": st.integers(0, 3),
        }
    ),
)
def test_membership_changes_are_justified_under_loss_lag_and_crash_recover(
    seed: int, loss: float, lag: int, down: int, every: int, options: dict
) -> None:
    # members that come back after being declared dead refute with a higher incarnation;
    # slow members are suspected, refute, are declared dead and come back
    adversaries = [
        f"crash-recover:nodes=[2,9],at=20,duration={down},every={every and down + every}",
        f"slow-member:nodes=[5],lag={lag}",
    ]
    if loss:
        adversaries.append(f"drop:rate={loss}")
    result = run_named(
        "swim-slow-member",
        adversaries=adversaries,
        params={"n": 12, **options},
        seed=seed,
        rounds=300,
    )
    verdict = result.verdicts["membership-justified"]
    assert verdict.holds, verdict.witness
    assert result.properties["membership-justified"].guaranteed


def test_shipped_swim_scenarios_justify_every_membership_change() -> None:
    for name in ("swim-crash", "swim-slow-member"):
        for lifeguard in (False, True):
            result = run_named(name, params={"lifeguard": lifeguard})
            verdict = result.verdicts["membership-justified"]
            assert verdict.holds and verdict.exercised, (name, lifeguard, verdict.witness)
            assert result.ok, (name, lifeguard, result.violated)


def _justified(outputs: list[Output], n: int = 4, restarts: tuple[Event, ...] = ()) -> Verdict:
    record = RunRecord(n=n, rounds=200, seed=0, params={}, roles=("member",) * n, network=Network())
    record.outputs = outputs
    record.events = list(restarts)
    cfg = SwimConfig(size=n, suspicion_min=24, suspicion_max=24)
    return membership_justified(record, range(n), cfg)


def _out(rnd: int, node: int, name: str, **data: int) -> Output:
    return Output(rnd, node, name, data)


def test_membership_justified_names_each_broken_rule() -> None:
    suspect = _out(10, 0, "suspect", member=3, incarnation=0)
    dead = _out(34, 0, "dead", member=3, incarnation=0, origin=0)
    assert _justified([suspect, dead]).holds
    assert _justified([dead]).witness == (
        "member 0 declared member 3 dead at incarnation 0 in round 34, but no member had "
        "suspected it at incarnation 0"
    )
    early = _out(30, 0, "dead", member=3, incarnation=0, origin=0)
    assert _justified([suspect, early]).witness == (
        "member 0 declared member 3 dead at incarnation 0 in round 30, 20 rounds after the "
        "first suspicion of it (round 10); no suspicion times out in fewer than 24 rounds"
    )
    hearsay = _out(36, 1, "dead", member=3, incarnation=0, origin=2)
    assert _justified([suspect, dead, hearsay]).witness == (
        "member 1 holds member 3 dead at incarnation 0 from round 36 on the word of member 2, "
        "which had not declared it"
    )
    refute = _out(40, 3, "refute", incarnation=1)
    back = _out(44, 1, "alive", member=3, incarnation=1)
    relayed = _out(36, 1, "dead", member=3, incarnation=0, origin=0)
    assert _justified([suspect, dead, relayed, refute, back]).holds
    same = _out(44, 1, "alive", member=3, incarnation=0)
    assert _justified([suspect, dead, relayed, refute, same]).witness == (
        "member 1 took member 3 back as alive at incarnation 0 in round 44, though it held it "
        "dead at incarnation 0: only a higher incarnation overrides a death"
    )
    unannounced = _out(44, 1, "alive", member=3, incarnation=2)
    assert "member 3 never announced incarnation 2" in (
        _justified([suspect, dead, relayed, refute, unannounced]).witness
    )
    stale = _out(40, 3, "refute", incarnation=0)
    assert _justified([suspect, stale]).witness == (
        "member 3 refuted in round 40 at incarnation 0, not above the incarnation 0 it already had"
    )
    unprovoked = _out(40, 3, "refute", incarnation=2)
    assert _justified([suspect, unprovoked]).witness == (
        "member 3 refuted in round 40 at incarnation 2, but no member had accused it at "
        "incarnation 1: a refutation answers an accusation with the next incarnation"
    )
    # a restarted member starts again from incarnation 0 and may refute at 1 again
    again = [suspect, refute, _out(60, 1, "suspect", member=3, incarnation=0), refute]
    assert not _justified(again).holds
    assert _justified(
        [
            suspect,
            refute,
            _out(60, 1, "suspect", member=3, incarnation=0),
            _out(70, 3, "refute", incarnation=1),
        ],
        restarts=(Event(50, "restart", 3),),
    ).holds
    assert not _justified([]).exercised


# -- the member state machine, driven by hand ---------------------------------------------


class FakeCtx:
    def __init__(self, node_id: int, n: int) -> None:
        self.node_id = node_id
        self.n = n
        self.round = 0
        self.rng = random.Random(1)
        self.sent: list[tuple[int, object]] = []
        self.outputs: list[tuple[str, dict[str, object]]] = []
        self.rejected: list[str] = []

    def send(self, dst: int, payload: object) -> None:
        self.sent.append((dst, payload))

    def multicast(self, dsts, payload) -> None:  # type: ignore[no-untyped-def]
        for d in dsts:
            self.send(d, payload)

    def output(self, name: str, **data: object) -> None:
        self.outputs.append((name, data))

    def tally(self, name: str, amount: float = 1) -> None:
        pass

    def reject(self, src: int, payload: object, reason: str) -> None:
        self.rejected.append(reason)


def _member(me: int = 0, n: int = 5, **cfg: object) -> tuple[SwimMember, FakeCtx]:
    config = SwimConfig(size=n, **cfg)  # type: ignore[arg-type]
    return SwimMember(me, range(n), config), FakeCtx(me, n)


def test_precedence_suspect_alive_dead_and_refutation() -> None:
    m, ctx = _member()
    m.handle(ctx, 1, Ping(1, (Suspect(2, 0, 1),)))
    assert m.view[2] == (SUSPECT, 0)
    m.handle(ctx, 1, Ping(2, (Alive(2, 0),)))  # same incarnation: the suspicion stands
    assert m.view[2] == (SUSPECT, 0)
    m.handle(ctx, 1, Ping(3, (Alive(2, 1),)))  # refuted with a higher incarnation
    assert m.view[2] == (ALIVE, 1)
    m.handle(ctx, 1, Ping(4, (Suspect(2, 0, 3),)))  # stale suspicion ignored
    assert m.view[2] == (ALIVE, 1)
    m.handle(ctx, 1, Ping(5, (Dead(2, 1, 3),)))  # Dead overrides Alive at the same incarnation
    assert m.view[2] == (DEAD, 1)
    m.handle(ctx, 1, Ping(6, (Suspect(2, 5, 3),)))  # nothing but a newer Alive revives the dead
    assert m.view[2] == (DEAD, 1)
    m.handle(ctx, 1, Ping(7, (Alive(2, 2),)))
    assert m.view[2] == (ALIVE, 2)
    assert [name for name, _ in ctx.outputs] == ["dead", "alive"]
    # An accusation of oneself is refuted with a higher incarnation, gossiped next.
    m.handle(ctx, 1, Ping(8, (Suspect(0, 0, 1),)))
    assert m.incarnation == 1
    assert Alive(0, 1) in ctx.sent[-1][1].updates  # the ack to this very ping carries it
    m.handle(ctx, 1, Ping(9, (Dead(0, 4, 1),)))
    assert m.incarnation == 5


def test_suspicion_expires_into_dead_and_lifeguard_confirmations_shorten_it() -> None:
    classic, ctx = _member(suspicion_min=10, suspicion_max=10)
    classic.handle(ctx, 1, Ping(1, (Suspect(2, 0, 1),)))
    ctx.round = 9
    classic.tick(ctx)
    assert classic.view[2] == (SUSPECT, 0)
    ctx.round = 10
    classic.tick(ctx)
    assert classic.view[2] == (DEAD, 0)

    cfg = {"suspicion_min": 10, "suspicion_max": 60, "suspicion_k": 3, "dynamic_suspicion": True}
    lg, ctx = _member(n=8, **cfg)
    lg.handle(ctx, 1, Ping(1, (Suspect(2, 0, 1),)))
    assert lg.suspicions[2].deadline == 60  # starts at the maximum
    lg.handle(ctx, 3, Ping(1, (Suspect(2, 0, 3),)))
    expected = max(10, math.floor(60 - 50 * math.log(2) / math.log(4)))
    assert lg.suspicions[2].deadline == expected == 35
    lg.handle(ctx, 4, Ping(1, (Suspect(2, 0, 4),)))
    lg.handle(ctx, 4, Ping(1, (Suspect(2, 0, 4),)))  # the same origin twice counts once
    lg.handle(ctx, 5, Ping(1, (Suspect(2, 0, 5),)))
    assert lg.suspicions[2].deadline == 10  # K = 3 confirmations: the minimum


def test_buddy_ping_carries_the_suspicion_and_piggyback_is_bounded() -> None:
    m, ctx = _member(n=40, buddy=True, piggyback=2, retransmit_limit=3)
    for member in range(5, 10):
        m.handle(ctx, 1, Ack(99, (Suspect(member, 0, 1),)))
    assert len(m.queue) == 5
    sends = 0
    while m.queue:
        m.handle(ctx, 1, Ping(sends, ()))
        assert len(ctx.sent[-1][1].updates) <= 2
        sends += 1
    assert sends == math.ceil(5 * 3 / 2)  # each update sent exactly retransmit_limit times
    # A ping to a member we suspect carries the suspicion even with an empty queue.
    m.rr_pos, m.rr_swaps = 0, {}
    while True:
        ctx.sent.clear()
        m._start_probe(ctx, 0)
        dst, ping = ctx.sent[0]
        if dst in range(5, 10):
            assert ping.updates[0] == Suspect(dst, 0, 1)
            break


def test_round_robin_probes_every_member_once_per_pass() -> None:
    m, ctx = _member(n=25)
    order = []
    for _ in range(24 * 3):
        ctx.sent.clear()
        m._start_probe(ctx, 0)
        order.append(ctx.sent[0][0])
    for p in range(3):
        assert sorted(order[24 * p : 24 * (p + 1)]) == list(range(1, 25))
    assert order[:24] != order[24:48]  # re-shuffled between passes


def test_malformed_messages_are_rejected_not_raised() -> None:
    m, ctx = _member()
    assert m.handle(ctx, 1, Ping("x", ()))
    assert m.handle(ctx, 1, Ping(1, [Alive(2, 1)]))  # type: ignore[arg-type]
    assert m.handle(ctx, 1, Ping(1, (Alive(99, 1),)))
    assert m.handle(ctx, 1, Ping(1, (Suspect(2, -1, 1),)))
    assert m.handle(ctx, 1, Ping(1, ("junk",)))
    assert m.handle(ctx, 1, PingReq(1, 0))  # probing myself for someone
    assert m.handle(ctx, 9, Ping(1, ()))  # not a member
    assert len(ctx.rejected) == 7
    assert not m.handle(ctx, 1, "hello")  # not SWIM at all: the caller decides
    assert m.view == {}


def test_bad_timing_parameters_are_refused() -> None:
    with pytest.raises(ConfigError, match="period >= probe_timeout \\+ 4"):
        run_named("swim-crash", params={"period": 5, "probe_timeout": 2})


_junk = st.one_of(st.integers(-3, 12), st.text(max_size=2), st.none(), st.tuples(st.integers(0, 9)))
_updates = st.one_of(
    st.builds(Alive, _junk, _junk),
    st.builds(Suspect, _junk, _junk, _junk),
    st.builds(Dead, _junk, _junk, _junk),
    _junk,
)
_payloads = st.one_of(
    st.builds(Ping, _junk, st.one_of(st.tuples(_updates, _updates), _junk)),
    st.builds(Ack, _junk, st.one_of(st.tuples(_updates), _junk)),
    st.builds(PingReq, _junk, _junk, st.tuples(_updates)),
    _junk,
)


@settings(max_examples=200, deadline=None)
@given(src=st.integers(0, 9), payloads=st.lists(_payloads, max_size=6))
def test_no_message_makes_a_member_raise(src: int, payloads: list[object]) -> None:
    m, ctx = _member(n=8, dynamic_suspicion=True, suspicion_k=2, buddy=True, local_health=True)
    for rnd, payload in enumerate(payloads):
        ctx.round = rnd
        m.handle(ctx, src, payload)
        m.tick(ctx)
    for status, inc in m.view.values():
        assert status in (ALIVE, SUSPECT, DEAD) and type(inc) is int and inc >= 0


@pytest.mark.parametrize("field", ["seq", "target", "updates"])
def test_a_lying_member_cannot_crash_the_others(field: str) -> None:
    result = run_named(
        "swim-crash",
        adversaries=[f"traitor:nodes=[0,1],field={field},strategy=random", "crash:nodes=[5],at=12"],
        params={"n": 16},
        rounds=240,
    )
    assert result.verdicts["no-exceptions"].holds, result.verdicts["no-exceptions"].witness
    assert result.verdicts["completeness"].holds
