"""Tests of the plug-in, run after ``pip install`` (the entry points must exist).

Three levels: one node driven by hand (``bft.NodeHarness``: exact thresholds),
whole runs (``bft.run``: exact message counts and delivery rounds, the f bound
is tight), and a property-based search over schedules (``bft.schedules``).
"""

from __future__ import annotations

import bft
import pytest
from hypothesis import given, settings

from bft_bracha.messages import Echo, Quorums, Ready, Send
from bft_bracha.node import BrachaNode


def node(me: int, n: int = 4, f: int = 1, sender: int = 0) -> bft.NodeHarness:
    return bft.NodeHarness(BrachaNode(me, n=n, f=f, sender=sender, value=1), n=n)


def everyone_but(me: int, n: int = 4) -> list[int]:
    return [i for i in range(n) if i != me]


# -- one node, by hand ---------------------------------------------------------------------


def test_quorums_are_brachas() -> None:
    assert Quorums.of(4, 1) == Quorums(echo=3, amplify=2, deliver=3)
    assert Quorums.of(7, 2) == Quorums(echo=5, amplify=3, deliver=5)
    assert Quorums.of(10, 3) == Quorums(echo=7, amplify=4, deliver=7)
    assert Quorums.of(5, 1) == Quorums(echo=4, amplify=2, deliver=3)  # more than (n+f)/2


def test_the_sender_sends_and_echoes_in_round_0() -> None:
    step = node(0).step([])
    assert step.sent == tuple((i, Send(1)) for i in (1, 2, 3)) + tuple(
        (i, Echo(1)) for i in (1, 2, 3)
    )


def test_a_node_echoes_the_first_send_once_and_rejects_a_second() -> None:
    h = node(1)
    first = h.step([(0, Send(7))])
    assert first.sent == tuple((i, Echo(7)) for i in everyone_but(1))
    second = h.step([(0, Send(8))])
    assert second.sent == ()
    assert [reason for _, _, reason in second.rejected] == [
        "a second SEND from the sender (the first one counts)"
    ]


def test_a_send_from_another_node_is_rejected() -> None:
    step = node(1).step([(2, Send(7))])
    assert step.sent == ()
    assert step.rejected[0][2] == "SEND from node 2, but the sender is 0"


def test_malformed_messages_are_rejected_not_raised() -> None:
    step = node(1).step([(2, Echo("x")), (3, "junk"), (0, Ready(True))])  # type: ignore[arg-type]
    assert step.sent == ()
    assert len(step.rejected) == 3


def test_ready_needs_an_echo_quorum_counting_the_nodes_own_echo() -> None:
    h = node(1)  # n=4, f=1: ECHO quorum 3
    h.step([(0, Send(7))])  # its own ECHO: 1
    assert h.step([(0, Echo(7))]).sent == ()  # 2 of 3
    step = h.step([(2, Echo(7))])  # 3 of 3
    assert step.sent == tuple((i, Ready(7)) for i in everyone_but(1))


def test_echoes_for_different_values_do_not_add_up() -> None:
    h = node(1)
    h.step([(0, Send(7))])
    assert h.step([(0, Echo(7)), (2, Echo(8)), (3, Echo(8))]).sent == ()


def test_f_plus_1_readies_amplify_and_f_do_not() -> None:
    h = node(3, n=7, f=2)  # amplify at f+1 = 3 READYs
    assert h.step([(1, Ready(4)), (2, Ready(4))]).sent == ()
    step = h.step([(5, Ready(4))])
    # Bracha's step 2: a node that never echoed echoes too, then it sends READY
    assert step.sent == tuple((i, Echo(4)) for i in everyone_but(3, 7)) + tuple(
        (i, Ready(4)) for i in everyone_but(3, 7)
    )
    assert step.outputs == ()  # its own READY makes 4 of the 5 it needs


def test_delivery_needs_2f_plus_1_readies_and_happens_once() -> None:
    h = node(3, n=7, f=2)
    h.step([(1, Ready(4)), (2, Ready(4)), (5, Ready(4))])  # 3 + its own = 4
    step = h.step([(6, Ready(4))])  # 5 = 2f+1
    assert step.outputs == (("deliver", {"value": 4}),)
    assert h.step([(0, Ready(4))]).outputs == ()


