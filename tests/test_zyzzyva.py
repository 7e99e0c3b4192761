"""Zyzzyva: exact message counts and latencies, the slow path, fill-hole,
I-HATE-THE-PRIMARY and view changes, proofs of misbehaviour, hostile input,
determinism, the two new-view rules, and the published safety violation.

Counting convention (as PBFT's "28 per request at n=4", tests/test_pbft.py):
``messages_per_request`` counts the ordering messages the protocol sends per
completed request, client requests left out of both protocols. For Zyzzyva
these are order-req, spec-response, commit and local-commit:

* fast path: (n-1) order-reqs + n spec-responses = 2n-1 (7 at n=4, 13 at n=7);
* slow path with one silent backup: (n-1) order-reqs + (n-1) spec-responses
  + n commits (the client does not know who is silent) + (n-1) local-commits
  = 4n-3 (13 at n=4, 25 at n=7).

Latency in rounds, fault-free lockstep: request -> primary (1), order-req ->
backups (2), spec-responses -> client (3): 3 rounds, against PBFT's 5
(pre-prepare, prepare, commit, reply): one round trip less. Slow path: the
client waits ``spec_timeout`` = 4 rounds, then commit (5) and local-commit (6).

Scenarios run with the ideal signature functionality unless a test is about
real Ed25519 signatures (same behaviour, a fraction of the cost).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bft.core.crypto import KeyRing, Signed
from bft.core.environment import Operation, correct_result
from bft.core.errors import ConfigError
from bft.protocols.zyzzyva.certificates import (
    COMMIT_CERT,
    CONFIRM_CERT,
    CertInfo,
    Config,
    Report,
    fixed_history,
    misbehavior_problem,
    published_history,
    view_change_report,
)
from bft.protocols.zyzzyva.messages import (
    GENESIS,
    Commit,
    Entry,
    FillHole,
    IHateThePrimary,
    LocalCommit,
    NewView,
    OrderReq,
    ProofOfMisbehavior,
    Request,
    SpecReply,
    SpecResponse,
    ViewChange,
    ViewConfirm,
    chain,
    request_digest,
)
from bft.protocols.zyzzyva.properties import fast_path_formula, liveness_bound, slow_path_formula
from bft.protocols.zyzzyva.replica import Replica
from bft.protocols.zyzzyva.spec import Zyzzyva
from bft.run import scenario
from bft.run.runner import RunResult, run
from bft.run.scenario import AdversaryConfig
from tests.helpers import ROOT, digest_in_fresh_process, run_named

IDEAL = {"signatures": "ideal"}
PUBLISHED_BUG = ROOT / "tests" / "regressions" / "zyzzyva-published-safety.toml"
ORDERING = ("order-req", "spec-response", "commit", "local-commit")


def kinds(result: RunResult) -> dict[str, int]:
    return {k: result.record.messages_of(k) for k in ORDERING}


# -- the fast path -------------------------------------------------------------------------------


def test_fast_path_sends_exactly_2n_minus_1_messages_per_request_at_n4() -> None:
    """n=4, real signatures: 3 order-reqs + 4 spec-responses = 7 per request (PBFT: 28)."""
    result = run_named("zyzzyva-normal", signatures="real")
    m = result.metrics
    assert m["completed"] == m["completed_fast"] == 20
    assert m["messages_per_request"] == 7 == fast_path_formula(4)
    assert kinds(result) == {
        "order-req": 3 * 20,
        "spec-response": 4 * 20,
        "commit": 0,
        "local-commit": 0,
    }
    assert m["latency_max"] == m["latency_mean"] == 3 and m["view_changes"] == 0
    assert result.ok, result.violated


def test_fast_path_at_n7_sends_13_messages_per_request() -> None:
    """n=7 (f=2): 6 order-reqs + 7 spec-responses = 13 per request."""
    result = run_named("zyzzyva-normal", params={"n": 7, "requests": 4}, **IDEAL)
    assert result.metrics["completed_fast"] == 8
    assert result.metrics["messages_per_request"] == 13 == fast_path_formula(7)
    assert kinds(result) == {
        "order-req": 6 * 8,
        "spec-response": 7 * 8,
        "commit": 0,
        "local-commit": 0,
    }
    assert result.ok, result.violated


def test_fast_path_is_one_round_trip_shorter_than_pbft() -> None:
    zyzzyva = run_named("zyzzyva-normal", **IDEAL).metrics
    pbft = run_named("pbft-normal", **IDEAL).metrics
    assert (zyzzyva["latency_max"], pbft["latency_max"]) == (3, 5)
    assert pbft["messages_per_request"] == 4 * zyzzyva["messages_per_request"]  # 28 against 7


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(4, 10), clients=st.integers(1, 3), requests=st.integers(1, 3))
def test_fast_path_formula_holds_for_any_size(n: int, clients: int, requests: int) -> None:
    params = {"n": n, "clients": clients, "requests": requests}
    result = run_named("zyzzyva-normal", params=params, **IDEAL)
    m = result.metrics
    assert m["completed_fast"] == clients * requests
    assert m["messages_per_request"] == fast_path_formula(n) == 2 * n - 1
    assert m["latency_max"] == 3
    assert result.ok, result.violated


# -- the slow path ---------------------------------------------------------------------------------


def test_one_silent_backup_turns_every_request_into_the_slow_path() -> None:
    """Aardvark's observation: one crashed backup and the fast path never happens."""
    result = run_named("zyzzyva-slow-path", signatures="real")
    m = result.metrics
    assert m["completed"] == m["completed_slow"] == 20 and m["completed_fast"] == 0
    assert m["messages_per_request"] == 13 == slow_path_formula(4)
    assert kinds(result) == {
        "order-req": 3 * 20,
        "spec-response": 3 * 20,
        "commit": 4 * 20,
        "local-commit": 3 * 20,
    }
    assert m["latency_max"] == m["latency_mean"] == 6
    assert result.ok, result.violated


