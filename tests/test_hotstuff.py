"""Basic HotStuff: exact message counts, latency, the linear view change, bad input, determinism.

Counting as PBFT's tests do (docs/theory.md: a message to oneself is free, a
multicast to k others counts k). Per decision, fault-free, batch 1: one
NEW-VIEW from each of the n-1 other replicas to the leader, four leader
broadcasts of n-1 (PREPARE, PRE-COMMIT, COMMIT, DECIDE), three rounds of n-1
votes, and n replies: 8(n-1) + n messages (28 at n=4, as PBFT; 55 at n=7
against PBFT's 91). Latency: issue r, PREPARE r+1, votes and phases r+2..r+7,
execution and replies r+8, accepted r+9.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bft.core import registry
from bft.core.crypto import Signed
from bft.core.engine import Engine
from bft.core.environment import Operation
from bft.core.node import Context
from bft.core.node import Node as NodeBase
from bft.core.params import resolve
from bft.core.protocol import Params
from bft.protocols.hotstuff.messages import (
    GENESIS,
    GENESIS_QC,
    QC,
    Block,
    Decide,
    Fetch,
    NewView,
    Node,
    PreCommit,
    Prepare,
    PrepareVote,
    node_hash,
)
from bft.protocols.hotstuff.replica import Replica
from bft.protocols.hotstuff.spec import HotStuff, liveness_bound, message_formula
from bft.protocols.pbft.messages import Request
from bft.protocols.pbft.properties import message_formula as pbft_formula
from bft.run import scenario
from bft.run.runner import RunResult, run
from bft.search.driver import Searcher
from tests.helpers import digest_in_fresh_process, run_named

IDEAL = {"signatures": "ideal"}
KINDS = ("new-view", "prepare", "prepare-vote", "pre-commit", "pre-commit-vote", "commit")


def test_fault_free_run_sends_exactly_8n_minus_8_plus_n_messages_per_request_at_n4() -> None:
    result = run_named("hotstuff-normal", adversaries=["none"], signatures="real")
    m, record = result.metrics, result.record
    assert m["committed"] == 20
    assert m["messages_per_request"] == 28 == message_formula(4) == pbft_formula(4)
    for kind in (*KINDS, "commit-vote", "decide"):
        assert record.messages_of(kind) == 3 * 20, kind
    assert record.messages_of("reply") == 4 * 20
    assert m["view_changes"] == 0 and m["view"] == 19  # one view per decision
    assert result.ok, result.violated


@pytest.mark.parametrize(("n", "expected"), [(4, 28), (7, 55), (10, 82)])
def test_messages_per_request_are_linear_in_n(n: int, expected: int) -> None:
    result = run_named("hotstuff-normal", adversaries=["none"], params={"n": n}, **IDEAL)
    assert result.metrics["committed"] == 20
    assert result.metrics["messages_per_request"] == expected == message_formula(n)
    assert expected < pbft_formula(n) or n == 4
    assert result.ok, result.violated


def test_a_lone_client_waits_exactly_nine_rounds_per_request() -> None:
    result = run_named("hotstuff-normal", adversaries=["none"], params={"clients": 1}, **IDEAL)
    assert result.metrics["latency_max"] == 9 and result.metrics["latency_mean"] == 9
    assert result.metrics["committed"] == 10


def test_a_silent_leader_costs_one_new_view_per_replica_a_linear_view_change() -> None:
    # n=7: replica 0 never speaks; the views it leads time out; each of the other
    # n-1 replicas (the silent one's messages are counted, then dropped) sends ONE
    # NEW-VIEW to the next leader: 6 messages per view change (PBFT: quadratic)
    result = run_named(
        "hotstuff-normal", adversaries=["silent-primary:nodes=[0]"], params={"n": 7}, **IDEAL
    )
    m = result.metrics
    assert result.ok, result.violated
    assert m["view_changes"] >= 2
    assert m["messages_per_view_change"] == 6
    pbft = run_named(
        "pbft-normal", adversaries=["silent-primary:nodes=[0]"], params={"n": 7}, **IDEAL
    )
    assert pbft.metrics["messages_per_view_change"] >= 7 * 6  # 2f+1.. view-changes each to n-1


def test_view_change_scenario_answers_every_request_after_gst() -> None:
    result = run_named("hotstuff-view-change", **IDEAL)
    assert result.ok, {k: v.witness for k, v in result.verdicts.items() if not v.holds}
    assert result.verdicts["liveness-after-gst"].exercised
    assert result.metrics["committed"] == 20
    assert result.metrics["view_changes"] >= 5  # the silent replica leads every 4th view
    # at most one NEW-VIEW per replica but the next leader (some views end by a
    # timeout at only a few replicas while the others decide)
    assert result.metrics["messages_per_view_change"] <= 3


def test_timeouts_double_after_consecutive_failed_views() -> None:
    # n=7, f=2: leaders 0 and 1 silent; replica 5 times out of view 0 after T, of
    # view 1 after 2T (one failure behind it), then view 2 succeeds and resets.
    # View 1 never starts (its leader is silent, so no PREPARE tells the replicas
    # that n-f of them are there): at 2T each replica but its leader broadcasts its
    # NEW-VIEW (6 replicas, replica 0's counted then dropped, to 6 others) and
    # leaves one hop later, once it knows n-f replicas gave up on view 1 too
    result = run_named(
        "hotstuff-normal",
        adversaries=["silent-primary:nodes=[0,1]"],
        params={"n": 7, "clients": 1, "requests": 1},
        **IDEAL,
    )
    mine = [
        (o.round, o.data["view"]) for o in result.record.outputs_named("view-change") if o.node == 5
    ]
    (r1, v1), (r2, v2) = mine[:2]
    assert (v1, v2) == (1, 2)
    assert r1 == 1 + 10 and r2 - r1 == 20 + 1
    sent = result.record.sent
    assert sent[r1].get("new-view") == 6  # to leader 1 only: the linear view change
    assert sent[r1 + 20].get("new-view") == 6 * 6
    assert all(not sent[r].get("new-view") for r in range(r1 + 1, r1 + 20))
    assert result.ok, result.violated


def test_liveness_bound_follows_its_formula() -> None:
    p = resolve("hotstuff", HotStuff.params, {})
    # W = f*(ceil(C/(n-f))+1) = 2 failed views; (W+1)*(T*2^k + hop) + (C+1)*9*hop + hop
    assert liveness_bound(p, 0) == 3 * (10 * 4 + 1) + 3 * 9 + 1 == 151
    assert liveness_bound(p, 2) == 3 * (40 + 3) + 3 * 27 + 3


def _engine(rounds: int = 5) -> Engine:
    spec = HotStuff()
    return Engine(
        spec, resolve("hotstuff", spec.params, {}), seed=0, rounds=rounds, signatures="ideal"
    )


def test_forged_and_malformed_messages_are_rejected_without_crashing_a_replica() -> None:
    engine = _engine()
    keys = engine.keys
    replica = engine.nodes[2]
    engine.round = 1
    req = keys.sign(4, Request(Operation(4, 0, 7)))
    node = Node(GENESIS, 1, (req,))
    digest = node_hash(node)
    two_votes = tuple(keys.sign(r, PrepareVote(1, digest, r)) for r in (0, 1))
    forged_vote = Signed(3, PrepareVote(1, digest, 3), b"\x00" * 8)
    inbox = [
        (1, "garbage"),
        (1, keys.sign(1, "not a message")),
        (1, keys.sign(1, Prepare("x", node, GENESIS_QC, ()))),  # malformed view
        (3, keys.sign(3, Prepare(0, node, GENESIS_QC, ()))),  # not the leader of view 0
        (0, keys.sign(0, Prepare(0, Node(GENESIS, 0, ("junk",)), GENESIS_QC, ()))),  # bad batch
        (1, keys.sign(1, Prepare(1, node, GENESIS_QC, ()))),  # future view without certificate
        (1, keys.sign(1, PreCommit(1, QC("prepare", 1, digest, two_votes)))),  # 2 votes, not 3
        (1, keys.sign(1, PreCommit(1, QC("prepare", 1, digest, (*two_votes, forged_vote))))),
        (1, keys.sign(1, Decide(1, QC("commit", 1, digest, two_votes)))),
        (0, keys.sign(1, NewView(1, GENESIS_QC, 1))),  # relayed by another node
        (3, Fetch(b"short", 3)),
        (3, Block(Node(b"x", 0, ()))),
        (4, keys.sign(2, Request(Operation(4, 0, 7)))),  # a request signed by a replica
    ]
    replica.on_round(engine.ctxs[2], inbox)
    assert engine.record.rejected == len(inbox)
    assert not engine.record.bugs
    assert replica.view == 0 and replica.locked_qc == GENESIS_QC


GARBAGE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 2**70),
    st.binary(max_size=20),
    st.text(max_size=3),
    st.lists(st.integers(0, 3), max_size=2).map(tuple),
)


@settings(max_examples=60)
@given(index=st.integers(0, 5), field=st.integers(0, 3), value=GARBAGE, signer=st.integers(0, 5))
def test_any_field_of_any_message_can_be_garbage_without_crashing(
    index: int, field: int, value: object, signer: int
) -> None:
    import attrs

    engine = _engine()
    keys = engine.keys
    req = keys.sign(4, Request(Operation(4, 0, 1)))
    node = Node(GENESIS, 0, (req,))
    digest = node_hash(node)
    messages = [
        Prepare(0, node, GENESIS_QC, ()),
        PrepareVote(0, digest, 1),
        PreCommit(0, GENESIS_QC),
        Decide(0, QC("commit", 0, digest, ())),
        NewView(1, GENESIS_QC, 2),
        Node(GENESIS, 0, (req,)),
    ]
    message = messages[index]
    names = [f.name for f in attrs.fields(type(message))]
    broken = attrs.evolve(message, **{names[field % len(names)]: value})
    for dst in (0, 1):
        engine.nodes[dst].on_round(engine.ctxs[dst], [(signer, keys.sign(signer, broken))])
    assert not engine.record.bugs


def test_a_run_is_byte_identical_under_any_hash_seed() -> None:
    args = ["run", "hotstuff-view-change", "--signatures", "ideal", "--json"]
    assert len({digest_in_fresh_process(args, seed) for seed in ("1", "2")}) == 1


def test_the_search_finds_nothing_within_the_fault_model() -> None:
    searcher = Searcher(scenario.load("hotstuff-normal"))
    assert searcher.model.faults == 1
    outcome = searcher.search(examples=25, seed=0)
    assert outcome.counterexample is None, outcome.counterexample and outcome.counterexample.witness


# -- the pacemaker's liveness bug (found by 'bft check hotstuff-view-change') -----------------

PACEMAKER = Path(__file__).resolve().parent / "regressions" / "hotstuff-pacemaker-liveness.toml"


class TimersOnly(Replica):
    """The pacemaker before the fix: a replica leaves a view whenever its own timer
    expires, whether or not the others ever got there, and nothing else moves it."""

    def _pace(self, ctx: Context) -> None:
        if self.timer is not None and ctx.round >= self.timer:
            self._time_out(ctx)

    def _join_target(self) -> int | None:
        return None

    def _progress(self, ctx: Context) -> None:
        pass  # a PREPARE or QC did not restart the timer either


class HotStuffTimersOnly(HotStuff):
    name = "hotstuff-timers-only"
    summary = "HotStuff whose replicas leave a view on their own timer alone (the old pacemaker)"

    def make_node(self, node_id: int, p: Params) -> NodeBase:
        cfg = self.config(p)
        if node_id < cfg.n:
            return TimersOnly(node_id, cfg, p["view_timeout"], p["max_backoff"], p["batch"])
        return super().make_node(node_id, p)


@pytest.fixture
def timers_only() -> Iterator[None]:
    registry.register("protocol", HotStuffTimersOnly.name, HotStuffTimersOnly)
    yield
    registry.unregister("protocol", HotStuffTimersOnly.name)


def entries(result: RunResult, node: int) -> dict[int, int]:
    """view -> the round ``node`` entered it on a timeout."""
    return {
        o.data["view"]: o.round
        for o in result.record.outputs_named("view-change")
        if o.node == node
    }


def test_a_replica_that_saw_a_decision_the_others_lost_no_longer_runs_ahead() -> None:
    """Within f=1 and partial synchrony (GST 30): replica 2 crashes in round 7 (back
    only in round 470), and replica 0 is cut off in rounds 9-11, so view 0's DECIDE
    reaches only replica 0 (it answers client 5) and its NEW-VIEW for view 1 is lost.
    From GST on, replicas 0, 1 and 3 are correct and connected: they are the n-f the
    protocol needs, and they must answer client 4 by round 363.

    The cause (``test_..._with_timers_alone``): replica 0 entered view 1 ten rounds
    before the others and with its backoff reset by the decision, so it reaches
    every later view 70 rounds before replicas 1 and 3 and, its timeout no longer
    than theirs, leaves 10 rounds after they arrive: too soon for any proposal to
    be decided. Not the backoff cap: without it the overlap is still 10 rounds.
    The fix: a replica leaves a view on a timeout only once the view started (n-f
    replicas are known to have reached it). View 1 never starts (its leader misses
    replica 0's NEW-VIEW), so at their timeout replicas 1 and 3 tell everyone they
    wait there; replica 0, already in view 2, answers, and they move on. Replica 0
    then waits in view 3 until its leader gathers the others, and view 3 decides."""
    result = run(scenario.load(str(PACEMAKER)))
    assert result.violated == [], {k: result.verdicts[k].witness for k in result.violated}
    assert result.verdicts["liveness-after-gst"].exercised
    zero, one, three = entries(result, 0), entries(result, 1), entries(result, 3)
    assert one[1] == three[1] == 21 and 1 not in zero  # replica 0 entered view 1 by the DECIDE
    # view 1's timers (2T after one failure) expire: 1 and 3 each tell the 3 others
    assert result.record.sent[one[1] + 40].get("new-view") == 2 * 3
    assert zero[2] < min(one[2], three[2]) and one[3] == three[3]
    proposal = next(o.round for o in result.record.outputs_named("new-view") if o.data["view"] == 3)
    answered = {o.data["req"]: o.round for o in result.record.outputs_named("accept")}
    assert zero[3] < one[3] < proposal < answered["4:0:15327"] < proposal + 9 * 3
    assert 4 not in zero  # replica 0 no longer leaves view 3 before it decides
    assert answered["4:0:15327"] < 363  # the deadline (B = 333 after GST)


def test_the_same_schedule_starves_client_4_with_timers_alone(timers_only: None) -> None:
    loaded = scenario.load(str(PACEMAKER))
    result = run(attrs.evolve(loaded, protocol=HotStuffTimersOnly.name))
    assert result.verdicts["liveness-after-gst"].witness == (
        "client 4's request 4:0:15327 submitted in round 0 was answered only in round 475; "
        "the deadline was round 363 (333 rounds after max(submission, GST=30))"
    )
    zero, one = entries(result, 0), entries(result, 1)
    assert entries(result, 3) == {v: r for v, r in one.items() if v != 1 or r < 470}
    # replica 0 enters each view 70 rounds before replicas 1 and 3 and leaves it 10
    # rounds after they arrive (its timeout 80, as theirs, both capped at 2^2 T)
    for view in range(3, 8):
        assert one[view] - zero[view] == 70 and zero[view + 1] - one[view] == 10
    # without the cap the timeouts keep doubling, but replica 0's backoff is one step
    # behind (it saw view 0 decide), so it still leaves 10 rounds after they arrive
    uncapped = run(
        attrs.evolve(
            loaded, protocol=HotStuffTimersOnly.name, params={**loaded.params, "max_backoff": 10}
        )
    )
    zero, one = entries(uncapped, 0), entries(uncapped, 1)
    assert [zero[v + 1] - one[v] for v in (1, 2, 3)] == [10, 10, 10]
