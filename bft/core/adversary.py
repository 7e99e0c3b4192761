"""The adversary interface: corruption, crashes, and control of the network.

Theory of operation. An adversary is a plug-in (entry-point group
``bft.adversaries``) instantiated once per run with its parameters. It acts at
three points, all through a control object that enforces its powers:

1. ``setup(ctl)``: static corruption. ``ctl.corrupt(nodes)`` takes over nodes
   (their keys pass to the adversary). Corrupted nodes keep running the
   protocol code, but every message they send passes through the adversary,
   which may replace, withhold, or add to it.
2. ``before_round(ctl)``: crash, recover or restart honest nodes, within the
   crash budget the adversary declared in ``setup`` (``ctl.crash_budget``).
3. ``on_traffic(ctl)``: after all nodes have acted in a round, the adversary
   sees every envelope in flight (it is *rushing*: it knows the honest
   messages before it fixes the corrupted nodes' ones). It may drop or delay
   envelopes as the network model allows, replace the payload of envelopes
   from corrupted nodes, and inject new ones from corrupted nodes, signing
   only with corrupted nodes' keys.

Every action outside these powers is refused: the method returns ``False``
(or ``None``), nothing changes, and the refusal is recorded in the trace and
the run result. Adversaries compose: several can act in one run, in the order
given, each with its own budget.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from bft.core.crypto import Signed
from bft.core.node import Node
from bft.core.params import Param

if TYPE_CHECKING:
    from bft.core.engine import Engine


@attrs.define(slots=True)
class Envelope:
    """A message in flight. Fields change only through the traffic control."""

    src: int
    dst: int
    payload: Any
    sent: int
    extra_delay: int = 0
    dropped: bool = False
    injected: bool = False


class Adversary:
    name: ClassVar[str]
    summary: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    #: whether ``on_traffic`` needs to see envelopes (skipped otherwise: faster)
    intercepts: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.p = params

    def setup(self, ctl: SetupControl) -> None:
        """Choose corrupted nodes and declare a crash budget."""

    def before_round(self, ctl: RoundControl) -> None:
        """Crash, recover or restart honest nodes."""

    def on_traffic(self, ctl: TrafficControl) -> None:
        """Act on this round's envelopes (only called when ``intercepts`` is true)."""


class _Control:
    def __init__(self, engine: Engine, adversary: Adversary) -> None:
        self._engine = engine
        self._adversary = adversary
        self.n = engine.n
        self.roles = engine.roles
        self.params = engine.protocol_params
        self.rng: random.Random = engine.adversary_rng(adversary)

    @property
    def round(self) -> int:
        return self._engine.round

    @property
    def corrupted(self) -> frozenset[int]:
        return self._engine.corrupted

    def nodes_with_role(self, role: str) -> list[int]:
        return [i for i, r in enumerate(self.roles) if r == role]

    def note(self, what: str) -> None:
        """Record a marker in the trace, e.g. 'trigger-end' when a storm is over."""
        self._engine.note(self._adversary, what)

    def refuse(self, why: str) -> bool:
        self._engine.record_refused(self._adversary, why)
        return False


class SetupControl(_Control):
    def corrupt(self, nodes: tuple[int, ...] | list[int]) -> bool:
        for node in nodes:
            if not 0 <= node < self.n:
                return self.refuse(f"cannot corrupt node {node}: no such node (n={self.n})")
        self._engine.corrupt(nodes, self._adversary)
        return True

    def declare_crash_budget(self, budget: int) -> None:
        self._engine.crash_budget[self._adversary] = budget

    def build_node(self, node: int) -> Node | None:
        """A fresh copy of the protocol's own node code for corrupted ``node``, which
        the adversary may run under that identity (a Twin); None, refused, otherwise."""
        if node not in self.corrupted:
            self.refuse(f"cannot run a copy of honest node {node}: corrupt it first")
            return None
        return self._engine.protocol.make_node(node, self.params)


class RoundControl(_Control):
    def is_up(self, node: int) -> bool:
        return self._engine.is_up(node)

    def _budget_allows(self, node: int) -> bool:
        crashed = self._engine.crashed_by[self._adversary]
        if node in crashed:
            return True
        budget = self._engine.crash_budget.get(self._adversary, 0)
        if len(crashed) >= budget:
            return self.refuse(
                f"crashing node {node} exceeds the crash budget of {budget} "
                f"(already crashed: {sorted(crashed)})"
            )
        return True

    def crash(self, node: int, reason: str = "crash") -> bool:
        if not 0 <= node < self.n:
            return self.refuse(f"cannot crash node {node}: no such node (n={self.n})")
        if not self._budget_allows(node):
            return False
        self._engine.crashed_by[self._adversary].add(node)
        self._engine.take_down(node, None, reason)
        return True

    def recover(self, node: int) -> bool:
        if node not in self._engine.crashed_by[self._adversary]:
            return self.refuse(f"cannot recover node {node}: this adversary did not crash it")
        self._engine.bring_up(node, fresh=False)
        return True

    def restart(self, node: int) -> bool:
        """Crash now and come back next round with fresh state (a reboot)."""
        if not 0 <= node < self.n:
            return self.refuse(f"cannot restart node {node}: no such node (n={self.n})")
        if not self._budget_allows(node):
            return False
        self._engine.crashed_by[self._adversary].add(node)
        self._engine.restart(node)
        return True


class TrafficControl(_Control):
    def __init__(self, engine: Engine, adversary: Adversary) -> None:
        super().__init__(engine, adversary)
        self.envelopes: list[Envelope] = []

    def drop(self, env: Envelope) -> bool:
        if env.src not in self.corrupted:
            why = self._engine.network.refuse_drop(env.sent)
            if why is not None:
                return self.refuse(f"drop {env.src}->{env.dst}: {why}")
        env.dropped = True
        return True

    def delay(self, env: Envelope, extra: int) -> bool:
        if env.src not in self.corrupted:
            why = self._engine.network.refuse_delay(env.sent, env.extra_delay + extra)
            if why is not None:
                return self.refuse(f"delay {env.src}->{env.dst}: {why}")
        elif extra < 1:
            return self.refuse(f"a delay must be at least 1 round (got {extra})")
        env.extra_delay += extra
        return True

    def replace(self, env: Envelope, payload: Any) -> bool:
        if env.src not in self.corrupted:
            return self.refuse(
                f"cannot change a message from honest node {env.src}: the adversary controls "
                f"only corrupted nodes {sorted(self.corrupted)}"
            )
        env.payload = payload
        return True

    def inject(self, src: int, dst: int, payload: Any) -> bool:
        if src not in self.corrupted:
            return self.refuse(
                f"cannot send as honest node {src}: the adversary controls only "
                f"corrupted nodes {sorted(self.corrupted)}"
            )
        if not 0 <= dst < self.n:
            return self.refuse(f"cannot send to node {dst}: no such node (n={self.n})")
        self.envelopes.append(Envelope(src, dst, payload, self.round, injected=True))
        return True

    def sign(self, node: int, payload: Any) -> Signed | None:
        """Sign as ``node``; refused unless the adversary corrupted it and holds its key."""
        if node not in self.corrupted:
            self.refuse(
                f"cannot sign as honest node {node}: the adversary holds only the keys of "
                f"corrupted nodes {sorted(self.corrupted)}"
            )
            return None
        return self._engine.keys.sign(node, payload)

    def verify(self, signed: Any, signer: int | None = None) -> bool:
        return self._engine.keys.verify(signed, signer)

    def from_node(self, node: int) -> list[Envelope]:
        return [e for e in self.envelopes if e.src == node and not e.dropped]