def test_slow_path_at_n7_sends_25_messages_per_request() -> None:
    result = run_named("zyzzyva-slow-path", params={"n": 7, "requests": 3}, **IDEAL)
    assert result.metrics["completed_slow"] == 6
    assert result.metrics["messages_per_request"] == 25 == slow_path_formula(7)
    assert result.ok, result.violated


def test_replicas_commit_what_the_certificate_commits() -> None:
    result = run_named("zyzzyva-slow-path", **IDEAL)
    commits = [o for o in result.record.outputs_named("commit")]
    by_replica: dict[int, list[int]] = {}
    for o in commits:
        by_replica.setdefault(o.node, []).append(o.data["seq"])
    assert sorted(by_replica) == [0, 1, 2]  # replica 3 crashed
    assert all(seqs == list(range(1, 21)) for seqs in by_replica.values())


# -- view changes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["zyzzyva", "zyzzyva-fixed"])
def test_silent_primary_is_replaced_and_every_request_completes(protocol: str) -> None:
    result = run_named("zyzzyva-view-change", protocol=protocol, **IDEAL)
    assert result.ok, {k: v.witness for k, v in result.verdicts.items() if not v.holds}
    m = result.metrics
    assert m["completed"] == 20 and m["view"] == 1 and m["view_changes"] == 1
    new_views = [o for o in result.record.outputs_named("new-view") if o.node != 0]
    assert sorted(o.node for o in new_views) == [1, 2, 3]
    assert all(o.data["view"] == 1 and o.data["primary"] == 1 for o in new_views)
    suspects = {o.node for o in result.record.outputs_named("suspect") if o.data["view"] == 0}
    assert len(suspects - {0}) >= 2  # f+1 honest complaints started it
    # the silent replica never answers: from then on every request takes the slow path
    assert m["completed_slow"] == 20


def test_liveness_bound_is_the_documented_formula() -> None:
    p = {"timeout": 12, "spec_timeout": 4, "view_timeout": 10, "n": 4, "f": None}
    # hop = delta + 1; 12 + 4 + 2*10 + (10 + 4h) + (20 + 4h) + 8h
    assert liveness_bound(p, 0) == 12 + 4 + 20 + 14 + 24 + 8 == 82
    assert liveness_bound(p, 2) == 12 + 4 + 20 + 22 + 32 + 24 == 114
    assert liveness_bound({**p, "liveness_bound": 7}, 2) == 7


# -- unit tests on one replica ------------------------------------------------------------------------


