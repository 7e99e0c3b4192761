"""The adversary interface: corruption, crashes, and control of the network.

Theory of operation. An adversary is a plug-in (entry-point group
``bft.adversaries``) instantiated once per run with its parameters. It acts at
three points, each through a control object that checks every action:

1. ``setup(ctl)``: static corruption. ``ctl.corrupt(nodes)`` takes over nodes
   (their keys pass to the adversary). Corrupted nodes keep running the
   protocol code, but every message they send passes through the adversary,
   which may replace, withhold, or add to it.
2. ``before_round(ctl)``: crash, recover or restart nodes.
3. ``on_traffic(ctl)``: after all nodes have acted in a round, the adversary
   sees every message in flight (it is *rushing*: it knows the honest
   messages before it fixes the corrupted nodes' ones). It may drop or delay
   messages as the network model allows, replace the payload of messages from
   corrupted nodes, and inject new ones from corrupted nodes, signing only
   with corrupted nodes' keys.

What keeps an adversary inside its model:

* It sees only read-only views. ``ctl.envelopes`` is a tuple of ``Envelope``
  views (assigning to a field raises); an envelope's ``payload`` is a copy, and
  every payload handed back (``replace``, ``inject``, ``sign``) is copied in,
  so the adversary never shares an object with an honest node and cannot
  change an honest message in place. ``ctl.params`` is a read-only copy.
* Every action goes through a control method, which checks it against the
  envelope's true sender (never the view's fields), the network model and the
  keys the adversary holds. An action outside these powers is refused: the
  method returns ``False`` (or ``None``), nothing changes, and the refusal is
  recorded in the trace and the run result.
* A control is valid only during the call it was passed to: one kept for
  later refuses everything (no corrupting nodes mid-run with a saved setup
  control).
* Faulty nodes (corrupted, or crashed or restarted by an adversary) are
  counted by the engine, across all adversaries of the run, against the
  faults the protocol claims to tolerate (``ProtocolSpec.tolerance``). A run
  that exceeds the claim is not refused but labelled *beyond the model*, so a
  violation there is never blamed on the protocol.
* An adversary that raises is stopped (it takes no further part in the run)
  and the error is recorded; it is not a protocol bug.

In-process adversaries are trusted not to reach past this interface (private
attributes, the garbage collector); ``--isolate`` runs a third-party adversary
in its own process, where only this interface exists. Adversaries compose:
several can act in one run, in the order given.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from bft.core.crypto import Signed
from bft.core.node import Node
from bft.core.params import Param

if TYPE_CHECKING:
    from bft.core.engine import Engine


_IMMUTABLE = frozenset({int, str, bytes, bool, float, type(None)})


def copy_value(value: Any) -> Any:
    """A deep copy of a message value (shares only immutable scalars with the original).

    Faster than ``copy.deepcopy`` for attrs values: fields are set directly,
    without running ``__init__`` (the original was already validated).
    """
    cls = type(value)
    if cls in _IMMUTABLE:
        return value
    if cls is tuple:
        return tuple([copy_value(v) for v in value])
    if cls is list:
        return [copy_value(v) for v in value]
    if cls is frozenset:
        return frozenset(copy_value(v) for v in value)
    if cls is set:
        return {copy_value(v) for v in value}
    if cls is dict:
        return {copy_value(k): copy_value(v) for k, v in value.items()}
    if attrs.has(cls):
        fresh = object.__new__(cls)
        for field in attrs.fields(cls):
            object.__setattr__(fresh, field.name, copy_value(getattr(value, field.name)))
        return fresh
    import copy

    return copy.deepcopy(value)


def freeze_value(params: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a parameter table with lists turned into tuples (nothing in it can change)."""

    def frozen(value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(frozen(v) for v in value)
        if isinstance(value, dict):
            return MappingProxyType({k: frozen(v) for k, v in value.items()})
        return copy_value(value)

    return {name: frozen(value) for name, value in params.items()}


class _Flight:
    """A message in flight this round: the engine's own, mutable record (never shown)."""

    __slots__ = ("src", "dst", "payload", "sent", "extra_delay", "dropped", "injected", "replaced")

    def __init__(self, src: int, dst: int, payload: Any, sent: int, injected: bool = False):
        self.src = src
        self.dst = dst
        self.payload = payload
        self.sent = sent
        self.extra_delay = 0
        self.dropped = False
        self.injected = injected
        self.replaced = False


class Envelope:
    """A read-only view of one message in flight this round.

    ``index`` is how the traffic control finds the message; the other fields
    describe it as it stands (a view taken before an action is stale after it:
    read ``ctl.envelopes`` again). ``payload`` is a copy.
    """

    __slots__ = ("index", "src", "dst", "sent", "kind", "extra_delay", "dropped", "injected",
                 "_payload", "_copied")  # fmt: skip

    # set once in __init__ through object.__setattr__ (the view refuses assignment)
    index: int
    src: int
    dst: int
    sent: int
    kind: str
    extra_delay: int
    dropped: bool
    injected: bool
    _payload: Any
    _copied: bool

    def __init__(self, index: int, flight: _Flight, kind: str) -> None:
        s = object.__setattr__
        s(self, "index", index)
        s(self, "src", flight.src)
        s(self, "dst", flight.dst)
        s(self, "sent", flight.sent)
        s(self, "kind", kind)
        s(self, "extra_delay", flight.extra_delay)
        s(self, "dropped", flight.dropped)
        s(self, "injected", flight.injected)
        s(self, "_payload", flight.payload)
        s(self, "_copied", False)

    @property
    def payload(self) -> Any:
        if not self._copied:
            object.__setattr__(self, "_payload", copy_value(self._payload))
            object.__setattr__(self, "_copied", True)
        return self._payload

    def __copy__(self) -> Envelope:
        return self  # a read-only view: a copy is the same view

    def __deepcopy__(self, memo: dict[int, Any]) -> Envelope:
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"envelopes are read-only views (tried to set {name!r}); act through the "
            "traffic control: ctl.drop(env), ctl.delay(env, k), ctl.replace(env, payload), "
            "ctl.inject(src, dst, payload)"
        )

    def __repr__(self) -> str:
        flags = "".join(f" {name}" for name in ("dropped", "injected") if getattr(self, name)) + (
            f" delay={self.extra_delay}" if self.extra_delay else ""
        )
        return (
            f"<Envelope #{self.index} {self.kind} {self.src}->{self.dst} sent {self.sent}{flags}>"
        )


