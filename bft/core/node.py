"""The sans-IO node interface: what a protocol implements and what it may use.

A node is a state machine. Each round the engine calls
``on_round(ctx, inbox)`` with the messages delivered this round, as
``(sender, payload)`` pairs in a deterministic order. The node acts only
through ``ctx``: it sends, signs and verifies, emits observable outputs, does
work, executes service operations, and draws from its own seeded RNG. It never
sees clocks, sockets, global randomness, other nodes or the adversary, so the
same code runs in the simulator, under a search, or over a real network.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bft.core.crypto import Signed
from bft.core.environment import Frozen, Operation, correct_result

if TYPE_CHECKING:
    from bft.core.engine import Engine

Inbox = list[tuple[int, Any]]
BROADCAST = -1


class Node:
    """Base class for protocol nodes. Subclasses override ``on_round``."""

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        raise NotImplementedError

    def on_recover(self, ctx: Context) -> None:
        """Called when the node comes back after a crash, overload or freeze.

        The node keeps its state (as if it had stable storage). Override to
        model volatile state being lost. A *restart* instead builds a fresh node.
        """


class Context:
    """A node's only window on the world. One per node, reused every round."""

    __slots__ = (
        "node_id",
        "n",
        "rng",
        "variant",
        "round",
        "verify",
        "_engine",
        "_keys",
        "_out",
        "_group",
        "_targets",
    )

    def __init__(self, engine: Engine, node_id: int, rng: random.Random, variant: int) -> None:
        self.node_id = node_id
        self.n = engine.n
        self.rng = rng
        self.variant = variant
        self._engine = engine
        self._keys = engine.keys
        self._out = engine.out  # the engine reuses this list every round
        self.round = 0  # the current round; the engine sets it before each round
        # verify(signed, signer=None) -> bool: True if ``signed`` carries a valid signature
        # (by ``signer``, if given). Bound straight to the key ring: it is the call a
        # quorum protocol makes most (once per vote delivered), and any key may verify.
        self.verify = engine.keys.verify
        self._group: tuple[int, ...] | None = None  # the last tuple multicast to, checked
        self._targets: tuple[int, ...] = ()  # ... and its recipients

    # -- messages -------------------------------------------------------------------
    def send(self, dst: int, payload: Any) -> None:
        """Send ``payload`` to node ``dst``; it arrives next round unless the adversary acts."""
        if not 0 <= dst < self.n:
            raise ValueError(
                f"node {self.node_id} sent to node {dst}, which does not exist (n={self.n})"
            )
        self._out.append((self.node_id, dst, payload))

    def broadcast(self, payload: Any) -> None:
        """Send ``payload`` to every other node (one message per recipient)."""
        self._out.append((self.node_id, BROADCAST, payload))

    def multicast(self, dsts: Iterable[int], payload: Any) -> None:
        """Send ``payload`` to each node in ``dsts`` (except this one), as one entry.

        The engine routes the entry to every destination, sharing one delivery
        tuple and counting the message kind once (the fast path for quorum votes).
        A node that multicasts to the same tuple again (its peers, say) skips the
        checks: a tuple cannot have changed.
        """
        if dsts is self._group:
            self._out.append((self.node_id, self._targets, payload))
            return
        me = self.node_id
        targets = tuple(dsts)
        if me in targets:
            targets = tuple(d for d in targets if d != me)
        if not targets:
            return
        if min(targets) < 0 or max(targets) >= self.n:
            bad = next(d for d in targets if not 0 <= d < self.n)
            raise ValueError(
                f"node {me} multicast to node {bad}, which does not exist (n={self.n})"
            )
        if type(dsts) is tuple:
            self._group, self._targets = dsts, targets
        self._out.append((me, targets, payload))

    # -- authentication ---------------------------------------------------------------
    def sign(self, payload: Any) -> Signed:
        """Sign with this node's own key (the only key a node holds)."""
        return self._keys.sign(self.node_id, payload)

    # -- observation --------------------------------------------------------------------
    def output(self, name: str, **data: Any) -> None:
        """Emit an observable event (decide, commit, reply, suspect...) for properties."""
        self._engine.emit_output(self.node_id, name, data)

    def tally(self, name: str, amount: float = 1) -> None:
        """Add to a per-round counter summed over nodes (cheap; for large runs)."""
        tallies = self._engine.round_tallies
        tallies[name] = tallies.get(name, 0) + amount

    def reject(self, src: int, payload: Any, reason: str) -> None:
        """Record that a message was refused as invalid (malformed, forged, stale...)."""
        self._engine.record_reject(self.node_id, src, payload, reason)

    # -- environment: capacity, service, poison ----------------------------------------
    def work(self, units: float = 1.0) -> None:
        """Spend work units this round; too many and the environment takes the node down."""
        work = self._engine.work
        work[self.node_id] = work.get(self.node_id, 0.0) + units

    @property
    def load(self) -> float:
        """Work done so far this round."""
        return self._engine.work.get(self.node_id, 0.0)

    @property
    def capacity(self) -> float | None:
        return self._engine.environment.capacity

    def execute(self, op: Operation) -> int:
        """Execute a service operation: costs ``op_cost`` work; a poison may freeze the node."""
        env = self._engine.environment
        self.work(env.op_cost)
        if op.poison and self.variant in env.vulnerable:
            raise Frozen(op)
        return correct_result(op)