class FakeContext:
    """What a replica sees of the world, recorded (ideal signatures, real checks)."""

    def __init__(self, node: int, keys: KeyRing) -> None:
        self.node_id = node
        self.keys = keys
        self.verify = keys.verify
        self.round = 0
        self.sent: list[tuple[int, Any]] = []
        self.outputs: list[tuple[str, dict[str, Any]]] = []
        self.rejects: list[str] = []
        self.load = 0.0
        self.capacity = None

    def send(self, dst: int, payload: Any) -> None:
        self.sent.append((dst, payload))

    def multicast(self, dsts: Any, payload: Any) -> None:
        for d in dsts:
            if d != self.node_id:
                self.sent.append((d, payload))

    def sign(self, payload: Any) -> Signed:
        return self.keys.sign(self.node_id, payload)

    def output(self, name: str, **data: Any) -> None:
        self.outputs.append((name, data))

    def tally(self, name: str, amount: float = 1) -> None:
        pass

    def reject(self, src: int, payload: Any, reason: str) -> None:
        self.rejects.append(reason)

    def work(self, units: float = 1.0) -> None:
        pass

    def execute(self, op: Operation) -> int:
        return correct_result(op)

    def kinds_sent(self) -> list[tuple[int, str]]:
        return [(d, type(p.payload if type(p) is Signed else p).__name__) for d, p in self.sent]


CFG = Config(4, 1, 6)  # replicas 0..3, clients 4 and 5


def setup_replica(me: int = 3) -> tuple[Replica, FakeContext, KeyRing]:
    keys = KeyRing(6, "ideal")
    return (
        Replica(me, CFG, "published", view_timeout=5, fill_timeout=2),
        FakeContext(me, keys),
        keys,
    )


def request(keys: KeyRing, client: int = 4, ts: int = 0, arg: int = 7) -> Signed:
    return keys.sign(client, Request(Operation(client, ts, arg)))


def orders(keys: KeyRing, reqs: list[Signed], view: int = 0) -> list[Signed]:
    out, h = [], GENESIS
    for seq, req in enumerate(reqs, start=1):
        d = request_digest(req)
        h = chain(h, d)
        out.append(keys.sign(view % 4, OrderReq(view, seq, h, d, req)))
    return out


def step(replica: Replica, ctx: FakeContext, inbox: list[tuple[int, Any]]) -> list[tuple[int, str]]:
    ctx.sent = []
    replica.on_round(ctx, inbox)  # type: ignore[arg-type]
    sent = ctx.kinds_sent()
    ctx.round += 1
    return sent


def test_an_order_req_is_executed_speculatively_and_answered() -> None:
    replica, ctx, keys = setup_replica()
    req = request(keys)
    (order,) = orders(keys, [req])
    sent = step(replica, ctx, [(0, order)])
    assert sent == [(4, "SpecReply")]
    reply = ctx.sent[0][1]
    r = reply.response.payload
    assert (r.view, r.seq, r.history, r.result) == (
        0,
        1,
        order.payload.history,
        correct_result(req.payload.op),
    )
    assert reply.order is order and keys.verify(reply.response, 3)


def test_fill_hole_asks_the_primary_then_everyone_then_suspects() -> None:
    replica, ctx, keys = setup_replica()
    reqs = [request(keys, 4, 0), request(keys, 5, 0), request(keys, 4, 1)]
    o1, o2, o3 = orders(keys, reqs)
    assert step(replica, ctx, [(0, o3)]) == [
        (0, "FillHole")
    ]  # seq 3 before 1 and 2: ask the primary
    hole = ctx.sent[0][1].payload
    assert (hole.first, hole.last) == (1, 2)
    assert step(replica, ctx, []) == []
    assert sorted(step(replica, ctx, [])) == [(0, "FillHole"), (1, "FillHole"), (2, "FillHole")]
    assert step(replica, ctx, []) == []
    assert sorted(step(replica, ctx, [])) == [
        (0, "IHateThePrimary"),
        (1, "IHateThePrimary"),
        (2, "IHateThePrimary"),
    ]
    assert ("suspect", {"view": 0, "why": "no order-reqs 1..2 after fill-hole"}) in ctx.outputs
    # the missing order-reqs arrive (from any replica: they carry the primary's signature)
    sent = step(replica, ctx, [(1, o1), (2, o2)])
    assert [k for _, k in sent] == ["SpecReply"] * 3  # 1, 2, then the kept 3
    assert replica.history_labels() == ["4:0:7", "5:0:7", "4:1:7"]


def test_a_replica_answers_fill_hole_with_the_order_reqs_it_holds() -> None:
    replica, ctx, keys = setup_replica(me=2)
    o1, o2 = orders(keys, [request(keys, 4, 0), request(keys, 5, 0)])
    step(replica, ctx, [(0, o1), (0, o2)])
    hole = keys.sign(3, FillHole(0, 1, 5, 3))
    step(replica, ctx, [(3, hole)])
    assert [(d, p) for d, p in ctx.sent] == [(3, o1), (3, o2)]


