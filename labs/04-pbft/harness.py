"""Lab 4's harness: the project's PBFT replica with the student's quorum rules.

``make_protocol(rules)`` returns a protocol spec, ``lab4-pbft``: the PBFT of
``protocols/pbft`` (clients, pre-prepares, view changes, checkpoints,
execution), except that a replica asks the student's ``prepared(slot, f)``
whether a slot has prepared, and ``committed_local(slot, f)`` whether it may
execute it. The base replica's own quorum gates are switched off, so the
student's rules are the only ones in force. ``slot`` is a read-only
``SlotView``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from types import ModuleType

import attrs

from bft.core.node import Context, Node
from bft.core.protocol import Params
from bft.protocols.pbft import PBFT
from bft.protocols.pbft.replica import Replica, Slot


@attrs.frozen
class SlotView:
    """What one replica holds about one sequence number in one view."""

    view: int
    seq: int
    primary: int  # the primary of this view (it sends the pre-prepare, never a prepare)
    digest: bytes | None  # the digest of the pre-prepare this replica accepted (None: none yet)
    prepares: Mapping[int, bytes]  # replica -> the digest its PREPARE carried (yours included)
    commits: Mapping[int, bytes]  # replica -> the digest its COMMIT carried (yours included)
    prepared: bool  # whether your ``prepared`` already said yes for this slot


def view_of(replica: Replica, seq: int, slot: Slot) -> SlotView:
    view = slot.pp.payload.view if slot.pp is not None else replica.view
    return SlotView(
        view,
        seq,
        replica.cfg.primary(view),
        slot.digest,
        {r: s.payload.digest for r, s in slot.prepares.items()},
        {r: s.payload.digest for r, s in slot.commits.items()},
        slot.prepared,
    )


@contextlib.contextmanager
def _count_at_least(slot: Slot, field: str, digest: bytes, floor: int) -> Iterator[None]:
    """Let the base replica's own count check pass: the student's rule has decided."""
    real = getattr(slot, field)
    setattr(slot, field, {**real, digest: max(real.get(digest, 0), floor)})
    try:
        yield
    finally:
        setattr(slot, field, real)


class LabReplica(Replica):
    """The project's replica; the student's rules decide prepared and committed-local.

    Once a rule says yes, the base replica does what follows (the prepared
    certificate, the COMMIT, execution), with its own count check satisfied.
    """

    rules: ModuleType

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.prepare_quorum = 0  # the base's fast gates always defer to the student's rules
        self.commit_quorum = 0

    def _check_prepared(self, ctx: Context, seq: int, slot: Slot) -> None:
        if slot.prepared or slot.digest is None or not slot.accepted:
            return
        if not type(self).rules.prepared(view_of(self, seq, slot), self.f):
            return
        with _count_at_least(slot, "prep_count", slot.digest, 2 * self.f):
            super()._check_prepared(ctx, seq, slot)

    def _check_committed(self, ctx: Context, seq: int, slot: Slot) -> None:
        if slot.committed or not slot.prepared or slot.digest is None:
            return
        if not type(self).rules.committed_local(view_of(self, seq, slot), self.f):
            return
        with _count_at_least(slot, "commit_count", slot.digest, 2 * self.f + 1):
            super()._check_committed(ctx, seq, slot)


def make_protocol(rules: ModuleType) -> type[PBFT]:
    replica_cls = type("StudentReplica", (LabReplica,), {"rules": rules})

    class Lab4PBFT(PBFT):
        name = "lab4-pbft"
        summary = "PBFT with the student's prepare/commit quorum rules"

        def make_node(self, node_id: int, p: Params) -> Node:
            node = super().make_node(node_id, p)
            if isinstance(node, Replica):
                cfg = self.config(p)
                return replica_cls(
                    node_id, cfg, p["checkpoint_interval"], p["view_timeout"], p["msg_cost"]
                )
            return node

    return Lab4PBFT
