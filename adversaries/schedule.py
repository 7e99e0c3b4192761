"""The ``schedule`` adversary: executes an explicit list of actions.

Theory of operation. This is how a searched schedule, and so a counterexample,
lives inside an ordinary scenario file::

    [[adversary]]
    name = "schedule"
    faults = 1
    actions = [
      { do = "mutate", node = 2, at = 1, dst = 1, field = 0, how = "flip" },
      { do = "crash", node = 3, at = 0, until = 2 },
    ]

Actions (fields in ``bft.search.strategies.Action``):

* ``crash`` node at [until]; ``recover`` node at: crash faults, within a crash
  budget equal to the number of distinct crashed nodes. A crashed node counts
  as faulty (it is marked corrupted at setup, as in the classical model where
  the f faulty nodes include crashed ones), so properties about correct nodes
  leave it out.
* ``drop`` / ``delay`` node at [dst] [extra]: the network drops or delays the
  messages node sends in round ``at`` (to ``dst``, or to everyone) by ``extra``
  rounds; two delays of one message do not add up (the longer holds). For an
  honest sender the engine allows this only as far as the network model does.
* ``partition`` nodes at [until]: messages across the cut are dropped.
* ``omit`` / ``mutate`` / ``equivocate`` / ``twin``: Byzantine faults. The node
  is corrupted at setup. ``omit`` withholds its messages; ``mutate`` changes one
  scalar field of them (``flip`` 0<->1 or to another value, ``inc``, ``dec``:
  ByzzFuzz's small-scope value mutations); ``equivocate`` flips the field only
  for the recipients in ``nodes``; ``twin`` runs a second copy of the node's own
  protocol code under the same identity (Twins): the twin is fed the messages
  the nodes in ``nodes`` send to that identity, and from round ``at`` on those
  nodes hear the twin instead of the original.

A field is named (``field = "view"``) or indexed (``field = 0``: the first
scalar field -- int, bool, bytes or str -- of the message, looking inside a
signed envelope). A changed signed payload is re-signed with the corrupted
node's key when the node signed it, and otherwise keeps the old (now invalid)
signature. Each action that takes effect leaves a note in the trace, which is
how a search tells which faults actually bit.
"""

from __future__ import annotations

import random
from typing import Any

import attrs

from bft.adversaries.byzantine import flipped
from bft.core.adversary import Adversary, Envelope, RoundControl, SetupControl, TrafficControl
from bft.core.crypto import Signed
from bft.core.environment import Operation, correct_result
from bft.core.errors import ConfigError
from bft.core.node import BROADCAST
from bft.core.params import Param
from bft.search.schedule import BYZANTINE_KINDS, PROCESS_KINDS, Action

SCALARS = (bool, int, bytes, str)


def scalar_fields(payload: Any) -> list[str]:
    """Names of the scalar fields of an attrs message, in declaration order."""
    if not attrs.has(type(payload)):
        return []
    return [
        f.name for f in attrs.fields(type(payload)) if isinstance(getattr(payload, f.name), SCALARS)
    ]


def mutated_value(value: Any, how: str | None) -> Any:
    if isinstance(value, bool) or how in (None, "flip") or not isinstance(value, int):
        return flipped(value)
    return value + 1 if how == "inc" else value - 1


def mutate(
    payload: Any, field: int | str | None, how: str | None, resign: Any
) -> tuple[Any, str] | None:
    """``payload`` with one field changed, and a note saying what changed; None if it has none."""
    if isinstance(payload, Signed):
        inner = mutate(payload.payload, field, how, None)
        if inner is None:
            return None
        signed = resign(payload.signer, inner[0]) if resign is not None else None
        if signed is None:
            signed = Signed(payload.signer, inner[0], payload.signature)
        return signed, inner[1]
    names = scalar_fields(payload)
    if not names:
        return None
    if field is None:
        name = "value" if "value" in names else names[0]
    elif isinstance(field, str):
        if field not in names:
            return None
        name = field
    else:
        name = names[field % len(names)]
    old = getattr(payload, name)
    new = mutated_value(old, how)
    try:
        changed = attrs.evolve(payload, **{name: new})
    except (TypeError, ValueError):
        return None
    return changed, f"{type(payload).__name__}.{name} {old!r} -> {new!r}"


