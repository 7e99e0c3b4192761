"""PBFT's ``agreement`` checks what it promises: correct replicas' executed logs are
prefixes of one another. Two replicas may not commit different requests at one
sequence number, and no replica's log may skip a number (a state transfer, which
installs the state at a checkpoint, is not a skip; a restarted replica starts a
fresh log). The record is built by hand, so each kind of broken log is exact."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bft.core.network import Network
from bft.core.properties import Verdict
from bft.core.record import Event, Output, RunRecord
from bft.protocols.pbft.spec import PBFT
from tests.test_pbft import _defaults

N = 4


def digest(seq: int) -> str:
    return f"{seq:032x}"


def commit(rnd: int, node: int, seq: int, dig: str | None = None) -> Output:
    return Output(
        rnd, node, "commit", {"seq": seq, "req": f"4:{seq}:7", "digest": dig or digest(seq)}
    )


def transfer(rnd: int, node: int, seq: int, previous: int) -> Output:
    return Output(rnd, node, "state-transfer", {"seq": seq, "previous": previous})


def agreement(outputs: list[Output], events: list[Event] | None = None, **kw: Any) -> Verdict:
    record = RunRecord(
        n=N + 2,
        rounds=100,
        seed=0,
        params=_defaults(),
        roles=("replica",) * N + ("client",) * 2,
        network=Network(),
        outputs=sorted(outputs, key=lambda o: (o.round, o.node)),
        events=events or [],
        **kw,
    )
    prop = next(p for p in PBFT().properties(_defaults()) if p.name == "agreement")
    return prop.check(record)


def in_order(node: int, seqs: list[int], start: int = 1) -> list[Output]:
    return [commit(start + i, node, s) for i, s in enumerate(seqs)]


def test_a_log_that_skips_a_number_violates_agreement() -> None:
    outputs = [*in_order(0, [1, 2, 3, 4]), *in_order(1, [1, 2, 3, 4]), *in_order(2, [1, 3, 4])]
    verdict = agreement(outputs)
    assert not verdict.holds
    assert verdict.witness == (
        "replica 2 executed sequence number 3 (request 4:3:7) in round 2 after executing 1 "
        "in round 1: its executed log skips 2, so it is not a prefix of the other logs"
    )


def test_a_log_that_does_not_start_at_one_violates_agreement() -> None:
    verdict = agreement([*in_order(0, [1, 2, 3]), *in_order(1, [3, 4, 5], start=3)])
    assert not verdict.holds
    assert "replica 1 executed sequence number 3" in verdict.witness
    assert "as the first number it executed: its executed log skips 1..2" in verdict.witness


def test_a_log_that_goes_back_violates_agreement() -> None:
    verdict = agreement(in_order(0, [1, 2, 3, 2]))
    assert not verdict.holds
    assert "its executed log goes back from 3 to 2" in verdict.witness


def test_a_state_transfer_is_not_a_gap_and_a_restart_starts_a_fresh_log() -> None:
    outputs = [
        *in_order(0, list(range(1, 15))),
        *in_order(1, [1, 2]),
        transfer(10, 1, 10, previous=2),
        *in_order(1, [11, 12], start=11),
        *in_order(2, [1, 2, 3]),
        *in_order(2, [1, 2, 3, 4], start=20),  # restarted in round 20: a fresh replica
    ]
    assert agreement(outputs, [Event(20, "restart", 2)]).holds
    # without the restart, replica 2 executing 1 again is a log going back
    assert not agreement(outputs).holds


def test_corrupted_replicas_logs_are_not_judged() -> None:
    outputs = [*in_order(0, [1, 2, 3]), *in_order(3, [1, 3])]
    assert not agreement(outputs).holds
    assert agreement(outputs, corrupted=frozenset({3})).holds


def test_conflicting_digests_are_still_reported_first() -> None:
    outputs = [*in_order(0, [1, 2]), commit(1, 1, 1), commit(2, 1, 2, digest(99)), commit(3, 2, 3)]
    verdict = agreement(outputs)
    assert not verdict.holds
    assert verdict.witness.startswith("sequence number 2: replicas 0 and 1 disagree")


@given(
    lengths=st.lists(st.integers(1, 12), min_size=N, max_size=N),
    transfers=st.lists(st.tuples(st.integers(0, N - 1), st.integers(1, 12)), max_size=2),
    data=st.data(),
)
def test_logs_are_prefixes_exactly_when_no_replica_skips_a_number(
    lengths: list[int], transfers: list[tuple[int, int]], data: st.DataObject
) -> None:
    # each replica executes a prefix 1..length of one log, perhaps jumping over part of
    # it by a state transfer; agreement holds. Dropping one executed number that no
    # transfer covers breaks it, and the witness names that replica and number.
    jump = dict(transfers)  # replica -> the number it installs by state transfer
    outputs: list[Output] = []
    executed: list[tuple[int, int]] = []  # (replica, seq) it executed itself
    for node, length in enumerate(lengths):
        target = jump.get(node, 0) if jump.get(node, 0) < length else 0
        rnd = 1
        for seq in range(1, length + 1):
            if target and seq == target:
                outputs.append(transfer(rnd, node, target, previous=target - 1))
            elif not (target and seq < target):
                outputs.append(commit(rnd, node, seq))
                executed.append((node, seq))
            rnd += 1
    assert agreement(outputs).holds
    node, seq = data.draw(st.sampled_from(executed))
    last = max(s for r, s in executed if r == node)
    if seq == last:
        return  # dropping the last number shortens the log: still a prefix
    gapped = [
        o for o in outputs if not (o.name == "commit" and (o.node, o.data["seq"]) == (node, seq))
    ]
    verdict = agreement(gapped)
    assert not verdict.holds
    assert verdict.witness.startswith(f"replica {node} executed sequence number {seq + 1} ")
    assert f"its executed log skips {seq}, " in verdict.witness
