"""Action kinds: the open vocabulary of adversary schedules.

Theory of operation. A schedule is a list of ``Action`` values; what an action
*means* is defined by its kind, a plug-in object. Built-in kinds live in this
package; a protocol or a third-party package contributes more through the
entry-point group ``bft.actions`` (a class, or a module-level instance). Each
kind knows four things about its actions:

1. **Decoding** (``draw``): how to turn one raw tuple of small integers
   ``(kind, node, round, x, y, z)`` into an action inside the fault model,
   through the ``Draw`` helpers (a faulty node within the budget, a round in
   which the node really sends, a recipient, a subset of nodes). Every raw
   component shrinks toward 0, and 0 always means the simplest choice, so a
   search shrinks schedules toward fewer, earlier, smaller faults.
2. **The file form**: which common fields its actions use (``fields``) and its
   own typed fields (``args``), validated when a file is loaded.
3. **Words** (``describe``): one line a person can read.
4. **Execution**: what it does in a run, through the schedule adversary's
   controls, so every power check of the engine applies (``setup``,
   ``before_round``, ``on_traffic``, ``after_traffic``). A kind acts only with
   what its fault gives: a ``crash`` kind crashes nodes, a ``network`` kind
   drops or delays honest messages as the network model allows, a
   ``byzantine`` kind speaks for corrupted nodes with their keys and the
   messages they hold.

A kind's ``fault`` says how it counts against the fault budget: ``crash`` and
``byzantine`` kinds make their node faulty (``byzantine`` ones corrupt it for
the whole run); ``network`` kinds make nobody faulty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from bft.core.errors import ConfigError, choices
from bft.core.params import Param, resolve

if TYPE_CHECKING:
    from bft.core.adversary import Envelope, RoundControl, SetupControl, TrafficControl
    from bft.search.schedule import Action, FaultModel

FAULTS = ("crash", "byzantine", "network")
#: the fields every action may have, besides ``do``; a kind lists which it uses
COMMON_FIELDS = ("node", "at", "until", "dst", "nodes", "field", "how", "extra")
MAX_MASK_BITS = 24
#: how many earlier messages an action may reach back to (see ``History.earlier``)
MAX_HELD = 8


class Draw:
    """Decoding helpers for one raw action ``(kind, node, round, x, y, z)``.

    Shared across the actions of one schedule through ``budget`` (the faulty
    nodes chosen so far), so the fault budget holds for the whole schedule.
    """

    def __init__(
        self, model: FaultModel, raw: Sequence[int], budget: list[int], kind: ActionKind
    ) -> None:
        self.model = model
        self.kind = kind
        _, self.raw_node, self.raw_round, self.x, self.y, self.z = raw
        self._budget = budget

    # -- nodes ------------------------------------------------------------------------------

    def faulty_node(self, raw: int | None = None) -> int | None:
        """A node this action may make faulty, within the fault budget (None: none).

        Once the budget is spent, a further faulty node maps onto one already
        faulty, so lowering a node id merges faulty nodes instead of producing an
        invalid schedule. Nodes whose faults do not count (PBFT's clients, say)
        never use the budget.
        """
        model = self.model
        targets = model.target_nodes
        if not targets:
            return None
        value = self.raw_node if raw is None else raw
        counted = model.counted_targets()
        if counted and value >= model.n:  # the upper half of the raw range: a counted node
            node = counted[value % len(counted)]
        else:
            node = targets[value % len(targets)]
        if not model.counts(node) or node in self._budget:
            return node
        if len(self._budget) < model.faults:
            self._budget.append(node)
            return node
        if not self._budget:
            free = [t for t in targets if not model.counts(t)]
            return free[value % len(free)] if free else None
        return sorted(self._budget)[value % len(self._budget)]

    def any_node(self) -> int:
        return self.raw_node % self.model.n

    def server(self) -> int:
        """A node whose faults count (a replica, say, rather than a client), when the
        model distinguishes them; any node otherwise."""
        model = self.model
        servers = [i for i in range(model.n) if model.counts(i)]
        return servers[self.raw_node % len(servers)] if servers else self.any_node()

    def dst(self, node: int, raw: int | None = None) -> int | None:
        """A recipient other than ``node``, or None for everyone (the last choice)."""
        n = self.model.n
        code = (self.x if raw is None else raw) % n
        if code == n - 1:
            return None
        return code if code < node else code + 1

    def subset(self, pool: Sequence[int], raw: int | None = None) -> tuple[int, ...]:
        """A non-empty subset of ``pool``; 0 gives the first member only."""
        value = self.z if raw is None else raw
        bits = min(len(pool), MAX_MASK_BITS)
        mask = 1 + value % ((1 << bits) - 1) if bits > 1 else 1
        return tuple(p for i, p in enumerate(pool[:bits]) if mask >> i & 1)

    def others(self, node: int) -> list[int]:
        return [i for i in range(self.model.n) if i != node]

    # -- rounds -----------------------------------------------------------------------------

    def round(self) -> int:
        return self.raw_round % self.model.rounds

    def message_round(self, node: int) -> int:
        """A round in which ``node`` sends in the fault-free run, mostly (see FaultModel);
        a raw round in ``rounds .. 2*rounds-1`` names round ``raw - rounds`` directly."""
        rounds = self.model.rounds
        raw = self.raw_round % (2 * rounds)
        if raw >= rounds:
            return raw - rounds
        return self.model.message_round(node, raw)

    def choose(self, options: Sequence[Any], raw: int) -> Any:
        return options[raw % len(options)]


@attrs.frozen
class Send:
    """One message of the round, as an exhaustive search sees it when it lists choices."""

    src: int
    dst: int
    kind: str
    payload: Any


@attrs.frozen
class Scope:
    """The parameter domains an exhaustive search enumerates for actions that take a
    number: when a crashed node may come back, how late a lagging message arrives,
    how far back a replay reaches."""

    crash_back: tuple[int | None, ...] = (None, 2)  # rounds until a crash ends (None: never)
    lags: tuple[int, ...] = (1, 2)
    delays: tuple[int, ...] = (1, 2)
    ages: tuple[int, ...] = (0, 1)


@attrs.frozen
class ChoiceView:
    """What an action kind sees when an exhaustive search asks it for its choices in one
    round: the fault model, the nodes corrupted in this branch, who is faulty and up,
    and (in the traffic phase) the round's messages and what corrupted nodes hold."""

    model: FaultModel
    round: int
    phase: str  # "before" (before nodes act) or "traffic" (their messages are known)
    corrupted: frozenset[int]
    faulty: frozenset[int]
    up: tuple[bool, ...]
    sends: tuple[Send, ...] = ()
    held: History | None = None
    scope: Scope = Scope()

    def can_fault(self, node: int) -> bool:
        """Whether ``node`` may be (or already is) faulty within the budget."""
        model = self.model
        if node not in model.target_nodes:
            return False
        if node in self.faulty or not model.counts(node):
            return True
        counted = [n for n in self.faulty if model.counts(n)]
        return len(counted) < model.faults

    def senders(self) -> list[int]:
        return sorted({s.src for s in self.sends})

    def recipients(self, src: int) -> list[int]:
        return sorted({s.dst for s in self.sends if s.src == src})

    def messages(self, src: int, dst: int | None = None) -> list[Send]:
        return [s for s in self.sends if s.src == src and (dst is None or s.dst == dst)]


class ActionRun:
    """One action while a run executes it: its index, kind and private state."""

    def __init__(self, index: int, action: Action, kind: ActionKind) -> None:
        self.index = index
        self.action = action
        self.kind = kind
        self.state: dict[str, Any] = {}
        self.noted = False
        self.history: History | None = None  # set by the schedule adversary when needed

    def note(self, ctl: Any, detail: str = "") -> None:
        """Leave one note in the trace the first time this action takes effect."""
        if self.noted:
            return
        self.noted = True
        action = self.action
        ctl.note(
            f"{action.do} #{self.index + 1}: {self.kind.describe(action)}"
            + (f" ({detail})" if detail else "")
        )


class History:
    """Messages corrupted nodes hold (sent or received), newest last, as copies.

    Kept only when an action needs it (replay, splice, wrap, unwrap); bounded.
    """

    LIMIT = 4096

    def __init__(self) -> None:
        self.items: list[tuple[int, str, Envelope]] = []  # (round, kind, view)

    def record(self, ctl: TrafficControl) -> None:
        round_ = ctl.round
        for env in ctl.touching(ctl.corrupted):  # a payload is copied only if ever used
            self.items.append((round_, env.kind, env))
        if len(self.items) > self.LIMIT:
            del self.items[: len(self.items) - self.LIMIT]

    def earlier(
        self, before: int, match: Callable[[str, Any], bool], enough: int = MAX_HELD
    ) -> list[Any]:
        """Distinct payloads seen before round ``before`` that ``match``, newest first
        (at most ``enough``: actions reach back only a few messages)."""
        out: list[Any] = []
        for rnd, kind, env in reversed(self.items):
            if rnd < before:
                payload = env.payload
                if match(kind, payload) and payload not in out:
                    out.append(payload)
                    if len(out) >= enough:
                        break
        return out


class ActionKind:
    """Base class of action kinds (see the module docstring)."""

    name: ClassVar[str]
    summary: ClassVar[str]
    fault: ClassVar[str]  #: "crash", "byzantine" or "network"
    #: the common fields its actions use, and which of them a file must give
    fields: ClassVar[tuple[str, ...]] = ("node", "at")
    required: ClassVar[tuple[str, ...]] = ("node", "at")
    #: its own fields (beyond the common ones), validated like parameters
    args: ClassVar[tuple[Param, ...]] = ()
    #: whether the search draws it (False: it appears only in files, like ``recover``)
    generated: ClassVar[bool] = True
    #: whether it needs to see traffic (a schedule without such actions runs faster)
    intercepts: ClassVar[bool] = True
    #: whether it needs the history of messages corrupted nodes hold
    needs_history: ClassVar[bool] = False
    #: the order among kinds within a round's traffic (lower first)
    order: ClassVar[int] = 50

    # -- the search ------------------------------------------------------------------------

    def usable(self, model: FaultModel) -> bool:
        """Whether this model lets the kind act at all (budget, network, size)."""
        if self.fault == "network":
            return bool(model.drop_rounds())
        return model.faults > 0 or model.has_free_targets()

    def draw(self, d: Draw) -> Action | None:
        raise NotImplementedError

    # -- exhaustive search -----------------------------------------------------------

    #: when an exhaustive search asks for choices: "before" nodes act, or on "traffic"
    phase: ClassVar[str] = "traffic"
    #: whether ``choices`` lists every action of this kind that could take effect
    enumerable: ClassVar[bool] = False

    def choices(self, view: ChoiceView) -> list[Action]:
        """Every action of this kind at ``view.round`` that would take effect (an action
        that would change nothing is left out), in a fixed order."""
        return []

    # -- files and words -----------------------------------------------------------------

    def describe(self, action: Action) -> str:
        return f"{self.name} by node {action.node} in round {action.at}"

    def check(self, action: Action, where: str) -> None:
        """Cross-field checks of a loaded action; raise ``ConfigError``."""

    def validate_args(self, given: Mapping[str, Any], where: str) -> dict[str, Any]:
        return resolve(f"{where} ({self.name})", self.args, given)

    # -- execution (the schedule adversary calls these) --------------------------------

    def setup(self, run: ActionRun, ctl: SetupControl) -> None:
        """At setup; corruption happens here (the adversary corrupts byzantine nodes)."""

    def before_round(self, run: ActionRun, ctl: RoundControl) -> None:
        """Before a round: crashes and recoveries."""

    def on_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        """On a round's traffic."""

    def after_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        """After every action of the round acted on the traffic."""

    def ends(self, action: Action) -> int | None:
        """The first round in which the action no longer acts (None: it never stops):
        ``until`` when given, else the round after ``at``."""
        return action.until if action.until is not None else action.at + 1

    def acts_in(self, action: Action, round: int) -> bool:
        """Whether the action needs to see ``round``'s traffic (default: only round ``at``).
        Rounds no action needs run without interception, at full speed."""
        return self.intercepts and action.at == round

    # -- helpers for message actions ---------------------------------------------------

    @staticmethod
    def own_messages(ctl: TrafficControl, action: Action) -> list[Envelope]:
        """The node's messages of this round to ``dst`` (or all), by recipient."""
        mine = [
            e
            for e in ctl.envelopes
            if e.src == action.node
            and not e.dropped
            and (action.dst is None or e.dst == action.dst)
        ]
        mine.sort(key=lambda e: e.dst)
        return mine


# -- the registry -----------------------------------------------------------------------------

GROUP = "bft.actions"
_kinds: dict[str, ActionKind] | None = None
_extra: dict[str, ActionKind] = {}


def _load() -> dict[str, ActionKind]:
    global _kinds
    if _kinds is None:
        from importlib.metadata import entry_points

        from bft.search.actions import builtin

        found: dict[str, ActionKind] = {k.name: k for k in builtin.KINDS}
        for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
            try:
                loaded = ep.load()
                kind = loaded() if isinstance(loaded, type) else loaded
            except Exception as exc:  # noqa: BLE001 - a broken plug-in is reported, not raised
                raise ConfigError(
                    f"action kind {ep.name!r} failed to load from {ep.value}: {exc}"
                ) from None
            _check_kind(kind, ep.value)
            if kind.name in found:
                raise ConfigError(
                    f"action kind {kind.name!r} from {ep.value} collides with an action kind "
                    "of the same name; rename one of them"
                )
            found[kind.name] = kind
        _kinds = found
    return {**_kinds, **_extra}


def _check_kind(kind: Any, source: str) -> None:
    if not isinstance(kind, ActionKind):
        raise ConfigError(f"action kind from {source} is not an ActionKind (got {kind!r})")
    if getattr(kind, "fault", None) not in FAULTS:
        raise ConfigError(
            f"action kind {getattr(kind, 'name', '?')!r} from {source}: 'fault' must be one of "
            f"{choices(FAULTS)}"
        )
    for name in kind.fields:
        if name not in COMMON_FIELDS:
            raise ConfigError(
                f"action kind {kind.name!r}: unknown common field {name!r}; "
                f"valid: {choices(COMMON_FIELDS)}"
            )


def builtin_kinds() -> list[ActionKind]:
    """The built-in kinds, in their canonical order (plug-ins and in-process ones left out)."""
    from bft.search.actions import builtin

    return list(builtin.KINDS)


def kinds() -> dict[str, ActionKind]:
    """Every action kind: the built-ins and those plug-ins contribute."""
    return _load()


def kind(name: str) -> ActionKind:
    table = _load()
    if name not in table:
        raise ConfigError(f"unknown action kind {name!r}; available: {choices(table)}")
    return table[name]


def register(kind_object: ActionKind) -> None:
    """Add an action kind in-process (tests, labs); a name clash is an error."""
    _check_kind(kind_object, "register()")
    if kind_object.name in _load():
        raise ConfigError(f"action kind {kind_object.name!r} is already registered")
    _extra[kind_object.name] = kind_object


def unregister(name: str) -> None:
    _extra.pop(name, None)