def test_i_hate_the_primary_after_a_forwarded_request_times_out() -> None:
    replica, ctx, keys = setup_replica()
    req = request(keys)
    assert step(replica, ctx, [(4, req)]) == [(0, "Request")]  # forwarded to the primary
    for _ in range(4):
        assert step(replica, ctx, []) == []
    # the timer expires: ask everyone for order-reqs I may have missed, and complain
    assert sorted(step(replica, ctx, [])) == [
        (0, "FillHole"),
        (0, "IHateThePrimary"),
        (1, "FillHole"),
        (1, "IHateThePrimary"),
        (2, "FillHole"),
        (2, "IHateThePrimary"),
    ]
    hole = ctx.sent[0][1].payload
    assert (hole.view, hole.first) == (0, 1) and hole.last > hole.first
    assert replica.view == 0 and replica.phase == "active"  # one complaint changes nothing
    other = keys.sign(1, IHateThePrimary(0, 1))
    sent = step(replica, ctx, [(1, other)])
    assert sorted(sent) == [(0, "ViewChange"), (1, "ViewChange"), (2, "ViewChange")]
    vc = ctx.sent[0][1].payload
    assert vc.view == 1 and sorted(s.signer for s in vc.proof) == [1, 3]
    assert replica.view == 1 and replica.phase == "changing"


def test_faulty_replicas_alone_cannot_force_a_view_change() -> None:
    replica, ctx, keys = setup_replica()
    step(replica, ctx, [(0, keys.sign(0, IHateThePrimary(0, 0)))])  # f = 1 complaint
    assert replica.view == 0 and replica.phase == "active"
    forged = Signed(1, IHateThePrimary(0, 1), b"not a signature")
    step(replica, ctx, [(1, forged)])
    assert (
        replica.view == 0
        and "i-hate-the-primary from an unknown replica or badly signed" in ctx.rejects
    )


def test_a_view_change_carrying_f_plus_1_complaints_is_joined() -> None:
    replica, ctx, keys = setup_replica()
    proof = tuple(keys.sign(r, IHateThePrimary(0, r)) for r in (0, 1))
    vc = keys.sign(1, ViewChange(1, (), (), proof, 1))
    sent = step(replica, ctx, [(1, vc)])
    assert sorted(sent) == [(0, "ViewChange"), (1, "ViewChange"), (2, "ViewChange")]
    assert replica.view == 1


def test_conflicting_order_reqs_are_a_proof_of_misbehaviour() -> None:
    keys = KeyRing(6, "ideal")
    a, b = request(keys, 4, 0), request(keys, 5, 0)
    (oa,) = orders(keys, [a])
    (ob,) = orders(keys, [b])
    oa2 = orders(keys, [b, a])[1]  # a again, at sequence number 2
    assert misbehavior_problem(oa, ob, CFG, keys.verify) is None  # two requests at seq 1
    assert misbehavior_problem(oa, oa2, CFG, keys.verify) is None  # one request at seqs 1 and 2
    assert misbehavior_problem(ob, oa2, CFG, keys.verify) == "order-reqs that do not conflict"
    assert misbehavior_problem(oa, oa, CFG, keys.verify) == "the same order-req twice"
    not_chained = orders(keys, [a, b])[1]
    assert misbehavior_problem(ob, not_chained, CFG, keys.verify) is None  # h_2 != H(h_b, d)
    other_view = orders(keys, [b], view=1)[0]
    assert misbehavior_problem(oa, other_view, CFG, keys.verify) == "order-reqs of different views"
    replica, ctx, _ = setup_replica()
    replica_keys = ctx.keys = keys
    ctx.verify = replica_keys.verify
    step(replica, ctx, [(0, oa)])
    sent = step(replica, ctx, [(4, keys.sign(4, ProofOfMisbehavior(oa, ob)))])
    assert sorted(k for _, k in sent) == ["IHateThePrimary"] * 3 + ["ProofOfMisbehavior"] * 3


def test_an_equivocating_primary_is_caught_by_the_client_and_replaced() -> None:
    """A Twin of the primary orders client 4's second request at another sequence number
    than the primary does; client 4 sees its request ordered twice in view 0, proves it
    (4d), the replicas change view and the request completes."""
    base = scenario.load("zyzzyva-normal")
    twin = AdversaryConfig(
        "schedule",
        {"faults": 1, "actions": [{"do": "twin", "node": 0, "at": 1, "nodes": [4]}]},
    )
    for protocol in ("zyzzyva", "zyzzyva-fixed"):
        result = run(scenario.with_overrides(base, protocol=protocol, adversaries=[twin], **IDEAL))
        assert result.ok, {k: v.witness for k, v in result.verdicts.items() if not v.holds}
        assert result.record.messages_of("pom") > 0
        whys = {o.data["why"] for o in result.record.outputs_named("suspect")}
        assert any(w.startswith("conflicting order-reqs of view 0") for w in whys)
        assert result.metrics["view_changes"] == 1 and result.metrics["completed"] == 20