class TwinContext:
    """What a twin's code sees: the same interface as ``bft.core.node.Context``.

    Sends are collected for the adversary to route; outputs, tallies and rejects
    of a twin are not observable events (the node is corrupted); signing uses the
    corrupted node's key through the adversary's control.
    """

    def __init__(self, node_id: int, n: int, rng: random.Random) -> None:
        self.node_id = node_id
        self.n = n
        self.rng = rng
        self.variant = 0
        self.round = 0
        self.sent: list[tuple[int, Any]] = []
        self.ctl: TrafficControl | None = None
        self.load = 0.0
        self.capacity = None

    def send(self, dst: int, payload: Any) -> None:
        if 0 <= dst < self.n and dst != self.node_id:
            self.sent.append((dst, payload))

    def broadcast(self, payload: Any) -> None:
        self.sent.append((BROADCAST, payload))

    def multicast(self, dsts: Any, payload: Any) -> None:
        for dst in dsts:
            self.send(dst, payload)

    def sign(self, payload: Any) -> Signed:
        assert self.ctl is not None
        signed = self.ctl.sign(self.node_id, payload)
        return signed if signed is not None else Signed(self.node_id, payload, b"")

    def verify(self, signed: Any, signer: int | None = None) -> bool:
        return self.ctl is not None and self.ctl.verify(signed, signer)

    def output(self, name: str, **data: Any) -> None:
        pass

    def tally(self, name: str, amount: float = 1) -> None:
        pass

    def reject(self, src: int, payload: Any, reason: str) -> None:
        pass

    def work(self, units: float = 1.0) -> None:
        pass

    def execute(self, op: Operation) -> int:
        return correct_result(op)


class _Twin:
    def __init__(self, action: Action, node: Any, ctx: TwinContext) -> None:
        self.action = action
        self.node = node
        self.ctx = ctx
        self.side = frozenset(action.nodes or ())
        self.pending: dict[int, list[tuple[int, Any]]] = {}


