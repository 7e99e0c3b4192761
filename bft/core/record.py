"""What properties and metrics see of a run: a compact, in-memory record.

The record keeps node-level events (outputs, crashes, corruptions, ...),
per-round message counts by kind and per-round tallies, never the messages
themselves, so it stays small whatever the trace level. Properties are pure
functions of a ``RunRecord``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from bft.core.network import Network


@attrs.frozen
class Output:
    """An observable event a node emitted with ``ctx.output``."""

    round: int
    node: int
    name: str
    data: Mapping[str, Any]


@attrs.frozen
class Event:
    """A node-level event caused by the engine, the environment or an adversary."""

    round: int
    kind: str
    node: int | None
    detail: str = ""


@attrs.define
class RunRecord:
    n: int
    rounds: int
    seed: int
    params: Mapping[str, Any]
    roles: tuple[str, ...]
    network: Network
    corrupted: frozenset[int] = frozenset()  # Byzantine: the adversary holds their keys
    crashed: frozenset[int] = frozenset()  # crashed or restarted by an adversary
    outputs: list[Output] = attrs.Factory(list)
    events: list[Event] = attrs.Factory(list)
    sent: list[dict[str, int]] = attrs.Factory(list)
    tallies: list[dict[str, float]] = attrs.Factory(list)
    down: list[list[int]] = attrs.Factory(list)  # per round: nodes not running
    peak_work: list[float] = attrs.Factory(list)  # per round: the most work one node did
    bugs: list[Event] = attrs.Factory(list)
    rejected: int = 0
    refused: list[Event] = attrs.Factory(list)
    adversary_errors: list[Event] = attrs.Factory(list)  # adversaries that raised (stopped)
    #: per adversary, in the run's order: the nodes it corrupted, crashed or restarted
    faulty_by: tuple[frozenset[int], ...] = ()
    delivered: int = 0
    dropped: int = 0
    delayed: int = 0
    lost: int = 0
    #: ever_down over the first k rounds, as (k, nodes): properties ask for it per output
    _down_seen: tuple[int, frozenset[int]] = attrs.field(
        default=(0, frozenset()), init=False, repr=False, eq=False
    )

    # -- convenience views for properties and metrics -------------------------------

    @property
    def messages(self) -> int:
        return sum(sum(per_round.values()) for per_round in self.sent)

    def messages_of(self, *kinds: str) -> int:
        return sum(per_round.get(kind, 0) for per_round in self.sent for kind in kinds)

    def outputs_named(self, name: str) -> Iterator[Output]:
        return (o for o in self.outputs if o.name == name)

    def tally(self, name: str) -> list[float]:
        """The per-round series of a tally (0 where nothing was counted)."""
        return [per_round.get(name, 0) for per_round in self.tallies]

    def notes(self, adversary: str | None = None) -> list[Event]:
        """Events adversaries recorded with ``ctl.note`` (e.g. 'trigger-end')."""
        return [
            e
            for e in self.events
            if e.kind == "adversary" and (adversary is None or e.detail.startswith(adversary + ":"))
        ]

    def events_of(self, *kinds: str) -> list[Event]:
        return [e for e in self.events if e.kind in kinds]

    @property
    def ever_down(self) -> frozenset[int]:
        """Nodes that were down (crashed, overloaded, frozen) at some round. Kept as the
        record grows: only rounds not read yet, and the newest one, are read again."""
        seen, nodes = self._down_seen
        if seen == len(self.down) and (not seen or set(self.down[-1]) <= nodes):
            return nodes  # (the newest round is read again: it may still be filling)
        out = set(nodes)
        for down in self.down[max(seen - 1, 0) :]:
            out.update(down)
        self._down_seen = (len(self.down), frozenset(out))
        return self._down_seen[1]

    @property
    def faulty(self) -> frozenset[int]:
        """Nodes an adversary corrupted, crashed or restarted: the faults it spent."""
        return self.corrupted | self.crashed

    @property
    def honest(self) -> frozenset[int]:
        """Nodes no adversary made faulty (the environment may still take them down)."""
        return frozenset(range(self.n)) - self.faulty

    @property
    def correct(self) -> frozenset[int]:
        """Honest nodes that never went down and never raised."""
        buggy = {e.node for e in self.bugs}
        return self.honest - self.ever_down - buggy

    def nodes_with_role(self, role: str) -> list[int]:
        return [i for i, r in enumerate(self.roles) if r == role]
