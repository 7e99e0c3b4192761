"""Lab 4's harness: the project's PBFT replica, run by the student's quorum rules.

``make_protocol(rules)`` returns a protocol spec, ``lab4-pbft``: the PBFT of
``protocols/pbft`` (clients, pre-prepares, view changes, checkpoints,
execution) whose replicas take the student's ``prepared(slot, f)`` and
``committed_local(slot, f)`` as their two rules (a plain parameter of the
replica, ``Quorums``) in place of its built-in ones. Nothing else changes:
a replica asks ``prepared`` after every change to a slot whose
pre-prepare it accepted, and ``committed_local`` after every change to a slot
it prepared. ``slot`` is the replica's own log slot; what a rule may read of
it is ``SlotView`` below.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Protocol

from bft.protocols.pbft import PBFT
from bft.protocols.pbft.log import Quorums


class SlotView(Protocol):
    """What one replica holds about one sequence number in one view."""

    view: int
    seq: int
    primary: int  # the primary of this view (it sends the pre-prepare, never a prepare)
    digest: bytes | None  # the digest of the pre-prepare this replica accepted (None: none yet)

    @property
    def prepares(self) -> Mapping[int, bytes]:
        """Replica -> the digest its PREPARE carried (yours included)."""

    @property
    def commits(self) -> Mapping[int, bytes]:
        """Replica -> the digest its COMMIT carried (yours included)."""

    @property
    def prepared(self) -> bool:
        """Whether your ``prepared`` already said yes for this slot."""


def make_protocol(rules: ModuleType) -> type[PBFT]:
    class Lab4PBFT(PBFT):
        name = "lab4-pbft"
        summary = "PBFT with the student's prepare/commit quorum rules"
        quorums = Quorums(prepared=rules.prepared, committed_local=rules.committed_local)

    return Lab4PBFT