def test_a_replica_that_missed_a_view_change_is_brought_into_the_new_view() -> None:
    """Found by 'bft check': replica 0 is cut off while the others change to view 1, then
    the primary of view 1 crashes. Replica 0's order-reqs of view 0 tell the others it is
    behind; they send it view 1's NEW-VIEW, it confirms and the requests complete with
    the 2f+1 replicas left (without that, every request stalled at two local-commits:
    nobody complains about a primary that ordered everything)."""
    base = scenario.load("zyzzyva-view-change")
    actions = [
        {"do": "crash", "node": 1, "at": 57, "until": 213},
        {"do": "partition", "nodes": [0], "at": 0, "until": 26},
    ]
    faults = AdversaryConfig("schedule", {"faults": 1, "actions": actions})
    for protocol in ("zyzzyva", "zyzzyva-fixed"):
        result = run(
            scenario.with_overrides(base, protocol=protocol, adversaries=[faults], **IDEAL)
        )
        assert result.ok, {k: v.witness for k, v in result.verdicts.items() if not v.holds}
        late = [o for o in result.record.outputs_named("new-view") if o.node == 0]
        assert late and late[0].data["view"] == 1 and late[0].round > 26  # after the cut
        assert result.metrics["completed"] == 20


def test_a_primary_that_starves_one_replica_does_not_starve_a_client() -> None:
    """Found by 'bft check': a Twin of replica 1 (the primary of view 1) speaks to replica
    0 and client 4 in its place, so replica 0 never gets view 1's order-reqs and client 4
    only two matching responses. Replica 0's timer on client 4's retransmitted request
    makes it ask every replica for the order-reqs it lacks; it catches up, answers, and
    client 4's requests complete."""
    base = scenario.load("zyzzyva-view-change")
    actions = [
        {"do": "partition", "nodes": [0], "at": 0, "until": 25},
        {"do": "twin", "node": 1, "at": 2, "nodes": [0, 4]},
    ]
    faults = AdversaryConfig("schedule", {"faults": 1, "actions": actions})
    for protocol in ("zyzzyva", "zyzzyva-fixed"):
        result = run(
            scenario.with_overrides(base, protocol=protocol, adversaries=[faults], **IDEAL)
        )
        assert result.ok, {k: v.witness for k, v in result.verdicts.items() if not v.holds}
        clients = {o.node for o in result.record.outputs_named("accept")}
        assert clients == {4, 5} and result.metrics["fill_holes"] > 0


def test_a_replica_kept_in_an_old_view_by_a_twin_is_found_when_a_client_is_stuck() -> None:
    """Found by 'bft check': a Twin of replica 1 (primary of view 1) keeps replica 0 (cut
    off during the view change) and client 4 in a make-believe view 0, so nothing replica
    0 sends reaches a replica of view 1. Client 4 retransmits; each replica that already
    answered asks everyone for what it lacks, and replica 0 gets view 1's NEW-VIEW."""
    base = scenario.load("zyzzyva-view-change")
    actions = [
        {"do": "delay", "node": 0, "at": 1, "dst": 1, "extra": 1},
        {"do": "partition", "nodes": [0], "at": 23, "until": 64},
        {"do": "twin", "node": 1, "at": 2, "nodes": [0, 4]},
    ]
    faults = AdversaryConfig("schedule", {"faults": 1, "actions": actions})
    for protocol in ("zyzzyva", "zyzzyva-fixed"):
        result = run(
            scenario.with_overrides(base, protocol=protocol, adversaries=[faults], **IDEAL)
        )
        assert result.ok, {k: v.witness for k, v in result.verdicts.items() if not v.holds}
        assert any(o.node == 0 for o in result.record.outputs_named("new-view"))


# -- hostile input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "adversary", ["forger", "replayer", "byzantine-replica:nodes=[3]", "traitor:nodes=[2]"]
)
def test_hostile_messages_are_rejected_and_never_crash_an_honest_node(adversary: str) -> None:
    result = run_named("zyzzyva-normal", adversaries=[adversary], **IDEAL)
    assert result.verdicts["no-exceptions"].holds, result.verdicts["no-exceptions"].witness
    assert result.verdicts["agreement"].holds and result.verdicts["validity"].holds
    assert result.verdicts["reply-correct"].holds