# -- whole runs -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 7, 10])
def test_fault_free_runs_deliver_in_round_3_with_the_textbook_message_count(n: int) -> None:
    result = bft.run("bracha-normal", params={"n": n, "f": (n - 1) // 3})
    assert all(v.holds and v.exercised for v in result.verdicts.values())
    assert result.metrics["delivered"] == n
    assert result.metrics["delivery_round"] == 3
    # n-1 SENDs, then every node sends n-1 ECHOs and n-1 READYs
    assert result.metrics["messages"] == (n - 1) + 2 * n * (n - 1)


def test_a_split_sender_within_f_cannot_split_the_honest_nodes() -> None:
    result = bft.run("bracha-split")  # n=7, f=2: nodes 0 and 6 corrupted
    agreement = result.verdicts["agreement"]
    assert agreement.holds and agreement.exercised
    assert result.verdicts["totality"].holds
    assert result.metrics["delivered"] == 5
    assert result.beyond_bound is None


def test_one_corrupted_node_more_than_f_splits_them() -> None:
    result = bft.run(
        "bracha-normal", adversaries=["bracha-split:nodes=[0,1],split=1"]
    )  # n=4, f=1, two corrupted
    assert not result.verdicts["agreement"].holds
    assert "nodes 2 and 3 delivered different values" in result.verdicts["agreement"].witness
    assert "exceed the 1 that bracha tolerates" in result.beyond_bound


def test_below_3f_plus_1_one_crash_stalls_every_node() -> None:
    result = bft.run("bracha-normal", params={"n": 3}, adversaries=["crash:nodes=[1],at=0"])
    assert not result.verdicts["validity"].holds
    assert result.metrics["delivered"] == 0
    assert "n=3 is below 3f+1=4" in result.beyond_bound


def test_bad_parameters_are_one_clear_error() -> None:
    with pytest.raises(bft.ConfigError, match="sender must be a node 0..3"):
        bft.run("bracha-normal", params={"sender": 4})


# -- the contributed action kind and the search ----------------------------------------------


def ready_by_node_3(at: int) -> bft.RunResult:
    model = bft.fault_model("bracha", n=4)
    action = bft.Action("bracha-ready", 3, at, nodes=(1,), args=(("rank", 0),))
    return bft.run_schedule(bft.Schedule((action,), model))


def took_effect(result: bft.RunResult) -> list[str]:
    """The notes the action left in the trace (one, the first time it acts)."""
    return [e.detail for e in result.record.notes("schedule") if "bracha-ready" in e.detail]


def test_the_ready_kind_waits_for_f_plus_1_echoes() -> None:
    # in round 0 only the sender's ECHO is on its way to node 3: one, and f+1 = 2 are needed
    assert took_effect(ready_by_node_3(at=0)) == []
    # in round 1 nodes 1 and 2 echo too: node 3 sends one READY, to node 1 only
    early = ready_by_node_3(at=1)
    (note,) = took_effect(early)
    assert note.endswith(
        "corrupted node 3 sends READY for the value most ECHOed to it (by f+1 others) "
        "to node 1 only, in round 1 (READY 1)"
    )
    assert early.metrics["messages"] == bft.run("bracha-normal").metrics["messages"] + 1
    assert all(v.holds for v in early.verdicts.values())


def test_the_adversary_and_the_kind_are_in_the_default_search() -> None:
    model = bft.fault_model("bracha", n=4)
    assert model.adversaries == ("bracha-split",)
    assert "bracha-ready" in model.usable_kinds()
    assert "bracha-ready" not in bft.fault_model("dolev-strong", n=4).usable_kinds()


@settings(max_examples=40, deadline=None)
@given(bft.schedules("bracha", n=4, kinds=["bracha-ready", "equivocate", "mutate", "lag"]))
def test_no_schedule_within_f_breaks_a_property(schedule: bft.Schedule) -> None:
    result = bft.run_schedule(schedule)
    assert result.beyond_bound is None
    assert not result.violated, (str(schedule), result.violated)
