"""Planted-bug variants of the protocols: the search must find each of them.

Each variant is a subclass of a real protocol with one deliberate mistake,
registered in-process under its own name (``bft.core.registry.register``), so the
real protocols stay untouched. ``PLANTED`` lists them with the scenario they
run in, the property the bug breaks, and the fault budget within the
protocol's own bound (a planted bug must be found *without* exceeding it).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs

from bft.core import registry
from bft.core.node import Node
from bft.protocols.om import General, OralMessages
from bft.protocols.pbft import PBFT
from bft.protocols.pbft.log import Phase, Quorums, Slot
from bft.protocols.pbft.messages import PreparedCert
from bft.protocols.pbft.viewchange import ViewChanges
from bft.protocols.swim import Swim
from bft.protocols.swim.config import SwimConfig
from bft.run import runner, scenario
from bft.run.scenario import Scenario
from bft.search.driver import Searcher


@attrs.frozen
class Planted:
    name: str  # registry name of the buggy variant
    correct: str  # the protocol it was derived from
    scenario: str  # a shipped scenario to run it in
    breaks: tuple[str, ...]  # properties the bug can violate
    faults: int  # fault budget (within the protocol's bound)
    params: dict[str, Any] = attrs.Factory(dict)
    bug: str = ""
    #: the properties whose violation counts in the search (None: all of them)
    properties: tuple[str, ...] | None = None
    #: the fault model's action kinds (None: all); e.g. crash only for crash-tolerant protocols
    kinds: tuple[str, ...] | None = None
    network: dict[str, Any] | None = None  # replaces the scenario's network table
    rounds: int | None = None
    role: str | None = None  # only nodes with this role may be faulty
    #: replaces the scenario's adversaries (None: the scenario's own)
    adversaries: tuple[str, ...] | None = None


def scenario_for(bug: Planted, protocol: str) -> Scenario:
    """The scenario a planted bug (or, with ``protocol=bug.correct``, its fix) runs in."""
    adversaries = None
    if bug.adversaries is not None:
        adversaries = [scenario.parse_adversary(a) for a in bug.adversaries]
    base = scenario.with_overrides(
        scenario.load(bug.scenario),
        protocol=protocol,
        params=bug.params or None,
        rounds=bug.rounds,
        adversaries=adversaries,
    )
    if bug.network is not None:
        base = attrs.evolve(base, network=bug.network)
    return base


def searcher_for(bug: Planted, protocol: str) -> Searcher:
    chosen = scenario_for(bug, protocol)
    targets = None
    if bug.role is not None:
        prepared = runner.prepare(chosen)
        roles = prepared.spec.roles(prepared.params)
        targets = [i for i, r in enumerate(roles) if r == bug.role]
    return Searcher(
        chosen, faults=bug.faults, properties=bug.properties, kinds=bug.kinds, targets=targets
    )


def plurality(values: list[int]) -> int:
    """The planted mistake: the most common value wins even without a strict
    majority, so a tie goes to whichever tied value was counted first (the
    lieutenant's own direct value) instead of the default order."""
    return Counter(values).most_common(1)[0][0]


class TieBreakGeneral(General):
    def value_for(self, path: tuple[int, ...]) -> int:
        told = self.received.get(path, 0)
        if len(path) == self.m + 1:
            return told
        votes = [told]
        votes.extend(
            self.value_for((*path, j)) for j in range(self.n) if j not in path and j != self.me
        )
        return plurality(votes)


class OMWrongTieBreak(OralMessages):
    name = "om-bad-tiebreak"
    summary = "PLANTED BUG: OM(m) whose majority takes a plurality and breaks ties by first vote"

    def make_node(self, node_id: int, p: Any) -> Node:
        return TieBreakGeneral(node_id, p["n"], p["m"], p["commander"], p["value"])


@attrs.frozen
class NeverExpiringConfig(SwimConfig):
    """The planted mistake: a suspicion never times out, so a suspect is never declared dead."""

    def suspicion_timeout(self, confirmations: int) -> int:
        return 10**9


class SwimNeverExpires(Swim):
    name = "swim-never-expires"
    summary = "PLANTED BUG: SWIM whose suspicions never expire (crashed members stay suspects)"

    def config(self, p: Any) -> SwimConfig:
        cfg = super().config(p)
        return NeverExpiringConfig(**attrs.asdict(cfg, recurse=False))


def prepared_on_too_few(slot: Slot, f: int) -> bool:
    """The planted mistake: 2f-1 matching prepares count as prepared (PBFT needs 2f)."""
    return slot.phase >= Phase.PRE_PREPARED and slot.matching_prepares >= 2 * f - 1


class ForgetfulViewChanges(ViewChanges):
    """The planted mistake: a VIEW-CHANGE carries no prepared certificates, so a new
    primary cannot re-issue requests that prepared (or committed) in the old view."""

    def prepared_set(self) -> tuple[PreparedCert, ...]:
        return ()


class PBFTLowPrepareQuorum(PBFT):
    name = "pbft-low-prepare-quorum"
    summary = "PLANTED BUG: PBFT that counts 2f-1 prepares as a prepared certificate"
    quorums = Quorums(prepared=prepared_on_too_few)


class PBFTForgetfulViewChange(PBFT):
    name = "pbft-forgetful-view-change"
    summary = "PLANTED BUG: PBFT whose view change drops prepared certificates"
    view_changes = ForgetfulViewChanges


class PBFTFirstReply(PBFT):
    name = "pbft-first-reply"
    summary = "PLANTED BUG: PBFT whose client accepts the first reply instead of f+1 matching"

    def reply_quorum(self, p: Any) -> int:
        return 1


PBFT_SAFETY_AND_LIVENESS = (
    "agreement",
    "validity",
    "reply-correct",
    "liveness-after-gst",
    "no-exceptions",
)
PBFT_SMALL = {"n": 4, "clients": 2, "requests": 2}
PBFT_NETWORK = {"model": "partial-synchrony", "gst": 10, "delta": 2}
PBFT_ROUNDS = 120  # long enough for liveness-after-gst to judge requests issued early

PLANTED: list[Planted] = [
    Planted(
        "om-bad-tiebreak",
        "om",
        "byzantine-generals",
        ("agreement",),
        1,
        params={"n": 5},
        bug="majority without the strict-majority rule: with five generals each lieutenant "
        "has four votes, and a commander that tells two lieutenants 1 and two 0 splits them",
    ),
    Planted(
        "swim-never-expires",
        "swim",
        "swim-crash",
        ("completeness",),
        1,
        params={"n": 5},
        bug="suspicions never time out: a crashed member is suspected but never declared dead",
        kinds=("crash",),  # SWIM tolerates crashes, not Byzantine members
        network={"model": "synchronous"},
        rounds=240,
        adversaries=(),  # the shipped crashes name members 5, 17 and 40; n = 5 here
    ),
]

for _name, _cls, _kinds, _role in [
    ("pbft-low-prepare-quorum", PBFTLowPrepareQuorum, None, None),
    ("pbft-forgetful-view-change", PBFTForgetfulViewChange, None, None),
    # a client bug shows only when a replica lies to it: the fault model is one
    # Byzantine replica that alters or equivocates its messages
    ("pbft-first-reply", PBFTFirstReply, ("mutate", "equivocate"), "replica"),
]:
    PLANTED.append(
        Planted(
            _name,
            "pbft",
            "pbft-normal",
            PBFT_SAFETY_AND_LIVENESS,
            1,
            params=PBFT_SMALL,
            bug=_cls.summary.removeprefix("PLANTED BUG: "),
            properties=PBFT_SAFETY_AND_LIVENESS,
            network=PBFT_NETWORK,
            rounds=PBFT_ROUNDS,
            kinds=_kinds,
            role=_role,
        )
    )

CLASSES: dict[str, type] = {
    "pbft-low-prepare-quorum": PBFTLowPrepareQuorum,
    "pbft-forgetful-view-change": PBFTForgetfulViewChange,
    "pbft-first-reply": PBFTFirstReply,
    "om-bad-tiebreak": OMWrongTieBreak,
    "swim-never-expires": SwimNeverExpires,
}


def register_all() -> None:
    for name, cls in CLASSES.items():
        registry.register("protocol", name, cls)