SCALAR = st.one_of(
    st.integers(-3, 6), st.binary(max_size=17), st.none(), st.booleans(), st.text(max_size=3)
)


def _message_strategy(keys: KeyRing) -> st.SearchStrategy[Any]:
    ops = st.builds(Operation, SCALAR, SCALAR, SCALAR)
    req = st.builds(lambda op, s: keys.sign(s, Request(op)), ops, st.integers(0, 5))
    leaf = st.one_of(SCALAR, req)
    value = st.recursive(leaf, lambda inner: st.tuples(inner, inner), max_leaves=4)
    classes = [
        OrderReq,
        SpecResponse,
        Commit,
        LocalCommit,
        FillHole,
        IHateThePrimary,
        ProofOfMisbehavior,
        ViewConfirm,
        ViewChange,
        NewView,
        Request,
        Entry,
    ]

    def build(cls: type, data: st.DataObject) -> Any:
        fields = {f.name: data.draw(value) for f in attrs.fields(cls)}
        return cls(**fields)

    @st.composite
    def message(draw: st.DrawFn) -> Any:
        cls = draw(st.sampled_from(classes))
        body = build(cls, draw(st.data()))
        signer = draw(st.integers(0, 5))
        return draw(st.sampled_from([keys.sign(signer, body), body, SpecReply(body, body)]))

    return message()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arbitrary_messages_never_crash_a_replica_or_a_client(data: st.DataObject) -> None:
    from bft.protocols.zyzzyva.client import Client

    keys = KeyRing(6, "ideal")
    strategy = _message_strategy(keys)
    replica = Replica(2, CFG, "fixed", view_timeout=3, fill_timeout=1)
    client = Client(4, 4, 1, 5, 2, 1.0, 3, 5)
    rctx, cctx = FakeContext(2, keys), FakeContext(4, keys)
    cctx.rng = __import__("random").Random(1)  # type: ignore[attr-defined]
    # a little legitimate state first, so that handlers past the basic checks run
    (o1,) = orders(keys, [request(keys)])
    replica.on_round(rctx, [(0, o1)])  # type: ignore[arg-type]
    client.on_round(cctx, [])  # type: ignore[arg-type]
    for rnd in range(1, 6):
        rctx.round = cctx.round = rnd
        inbox = [(data.draw(st.integers(0, 5)), data.draw(strategy)) for _ in range(4)]
        replica.on_round(rctx, inbox)  # type: ignore[arg-type]
        client.on_round(cctx, inbox)  # type: ignore[arg-type]


# -- determinism --------------------------------------------------------------------------------------


def test_same_digest_in_separate_processes_and_with_either_signature_mode() -> None:
    args = ["run", "zyzzyva-view-change", "--signatures", "ideal", "--json"]
    digests = {digest_in_fresh_process(args, seed) for seed in ("0", "4242")}
    assert len(digests) == 1
    real = run_named("zyzzyva-view-change", signatures="real")
    assert real.digest in digests


def test_the_published_violation_replays_to_one_digest_in_fresh_processes() -> None:
    def digest(hash_seed: str) -> str:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "bft",
                "run",
                str(PUBLISHED_BUG),
                "--json",
                "--signatures",
                "ideal",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            cwd=ROOT,
            check=False,
        )
        assert proc.returncode == 1, proc.stderr  # a property is violated
        return json.loads(proc.stdout)["digest"]

    assert digest("1") == digest("999")


# -- the new-view rules --------------------------------------------------------------------------------


def _report(replica: int, reqs: list[Signed], views: list[int], cert: CertInfo | None) -> Report:
    hashes = [GENESIS]
    for req in reqs:
        hashes.append(chain(hashes[-1], request_digest(req)))
    return Report(replica, cert, tuple(reqs), tuple(hashes), tuple(views))


def test_the_published_rule_prefers_a_stale_certificate_and_the_fixed_rule_does_not() -> None:
    """The situation of the second view change of Abraham et al.: replica 0 reports a
    commit certificate for x at sequence number 1 from view 0; replicas 2 and 3 hold y at 1
    from view 1, where y completed on the fast path (no certificate)."""
    keys = KeyRing(6, "ideal")
    x, y = request(keys, 5, 0), request(keys, 4, 0)
    hx = chain(GENESIS, request_digest(x))
    stale = _report(0, [x], [0], CertInfo(COMMIT_CERT, 0, 1, hx))
    view1 = CertInfo(CONFIRM_CERT, 1, 0, GENESIS)
    honest = [_report(r, [y], [1], view1) for r in (2, 3)]
    assert published_history([stale, *honest], 1) == (x,)  # y, completed, is replaced
    assert fixed_history([stale, *honest], 1) == (y,)
    # a certificate from the same view as the reports still wins (a CC-decided value)
    same_view = _report(0, [x], [1], CertInfo(COMMIT_CERT, 1, 1, hx))
    lone = _report(2, [y], [1], view1)
    assert fixed_history([same_view, lone, _report(3, [], [], view1)], 1) == (x,)


