"""The engine: rounds, network models, adversary powers, environment, crypto, traces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bft.core.crypto import KeyRing, Signed
from bft.core.engine import Engine
from bft.core.environment import Environment
from bft.core.network import Network
from bft.core.properties import NO_EXCEPTIONS
from bft.core.trace import TraceSink, read_trace
from tests.toy import Ping, Scripted, Toy


def make(
    mode: str = "echo",
    *,
    adversaries=(),
    network=None,
    environment=None,
    rounds=6,
    n=4,
    sink=None,
    **kw,
):
    params = {"n": n, "mode": mode, "load": kw.pop("load", 1.0)}
    return Engine(
        Toy(),
        params,
        seed=kw.pop("seed", 7),
        rounds=rounds,
        network=network,
        environment=environment,
        adversaries=adversaries,
        sink=sink,
        **kw,
    )


def test_a_message_sent_in_round_r_arrives_in_round_r_plus_1() -> None:
    engine = make()
    engine.run()
    node = engine.nodes[0]
    assert {r for r, _, _ in node.seen} == {1, 2, 3, 4, 5}
    assert sorted(src for r, src, _ in node.seen if r == 1) == [1, 2, 3]
    assert engine.record.messages == 4 * 3 * 6  # every node broadcasts every round
    assert engine.record.delivered == 4 * 3 * 5  # the last round's sends are never delivered


def test_synchronous_model_refuses_delays_and_drops_and_reports_why() -> None:
    def traffic(ctl):
        for env in ctl.envelopes[:2]:
            ctl.delay(env, 1)
            ctl.drop(env)

    engine = make(adversaries=[Scripted(traffic=traffic)], rounds=2)
    record = engine.run()
    assert record.delayed == record.dropped == 0
    reasons = [e.detail for e in record.refused]
    assert any("synchronous model forbids delaying" in r for r in reasons)
    assert any("synchronous model forbids dropping" in r for r in reasons)


@pytest.mark.parametrize(
    ("sent", "extra", "allowed"),
    [(0, 5, True), (0, 6, False), (3, 2, True), (6, 2, True), (6, 3, False), (2, 1, True)],
)
def test_partial_synchrony_bounds_delays_by_gst_and_delta(
    sent: int, extra: int, allowed: bool
) -> None:
    # gst=4, delta=2: before GST a message must arrive by round 6; after, at most 2 rounds late.
    network = Network(model="partial-synchrony", gst=4, delta=2)
    assert (network.refuse_delay(sent, extra) is None) == allowed


def test_partial_synchrony_allows_drops_only_before_gst() -> None:
    network = Network(model="partial-synchrony", gst=4, delta=2)
    assert network.refuse_drop(3) is None
    assert "after GST" in network.refuse_drop(4)
    assert Network(model="lossy").refuse_drop(100) is None


def test_delayed_messages_arrive_late_and_dropped_ones_never() -> None:
    def traffic(ctl):
        if ctl.round == 0:
            for env in ctl.envelopes:
                if env.src == 1 and env.dst == 0:
                    ctl.delay(env, 2)
                if env.src == 2 and env.dst == 0:
                    ctl.drop(env)

    engine = make(
        adversaries=[Scripted(traffic=traffic)], network=Network("lossy", delta=2), rounds=4
    )
    engine.run()
    seen = engine.nodes[0].seen
    assert [(r, s) for r, s, _ in seen if r == 1] == [(1, 3)]
    assert (3, 1) in [(r, s) for r, s, _ in seen]  # the delayed one, two rounds late
    assert engine.record.delayed == 1 and engine.record.dropped == 1


def test_adversary_cannot_sign_as_an_honest_node_and_forgeries_are_rejected() -> None:
    def setup(ctl):
        ctl.corrupt([3])

    def traffic(ctl):
        assert ctl.sign(0, Ping(5)) is None  # refused: no key for honest node 0
        forged = Signed(0, Ping(5), b"\x00" * 64)  # invented bytes
        ctl.inject(3, 1, forged)
        ctl.inject(0, 1, Ping(1))  # refused: cannot send as honest node 0
        ctl.inject(3, 2, ctl.sign(3, Ping(9)))  # fine: its own key

    engine = make(adversaries=[Scripted(setup=setup, traffic=traffic)], rounds=2)
    record = engine.run()
    reasons = " | ".join(e.detail for e in record.refused)
    assert "cannot sign as honest node 0" in reasons
    assert "cannot send as honest node 0" in reasons
    assert record.rejected == 1  # node 1 rejected the forgery, without crashing
    assert (1, 3, 9) in engine.nodes[2].seen
    assert NO_EXCEPTIONS.check(record).holds


def test_adversary_cannot_rewrite_honest_messages() -> None:
    def setup(ctl):
        ctl.corrupt([3])

    def traffic(ctl):
        for env in ctl.envelopes:
            ctl.replace(env, Ping(0))

    record = make(adversaries=[Scripted(setup=setup, traffic=traffic)], rounds=2).run()
    assert any("cannot change a message from honest node 0" in e.detail for e in record.refused)


def test_crashes_are_counted_as_faults_across_adversaries() -> None:
    def crash_one(node):
        def before(ctl):
            if ctl.round == 1:
                assert ctl.crash(node)

        return Scripted(before=before)

    engine = make(adversaries=[crash_one(1), crash_one(2)])
    record = engine.run()
    assert record.down[1] == [1, 2] and record.down[-1] == [1, 2]
    assert record.crashed == {1, 2} and record.faulty == {1, 2} and record.corrupted == set()
    assert record.honest == {0, 3}  # crashed nodes are faulty: properties leave them out
    assert all(src not in (1, 2) for r, src, _ in engine.nodes[0].seen if r >= 2)
    assert record.lost > 0  # messages to the crashed nodes are lost


def test_an_adversary_recovers_only_nodes_it_crashed() -> None:
    def crash(ctl):
        if ctl.round == 1:
            ctl.crash(1)

    def recover(ctl):
        if ctl.round == 2:
            assert not ctl.recover(1)

    record = make(adversaries=[Scripted(before=crash), Scripted(before=recover)]).run()
    assert any("this adversary did not crash it" in e.detail for e in record.refused)
    assert record.down[-1] == [1]


def test_crash_recover_keeps_state_and_restart_does_not() -> None:
    def before(ctl):
        if ctl.round == 2:
            ctl.crash(1)
            ctl.restart(2)
        if ctl.round == 4:
            ctl.recover(1)

    engine = make(adversaries=[Scripted(before=before)])
    engine.run()
    assert min(r for r, _, _ in engine.nodes[1].seen) == 1  # kept what it saw before the crash
    # a fresh node after the restart: back in round 3, with nothing from before
    assert min(r for r, _, _ in engine.nodes[2].seen) == 3
    kinds = [(e.round, e.kind, e.node) for e in engine.record.events]
    assert (2, "crash", 1) in kinds and (4, "recover", 1) in kinds and (3, "restart", 2) in kinds


def test_overload_takes_a_node_down_for_d_rounds() -> None:
    env = Environment(capacity=2.0, theta=1.5, down_rounds=3)
    ok = make("work", environment=env, load=3.0, rounds=8).run()  # 3.0 <= 1.5 * 2: fine
    assert ok.ever_down == frozenset()
    record = make("work", environment=env, load=3.5, rounds=8).run()
    # overloaded in round 0, down in rounds 1..3, back in round 4, overloaded again...
    assert record.down[0] == [0, 1, 2, 3] and record.down[3] == [0, 1, 2, 3]
    assert record.down[4] == [0, 1, 2, 3]  # back at round 4, overloaded again at once
    alive_rounds = sorted({o.round for o in record.outputs if o.node == 0})
    assert alive_rounds == [0, 4]
    assert max(record.peak_work) == 3.5


def test_poison_freezes_only_the_vulnerable_variant_and_discards_its_sends() -> None:
    env = Environment(variants=2, vulnerable=(1,))
    engine = make("poison", environment=env, rounds=5)
    record = engine.run()
    frozen = sorted(e.node for e in record.events_of("freeze"))
    assert frozen == [1, 3]  # node i runs variant i % 2
    assert record.sent[2]["ping"] == 2 * 3  # only nodes 0 and 2 got their broadcast out


def test_an_honest_node_that_raises_is_a_reported_protocol_bug() -> None:
    record = make("bug", seed=42).run()
    verdict = NO_EXCEPTIONS.check(record)
    assert not verdict.holds
    assert "honest node 1 raised in round 3: KeyError" in verdict.witness
    assert "--seed 42" in verdict.witness
    assert max(o.round for o in record.outputs if o.node == 0) == 5  # the others go on
    assert 1 not in record.correct


def test_verification_is_cached_per_distinct_signed_message() -> None:
    keys = KeyRing(n=4)
    signed = keys.sign(2, Ping(3))
    assert all(keys.verify(signed, signer=2) for _ in range(10))
    assert keys.verifications == 1
    assert not keys.verify(signed, signer=1)
    tampered = Signed(2, Ping(4), signed.signature)
    assert not keys.verify(tampered)


@pytest.mark.parametrize("mode", ["real", "ideal"])
@pytest.mark.parametrize("junk", [None, 0, "sig", b"", (), Ping(1)])
def test_anything_that_is_not_a_signed_message_never_verifies(mode: str, junk: object) -> None:
    """A malicious message may carry None or any value where a signature belongs
    (a certificate entry, say): it must not count as signed, with or without a signer."""
    keys = KeyRing(n=4, mode=mode)
    keys.verify(keys.sign(1, Ping(2)))  # a warm cache must not change the answer
    assert keys.verify(junk) is False
    assert keys.verify(junk, signer=1) is False


@pytest.mark.parametrize("mode", ["real", "ideal"])
def test_both_signature_modes_accept_genuine_and_reject_forged(mode: str) -> None:
    keys = KeyRing(n=3, mode=mode)
    good = keys.sign(1, Ping(1))
    assert keys.verify(good)
    assert not keys.verify(Signed(1, Ping(2), good.signature))
    assert not keys.verify(Signed(0, Ping(1), good.signature))
    other = KeyRing(n=3, mode=mode).sign(1, Ping(7))
    assert not keys.verify(other)  # made with another run's keys, never signed in this one


def test_ideal_and_real_signatures_give_the_same_behaviour() -> None:
    real = make(signatures="real").run()
    digests = []
    for mode in ("real", "ideal"):
        sink = TraceSink("summary")
        sink.header(signatures=mode)
        make(signatures=mode, sink=sink).run()
        digests.append(sink.digest)
    assert digests[0] == digests[1]
    assert real.messages == 72


def test_full_trace_is_json_lines_with_a_header_and_every_message(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    sink = TraceSink("full", path)
    sink.header(scenario="x", seed=7)
    record = make(sink=sink).run()
    header, events = read_trace(path)
    assert header["format"] == "bft-trace" and header["seed"] == 7 and header["level"] == "full"
    events = list(events)
    sends = [e for e in events if e["ev"] == "send"]
    delivers = [e for e in events if e["ev"] == "deliver"]
    assert len(sends) == record.messages and len(delivers) == record.delivered
    assert sends[0]["msg"]["$type"] == "Signed"
    lines = path.read_text().splitlines()
    assert all(json.loads(line) for line in lines)


def test_a_twin_copy_of_node_code_is_only_for_corrupted_nodes() -> None:
    built = {}

    def setup(ctl):
        built["honest"] = ctl.build_node(1)
        ctl.corrupt([2])
        built["corrupt"] = ctl.build_node(2)

    record = make(adversaries=[Scripted(setup=setup)], rounds=1).run()
    assert built["honest"] is None
    assert any("cannot run a copy of honest node 1" in e.detail for e in record.refused)
    assert type(built["corrupt"]).__name__ == "Echo"


def test_identity_memo_computes_once_per_object_and_never_confuses_objects() -> None:
    from bft.core.memo import by_identity

    calls: list[tuple[int, ...]] = []

    @by_identity(size=8)
    def total(value: tuple[int, ...]) -> int:
        calls.append(value)
        return sum(value)

    first = (1, 2, 3)
    assert total(first) == 6 and total(first) == 6
    assert len(calls) == 1  # the same object: remembered
    twin = tuple([1, 2, 3])  # equal but another object: computed again
    assert twin is not first and total(twin) == 6 and len(calls) == 2
    for k in range(50):  # fresh short-lived objects (ids get reused) never get stale answers
        assert total(tuple([k, k])) == 2 * k
    assert len(calls) == 52


def test_a_multicast_reaches_exactly_its_recipients_and_counts_each_copy() -> None:
    engine = make(rounds=2)  # echo nodes: each broadcasts a random ping (< 1000) every round
    ctx = engine.ctxs[0]
    group = (1, 3, 0)  # the sender in its own group is skipped
    ctx.multicast(group, ctx.sign(Ping(1001)))
    ctx.multicast(group, ctx.sign(Ping(1002)))  # the same tuple: its checked recipients reused
    ctx.multicast([2], ctx.sign(Ping(1003)))
    engine.run()
    got = {
        node: [value for _, src, value in engine.nodes[node].seen if src == 0 and value > 1000]
        for node in range(4)
    }
    assert got == {0: [], 1: [1001, 1002], 2: [1003], 3: [1001, 1002]}
    # the multicasts' 5 copies are counted like 5 sends, beside the 4 x 3 broadcast copies
    assert engine.record.sent[0]["ping"] == 5 + 4 * 3


def test_a_multicast_to_a_missing_node_is_the_senders_bug() -> None:
    engine = make(rounds=1)
    with pytest.raises(ValueError, match="node 0 multicast to node 9, which does not exist"):
        engine.ctxs[0].multicast((1, 9), Ping(1))
    with pytest.raises(ValueError, match="node 0 multicast to node -1"):
        engine.ctxs[0].multicast([-1], Ping(1))
    assert engine.out == []  # nothing of a refused multicast was sent


def test_ever_down_follows_a_growing_record() -> None:
    """ever_down is kept as the record grows (properties ask for it once per output,
    which made long runs quadratic: found by bench_fuzz, phase-king for 13,040 rounds)."""
    from bft.core.network import Network
    from bft.core.record import RunRecord

    record = RunRecord(4, 4, 0, {}, ("node",) * 4, Network())
    assert record.ever_down == frozenset()
    record.down.append([1])
    assert record.ever_down == {1}
    record.down[-1].append(2)  # the newest round may still be filling
    assert record.ever_down == {1, 2}
    record.down.extend([[], [3]])
    assert record.ever_down == {1, 2, 3} and record.correct == {0}


def test_an_ideal_signature_seen_before_its_signer_signed_is_accepted_once_signed() -> None:
    """A forger that predicts an honest message and sends it first must not get the
    honest copy rejected later: ideal verdicts change when the pair is signed, so only
    positive ones are cached."""
    import hashlib

    from bft.core.encoding import canonical_bytes

    ring = KeyRing(4, "ideal")
    payload = ("commit", 0, 1)
    data = canonical_bytes(payload)
    token = hashlib.blake2b(data, digest_size=8, key=(2).to_bytes(8, "big")).digest()
    assert not ring.verify(Signed(2, payload, token))  # not signed yet: refused
    honest = ring.sign(2, payload)
    assert ring.verify(honest)
    assert ring.verify(Signed(2, payload, token))  # the same pair, now signed


def test_a_forked_key_ring_keeps_the_keys_and_its_own_record_of_signing() -> None:
    import copy

    for mode in ("real", "ideal"):
        ring = KeyRing(4, mode)
        before = ring.sign(1, ("x",))
        fork = copy.deepcopy(ring)
        assert fork.verify(before) and ring.verify(before)
        later = fork.sign(1, ("y",))
        assert fork.verify(later)
        if mode == "ideal":  # signed in the fork only: the original never issued it
            assert not ring.verify(later)
        else:  # one identity per node across branches
            assert fork.public_key(1) is ring.public_key(1)


def test_touching_shows_exactly_the_messages_by_or_to_the_nodes_before_and_after_a_drop() -> None:
    Views = list[tuple[int, int, int, str, bool]]
    seen: list[tuple[Views, Views, Views]] = []

    def key(envs):  # type: ignore[no-untyped-def]
        return sorted((e.index, e.src, e.dst, e.kind, e.dropped) for e in envs)

    def traffic(ctl) -> None:  # type: ignore[no-untyped-def]
        lazy = key(ctl.touching({1}))  # built before any view exists
        ctl.drop(ctl.touching({1})[0])  # node 1 is corrupted: it may withhold
        full = key(e for e in ctl.envelopes if 1 in (e.src, e.dst))
        seen.append((lazy, full, key(ctl.touching({1}))))

    corrupt = Scripted(setup=lambda ctl: ctl.corrupt([1]), traffic=traffic)
    make(adversaries=[corrupt], rounds=3).run()
    assert len(seen) == 3
    for lazy, full, after in seen:
        assert len(lazy) == 6  # node 1 sends to 3 others and hears from 3 (n = 4)
        assert [k[:4] for k in lazy] == [k[:4] for k in full]
        assert after == full and sum(k[4] for k in after) == 1  # the drop is seen