class Adversary:
    name: ClassVar[str]
    summary: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    #: whether ``on_traffic`` needs to see envelopes (skipped otherwise: faster); a class
    #: default, which an instance may set for itself (a schedule, a hosted adversary)
    intercepts: bool = False
    #: the protocols this adversary is written for: ``bft check`` of one of them may draw it
    #: as an action (a protocol-aware attack, with drawn parameters)
    protocols: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any) -> None:
        self.p = params

    def setup(self, ctl: SetupControl) -> None:
        """Choose corrupted nodes."""

    def before_round(self, ctl: RoundControl) -> None:
        """Crash, recover or restart nodes."""

    def on_traffic(self, ctl: TrafficControl) -> None:
        """Act on this round's envelopes (only called when ``intercepts`` is true)."""

    def wants_traffic(self, round: int) -> bool:
        """Whether ``on_traffic`` should see this round's messages (default: every round;
        an adversary that acts in a few rounds says so, and the other rounds run at the
        speed of a run without it)."""
        return True


class _Control:
    phase: ClassVar[str] = "adversary"

    def __init__(self, engine: Engine, adversary: Adversary) -> None:
        self._engine = engine
        self._adversary = adversary
        self._open = True
        self.n: int = engine.n
        self.roles: tuple[str, ...] = tuple(engine.roles)
        self.params: Mapping[str, Any] = engine.params_view
        self.rng: random.Random = engine.adversary_rng(adversary)
        self.round: int = engine.round

    def close(self) -> None:
        """End this control's phase: from now on it refuses every action."""
        self._open = False

    def _usable(self, what: str) -> bool:
        if self._open:
            return True
        return self.refuse(
            f"{what}: this {self.phase} control belongs to a phase that is over "
            f"(controls are valid only during the call they are passed to)"
        )

    @property
    def corrupted(self) -> frozenset[int]:
        return self._engine.corrupted

    def nodes_with_role(self, role: str) -> list[int]:
        return [i for i, r in enumerate(self.roles) if r == role]

    def is_up(self, node: int) -> bool:
        return 0 <= node < self.n and self._engine.is_up(node)

    def note(self, what: str) -> None:
        """Record a marker in the trace, e.g. 'trigger-end' when a storm is over."""
        if self._usable("note"):
            self._engine.note(self._adversary, str(what)[:500])

    def refuse(self, why: str) -> bool:
        self._engine.record_refused(self._adversary, why)
        return False

    def _node(self, node: Any, what: str) -> bool:
        if type(node) is not int or not 0 <= node < self.n:
            return self.refuse(f"cannot {what} node {node!r}: no such node (n={self.n})")
        return True