def test_the_fixed_rule_trusts_one_view_confirm_certificate_over_older_reports() -> None:
    """x was decided by a commit certificate in view 1 and view 2 started with it: one
    report holds x under view 2's view-confirms; a replica left behind in view 1 (it
    took y from the primary that equivocated) and the faulty one report y from view 1.
    Requiring f+1 reports for x here would lose it."""
    keys = KeyRing(6, "ideal")
    x, y = request(keys, 4, 0), request(keys, 5, 0)
    hx = chain(GENESIS, request_digest(x))
    started = _report(1, [x], [2], CertInfo(CONFIRM_CERT, 2, 1, hx))
    behind = [_report(r, [y], [1], None) for r in (0, 3)]
    assert fixed_history([started, *behind], 1) == (x,)
    assert published_history([started, *behind], 1) == (x,)


def test_both_rules_keep_a_fast_path_decision_and_drop_a_lone_entry() -> None:
    keys = KeyRing(6, "ideal")
    a, b = request(keys, 4, 0), request(keys, 5, 0)
    reports = [
        _report(1, [a, b], [0, 0], None),
        _report(2, [a], [0], None),
        _report(3, [], [], None),
    ]
    for rule in (published_history, fixed_history):
        assert rule(reports, 1) == (a,)  # a: f+1 reports; b: one report, not decided


def test_view_change_validation_refuses_a_certificate_that_does_not_match_its_entries() -> None:
    keys = KeyRing(6, "ideal")
    a, b = request(keys, 4, 0), request(keys, 5, 0)
    oa = orders(keys, [a])[0].payload
    responses = tuple(
        keys.sign(r, SpecResponse(0, 1, oa.history, correct_result(a.payload.op), 4, 0, r))
        for r in (0, 2, 3)
    )
    proof = tuple(keys.sign(r, IHateThePrimary(0, r)) for r in (0, 1))
    good = keys.sign(0, ViewChange(1, responses, (Entry(a, None),), proof, 0))
    problem, report = view_change_report(good, CFG, keys.verify)
    assert problem is None and report.cert.kind == COMMIT_CERT and report.requests == (a,)
    bad = keys.sign(0, ViewChange(1, responses, (Entry(b, None),), proof, 0))
    assert view_change_report(bad, CFG, keys.verify)[0] == (
        "view-change whose entries do not lead to its certificate's history"
    )
    short = keys.sign(0, ViewChange(1, responses[:2], (Entry(a, None),), proof, 0))
    assert "commit certificate without 3" in view_change_report(short, CFG, keys.verify)[0]
    unproven = keys.sign(0, ViewChange(1, (), (), proof[:1], 0))
    assert "proof without 2" in view_change_report(unproven, CFG, keys.verify)[0]


# -- the published safety violation ---------------------------------------------------------------------


def test_the_published_safety_violation_is_reproduced_and_the_fix_holds() -> None:
    """Abraham et al. 2017, within f=1 (one Byzantine replica, every client correct),
    with the schedule of tests/regressions/zyzzyva-published-safety.toml."""
    loaded = scenario.load(str(PUBLISHED_BUG))
    published = run(loaded)
    assert published.beyond_bound is None
    assert sorted(published.record.corrupted) == [0]
    verdict = published.verdicts["agreement"]
    assert not verdict.holds
    assert verdict.witness == (
        "client 4 completed request 4:0:15327 at sequence number 1 in round 29 (fast path, view 1), "
        "but replica 2 started view 2 in round 56 with request 5:0:14171 at sequence number 1 "
        "instead: the completed request was replaced"
    )
    assert published.violated == ["agreement"]
    fixed = run(scenario.with_overrides(loaded, protocol="zyzzyva-fixed"))
    assert fixed.ok, {k: v.witness for k, v in fixed.verdicts.items() if not v.holds}
    assert fixed.metrics["view_changes"] == 2  # the same two view changes happened
    assert fixed.beyond_bound is None


