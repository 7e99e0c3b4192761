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
from typing import Any

import attrs

from bft.protocols.pbft import PBFT
from bft.protocols.pbft.log import PREPARED, Quorums


@attrs.frozen
class SlotView:
    """What one replica holds about one sequence number in one view (a plain value:
    your rules may run in another process, and may not change the replica's log)."""

    view: int
    seq: int
    primary: int  # the primary of this view (it sends the pre-prepare, never a prepare)
    digest: bytes | None  # the digest of the pre-prepare this replica accepted (None: none yet)
    prepares: Mapping[int, bytes]  # replica -> the digest its PREPARE carried (yours included)
    commits: Mapping[int, bytes]  # replica -> the digest its COMMIT carried (yours included)
    prepared: bool  # whether your ``prepared`` already said yes for this slot


def view_of(slot: Any) -> SlotView:
    return SlotView(
        slot.view,
        slot.seq,
        slot.primary,
        slot.digest,
        dict(slot.prepares),
        dict(slot.commits),
        slot.phase >= PREPARED,
    )


def make_protocol(rules: ModuleType) -> type[PBFT]:
    def prepared(slot: Any, f: int) -> bool:
        return bool(rules.prepared(view_of(slot), f))

    def committed_local(slot: Any, f: int) -> bool:
        return bool(rules.committed_local(view_of(slot), f))

    class Lab4PBFT(PBFT):
        name = "lab4-pbft"
        summary = "PBFT with the student's prepare/commit quorum rules"
        quorums = Quorums(prepared=prepared, committed_local=committed_local)

    return Lab4PBFT
