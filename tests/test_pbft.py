"""PBFT: exact message counts, the n >= 3f+1 bound, view changes, checkpoints, poison.

Scenarios run with the ideal signature functionality (same behaviour as Ed25519,
a fraction of the cost); one test runs real Ed25519.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bft.core.crypto import Signed
from bft.core.engine import Engine
from bft.core.environment import Operation
from bft.core.errors import ConfigError
from bft.protocols.pbft.certificates import new_view_plan
from bft.protocols.pbft.log import Phase, Slot, committed_local, prepared
from bft.protocols.pbft.messages import (
    NULL_DIGEST,
    Checkpoint,
    Commit,
    NewView,
    Prepare,
    PreparedCert,
    PrePrepare,
    Request,
    Status,
    ViewChange,
    request_digest,
)
from bft.protocols.pbft.properties import message_formula
from bft.protocols.pbft.replica import Mode, Replica
from bft.protocols.pbft.spec import PBFT
from tests.helpers import digest_in_fresh_process, load_file, run_named

IDEAL = {"signatures": "ideal"}
LAB4 = load_file(Path(__file__).parent / "lab_solutions" / "lab4" / "quorums.py")


def test_fault_free_run_sends_exactly_28_messages_per_request_at_n4() -> None:
    result = run_named("pbft-normal", adversaries=["none"], signatures="real")
    m = result.metrics
    assert m["committed"] == 20
    assert m["messages_per_request"] == 28 == message_formula(4)
    assert result.record.messages_of("pre-prepare", "prepare", "commit", "reply") == 28 * 20
    assert m["latency_max"] == 5 and m["view_changes"] == 0
    assert result.ok, result.violated


@pytest.mark.parametrize(
    ("n", "expected"), [(1, 1), (2, 6), (5, 45), (7, 91), (10, 190), (13, 325)]
)
def test_messages_per_request_follow_the_formula(n: int, expected: int) -> None:
    # (n-1) pre-prepares + (n-1)^2 prepares + n(n-1) commits + n replies
    result = run_named("pbft-normal", adversaries=["none"], params={"n": n, "requests": 3}, **IDEAL)
    assert result.metrics["committed"] == 6
    assert result.metrics["messages_per_request"] == expected == message_formula(n)
    assert result.ok, result.violated


def test_batching_divides_the_protocol_messages_by_the_batch() -> None:
    # 8 clients, batches of 4: (3 + 9 + 12) / 4 ordering messages + 4 replies per request
    result = run_named(
        "pbft-normal",
        adversaries=["none"],
        params={"clients": 8, "batch": 4, "requests": 5},
        **IDEAL,
    )
    assert result.metrics["committed"] == 40
    assert result.metrics["messages_per_request"] == 10
    assert result.ok


def test_f_defaults_to_floor_of_n_minus_1_over_3_and_can_be_set() -> None:
    spec = PBFT()
    assert spec.config({**_defaults(), "n": 10}).f == 3
    assert spec.config({**_defaults(), "n": 10, "f": 2}).f == 2


@pytest.mark.parametrize(("n", "f"), [(3, 1), (6, 2), (4, 2)])
def test_n_below_3f_plus_1_is_refused_naming_the_values(n: int, f: int) -> None:
    with pytest.raises(ConfigError) as err:
        run_named("pbft-normal", params={"n": n, "f": f}, **IDEAL)
    text = str(err.value)
    assert f"n={n}" in text and f"f={f}" in text and "3f+1" in text and "exceed_bound" in text


def test_exceeding_the_bound_on_request_runs_and_is_labelled() -> None:
    result = run_named(
        "pbft-normal", adversaries=["none"], params={"n": 3, "f": 1, "exceed_bound": True}, **IDEAL
    )
    assert result.beyond_bound is not None and "3f+1" in result.beyond_bound
    assert result.metrics["committed"] == 20


def test_f_plus_1_colluders_break_agreement_with_a_witness() -> None:
    # the primary and one accomplice tell replicas 2 and 3 different stories at seq 1
    result = run_named(
        "pbft-normal", adversaries=["equivocating-primary:nodes=0,accomplices=[1]"], **IDEAL
    )
    verdict = result.verdicts["agreement"]
    assert not verdict.holds
    assert verdict.witness.startswith("sequence number 1: replicas 2 and 3 disagree")
    assert "committed request null" in verdict.witness
    assert result.beyond_bound is not None and "exceed the 1" in result.beyond_bound


def test_f_plus_1_colluders_break_agreement_at_n7_too() -> None:
    result = run_named(
        "pbft-normal",
        adversaries=["equivocating-primary:nodes=0,accomplices=[1,2]"],
        params={"n": 7},
        **IDEAL,
    )
    assert not result.verdicts["agreement"].holds
    assert "sequence number 1" in result.verdicts["agreement"].witness


def test_with_f_colluders_the_same_attack_only_forces_a_view_change() -> None:
    result = run_named(
        "pbft-normal",
        adversaries=["equivocating-primary:nodes=0,accomplices=[1]"],
        params={"n": 7},
        **IDEAL,
    )
    assert result.verdicts["agreement"].holds
    assert result.metrics["view_changes"] >= 1
    assert result.beyond_bound is None


def test_silent_primary_is_replaced_and_every_request_answered() -> None:
    result = run_named("pbft-view-change", **IDEAL)
    assert result.ok, {k: v.witness for k, v in result.verdicts.items() if not v.holds}
    new_views = [o for o in result.record.outputs_named("new-view")]
    assert new_views and all(o.data["view"] >= 1 for o in new_views)
    assert result.metrics["committed"] == 40


def test_slow_primary_violates_the_throughput_floor_but_not_liveness() -> None:
    result = run_named("pbft-slow-primary", **IDEAL)
    assert result.verdicts["liveness-after-gst"].holds
    assert result.verdicts["liveness-after-gst"].exercised
    assert not result.verdicts["throughput-floor"].holds
    assert "below 50% of the fault-free" in result.verdicts["throughput-floor"].witness
    assert result.metrics["view_changes"] == 0
    assert result.verdicts["agreement"].holds


def test_fault_free_run_meets_the_throughput_floor() -> None:
    result = run_named("pbft-slow-primary", adversaries=["none"], **IDEAL)
    assert result.verdicts["throughput-floor"].holds
    assert result.metrics["throughput"] > 0.9 * result.metrics["baseline_rate"]


def test_monoculture_poison_freezes_every_replica_at_once() -> None:
    result = run_named("pbft-monoculture", **IDEAL)
    m = result.metrics
    assert m["servers_frozen"] == 7 and m["freeze_span"] == 0
    assert m["availability"] < 0.05 and m["availability_final"] == 0
    assert not result.verdicts["liveness-after-gst"].holds
    assert result.verdicts["agreement"].holds


def test_diverse_replicas_survive_the_same_poison() -> None:
    result = run_named("pbft-diverse", **IDEAL)
    m = result.metrics
    assert m["servers_frozen"] == 2  # replicas 0 and 4 run variant 0: f = 2
    assert m["availability_final"] == 1.0 and m["availability"] > 0.5
    assert result.verdicts["liveness-after-gst"].holds
    assert result.verdicts["agreement"].holds and result.verdicts["validity"].holds
    assert m["view_changes"] >= 1  # the poisoned primary was replaced


def test_forger_is_rejected_and_safety_holds() -> None:
    result = run_named("pbft-normal", adversaries=["forger:per_round=6"], signatures="real")
    assert result.record.rejected > 0
    for name in ("agreement", "validity", "reply-correct", "no-exceptions"):
        assert result.verdicts[name].holds, name


def test_checkpoints_become_stable_and_truncate_the_log() -> None:
    spec = PBFT()
    params = {**_defaults(), "requests": 12, "clients": 2}
    engine = Engine(spec, params, seed=3, rounds=spec.default_rounds(params), signatures="ideal")
    engine.run()
    for node in engine.nodes[:4]:
        assert isinstance(node, Replica)
        assert node.service.last_exec == 24 and node.log.low == 20
        assert len(node.checkpoints.proof) == 3
        assert sorted(node.log.slots_of(0)) == [21, 22, 23, 24]
    # n = 4, f = 1: each checkpoint is stable at 2f+1 = 3 of 4, so a replica gets the
    # 4th after its checkpoint is stable and discards it unread (two checkpoints, 4 replicas)
    assert sum(engine.record.tally("pbft-late-checkpoint")) == 2 * 4
    assert engine.record.rejected == 0


def test_garbage_is_rejected_without_crashing_a_replica() -> None:
    spec = PBFT()
    params = _defaults()
    engine = Engine(spec, params, seed=0, rounds=5, signatures="ideal")
    keys = engine.keys
    replica = engine.nodes[1]
    engine.round = 1
    op = Operation(4, 0, 7)
    good_request = keys.sign(4, Request(op))
    forged = Signed(2, Prepare(0, 1, b"\x01" * 16, 2), b"\x00" * 8)
    inbox = [
        (2, "garbage"),
        (2, keys.sign(2, "not a message")),
        (2, keys.sign(2, Prepare("x", None, b"", 2))),  # malformed fields
        (3, keys.sign(3, Prepare(0, 1, b"\x01" * 16, 2))),  # signer is not the named replica
        (3, forged),
        (0, keys.sign(0, PrePrepare(0, 1, b"\x02" * 16, (good_request,)))),  # wrong digest
        (2, keys.sign(2, PrePrepare(0, 1, NULL_DIGEST, ()))),  # not the primary
        (0, keys.sign(0, PrePrepare(0, 999, NULL_DIGEST, ()))),  # beyond the watermark
        (2, keys.sign(2, Commit(0, 1, b"\x01" * 16, 2))),  # a valid commit: accepted
        (3, keys.sign(3, ViewChange(1, 0, (), ("junk",), 3))),  # a garbage certificate
        (0, keys.sign(0, Prepare(0, 1, b"\x01" * 16, 0))),  # the primary does not prepare
        (5, keys.sign(1, Request(op))),  # a request signed by a replica
    ]
    replica.on_round(engine.ctxs[1], inbox)
    assert engine.record.rejected == len(inbox) - 1
    assert not engine.record.bugs


def test_new_view_reissues_the_highest_view_certificate_and_fills_gaps_with_null() -> None:
    spec = PBFT()
    engine = Engine(spec, _defaults(), seed=0, rounds=1, signatures="ideal")
    keys = engine.keys
    old = keys.sign(4, Request(Operation(4, 0, 1)))
    new = keys.sign(5, Request(Operation(5, 0, 2)))

    def cert(view: int, seq: int, req: Signed) -> PreparedCert:
        batch = (req,)
        pp = keys.sign(view % 4, PrePrepare(view, seq, request_digest(batch), batch))
        backups = [r for r in range(4) if r != view % 4][:2]
        prepares = tuple(
            keys.sign(r, Prepare(view, seq, request_digest(batch), r)) for r in backups
        )
        return PreparedCert(pp, prepares)

    vcs = [
        keys.sign(1, ViewChange(2, 0, (), (cert(0, 1, old), cert(0, 3, old)), 1)),
        keys.sign(2, ViewChange(2, 0, (), (cert(1, 1, new),), 2)),
        keys.sign(3, ViewChange(2, 0, (), (), 3)),
    ]
    plan = new_view_plan(vcs)
    assert (plan.min_s, plan.max_s) == (0, 3)
    assert [(seq, reqs) for seq, _d, reqs in plan.entries] == [(1, (new,)), (2, ()), (3, (old,))]


def _defaults() -> dict[str, object]:
    from bft.core.params import resolve

    spec = PBFT()
    return resolve("pbft", spec.params, {})


def test_a_run_is_byte_identical_under_any_hash_seed() -> None:
    args = ["run", "pbft-equivocation", "--signatures", "ideal", "--json"]
    digests = {digest_in_fresh_process(args, seed) for seed in ("1", "2")}
    assert len(digests) == 1


def test_timeouts_double_after_each_failed_view_change() -> None:
    # n=10, f=3: the primaries of views 0, 1 and 2 are silent
    result = run_named(
        "pbft-view-change",
        adversaries=["silent-primary:nodes=[0,1,2]"],
        params={"n": 10},
        signatures="ideal",
        rounds=200,
    )
    assert result.ok, result.violated
    mine = [
        (o.round, o.data["view"]) for o in result.record.outputs_named("view-change") if o.node == 5
    ]
    (r1, v1), (r2, v2), (r3, v3) = mine
    assert (v1, v2, v3) == (1, 2, 3)
    # the new-view timer starts a round after the view-change, once 2f+1 arrived
    assert r2 - r1 == 1 + 10 and r3 - r2 == 1 + 20
    assert max(o.data["view"] for o in result.record.outputs_named("new-view")) == 3


@pytest.mark.parametrize(("senders", "joins"), [((1,), False), ((1, 2), True)])
def test_a_replica_joins_a_higher_view_on_f_plus_1_view_changes(
    senders: tuple[int, ...], joins: bool
) -> None:
    spec = PBFT()
    engine = Engine(spec, _defaults(), seed=0, rounds=5, signatures="ideal")
    replica = engine.nodes[3]
    engine.round = 1
    inbox = [(r, engine.keys.sign(r, ViewChange(2 + r, 0, (), (), r))) for r in senders]
    replica.on_round(engine.ctxs[3], inbox)
    assert (replica.view, replica.mode) == ((3, Mode.VIEW_CHANGE) if joins else (0, Mode.NORMAL))
    assert not engine.record.rejected


GARBAGE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 2**70),
    st.text(max_size=3),
    st.binary(max_size=20),
    st.lists(st.integers(0, 3), max_size=2).map(tuple),
    st.lists(st.integers(0, 3), max_size=2),
)


def _messages_of_every_kind(keys: object) -> list[object]:
    req = keys.sign(4, Request(Operation(4, 0, 1)))  # type: ignore[attr-defined]
    batch = (req,)
    return [
        Request(Operation(4, 0, 1)),
        PrePrepare(0, 1, request_digest(batch), batch),
        Prepare(0, 1, b"\x01" * 16, 2),
        Commit(0, 1, b"\x01" * 16, 2),
        Checkpoint(10, b"\x00" * 16, ((4, 0, 1),), 2),
        ViewChange(1, 0, (), (), 2),
        NewView(1, (), ()),
        Status(0, True, 0, 2),
    ]


@given(
    index=st.integers(0, 7),
    field=st.integers(0, 5),
    value=GARBAGE,
    signer=st.sampled_from([0, 2, 4]),
)
def test_any_field_of_any_message_can_be_garbage_without_crashing(
    index: int, field: int, value: object, signer: int
) -> None:
    import attrs

    spec = PBFT()
    engine = Engine(spec, _defaults(), seed=0, rounds=3, signatures="ideal")
    body = _messages_of_every_kind(engine.keys)[index]
    names = [f.name for f in attrs.fields(type(body))]
    bad = attrs.evolve(body, **{names[field % len(names)]: value})
    try:
        signed = engine.keys.sign(signer, bad)
    except TypeError:
        return  # not encodable, so not even signable: nothing to send
    for node in (0, 1):
        engine.round = 1
        engine.nodes[node].on_round(engine.ctxs[node], [(signer, signed), (signer, bad)])
    assert not engine.record.bugs


@pytest.mark.parametrize("name", ["pbft-normal", "pbft-view-change"])
def test_real_and_ideal_signatures_give_the_same_trace(name: str) -> None:
    # signature bytes never enter a canonical encoding, so request digests, checkpoint
    # states and the trace do not depend on them: Ed25519 (fresh random keys each run)
    # and the ideal functionality run byte for byte the same
    real = run_named(name, signatures="real")
    ideal = run_named(name, signatures="ideal")
    assert real.digest == ideal.digest
    assert real.metrics["signatures"] == ideal.metrics["signatures"] > 0
    assert real.metrics["committed"] == ideal.metrics["committed"] > 0


DIGESTS = (b"\x01" * 16, b"\x02" * 16)


@st.composite
def slots(draw: st.DrawFn) -> tuple[Slot, int]:
    """A slot of replica 1 (view 0, primary 0) with votes from distinct replicas, some for
    another digest, arriving before or after its pre-prepare."""
    f = draw(st.integers(1, 3))
    n = 3 * f + 1
    slot = Slot(0, 1, 0)
    pp = Signed(0, PrePrepare(0, 1, DIGESTS[0], ()), b"")
    early = draw(st.booleans())
    if not early:
        slot.hold_pre_prepare(pp)
    backups = list(range(1, n))
    for r in draw(st.lists(st.sampled_from(backups), unique=True)):
        d = DIGESTS[draw(st.integers(0, 1))]
        slot.add_prepare(r, Signed(r, Prepare(0, 1, d, r), b""), d)
    for r in draw(st.lists(st.sampled_from(range(n)), unique=True)):
        d = DIGESTS[draw(st.integers(0, 1))]
        slot.add_commit(r, Signed(r, Commit(0, 1, d, r), b""), d)
    if early:
        slot.hold_pre_prepare(pp)
    slot.phase = draw(st.sampled_from([Phase.PRE_PREPARED, Phase.PREPARED]))
    return slot, f


@given(slots())
def test_the_predicates_count_matching_votes_from_distinct_replicas(case: tuple[Slot, int]) -> None:
    slot, f = case
    matching_prepares = sum(1 for d in slot.prepares.values() if d == slot.digest)
    matching_commits = sum(1 for d in slot.commits.values() if d == slot.digest)
    assert prepared(slot, f) == (matching_prepares >= 2 * f)
    assert committed_local(slot, f) == (
        slot.phase is Phase.PREPARED and matching_commits >= 2 * f + 1
    )


@given(slots())
def test_lab_4s_reference_rules_agree_with_the_papers_predicates(case: tuple[Slot, int]) -> None:
    # the lab's students see the very slot the replica's own rules see
    slot, f = case
    assert LAB4.prepared(slot, f) == prepared(slot, f)
    assert LAB4.committed_local(slot, f) == committed_local(slot, f)


def test_a_slot_without_an_accepted_pre_prepare_is_never_prepared() -> None:
    slot = Slot(0, 1, 0)
    for r in (1, 2, 3):
        slot.add_prepare(r, Signed(r, Prepare(0, 1, DIGESTS[0], r), b""), DIGESTS[0])
    assert not prepared(slot, 1)  # no pre-prepare at all
    slot.hold_pre_prepare(Signed(0, PrePrepare(0, 1, DIGESTS[0], ()), b""))
    assert slot.matching_prepares == 3 and not prepared(slot, 1)  # held, not accepted
    slot.phase = Phase.PRE_PREPARED
    assert prepared(slot, 1)
