"""Dolev-Strong's decision round and Phase King's two lemmas, as properties.

``decision-round``: no honest node decides before the round the protocol's proof
needs (Dolev-Strong t+1, Phase King 2(f+1)). ``king-unifies``: after a phase with
an honest king, honest nodes agree. ``persistence``: agreement, once reached, is
kept. Each holds for the real protocols within their bound, under any of the
shipped adversaries' strategies, and names the round and nodes when broken.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bft.core.network import Network
from bft.core.record import Output, RunRecord
from bft.protocols.agreement_properties import decision_round_property, king_properties
from tests.helpers import run_named

PK_PROMISES = ("decision-round", "king-unifies", "persistence")


def record_of(n: int, outputs: list[Output], corrupted: frozenset[int] = frozenset()) -> RunRecord:
    record = RunRecord(
        n=n, rounds=10, seed=0, params={}, roles=("node",) * n, network=Network(), outputs=outputs
    )
    record.corrupted = corrupted
    return record


@settings(max_examples=25, deadline=None)
@given(
    data=st.data(),
    n=st.integers(2, 6),
    seed=st.integers(0, 2**32),
    strategy=st.sampled_from(["random", "split", "silent"]),
)
def test_dolev_strong_never_decides_before_t_plus_1(
    data: st.DataObject, n: int, seed: int, strategy: str
) -> None:
    t = data.draw(st.integers(0, n - 1), label="t")
    corrupted = data.draw(
        st.lists(st.integers(0, n - 1), max_size=t, unique=True), label="corrupted"
    )
    adversary = f"ds-byzantine:nodes={corrupted},strategy={strategy}" if corrupted else "none"
    result = run_named("dolev-strong", adversaries=[adversary], params={"n": n, "t": t}, seed=seed)
    verdict = result.verdicts["decision-round"]
    assert verdict.holds, verdict.witness
    assert verdict.exercised == (any(i != 0 for i in result.record.correct))
    assert result.ok, result.violated


def test_deciding_early_is_caught_with_the_node_and_the_round() -> None:
    prop = decision_round_property(0, 3, "t+1 rounds are necessary")
    early = record_of(
        4, [Output(0, 0, "decide", {"value": 1}), Output(2, 1, "decide", {"value": 1})]
    )
    assert prop.check(early).witness == (
        "node 1 decided 1 in round 2, before round 3 (t+1 rounds are necessary)"
    )
    # the sender decides its own value at once; a corrupted node's decision is not judged
    fine = record_of(
        4, [Output(0, 0, "decide", {"value": 1}), Output(3, 1, "decide", {"value": 1})]
    )
    assert prop.check(fine).holds
    assert prop.check(record_of(4, early.outputs, frozenset({1}))).holds


@settings(max_examples=25, deadline=None)
@given(
    data=st.data(),
    f=st.integers(0, 2),
    seed=st.integers(0, 2**32),
    strategy=st.sampled_from(["split", "flip", "random"]),
)
def test_phase_king_lemmas_hold_with_n_above_4f(
    data: st.DataObject, f: int, seed: int, strategy: str
) -> None:
    n = data.draw(st.integers(max(2, 4 * f + 1), 4 * f + 3), label="n")
    corrupted = data.draw(
        st.lists(st.integers(0, n - 1), max_size=f, unique=True), label="corrupted"
    )
    inputs = data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n), label="inputs")
    adversary = f"traitor:nodes={corrupted},strategy={strategy}" if corrupted else "none"
    result = run_named(
        "phase-king",
        adversaries=[adversary],
        params={"n": n, "f": f, "inputs": inputs},
        seed=seed,
    )
    for name in PK_PROMISES:
        assert result.verdicts[name].holds, (name, result.verdicts[name].witness)
    # at least one of the f+1 kings is honest: king-unifies is always judged
    assert result.verdicts["king-unifies"].exercised


def test_the_shipped_scenarios_keep_the_promises() -> None:
    pk = run_named("phase-king")
    for name in PK_PROMISES:
        assert pk.verdicts[name].holds and pk.verdicts[name].exercised, name
    ds = run_named("dolev-strong")
    assert ds.verdicts["decision-round"].holds and ds.verdicts["decision-round"].exercised


def prefer(phase: int, node: int, value: int) -> Output:
    return Output(2 * phase + 2, node, "prefer", {"phase": phase, "value": value})


def test_king_unifies_and_persistence_name_the_phase_and_the_nodes() -> None:
    unifies, persists = king_properties([0, 1], (1, 0, 1, 0, 1))
    # node 0 is a traitor king (phase 0): disagreement after it is allowed
    split = [prefer(0, i, i % 2) for i in range(1, 5)] + [prefer(1, i, i % 2) for i in range(1, 5)]
    verdict = unifies.check(record_of(5, split, frozenset({0})))
    assert verdict.witness == (
        "phase 1 had an honest king (node 1), yet at its end in round 4 honest nodes still "
        "preferred different values (node 1: 1, node 2: 0, node 3: 1, node 4: 0)"
    )
    agreed = [prefer(0, i, 1) for i in range(1, 5)] + [prefer(1, 1, 1), prefer(1, 2, 0)]
    agreed += [prefer(1, 3, 1), prefer(1, 4, 1)]
    verdict = persists.check(record_of(5, agreed, frozenset({0})))
    assert verdict.witness == (
        "every honest node preferred 1 after phase 0, but node 2 preferred 0 after phase 1 "
        "(round 4)"
    )
    unanimous_start = king_properties([0, 1], (0, 1, 1, 1, 1))[1]
    flipped = [prefer(0, i, 0) for i in range(1, 5)]
    assert unanimous_start.check(record_of(5, flipped, frozenset({0}))).witness.startswith(
        "every honest node preferred 1 at the start, but node 1 preferred 0 after phase 0"
    )
