"""The sans-IO node interface: what a protocol implements and what it may use.

A node is a state machine. Each round the engine calls
``on_round(ctx, inbox)`` with the messages delivered this round, as
``(sender, payload)`` pairs in a deterministic order. The node acts only
through ``ctx``: it sends, signs and verifies, emits observable outputs, does
work, executes service operations, and draws from its own seeded RNG. It never
sees clocks, sockets, global randomness, other nodes or the adversary, so the
same code runs under the engine, under a search, or driven by hand with
``bft.NodeHarness``.

A ``Context`` talks to its *host* (the engine, or a harness) only through the
narrow ``Host`` interface below: it appends sends to the host's outgoing list
and calls the host's methods for everything else, so neither side reaches into
the other's fields.
"""

from __future__ import annotations

import _random
import hashlib
import random
from collections.abc import Iterable
from typing import Any, Protocol

from bft.core.crypto import Signed
from bft.core.environment import Environment, Frozen, Operation, correct_result

Inbox = list[tuple[int, Any]]
BROADCAST = -1
Destination = int | tuple[int, ...]  # a node id, BROADCAST, or a multicast's recipients


def derive_seed(*parts: object) -> int:
    """A 64-bit seed from any parts (their text), the same in every process."""
    text = ":".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def _seeded(seed: int) -> random.Random:
    """``random.Random(seed)`` for an int seed (the same stream), without the Python-level
    ``__init__`` and ``seed`` around the C seeding (a tenth of a node's first draw)."""
    rng = random.Random.__new__(random.Random)
    _random.Random.seed(rng, seed)  # what random.Random.seed calls for an int
    rng.gauss_next = None  # type: ignore[attr-defined]  # ... and the one field it sets
    return rng


class Keys(Protocol):
    """What a context needs of the run's keys: a ``KeyRing``, or a stand-in (a search's twin)."""

    def sign(self, node: int, payload: Any) -> Signed: ...
    def verify(self, signed: Any, signer: int | None = None) -> bool: ...


class Host(Protocol):
    """What a context needs from whoever runs the node (the engine or a harness)."""

    n: int
    seed: int
    environment: Environment
    out: list[tuple[int, Destination, Any]]  # this round's sends: (src, dst, payload)

    @property
    def keys(self) -> Keys: ...  # read-only here: an engine's KeyRing, a twin's stand-in
    def emit_output(self, node: int, name: str, data: dict[str, Any]) -> None: ...
    def record_reject(self, node: int, src: int, payload: Any, reason: str) -> None: ...
    def add_tally(self, name: str, amount: float) -> None: ...
    def add_work(self, node: int, units: float) -> None: ...
    def work_of(self, node: int) -> float: ...


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
        "variant",
        "round",
        "verify",
        "_host",
        "_keys",
        "_out",
        "_rng",
        "_group",
        "_targets",
    )

    def __init__(self, host: Host, node_id: int, variant: int = 0) -> None:
        self.node_id = node_id
        self.n = host.n
        self.variant = variant
        self._host = host
        self._keys = host.keys
        self._out = host.out  # the host reuses this list every round
        self._rng: random.Random | None = None  # made on first use: most nodes never draw
        self.round = 0  # the current round; the host sets it before each round
        # verify(signed, signer=None) -> bool: True if ``signed`` carries a valid signature
        # (by ``signer``, if given). Bound straight to the key ring: it is the call a
        # quorum protocol makes most (once per vote delivered), and any key may verify.
        self.verify = host.keys.verify
        self._group: tuple[int, ...] | None = None  # the last tuple multicast to, checked
        self._targets: tuple[int, ...] = ()  # ... and its recipients

    @property
    def rng(self) -> random.Random:
        """This node's own random stream, seeded by (run seed, node id). A property, not
        a slot filled by ``__getattr__``: defining ``__getattr__`` would slow every other
        attribute read on a context (CPython then skips its specialised slot reads)."""
        rng = self._rng
        if rng is None:
            rng = self._rng = _seeded(derive_seed("bft-rng", self._host.seed, self.node_id))
        return rng

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
        targets = self._recipients(dsts)
        if targets:
            self._out.append((self.node_id, targets, payload))

    def _recipients(self, dsts: Iterable[int]) -> tuple[int, ...]:
        """The checked recipients of a multicast to ``dsts`` (this node left out); a
        tuple is remembered, so that multicasting to it again skips the checks."""
        me = self.node_id
        targets = tuple(dsts)
        if me in targets:
            targets = tuple(d for d in targets if d != me)
        if not targets:
            return targets
        if min(targets) < 0 or max(targets) >= self.n:
            bad = next(d for d in targets if not 0 <= d < self.n)
            raise ValueError(
                f"node {me} multicast to node {bad}, which does not exist (n={self.n})"
            )
        if type(dsts) is tuple:
            self._group, self._targets = dsts, targets
        return targets

    # -- authentication ---------------------------------------------------------------
    def sign(self, payload: Any) -> Signed:
        """Sign with this node's own key (the only key a node holds)."""
        return self._keys.sign(self.node_id, payload)

    # -- observation --------------------------------------------------------------------
    def output(self, name: str, **data: Any) -> None:
        """Emit an observable event (decide, commit, reply, suspect...) for properties."""
        self._host.emit_output(self.node_id, name, data)

    def tally(self, name: str, amount: float = 1) -> None:
        """Add to a per-round counter summed over nodes (cheap; for large runs)."""
        self._host.add_tally(name, amount)

    def reject(self, src: int, payload: Any, reason: str) -> None:
        """Record that a message was refused as invalid (malformed, forged, stale...)."""
        self._host.record_reject(self.node_id, src, payload, reason)

    # -- environment: capacity, service, poison ----------------------------------------
    def work(self, units: float = 1.0) -> None:
        """Spend work units this round; too many and the environment takes the node down."""
        self._host.add_work(self.node_id, units)

    @property
    def load(self) -> float:
        """Work done so far this round."""
        return self._host.work_of(self.node_id)

    @property
    def capacity(self) -> float | None:
        return self._host.environment.capacity

    def execute(self, op: Operation) -> int:
        """Execute a service operation: costs ``op_cost`` work; a poison may freeze the node."""
        env = self._host.environment
        self._host.add_work(self.node_id, env.op_cost)
        if op.poison and self.variant in env.vulnerable:
            raise Frozen(op)
        return correct_result(op)
