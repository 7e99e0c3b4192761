"""Drive one node by hand: the payoff of sans-IO.

A node only ever talks to its ``Context``, so a test can be its whole world:
feed it an inbox, then read what it sent, output and rejected, without an
engine, adversaries or a scenario::

    harness = NodeHarness(General(1, n=4, m=1, commander=0, value=None), n=4)
    step = harness.step([(0, OMMessage((0,), 1))], round=0)
    assert step.sent_to(2) == [OMMessage((0, 1), 1)]

Other nodes' signatures come from ``harness.sign(node, payload)`` (the harness
holds every key, as a test author may); the node itself signs with its own key
through its context as usual.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from bft.core.crypto import KeyRing, Signed
from bft.core.environment import Environment, Frozen
from bft.core.node import BROADCAST, Context, Destination, Node


@attrs.frozen
class Step:
    """What a node did in one round."""

    round: int
    sent: tuple[tuple[int, Any], ...]  # (recipient, payload), broadcasts expanded
    outputs: tuple[tuple[str, dict[str, Any]], ...]  # (name, data)
    rejected: tuple[tuple[int, Any, str], ...]  # (sender, payload, reason)
    tallies: dict[str, float]
    work: float
    frozen: bool  # the node executed a poison this round

    def sent_to(self, dst: int) -> list[Any]:
        """The payloads sent to ``dst`` this round, in order."""
        return [payload for to, payload in self.sent if to == dst]

    def outputs_named(self, name: str) -> list[dict[str, Any]]:
        return [data for out, data in self.outputs if out == name]


class NodeHarness:
    """One node, ``node_id`` of ``n``, driven round by round by the caller."""

    def __init__(
        self,
        node: Node,
        *,
        n: int,
        node_id: int | None = None,
        seed: int = 0,
        signatures: str = "ideal",
        environment: Environment | None = None,
        variant: int = 0,
    ) -> None:
        self.node = node
        self.n = n
        self.seed = seed
        self.keys = KeyRing(n, signatures)
        self.environment = environment or Environment()
        self.out: list[tuple[int, Destination, Any]] = []
        self._outputs: list[tuple[str, dict[str, Any]]] = []
        self._rejected: list[tuple[int, Any, str]] = []
        self._tallies: dict[str, float] = {}
        self._work = 0.0
        me = node_id if node_id is not None else getattr(node, "node_id", None)
        if me is None:
            me = getattr(node, "me", 0)
        self.ctx = Context(self, int(me), variant)
        self.round = -1

    # -- the host interface ------------------------------------------------------------

    def emit_output(self, node: int, name: str, data: dict[str, Any]) -> None:
        self._outputs.append((name, dict(data)))

    def record_reject(self, node: int, src: int, payload: Any, reason: str) -> None:
        self._rejected.append((src, payload, reason))

    def add_tally(self, name: str, amount: float) -> None:
        self._tallies[name] = self._tallies.get(name, 0) + amount

    def add_work(self, node: int, units: float) -> None:
        self._work += units

    def work_of(self, node: int) -> float:
        return self._work

    # -- driving ------------------------------------------------------------------------

    def sign(self, node: int, payload: Any) -> Signed:
        """A message signed by any node (to play the other nodes in a test)."""
        return self.keys.sign(node, payload)

    def step(self, inbox: Iterable[tuple[int, Any]] = (), *, round: int | None = None) -> Step:
        """Run one round with ``inbox`` (``(sender, payload)`` pairs); the next round
        number by default. Exceptions from the node propagate (a test sees them)."""
        self.round = self.round + 1 if round is None else round
        self.ctx.round = self.round
        self.out.clear()
        self._outputs, self._rejected, self._tallies, self._work = [], [], {}, 0.0
        frozen = False
        try:
            self.node.on_round(self.ctx, list(inbox))
        except Frozen:
            frozen = True
            self.out.clear()
        me = self.ctx.node_id
        sent: list[tuple[int, Any]] = []
        for _src, dst, payload in self.out:
            if dst == BROADCAST:
                sent.extend((d, payload) for d in range(self.n) if d != me)
            elif type(dst) is tuple:
                sent.extend((d, payload) for d in dst)
            else:
                sent.append((dst, payload))  # type: ignore[arg-type]
        return Step(
            self.round,
            tuple(sent),
            tuple(self._outputs),
            tuple(self._rejected),
            dict(self._tallies),
            self._work,
            frozen,
        )
