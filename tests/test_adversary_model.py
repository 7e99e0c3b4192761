"""Malicious adversary plug-ins: every attempt to exceed the model is refused or labelled.

Each adversary below tries one trick an outside audit used (or one of our own)
through what an in-process plug-in can reach: the envelopes it is shown, its
control objects, the public seed. For each, the test checks that the attempt
was refused (recorded), stopped (an adversary that raises takes no further
part), or labelled (beyond the protocol's fault model), and that no property
verdict differs from the run without the cheat.
"""

from __future__ import annotations

import hashlib
from typing import Any

import attrs
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bft import Adversary, Envelope, RoundControl, SetupControl, TrafficControl, register
from bft.core.crypto import Signed
from bft.protocols.dolev_strong import DSValue
from bft.protocols.om import OMMessage
from tests.helpers import run_named


class Cheat(Adversary):
    """Calls ``trick(ctl)`` at every hook it is given (setup, before_round, on_traffic)."""

    name = "cheat"
    summary = "test: one trick"
    intercepts = True
    trick_setup: Any = None
    trick_round: Any = None
    trick_traffic: Any = None

    def setup(self, ctl: SetupControl) -> None:
        if self.trick_setup:
            self.trick_setup(self, ctl)

    def before_round(self, ctl: RoundControl) -> None:
        if self.trick_round:
            self.trick_round(self, ctl)

    def on_traffic(self, ctl: TrafficControl) -> None:
        if self.trick_traffic:
            self.trick_traffic(self, ctl)


def cheat(name: str, *, setup: Any = None, round: Any = None, traffic: Any = None) -> str:
    """Register a one-trick adversary under ``name``; returns the name for --adversary."""
    cls = type(
        name.title().replace("-", ""),
        (Cheat,),
        {
            "name": name,
            "trick_setup": staticmethod(setup) if setup else None,
            "trick_round": staticmethod(round) if round else None,
            "trick_traffic": staticmethod(traffic) if traffic else None,
        },
    )
    register("adversary", name, cls)
    return name


def verdicts(result: Any) -> dict[str, bool]:
    return {name: v.holds for name, v in result.verdicts.items()}


GENERALS = {"n": 4, "m": 1, "value": 1}


def generals(adversary: str, **params: Any) -> Any:
    return run_named("byzantine-generals", adversaries=[adversary], params={**GENERALS, **params})


CLEAN = None


def clean_generals() -> dict[str, bool]:
    global CLEAN
    if CLEAN is None:
        CLEAN = verdicts(generals("none"))
    return CLEAN


# -- the envelopes are read-only views ------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("dropped", True), ("extra_delay", 3), ("extra_delay", -1), ("payload", None), ("src", 0)],
)
def test_assigning_to_an_envelope_stops_the_adversary_and_changes_nothing(
    field: str, value: Any
) -> None:
    def traffic(self: Any, ctl: TrafficControl) -> None:
        for env in ctl.envelopes:
            setattr(env, field, value)

    result = generals(cheat(f"assign-{field}", traffic=traffic))
    (error,) = result.record.adversary_errors
    assert "read-only views" in error.detail and "takes no further part" in error.detail
    assert verdicts(result) == clean_generals()
    assert result.record.dropped == result.record.delayed == 0
    assert result.metrics["messages"] == 9  # every order and relay delivered as sent


def test_appending_an_envelope_is_impossible() -> None:
    def traffic(self: Any, ctl: TrafficControl) -> None:
        ctl.envelopes.append(ctl.envelopes[0])  # a tuple: no append

    result = generals(cheat("append", traffic=traffic))
    assert len(result.record.adversary_errors) == 1
    assert verdicts(result) == clean_generals()


def test_a_hand_made_envelope_is_judged_by_the_real_message_it_names() -> None:
    class Forged:  # claims to be from a corrupted node, names honest message #0
        index, src, dst, dropped = 0, 3, 1, False

    def setup(self: Any, ctl: SetupControl) -> None:
        ctl.corrupt([3])

    def traffic(self: Any, ctl: TrafficControl) -> None:
        if ctl.round == 0:
            assert ctl.envelopes[0].src == 0  # the commander's order
            assert not ctl.drop(Forged())  # synchronous: an honest message cannot be dropped
            assert not ctl.replace(Forged(), OMMessage((0,), 0))
            assert not ctl.drop("not an envelope")

    result = generals(cheat("forged-view", setup=setup, traffic=traffic))
    reasons = " | ".join(e.detail for e in result.record.refused)
    assert "synchronous model forbids dropping" in reasons
    assert "cannot change a message from honest node 0" in reasons
    assert "is not an envelope of this round" in reasons
    assert not result.record.adversary_errors
    assert verdicts(result)["validity"] and verdicts(result)["agreement"]


