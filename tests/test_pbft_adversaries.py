"""PBFT under at most f Byzantine replicas of every kind, under partial synchrony.

Each example runs the ``pbft-view-change`` network (partial synchrony, GST at
round 30, delta 2) with random delays throughout and random drops before GST,
plus one Byzantine adversary kind within the bound, at a Hypothesis-chosen seed.
Safety (agreement, validity, reply-correct) must hold for every seed; a silent
or equivocating primary must also be replaced by a view change and every
request answered within the liveness bound.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bft.run.runner import RunResult
from tests.helpers import run_named

NETWORK_FAULTS = ["delay:rate=0.3,rounds=2", "drop:rate=0.2,until=30"]
SAFETY = ("agreement", "validity", "reply-correct", "no-exceptions")

ATTACKS_N4 = [
    "silent-primary",
    "equivocating-primary",
    "slow-primary",
    "byzantine-replica",
    "byzantine-replica:nodes=0",
    "forger:nodes=3",
    "replayer:nodes=2",
    "forger",
    "replayer",
]
ATTACKS_N7 = [
    "silent-primary:nodes=[0,1]",
    "equivocating-primary:nodes=0,accomplices=[4]",
    "byzantine-replica:nodes=[1,6]",
    "forger:nodes=[0,3]",
    "replayer:nodes=[2,5]",
]


def attacked(attack: str, seed: int, n: int = 4) -> RunResult:
    adversaries = [*attack.split("+"), *NETWORK_FAULTS]
    return run_named(
        "pbft-view-change",
        adversaries=adversaries,
        seed=seed,
        signatures="ideal",
        params={"n": n, "requests": 8},
        rounds=160,
    )


def failures(result: RunResult, names: tuple[str, ...]) -> dict[str, str | None]:
    return {k: result.verdicts[k].witness for k in names if not result.verdicts[k].holds}


@settings(max_examples=40)
@given(attack=st.sampled_from(ATTACKS_N4), seed=st.integers(0, 2**32 - 1))
def test_safety_holds_with_f_byzantine_replicas_of_any_kind(attack: str, seed: int) -> None:
    result = attacked(attack, seed)
    assert not failures(result, SAFETY), (attack, seed)
    assert result.beyond_bound is None


@settings(max_examples=15)
@given(attack=st.sampled_from(ATTACKS_N7), seed=st.integers(0, 2**32 - 1))
def test_safety_holds_with_two_byzantine_replicas_among_seven(attack: str, seed: int) -> None:
    result = attacked(attack, seed, n=7)
    assert not failures(result, SAFETY), (attack, seed)
    assert result.beyond_bound is None


@settings(max_examples=25)
@given(
    attack=st.sampled_from(["silent-primary", "equivocating-primary"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_faulty_primary_is_replaced_and_liveness_holds(attack: str, seed: int) -> None:
    result = attacked(attack, seed)
    assert not failures(result, (*SAFETY, "liveness-after-gst")), (attack, seed)
    assert result.verdicts["liveness-after-gst"].exercised
    views = [o.data["view"] for o in result.record.outputs_named("new-view")]
    assert views and min(views) >= 1  # the trace shows the view change
    assert result.metrics["committed"] == 16


def test_equivocation_scenario_shows_the_conflicting_pre_prepares_and_a_view_change() -> None:
    result = run_named("pbft-equivocation", signatures="ideal")
    assert result.ok, failures(result, tuple(result.verdicts))
    notes = [e.detail for e in result.record.notes("equivocating-primary")]
    assert any("equivocate: view 0 seq 1" in note for note in notes)
    assert result.metrics["view_changes"] >= 1


def test_replayed_messages_are_refused_or_ignored() -> None:
    result = run_named(
        "pbft-normal", adversaries=["replayer:per_round=10,at=20"], signatures="ideal"
    )
    assert result.record.rejected > 0  # stale views and old checkpoints are refused
    assert not failures(result, SAFETY)
    assert result.metrics["committed"] == 20  # the replaying client still runs its own requests
    assert result.metrics["messages_per_request"] > 28  # replays are counted as sent