class ScheduleAdversary(Adversary):
    name = "schedule"
    summary = "executes an explicit list of actions (how searched counterexamples are stored)"
    params = (
        Param(
            "actions",
            list,
            default=(),
            doc="the actions: a list of tables, see 'adversaries/schedule.py'",
        ),
        Param(
            "faults",
            int,
            default=None,
            doc="refuse schedules with more faulty nodes than this",
            min=0,
        ),
    )

    def __init__(self, **p: Any) -> None:
        super().__init__(**p)
        raw = p.get("actions") or ()
        if not isinstance(raw, list | tuple):
            raise ConfigError(f"schedule: 'actions' must be a list of action tables (got {raw!r})")
        self.actions = [
            a if isinstance(a, Action) else Action.from_dict(a, f"schedule: action #{i + 1}")
            for i, a in enumerate(raw)
        ]
        faulty = sorted({a.node for a in self.actions if a.do in PROCESS_KINDS})
        budget = p.get("faults")
        if budget is not None and len(faulty) > budget:
            raise ConfigError(
                f"schedule: the actions make {len(faulty)} nodes faulty ({faulty}), "
                f"more than faults={budget}"
            )
        self.intercepts = any(a.do not in ("crash", "recover") for a in self.actions)
        self.by_round: dict[int, list[tuple[int, Action]]] = {}
        for index, action in enumerate(self.actions):
            self.by_round.setdefault(action.at, []).append((index, action))
        self.partitions = [a for a in self.actions if a.do == "partition"]
        self.twins: list[_Twin] = []
        self._noted: set[int] = set()

    # -- setup ---------------------------------------------------------------------------

    def setup(self, ctl: SetupControl) -> None:
        for index, action in enumerate(self.actions):
            ids = [action.node, *(action.nodes or ())]
            if action.dst is not None:
                ids.append(action.dst)
            for node in ids:
                if not 0 <= node < ctl.n:
                    raise ConfigError(
                        f"schedule: action #{index + 1} ({action.do}) names node {node}, "
                        f"which does not exist (n={ctl.n}; nodes are 0..{ctl.n - 1})"
                    )
        # A node with a Byzantine action is corrupted for the whole run (the adversary
        # holds its key); a crashed node becomes faulty when it crashes. The engine
        # counts both against the protocol's tolerance (the classical model: f counts
        # crashed and Byzantine nodes alike), and properties about correct nodes
        # leave both out.
        corrupt = sorted({a.node for a in self.actions if a.do in BYZANTINE_KINDS})
        if corrupt:
            ctl.corrupt(corrupt)
        for action in self.actions:
            if action.do == "twin":
                # A twin runs the protocol's own, unmodified node code (Twins).
                node = ctl.build_node(action.node)
                if node is None:
                    continue
                rng = random.Random(ctl.rng.getrandbits(64))
                self.twins.append(_Twin(action, node, TwinContext(action.node, ctl.n, rng)))

    def _note(self, ctl: Any, index: int, action: Action, detail: str = "") -> None:
        if index in self._noted:
            return
        self._noted.add(index)
        ctl.note(
            f"{action.do} #{index + 1}: {action.describe()}" + (f" ({detail})" if detail else "")
        )

    # -- crashes -------------------------------------------------------------------------

    def before_round(self, ctl: RoundControl) -> None:
        r = ctl.round
        for index, action in enumerate(self.actions):
            if action.do == "crash":
                if action.at == r and ctl.is_up(action.node) and ctl.crash(action.node):
                    self._note(ctl, index, action)
                elif action.until == r and not ctl.is_up(action.node):
                    ctl.recover(action.node)
            elif action.do == "recover" and action.at == r and not ctl.is_up(action.node):
                ctl.recover(action.node)

    # -- traffic -------------------------------------------------------------------------

    def on_traffic(self, ctl: TrafficControl) -> None:
        r = ctl.round
        for twin in self.twins:
            if r >= twin.action.at:
                self._run_twin(ctl, twin)
        for action in self.partitions:
            if action.at <= r and (action.until is None or r < action.until):
                side = frozenset(action.nodes or ())
                hit = False
                for env in ctl.envelopes:
                    if not env.dropped and (env.src in side) != (env.dst in side):
                        hit = ctl.drop(env) or hit
                if hit:
                    self._note(ctl, self.actions.index(action), action)
        for index, action in self.by_round.get(r, ()):
            if action.do in ("crash", "recover", "partition", "twin"):
                continue
            mine = [
                e
                for e in ctl.envelopes
                if e.src == action.node
                and not e.dropped
                and (action.dst is None or e.dst == action.dst)
            ]
            mine.sort(key=lambda e: e.dst)
            for env in mine:
                self._apply(ctl, index, action, env)
        for twin in self.twins:
            self._feed_twin(ctl, twin)

    def _apply(self, ctl: TrafficControl, index: int, action: Action, env: Envelope) -> None:
        kind = action.do
        if kind in ("drop", "omit"):
            if ctl.drop(env):
                self._note(ctl, index, action)
        elif kind == "delay":
            # delays of one message do not add up: the longest one asked for holds
            more = (action.extra or 1) - env.extra_delay
            if more > 0 and ctl.delay(env, more):
                self._note(ctl, index, action)
        elif kind in ("mutate", "equivocate"):
            if kind == "equivocate" and env.dst not in (action.nodes or ()):
                return
            how = action.how if kind == "mutate" else "flip"
            changed = mutate(env.payload, action.field, how, ctl.sign)
            if changed is not None and ctl.replace(env, changed[0]):
                self._note(ctl, index, action, changed[1])

    def _run_twin(self, ctl: TrafficControl, twin: _Twin) -> None:
        ctx = twin.ctx
        ctx.round = ctl.round
        ctx.ctl = ctl
        ctx.sent = []
        inbox = twin.pending.pop(ctl.round, [])
        try:
            twin.node.on_round(ctx, inbox)
        except Exception:  # noqa: BLE001 - a twin is a corrupted node; its crash is not a bug
            twin.node = None
            return
        node, side = twin.action.node, twin.side
        # Recipients on the twin's side hear the twin instead of the original.
        silenced = False
        for env in ctl.envelopes:
            if env.src == node and env.dst in side and not env.dropped:
                silenced = ctl.drop(env) or silenced
        spoke = False
        for dst, payload in ctx.sent:
            targets = sorted(side) if dst == BROADCAST else [dst] if dst in side else []
            for target in targets:
                if target != node:
                    spoke = ctl.inject(node, target, payload) or spoke
        if spoke or silenced:
            self._note(ctl, self.actions.index(twin.action), twin.action)

    def _feed_twin(self, ctl: TrafficControl, twin: _Twin) -> None:
        if twin.node is None:
            return
        node, side = twin.action.node, twin.side
        for env in ctl.envelopes:
            if env.dst == node and env.src in side and not env.dropped:
                arrival = ctl.round + 1 + env.extra_delay
                if arrival >= twin.action.at:
                    twin.pending.setdefault(arrival, []).append((env.src, env.payload))
