"""Dolev-Strong: agreement and validity for any t < n corrupted nodes, in t+1 rounds."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bft import NodeHarness
from bft.core.errors import ConfigError
from bft.core.trace import read_trace
from bft.protocols.dolev_strong import DolevStrong, DolevStrongNode, DSValue
from bft.run import scenario
from bft.run.runner import RunResult, run
from tests.helpers import run_named


def run_traced(name: str, trace: Path, adversary: str, **overrides: object) -> RunResult:
    base = scenario.load(name)
    advs = [scenario.parse_adversary(adversary)]
    return run(scenario.with_overrides(base, adversaries=advs, **overrides), trace_path=trace)  # type: ignore[arg-type]


def trace_rounds(path: Path, honest: set[int]) -> tuple[int, int]:
    """From a full trace: the last round an honest node sent in, and the last decision round."""
    _, events = read_trace(path)
    last_send, last_decision = -1, -1
    for ev in events:
        if ev["ev"] == "send" and ev["src"] in honest:
            last_send = max(last_send, ev["r"])
        if ev["ev"] == "output" and ev["name"] == "decide":
            last_decision = max(last_decision, ev["r"])
    return last_send, last_decision


@pytest.mark.parametrize(("n", "t"), [(4, 1), (5, 3), (3, 2), (2, 1)])
def test_fault_free_messages_and_rounds(n: int, t: int) -> None:
    result = run_named("dolev-strong", adversaries=["none"], params={"n": n, "t": t})
    assert result.ok
    # the sender's n-1 chains, then every other node relays once to the n-2 not on its chain
    assert result.metrics["messages"] == (n - 1) ** 2
    assert result.metrics["decision_round"] == t + 1


@given(
    data=st.data(),
    n=st.integers(2, 6),
    seed=st.integers(0, 2**32),
    strategy=st.sampled_from(["random", "split", "silent"]),
)
def test_agreement_and_validity_for_any_t_below_n(
    data: st.DataObject, n: int, seed: int, strategy: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    t = data.draw(st.integers(0, n - 1), label="t")
    corrupted = data.draw(
        st.lists(st.integers(0, n - 1), min_size=1, max_size=max(t, 1), unique=True),
        label="corrupted",
    )
    if t == 0:
        corrupted = []
    adversary = f"ds-byzantine:nodes={corrupted},strategy={strategy}" if corrupted else "none"
    trace = tmp_path_factory.mktemp("ds") / "trace.jsonl"
    result = run_traced(
        "dolev-strong", trace, adversary, params={"n": n, "t": t}, seed=seed, signatures="ideal"
    )
    for name in ("agreement", "validity", "integrity", "termination", "no-exceptions"):
        assert result.verdicts[name].holds, (name, result.verdicts[name].witness)
    assert result.beyond_bound is None
    assert result.record.refused == []
    honest = set(range(n)) - set(corrupted)
    last_send, last_decision = trace_rounds(trace, honest)
    assert last_decision == t + 1  # docs/facts.md: t+1 rounds
    assert last_send <= t  # the messages of rounds 0..t are all it needs


def test_corrupted_sender_equivocating_is_caught_by_relays() -> None:
    # n=3, t=2: beyond OM's n >= 3t+1 bound, but signatures make it safe.
    result = run_named(
        "dolev-strong",
        adversaries=["ds-byzantine:nodes=[0,1],strategy=split"],
        params={"n": 3, "t": 2},
    )
    assert result.ok, {k: v.witness for k, v in result.verdicts.items()}
    assert result.verdicts["agreement"].exercised is False  # only one honest node
    result = run_named(
        "dolev-strong",
        adversaries=["ds-byzantine:nodes=[0],strategy=split"],
        params={"n": 4, "t": 1},
    )
    assert result.ok
    assert result.metrics["decision_round"] == 2
    assert result.verdicts["agreement"].exercised


def test_too_many_corrupted_nodes_are_flagged_beyond_bound() -> None:
    result = run_named(
        "dolev-strong",
        adversaries=["ds-byzantine:nodes=[0,1,2]"],
        params={"n": 5, "t": 1},
    )
    assert result.beyond_bound is not None and "exceed" in result.beyond_bound


def test_t_must_be_below_n() -> None:
    with pytest.raises(ConfigError, match="t must be < n"):
        run_named("dolev-strong", params={"n": 3, "t": 3})


def test_forged_short_and_replayed_chains_are_rejected() -> None:
    node = DolevStrong().make_node(2, {"n": 4, "t": 2, "sender": 0, "value": 1})
    assert isinstance(node, DolevStrongNode)
    harness = NodeHarness(node, n=4, node_id=2, signatures="real")
    good = harness.sign(0, DSValue(0, 1))
    forged = type(good)(0, DSValue(0, 0), good.signature)  # signature copied onto another value
    step = harness.step(
        [
            (3, forged),
            (3, harness.sign(3, DSValue(0, 0))),  # not signed by the sender
            (1, harness.sign(1, harness.sign(0, DSValue(0, 0)))),  # two signatures in round 1
            (3, "garbage"),
            (0, good),
        ],
        round=1,
    )
    assert len(step.rejected) == 4
    assert node.extracted == [1]
    # relayed (one multicast) to the nodes not on the chain, as one entry
    assert [dst for dst, _ in step.sent] == [1, 3]
    assert [dst for _, dst, _ in harness.out] == [(1, 3)]


class EarlyNode(DolevStrongNode):
    """Dolev-Strong deciding one round early (round t): the t+1 lower bound says it must fail."""

    def decision_round(self) -> int:
        return max(self.t, 1)


class EarlyDolevStrong(DolevStrong):
    name = "ds-early-test"
    node_class = EarlyNode


def test_the_adversary_breaks_a_protocol_that_stops_one_round_early() -> None:
    # The same random adversary that never breaks Dolev-Strong above breaks it when
    # nodes decide in round t: so the Hypothesis test exercises the t+1 argument.
    from bft.core import registry

    registry.register("protocol", EarlyDolevStrong.name, EarlyDolevStrong)
    try:
        broken = {
            protocol: sum(
                not run_named(
                    "dolev-strong",
                    protocol=protocol,
                    adversaries=["ds-byzantine:nodes=[0,2,4],strategy=random"],
                    params={"n": 5, "t": 3},
                    seed=seed,
                    signatures="ideal",
                )
                .verdicts["agreement"]
                .holds
                for seed in range(30)
            )
            for protocol in ("dolev-strong", EarlyDolevStrong.name)
        }
    finally:
        registry.unregister("protocol", EarlyDolevStrong.name)
    assert broken["dolev-strong"] == 0
    assert broken[EarlyDolevStrong.name] > 0
