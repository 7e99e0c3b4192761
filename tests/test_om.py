"""OM(m): exact message counts, the n >= 3m+1 bound, and every single traitor."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bft.protocols.om import majority, message_count
from tests.helpers import run_named


@pytest.mark.parametrize(("n", "m", "expected"), [(4, 1, 9), (7, 2, 156), (5, 1, 16), (4, 0, 3)])
def test_fault_free_message_count_matches_the_paper(n: int, m: int, expected: int) -> None:
    result = run_named("byzantine-generals", adversaries=["none"], params={"n": n, "m": m})
    assert result.metrics["messages"] == expected == message_count(n, m)
    assert result.ok
    assert result.metrics["decision_round"] == m + 1


@given(
    traitor=st.integers(0, 3),
    seed=st.integers(0, 2**32),
    strategy=st.sampled_from(["split", "flip", "random"]),
)
def test_om1_with_four_generals_survives_any_single_traitor(
    traitor: int, seed: int, strategy: str
) -> None:
    result = run_named(
        "byzantine-generals",
        adversaries=[f"traitor:nodes={traitor},strategy={strategy}"],
        seed=seed,
    )
    assert result.verdicts["agreement"].holds, result.verdicts["agreement"].witness
    assert result.verdicts["validity"].holds, result.verdicts["validity"].witness
    assert result.verdicts["termination"].holds
    assert result.beyond_bound is None


def test_three_generals_with_a_traitorous_lieutenant_violate_validity() -> None:
    result = run_named("byzantine-generals", params={"n": 3})
    assert not result.ok
    verdict = result.verdicts["validity"]
    assert not verdict.holds
    assert "loyal commander 0 ordered 1" in verdict.witness
    assert "lieutenant 1 decided 0" in verdict.witness
    assert result.beyond_bound is not None and "3m+1" in result.beyond_bound


def test_traitorous_commander_makes_validity_vacuous_but_agreement_holds() -> None:
    result = run_named("byzantine-generals", adversaries=["traitor:nodes=0"])
    assert result.verdicts["validity"].holds and not result.verdicts["validity"].exercised
    assert result.verdicts["agreement"].holds and result.verdicts["agreement"].exercised


def test_om2_with_seven_generals_survives_two_traitors() -> None:
    result = run_named(
        "byzantine-generals",
        adversaries=["traitor:nodes=[1,6],strategy=random"],
        params={"n": 7, "m": 2},
    )
    assert result.ok, {k: v.witness for k, v in result.verdicts.items()}


def test_om1_with_two_traitors_among_four_can_fail() -> None:
    # Beyond the bound (m=1 tolerates one traitor): a split commander plus a lying
    # lieutenant breaks agreement.
    failures = 0
    for seed in range(20):
        result = run_named(
            "byzantine-generals",
            adversaries=["traitor:nodes=[0,1],strategy=random"],
            params={"n": 4},
            seed=seed,
        )
        failures += not result.verdicts["agreement"].holds
    assert failures > 0


@pytest.mark.parametrize(
    ("votes", "expected"),
    [([1, 1, 0], 1), ([1, 0], 0), ([0, 1, 1, 1], 1), ([2, 2, 1, 1], 0), ([5], 5)],
)
def test_majority_needs_more_than_half(votes: list[int], expected: int) -> None:
    assert majority(votes) == expected


def test_messages_from_the_wrong_sender_are_rejected_not_crashing() -> None:
    from bft import NodeHarness
    from bft.protocols.om import General, OMMessage, OralMessages

    node = OralMessages().make_node(1, {"n": 4, "m": 1, "commander": 0, "value": 1})
    assert isinstance(node, General)
    step = NodeHarness(node, n=4, node_id=1).step(
        [(2, OMMessage((0,), 0)), (0, OMMessage((0,), 1)), (3, "garbage")], round=1
    )
    assert [src for src, _, _ in step.rejected] == [2, 3]
    assert node.received == {(0,): 1}