def test_the_violation_is_reachable_in_the_view_change_scenario_itself() -> None:
    """zyzzyva-view-change's own setting (GST at 100, delta 2, ten requests per client)
    admits the attack: the Byzantine strategy plus one pre-GST partition of the next
    primary (the network part of the published scenario), which is what the search has
    to find."""
    base = scenario.load("zyzzyva-view-change")
    actions = [{"do": "partition", "nodes": [1], "at": 30, "until": 80}]
    attack = [
        AdversaryConfig("zyzzyva-stale-certificate", {}),
        AdversaryConfig("schedule", {"faults": 1, "actions": actions}),
    ]
    published = run(scenario.with_overrides(base, adversaries=attack, **IDEAL))
    assert published.violated == ["agreement"] and published.beyond_bound is None
    fixed = run(
        scenario.with_overrides(base, protocol="zyzzyva-fixed", adversaries=attack, **IDEAL)
    )
    assert fixed.ok and fixed.metrics["completed"] == 20
    # without the partition there is no second view change, and nothing to replace
    alone = run(scenario.with_overrides(base, adversaries=attack[:1], **IDEAL))
    assert alone.ok and alone.metrics["view_changes"] == 1


def test_the_attacker_ignoring_a_client_is_its_own_doing_not_the_networks() -> None:
    """After GST the network may not drop a correct node's message, but a Byzantine
    replica may ignore what it receives: the attacker's dropped requests are not refused."""
    base = scenario.load("zyzzyva-view-change")
    attack = [AdversaryConfig("zyzzyva-stale-certificate", {"client": 4})]
    result = run(scenario.with_overrides(base, adversaries=attack, **IDEAL))
    refused = [n for n in result.record.notes() if "refused" in n.detail]
    assert refused == []
    assert result.record.dropped > 0


# -- configuration ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "f"), [(3, 1), (6, 2)])
def test_n_below_3f_plus_1_is_refused_naming_the_values(n: int, f: int) -> None:
    with pytest.raises(ConfigError) as err:
        run_named("zyzzyva-normal", params={"n": n, "f": f}, **IDEAL)
    text = str(err.value)
    assert f"n={n}" in text and f"f={f}" in text and "3f+1" in text and "\n" not in text


def test_tolerance_is_f_byzantine_replicas_and_any_number_of_clients() -> None:
    spec = Zyzzyva()
    tol = spec.tolerance({"n": 7, "f": None})
    assert (tol.kind, tol.faults, tol.roles, tol.unlimited, tol.bound) == (
        "byzantine",
        2,
        ("replica",),
        ("client",),
        "n >= 3f+1",
    )
    assert tol.networks == ("synchronous", "partial-synchrony")


def test_cli_runs_both_variants(tmp_path: Path) -> None:
    from bft.cli import main

    assert main(["run", "zyzzyva-normal", "--signatures", "ideal", "--json"]) == 0
    assert main(["run", str(PUBLISHED_BUG), "--signatures", "ideal", "--json"]) == 1
    assert (
        main(["run", str(PUBLISHED_BUG), "--protocol", "zyzzyva-fixed", "--signatures", "ideal"])
        == 0
    )
    assert main(["run", "zyzzyva-normal", "--param", "spec_timeout=0"]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("name", ["zyzzyva-view-change", "zyzzyva-normal"])
def test_a_search_of_the_declared_fault_model_finds_nothing_against_the_fix(
    name: str, tmp_path: Path
) -> None:
    from bft.cli import main

    out = tmp_path / "cex.toml"
    args = ["check", name, "--protocol", "zyzzyva-fixed", "--examples", "150", "--out", str(out)]
    assert main(args) == 0
    assert not out.exists()


FOUND_BY_SEARCH = ROOT / "tests" / "regressions" / "zyzzyva-found-by-search.toml"


def test_the_violation_the_search_found_replays_and_the_fix_holds(capsys) -> None:
    """What `bft check zyzzyva-view-change` found on its own (docs/known-bugs.md): the
    stale-certificate strategy and one partition of the view-1 primary before GST."""
    from bft.cli import main

    assert main(["replay", str(FOUND_BY_SEARCH)]) == 1  # the digest matches, and it fails
    out = capsys.readouterr().out
    assert "agreement" in out and "VIOLATED" in out
    loaded = scenario.load(str(FOUND_BY_SEARCH))
    result = run(loaded)
    assert result.beyond_bound is None and sorted(result.record.corrupted) == [0]
    assert "completed request" in result.verdicts["agreement"].witness
    fixed = run(scenario.with_overrides(loaded, protocol="zyzzyva-fixed"))
    assert fixed.ok, fixed.violated
