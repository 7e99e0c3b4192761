"""Schedules stay inside their fault model, run without refused actions, and shrink
toward no faults."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from bft.core.errors import ConfigError
from bft.core.network import Network
from bft.search.driver import one_minimal, run_schedule
from bft.search.schedule import (
    BYZANTINE_KINDS,
    NETWORK_KINDS,
    PROCESS_KINDS,
    Action,
    FaultModel,
    Schedule,
)
from bft.search.strategies import schedules, schedules_for

NETWORKS = st.one_of(
    st.just(Network()),
    st.builds(
        lambda gst, delta: Network("partial-synchrony", gst, delta),
        st.integers(0, 5),
        st.integers(0, 3),
    ),
    st.builds(lambda delta: Network("lossy", 0, delta), st.integers(0, 3)),
)


@st.composite
def models(draw: st.DrawFn) -> FaultModel:
    n = draw(st.integers(1, 7))
    return FaultModel(
        n=n,
        rounds=draw(st.integers(1, 8)),
        faults=draw(st.integers(0, 3)),
        network=draw(NETWORKS),
        max_actions=draw(st.integers(0, 6)),
        targets=draw(
            st.none() | st.lists(st.integers(0, n - 1), min_size=1, unique=True).map(tuple)
        ),
    )


@given(st.data())
def test_every_schedule_stays_inside_its_fault_model(data: st.DataObject) -> None:
    model = data.draw(models())
    schedule = data.draw(schedules_for(model))
    assert len(schedule) <= model.max_actions
    assert len(schedule.faulty) <= model.faults
    assert schedule.faulty <= set(model.target_nodes)
    for action in schedule.actions:
        assert action.do in model.usable_kinds()
        assert 0 <= action.at < model.rounds
        assert 0 <= action.node < model.n
        if action.until is not None:
            assert action.at < action.until < model.rounds
        if action.do in ("drop", "partition"):
            assert action.at in model.drop_rounds()
        if action.do == "delay":
            assert 1 <= action.extra <= model.max_delay(action.at)
        if action.dst is not None:
            assert action.dst != action.node and 0 <= action.dst < model.n
        if action.do in ("equivocate", "twin"):
            assert action.nodes and action.node not in action.nodes
        if action.do == "partition":
            assert 0 < len(action.nodes) < model.n
    if model.network.model == "synchronous":
        assert not schedule.kinds() & NETWORK_KINDS
    if model.faults == 0:
        assert not schedule.kinds() & PROCESS_KINDS


@given(
    schedule=st.data(),
    network=st.sampled_from(["synchronous", "partial-synchrony", "lossy"]),
    faults=st.integers(0, 2),
)
def test_the_engine_never_refuses_a_generated_action(
    schedule: st.DataObject, network: str, faults: int
) -> None:
    strategy = schedules(protocol="om", n=5, faults=faults, network=network, gst=2, delta=1)
    drawn = schedule.draw(strategy)
    result = run_schedule(drawn)
    assert [e.detail for e in result.record.refused] == []
    assert result.record.corrupted == drawn.corrupted  # Byzantine actions: keys taken
    assert result.record.faulty == drawn.faulty  # and crashes: every fault is counted


@given(schedules(protocol="om", n=4, faults=1))
def test_om_with_four_generals_keeps_agreement_and_validity_under_any_one_fault(
    schedule: Schedule,
) -> None:
    # the example: the public strategy in an ordinary property test
    result = run_schedule(schedule)
    assert result.verdicts["agreement"].holds, (str(schedule), result.verdicts["agreement"])
    assert result.verdicts["validity"].holds, (str(schedule), result.verdicts["validity"])


MODEL = FaultModel(n=4, rounds=3, faults=2, network=Network("partial-synchrony", 2, 1))


def shrunk(predicate: Callable[[Schedule], bool]) -> tuple[Action, ...]:
    """What the search driver reports: Hypothesis's shrink, then single deletions."""
    found = find(
        schedules_for(MODEL),
        predicate,
        settings=settings(database=None, phases=[Phase.generate, Phase.shrink]),
        random=random.Random(0),
    )
    return one_minimal(found, predicate).actions


def test_shrinks_to_the_earliest_shortest_crash_of_node_zero() -> None:
    assert shrunk(lambda s: len(s) >= 1) == (Action("crash", 0, 0, 1),)


def test_shrinks_toward_fewer_corrupted_nodes() -> None:
    assert shrunk(lambda s: len(s.corrupted) >= 1) == (Action("omit", 0, 0, dst=1),)
    assert shrunk(lambda s: len(s.faulty) >= 2) == (
        Action("crash", 0, 0, 1),
        Action("crash", 1, 0, 1),
    )


def test_shrinks_network_faults_to_one_link_and_one_round() -> None:
    assert shrunk(lambda s: "delay" in s.kinds()) == (Action("delay", 0, 0, dst=1, extra=1),)