def test_mutating_an_honest_payload_in_place_reaches_nobody() -> None:
    def traffic(self: Any, ctl: TrafficControl) -> None:
        for env in ctl.envelopes:
            if env.src == 0:  # the loyal commander's order
                object.__setattr__(env.payload, "value", 0)

    result = generals(cheat("in-place", traffic=traffic))
    assert verdicts(result) == clean_generals()
    assert result.verdicts["validity"].holds and result.verdicts["validity"].exercised


def test_a_replaced_payload_mutated_after_delivery_reaches_nobody() -> None:
    kept: list[Any] = []

    def setup(self: Any, ctl: SetupControl) -> None:
        ctl.corrupt([3])

    def traffic(self: Any, ctl: TrafficControl) -> None:
        for message in kept:  # the object handed over last round, now in honest hands?
            object.__setattr__(message, "value", 0)
        for env in ctl.from_node(3):
            mine = OMMessage(env.payload.path, 1)
            kept.append(mine)
            ctl.replace(env, mine)

    result = generals(cheat("mutate-later", setup=setup, traffic=traffic))
    assert result.verdicts["validity"].holds and result.verdicts["agreement"].holds


def test_the_parameters_are_read_only() -> None:
    def setup(self: Any, ctl: SetupControl) -> None:
        ctl.params["value"] = 0  # type: ignore[index]

    result = generals(cheat("params", setup=setup))
    (error,) = result.record.adversary_errors
    assert "does not support item assignment" in error.detail
    assert result.prepared.params["value"] == 1
    assert verdicts(result) == clean_generals()


def test_a_setup_control_kept_for_later_refuses_to_corrupt() -> None:
    def setup(self: Any, ctl: SetupControl) -> None:
        self.saved = ctl

    def round_(self: Any, ctl: RoundControl) -> None:
        if ctl.round == 1:
            assert not self.saved.corrupt([0])

    result = generals(cheat("saved-control", setup=setup, round=round_))
    assert result.record.corrupted == frozenset()
    assert any("phase that is over" in e.detail for e in result.record.refused)
    assert verdicts(result) == clean_generals()


def test_honest_messages_cannot_be_injected_replaced_or_signed() -> None:
    def setup(self: Any, ctl: SetupControl) -> None:
        ctl.corrupt([3])

    def traffic(self: Any, ctl: TrafficControl) -> None:
        assert not ctl.inject(0, 1, OMMessage((0,), 0))
        for env in ctl.envelopes:
            if env.src == 0:
                assert not ctl.replace(env, OMMessage((0,), 0))
        assert ctl.sign(0, "anything") is None
        for env in ctl.envelopes:
            assert not ctl.delay(env, 0) and not ctl.delay(env, -1)

    result = generals(cheat("honest-powers", setup=setup, traffic=traffic))
    reasons = " | ".join(e.detail for e in result.record.refused)
    for expected in (
        "cannot send as honest node 0",
        "cannot change a message from honest node 0",
        "cannot sign as honest node 0",
        "a delay must be a whole number of rounds >= 1",
    ):
        assert expected in reasons
    assert result.verdicts["validity"].holds


# -- keys ---------------------------------------------------------------------------------


