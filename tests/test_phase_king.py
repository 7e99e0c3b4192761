"""Phase King: agreement and validity with n > 4f, in 2(f+1) rounds."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bft import NodeHarness
from bft.core.errors import ConfigError
from bft.core.trace import read_trace
from bft.protocols.phase_king import King, PhaseKing, PhaseKingNode, Vote
from bft.run import scenario
from bft.run.runner import RunResult, run
from tests.helpers import run_named


def run_traced(trace: Path, adversary: str, **overrides: object) -> RunResult:
    base = scenario.load("phase-king")
    advs = [scenario.parse_adversary(adversary)]
    return run(scenario.with_overrides(base, adversaries=advs, **overrides), trace_path=trace)  # type: ignore[arg-type]


@pytest.mark.parametrize(("n", "f"), [(5, 1), (9, 2), (13, 3), (2, 0)])
def test_fault_free_message_count_and_rounds(n: int, f: int) -> None:
    result = run_named("phase-king", adversaries=["none"], params={"n": n, "f": f, "inputs": None})
    assert result.ok
    # each phase: n(n-1) votes and the king's n-1 messages
    assert result.metrics["messages"] == (f + 1) * (n - 1) * (n + 1)
    assert result.metrics["decision_round"] == 2 * (f + 1)


@given(
    data=st.data(),
    f=st.integers(0, 2),
    seed=st.integers(0, 2**32),
    strategy=st.sampled_from(["split", "flip", "random"]),
)
def test_agreement_and_validity_with_n_above_4f(
    data: st.DataObject, f: int, seed: int, strategy: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    n = data.draw(st.integers(max(2, 4 * f + 1), 4 * f + 3), label="n")
    corrupted = data.draw(
        st.lists(st.integers(0, n - 1), max_size=f, unique=True), label="corrupted"
    )
    inputs = data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n), label="inputs")
    adversary = f"traitor:nodes={corrupted},strategy={strategy}" if corrupted else "none"
    trace = tmp_path_factory.mktemp("pk") / "trace.jsonl"
    result = run_traced(trace, adversary, params={"n": n, "f": f, "inputs": inputs}, seed=seed)
    for name in ("agreement", "validity", "integrity", "termination", "no-exceptions"):
        assert result.verdicts[name].holds, (name, result.verdicts[name].witness)
    assert result.beyond_bound is None
    _, events = read_trace(trace)
    honest = set(range(n)) - set(corrupted)
    sends = [e["r"] for e in events if e["ev"] == "send" and e["src"] in honest]
    _, events = read_trace(trace)
    decisions = {e["r"] for e in events if e["ev"] == "output" and e["name"] == "decide"}
    assert decisions == {2 * (f + 1)}  # docs/facts.md: 2(f+1) rounds
    assert max(sends) <= 2 * (f + 1) - 1  # messages in rounds 0 .. 2f+1
    if f in honest:  # the last king speaks in round 2f+1
        assert max(sends) == 2 * (f + 1) - 1


def test_unanimous_honest_nodes_keep_their_value_against_a_lying_king() -> None:
    result = run_named(
        "phase-king",
        adversaries=["traitor:nodes=[0],strategy=flip"],
        params={"inputs": [1, 1, 1, 1, 1]},
    )
    assert result.verdicts["validity"].holds and result.verdicts["validity"].exercised
    assert result.ok


def test_n_equal_4f_loses_validity_to_a_split_king() -> None:
    # n=4, f=1 is outside n > 4f: three honest votes for 1 do not pass n/2+f = 3,
    # so honest nodes follow the traitorous king of phase 0.
    result = run_named(
        "phase-king",
        adversaries=["traitor:nodes=[0],strategy=split"],
        params={"n": 4, "f": 1, "inputs": [1, 1, 1, 1]},
    )
    verdict = result.verdicts["validity"]
    assert not verdict.holds
    assert "every honest node started with 1" in verdict.witness
    assert result.beyond_bound is not None and "n > 4f" in result.beyond_bound


def test_bad_inputs_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="one value per node"):
        run_named("phase-king", params={"inputs": [1, 0]})
    with pytest.raises(ConfigError, match="0 or 1"):
        run_named("phase-king", params={"inputs": [1, 0, 2, 1, 1]})


def test_wrong_phase_duplicate_and_impostor_messages_are_rejected() -> None:
    params = {"n": 5, "f": 1, "inputs": (1, 1, 1, 1, 1), "value": None}
    node = PhaseKing().make_node(3, params)
    assert isinstance(node, PhaseKingNode)
    harness = NodeHarness(node, n=5, node_id=3)
    harness.step(round=0)
    step = harness.step(
        [(1, Vote(0, 0)), (1, Vote(0, 0)), (2, Vote(1, 0)), (4, Vote(0, 7)), (0, "junk")],
        round=1,
    )
    assert len(step.rejected) == 4
    assert (node.maj, node.mult) == (0, 1)  # its own 1 and one valid 0: a tie goes to 0
    step = harness.step([(2, King(0, 0)), (0, King(0, 0)), (0, King(0, 1))], round=2)
    assert len(step.rejected) == 2
    assert node.pref == 0  # mult 1 is not > n/2 + f, so it follows king 0 (which said 0)