class SetupControl(_Control):
    phase = "setup"

    def corrupt(self, nodes: tuple[int, ...] | list[int]) -> bool:
        if not self._usable("corrupt"):
            return False
        nodes = list(nodes)
        for node in nodes:
            if not self._node(node, "corrupt"):
                return False
        self._engine.corrupt(nodes, self._adversary)
        return True

    def build_node(self, node: int) -> Node | None:
        """A fresh copy of the protocol's own node code for corrupted ``node``, which
        the adversary may run under that identity (a Twin); None, refused, otherwise."""
        if not self._usable("build_node") or not self._node(node, "copy"):
            return None
        if node not in self.corrupted:
            self.refuse(f"cannot run a copy of honest node {node}: corrupt it first")
            return None
        return self._engine.protocol.make_node(node, dict(self._engine.params_view))


class RoundControl(_Control):
    phase = "round"

    def crash(self, node: int, reason: str = "crash") -> bool:
        if not self._usable("crash") or not self._node(node, "crash"):
            return False
        self._engine.adversary_crash(self._adversary, node, str(reason)[:40])
        return True

    def recover(self, node: int) -> bool:
        if not self._usable("recover") or not self._node(node, "recover"):
            return False
        if not self._engine.crashed_by(self._adversary, node):
            return self.refuse(f"cannot recover node {node}: this adversary did not crash it")
        self._engine.bring_up(node, fresh=False)
        return True

    def restart(self, node: int) -> bool:
        """Crash now and come back next round with fresh state (a reboot)."""
        if not self._usable("restart") or not self._node(node, "restart"):
            return False
        self._engine.adversary_restart(self._adversary, node)
        return True


