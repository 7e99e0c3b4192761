"""Nodes start with only what their role may know, and termination is vacuous when
no node had to decide."""

from __future__ import annotations

import pytest

from bft.protocols.dolev_strong import DolevStrong
from bft.protocols.om import OralMessages
from bft.protocols.phase_king import PhaseKing
from bft.run import runner, scenario


def _params(spec: type, **given: object) -> dict[str, object]:
    from bft.core.params import resolve

    return resolve("test", spec.params, given)


@pytest.mark.parametrize("commander", [0, 2])
def test_only_the_commander_knows_the_order(commander: int) -> None:
    spec = OralMessages()
    p = _params(OralMessages, n=4, commander=commander, value=1)
    for node in range(4):
        known = spec.node_params(node, p)
        assert known["value"] == (1 if node == commander else None)
        general = spec.make_node(node, p)
        assert general.order == known["value"]


def test_only_the_sender_knows_its_value() -> None:
    spec = DolevStrong()
    p = _params(DolevStrong, n=4, t=1, sender=3, value=0)
    assert [spec.node_params(i, p)["value"] for i in range(4)] == [None, None, None, 0]
    assert [spec.make_node(i, p).value for i in range(4)] == [None, None, None, 0]


def test_a_phase_king_node_knows_its_own_input_only() -> None:
    spec = PhaseKing()
    p = _params(PhaseKing, n=5, f=1, inputs=[0, 1, 1, 0, 1])
    for node in range(5):
        known = spec.node_params(node, p)
        assert known == {"n": 5, "f": 1, "input": [0, 1, 1, 0, 1][node]}
        assert spec.make_node(node, p).pref == known["input"]


@pytest.mark.parametrize(
    ("name", "crash"),
    [
        ("dolev-strong", "[0,1,2,3]"),
        ("byzantine-generals", "[1,2,3]"),
        ("phase-king", "[0,1,2,3,4]"),
    ],
)
def test_termination_is_vacuous_when_no_node_had_to_decide(name: str, crash: str) -> None:
    base = scenario.load(name)
    scn = scenario.with_overrides(
        base, adversaries=[scenario.parse_adversary(f"crash:nodes={crash},at=0")]
    )
    verdict = runner.run(scn).verdicts["termination"]
    assert verdict.holds and not verdict.exercised


def test_termination_is_violated_when_a_correct_node_never_decides() -> None:
    scn = scenario.with_overrides(scenario.load("dolev-strong"), rounds=1, adversaries=[])
    assert not runner.run(scn).verdicts["termination"].holds