def test_honest_keys_cannot_be_derived_from_the_public_seed() -> None:
    """The audit's attack: derive the sender's key from the seed the trace header shows,
    sign a false value as the honest sender, and feed it to the others."""

    def setup(self: Any, ctl: SetupControl) -> None:
        ctl.corrupt([3])

    def traffic(self: Any, ctl: TrafficControl) -> None:
        if ctl.round != 0:
            return
        for seed in range(0, 3000):  # the old derivation, for any plausible seed
            material = hashlib.sha256(f"bft-key:{seed}:0".encode()).digest()
            key = Ed25519PrivateKey.from_private_bytes(material)
            from bft.core.encoding import canonical_bytes

            fake = Signed(0, DSValue(0, 0), key.sign(canonical_bytes(DSValue(0, 0))))
            if ctl.verify(fake, 0):
                self.broken = True
            for dst in (1, 2):
                ctl.inject(3, dst, fake) if seed == 1 else None

    result = run_named(
        "dolev-strong",
        adversaries=[cheat("seed-keys", setup=setup, traffic=traffic)],
        params={"n": 4, "t": 1, "value": 1},
        signatures="real",
    )
    assert result.verdicts["validity"].holds and result.verdicts["agreement"].holds
    assert result.record.rejected >= 2  # the forgery was refused by both recipients


# -- faults are counted against the declared model ------------------------------------------


def test_crashing_beyond_f_is_labelled_not_blamed_on_the_protocol() -> None:
    result = run_named("pbft-normal", adversaries=["crash:nodes=[0,1,2]"], signatures="ideal")
    assert result.beyond_bound is not None
    assert "3 faulty nodes (0, 1, 2) exceed the 1 that pbft tolerates" in result.beyond_bound
    within = run_named("pbft-normal", adversaries=["crash:nodes=[3]"], signatures="ideal")
    assert within.beyond_bound is None


def test_two_adversaries_do_not_add_up_their_budgets_unnoticed() -> None:
    result = run_named(
        "pbft-normal", adversaries=["crash:nodes=[1]", "crash:nodes=[2]"], signatures="ideal"
    )
    assert result.record.faulty == {1, 2}
    assert result.beyond_bound is not None and "2 faulty nodes" in result.beyond_bound


def test_a_byzantine_fault_is_beyond_a_crash_only_model() -> None:
    result = run_named("swim-crash", adversaries=["traitor:nodes=[3]"], rounds=30)
    assert result.beyond_bound is not None and "crash faults only" in result.beyond_bound


# -- exceptions from adversaries -------------------------------------------------------------


@pytest.mark.parametrize("exc", [RuntimeError("boom"), SystemExit(0), GeneratorExit()])
def test_an_adversary_that_raises_is_stopped_and_recorded(exc: BaseException) -> None:
    def traffic(self: Any, ctl: TrafficControl) -> None:
        raise exc

    result = generals(cheat(f"raises-{type(exc).__name__}", traffic=traffic))
    (error,) = result.record.adversary_errors
    assert type(exc).__name__ in error.detail
    assert verdicts(result) == clean_generals()
    assert result.to_json()["adversary_errors"] == [error.detail]


def test_envelope_views_describe_the_message_as_it_stands() -> None:
    seen: list[Envelope] = []

    def setup(self: Any, ctl: SetupControl) -> None:
        ctl.corrupt([3])

    def traffic(self: Any, ctl: TrafficControl) -> None:
        mine = ctl.from_node(3)
        if mine:
            assert ctl.drop(mine[0])
            seen.append(ctl.envelopes[mine[0].index])
            assert not mine[0].dropped  # the old view is a snapshot

    run = generals(cheat("views", setup=setup, traffic=traffic))
    assert seen and all(v.dropped and v.src == 3 for v in seen)
    assert run.record.dropped == len(seen)
    assert attrs.has(type(seen[0].payload))  # a copy of the attrs message


def test_a_corrupted_recipient_may_ignore_a_message_a_correct_one_may_not_lose() -> None:
    """Dropping a message *to* a corrupted node is that node ignoring it (its own doing),
    so no network bound applies; a message between correct nodes stays protected."""
    outcome: dict[str, bool] = {}

    def setup(self: Any, ctl: SetupControl) -> None:
        ctl.corrupt([3])

    def traffic(self: Any, ctl: TrafficControl) -> None:
        if ctl.round == 0:
            for env in ctl.envelopes:
                outcome[f"{env.src}->{env.dst}"] = ctl.drop(env)

    result = generals(cheat("ignoring", setup=setup, traffic=traffic))
    assert outcome == {"0->1": False, "0->2": False, "0->3": True}
    assert result.record.dropped == 1
    assert len(result.record.refused) == 2
    assert verdicts(result)["agreement"] and verdicts(result)["validity"]