class TrafficControl(_Control):
    phase = "traffic"

    def __init__(self, engine: Engine, adversary: Adversary, flights: list[_Flight]) -> None:
        super().__init__(engine, adversary)
        self._flights = flights
        self._views: list[Envelope] | None = None

    # -- what the adversary sees --------------------------------------------------------

    @property
    def envelopes(self) -> tuple[Envelope, ...]:
        """Every message in flight this round, as read-only views."""
        if self._views is None:
            kind = self._engine.kind
            self._views = [Envelope(i, f, kind(f.payload)) for i, f in enumerate(self._flights)]
        return tuple(self._views)

    def touching(self, nodes: frozenset[int] | set[int]) -> list[Envelope]:
        """The views of the messages sent by or to ``nodes`` (only those are built: an
        adversary that watches a few nodes does not pay for every message in flight)."""
        if self._views is not None:
            return [e for e in self._views if e.src in nodes or e.dst in nodes]
        kind = self._engine.kind
        return [
            Envelope(i, f, kind(f.payload))
            for i, f in enumerate(self._flights)
            if f.src in nodes or f.dst in nodes
        ]

    def from_node(self, node: int) -> list[Envelope]:
        """The views of ``node``'s messages that are not dropped."""
        return [e for e in self.envelopes if e.src == node and not e.dropped]

    def _flight(self, env: Any, what: str) -> _Flight | None:
        if not self._usable(what):
            return None
        index = getattr(env, "index", None)
        if type(index) is not int or not 0 <= index < len(self._flights):
            self.refuse(f"{what}: {env!r} is not an envelope of this round")
            return None
        return self._flights[index]

    def _changed(self, index: int) -> None:
        if self._views is not None:
            flight = self._flights[index]
            self._views[index] = Envelope(index, flight, self._engine.kind(flight.payload))

    # -- actions ---------------------------------------------------------------------------

    def drop(self, env: Envelope) -> bool:
        flight = self._flight(env, "drop")
        if flight is None:
            return False
        if flight.src not in self.corrupted and flight.dst not in self.corrupted:
            # a corrupted sender may withhold, a corrupted recipient may ignore: both are
            # the faulty node's doing, not the network's, so no network bound applies
            why = self._engine.network.refuse_drop(flight.sent)
            if why is not None:
                return self.refuse(f"drop {flight.src}->{flight.dst}: {why}")
        flight.dropped = True
        self._changed(env.index)
        return True

    def delay(self, env: Envelope, extra: int) -> bool:
        flight = self._flight(env, "delay")
        if flight is None:
            return False
        if type(extra) is not int or extra < 1:
            return self.refuse(f"a delay must be a whole number of rounds >= 1 (got {extra!r})")
        if flight.src not in self.corrupted and flight.dst not in self.corrupted:
            why = self._engine.network.refuse_delay(flight.sent, flight.extra_delay + extra)
            if why is not None:
                return self.refuse(f"delay {flight.src}->{flight.dst}: {why}")
        flight.extra_delay += extra
        self._changed(env.index)
        return True

    def replace(self, env: Envelope, payload: Any) -> bool:
        flight = self._flight(env, "replace")
        if flight is None:
            return False
        if flight.src not in self.corrupted:
            return self.refuse(
                f"cannot change a message from honest node {flight.src}: the adversary "
                f"controls only corrupted nodes {sorted(self.corrupted)}"
            )
        flight.payload = copy_value(payload)
        flight.replaced = True
        self._changed(env.index)
        return True

    def inject(self, src: int, dst: int, payload: Any) -> bool:
        if not self._usable("inject"):
            return False
        if src not in self.corrupted:
            return self.refuse(
                f"cannot send as honest node {src!r}: the adversary controls only "
                f"corrupted nodes {sorted(self.corrupted)}"
            )
        if not self._node(dst, "send to"):
            return False
        self._flights.append(_Flight(src, dst, copy_value(payload), self.round, injected=True))
        if self._views is not None:
            index = len(self._flights) - 1
            self._views.append(Envelope(index, self._flights[index], self._engine.kind(payload)))
        return True

    def sign(self, node: int, payload: Any) -> Signed | None:
        """Sign as ``node``; refused unless the adversary corrupted it and holds its key."""
        if not self._usable("sign"):
            return None
        if node not in self.corrupted:
            self.refuse(
                f"cannot sign as honest node {node!r}: the adversary holds only the keys of "
                f"corrupted nodes {sorted(self.corrupted)}"
            )
            return None
        return self._engine.keys.sign(node, copy_value(payload))

    def verify(self, signed: Any, signer: int | None = None) -> bool:
        return self._engine.keys.verify(signed, signer)