def test_with_no_fault_budget_and_a_synchronous_network_the_only_schedule_is_empty() -> None:
    model = FaultModel(n=4, rounds=3, faults=0)
    assert model.usable_kinds() == ()
    assert find(schedules_for(model), lambda s: True).actions == ()


@given(st.data())
def test_actions_round_trip_through_their_file_form(data: st.DataObject) -> None:
    schedule = data.draw(schedules_for(data.draw(models())))
    for action in schedule.actions:
        assert Action.from_dict(action.to_dict()) == action


def test_byzantine_kinds_are_process_kinds() -> None:
    assert BYZANTINE_KINDS <= PROCESS_KINDS


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"do": "explode", "node": 1, "at": 0}, "action kind 'do' must be one of"),
        ({"do": "crash", "at": 0}, "needs an integer 'node'"),
        ({"do": "crash", "node": 1}, "needs an integer 'at'"),
        ({"do": "crash", "node": -1, "at": 0}, "must be an integer >= 0"),
        ({"do": "crash", "node": 1, "at": 2, "until": 1}, "'until' must be after 'at'"),
        ({"do": "delay", "node": 1, "at": 0}, "needs an integer 'extra'"),
        ({"do": "partition", "at": 0}, "needs 'nodes'"),
        ({"do": "mutate", "node": 1, "at": 0, "how": "scramble"}, "'how' must be one of"),
        ({"do": "crash", "node": 1, "at": 0, "when": 3}, "unknown action field 'when'"),
        ({"do": "twin", "node": 1, "at": 0, "nodes": []}, "non-empty list"),
        ("crash node 1", "an action must be a table"),
    ],
)
def test_a_malformed_action_is_refused_with_the_reason(table: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Action.from_dict(table)


def om_decisions(schedule_actions: tuple[Action, ...], n: int = 4) -> dict[int, int]:
    model = FaultModel(n=n, rounds=3, faults=2, protocol="om", params={"n": n, "m": 1})
    result = run_schedule(Schedule(schedule_actions, model))
    return {o.node: o.data["value"] for o in result.record.outputs_named("decide")}


def test_equivocation_and_mutation_change_exactly_the_messages_they_name() -> None:
    # the commander tells lieutenants 1 and 2 "retreat" and 3 "attack": all decide 0
    assert om_decisions((Action("equivocate", 0, 0, nodes=(1, 2), field="value"),)) == {
        0: 1,
        1: 0,
        2: 0,
        3: 0,
    }
    # lieutenant 3 relays "2" to lieutenant 1 only: 1 sees [1, 1, 2] and still decides 1
    assert om_decisions((Action("mutate", 3, 1, dst=1, field=0, how="inc"),))[1] == 1


def test_a_twin_speaks_for_its_node_to_the_nodes_it_is_fed_by() -> None:
    # the commander crashes at once, but its twin (the same code) still orders
    # lieutenants 1 and 2 to attack; 3 and 4 hear nothing and count "retreat"
    crashed = (Action("crash", 0, 0, 1),)
    twinned = (*crashed, Action("twin", 0, 0, nodes=(1, 2)))
    assert om_decisions(crashed, n=5) == {1: 0, 2: 0, 3: 0, 4: 0}
    # with the twin each lieutenant sees 1, 1, 0, 0: no strict majority, so still 0
    assert om_decisions(twinned, n=5) == {1: 0, 2: 0, 3: 0, 4: 0}
    model = FaultModel(n=5, rounds=3, faults=1, protocol="om", params={"n": 5, "m": 1})
    result = run_schedule(Schedule(twinned, model))
    assert result.record.messages == 2 + 2 * 3  # the twin's 2 orders, then 1 and 2 relay


def test_a_few_counted_nodes_among_many_free_ones_are_drawn_half_the_time() -> None:
    """20 servers among 2,000 clients: a uniform draw would fault a server once in a
    hundred; the upper half of the raw node range names a counted node instead."""
    from bft.search.actions.base import Draw, kinds
    from bft.search.schedule import FaultModel, raw_bounds

    servers = frozenset(range(20))
    model = FaultModel(n=2020, rounds=10, faults=10, counted=servers, byzantine=False)
    assert model.counted_targets() == tuple(range(20))
    top = raw_bounds(model)[0]
    assert top == 2 * 2020 - 1
    crash = kinds()["crash"]
    hits = sum(
        Draw(model, (0, raw, 0, 0, 0, 0), [], crash).faulty_node() in servers
        for raw in range(top + 1)
    )
    assert 0.5 <= hits / (top + 1) < 0.52  # half, plus the servers' share of the lower half
    # a majority of counted nodes (PBFT: 4 replicas, 2 clients) is drawn uniformly, as ever
    pbft = FaultModel(n=6, rounds=10, faults=1, counted=frozenset(range(4)))
    assert pbft.counted_targets() == () and raw_bounds(pbft)[0] == 5
