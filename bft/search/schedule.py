"""Adversary schedules: the file format, the fault model, and the decoder.

Theory of operation. A *schedule* is an explicit, finite list of adversary
actions (``Action``). What an action means is defined by its *kind*, an open
vocabulary (``bft.search.actions``): process faults (crash), network faults
on honest messages (drop, delay, partition, only as the network model
allows), and Byzantine faults of corrupted nodes (withhold, lag, mutate,
equivocate, replay, splice, wrap and unwrap signature chains, twins, and
adversary plug-ins written for the protocol). The ``schedule`` adversary
(``bft.adversaries.schedule``) executes such a list, so a schedule is an
ordinary scenario file and replays exactly.

A ``FaultModel`` bounds what a schedule may do: how many nodes may be faulty
(crashed or corrupted, counted together; nodes of roles the protocol lets be
faulty without limit, like PBFT's clients, do not count), which nodes may be,
whether Byzantine kinds are in the model at all, which network model is in
force, how many rounds the run lasts, and which action kinds to use. By
default it is the model the protocol declares (``ProtocolSpec.tolerance``),
minus what the scenario's own adversaries already spend; ``describe`` says
which model a search searched and whether it lies outside the declared one.

``decode`` turns a list of small integer tuples ``(kind, node, round, x, y,
z)`` into a valid schedule (it never fails: out-of-range components fold back
by modulo). Every component shrinks toward 0 and 0 is the simplest choice; a
swarm mask (Groce et al. 2012) leaves some kinds out of a schedule so that
some schedules pile up one kind of fault. This module does not import
Hypothesis: replaying a schedule file does not need it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from bft.core.errors import ConfigError, choices
from bft.core.network import Network
from bft.search.actions import base as actions
from bft.search.actions.base import COMMON_FIELDS, Draw
from bft.search.actions.builtin import FIELD_SLOTS
from bft.search.actions.builtin import KINDS as BUILTIN
from bft.search.actions.values import MUTATIONS

#: Built-in kinds a search draws, simplest first (Hypothesis shrinks a kind toward the first).
GENERATED_KINDS = tuple(k.name for k in BUILTIN if k.generated)
#: Built-in kinds a schedule file may contain (``recover`` undoes a ``crash`` without ``until``).
KINDS = tuple(k.name for k in BUILTIN)
#: Built-in kinds that make their node faulty (count against the fault budget).
PROCESS_KINDS = frozenset(k.name for k in BUILTIN if k.fault in ("crash", "byzantine"))
#: Built-in kinds that corrupt their node (the adversary takes its key).
BYZANTINE_KINDS = frozenset(k.name for k in BUILTIN if k.fault == "byzantine")
#: Built-in kinds that act on honest nodes' messages (allowed only by the network model).
NETWORK_KINDS = frozenset(k.name for k in BUILTIN if k.fault == "network")
MIN_ACTIONS = 0
MAX_MASK_BITS = 24

RawAction = tuple[int, int, int, int, int, int]

__all__ = [
    "BYZANTINE_KINDS",
    "FIELD_SLOTS",
    "GENERATED_KINDS",
    "KINDS",
    "MUTATIONS",
    "NETWORK_KINDS",
    "PROCESS_KINDS",
    "Action",
    "FaultModel",
    "Schedule",
    "decode",
    "fault_model",
    "random_schedule",
    "raw_bounds",
]


def _nodes(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    return tuple(sorted({int(v) for v in value}))


def _frozen(value: Any) -> Any:
    """A file value in hashable form: tables become sorted (key, value) pairs."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _plain(value: Any) -> Any:
    """The file form of an argument: (key, value) pairs become tables again."""
    if isinstance(value, tuple):
        if value and all(
            isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in value
        ):
            return {k: _plain(v) for k, v in value}
        return [_plain(v) for v in value]
    return value


@attrs.frozen
class Action:
    """One adversary action, as written in a schedule file.

    ``do`` names its kind. The common fields: ``node`` the acting or affected
    node (the sender, for message actions); ``at`` the round; ``until`` the
    first round a crash or partition no longer holds (None: to the end of the
    run); ``dst`` the recipient (None: all); ``nodes`` the recipients that get
    the altered message or hear the twin, or one side of a partition; ``field``
    a field name or the index of a scalar field; ``how`` the mutation (flip,
    inc, dec); ``extra`` rounds of delay. ``args`` holds a kind's own fields.
    """

    do: str
    node: int = 0
    at: int = 0
    until: int | None = None
    dst: int | None = None
    nodes: tuple[int, ...] | None = attrs.field(default=None, converter=_nodes)
    field: int | str | None = None
    how: str | None = None
    extra: int | None = None
    args: tuple[tuple[str, Any], ...] = attrs.field(default=(), converter=_frozen)

    def arg(self, name: str, default: Any = None) -> Any:
        for key, value in self.args:
            if key == name:
                return value
        return default

    @property
    def kind(self) -> actions.ActionKind:
        return actions.kind(self.do)

    # -- files ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"do": self.do}
        used = self.kind.fields
        for name in COMMON_FIELDS:
            value = getattr(self, name)
            if value is None or name not in used:
                continue
            out[name] = list(value) if isinstance(value, tuple) else value
        for key, value in self.args:
            out[key] = _plain(value)
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "schedule") -> Action:
        """Validate one action table from a file; errors name the action and the fix."""
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{where}: an action must be a table like {{do = 'crash', node = 1, at = 0}} "
                f"(got {data!r:.80})"
            )
        table = actions.kinds()
        name = data.get("do")
        if not isinstance(name, str) or name not in table:
            raise ConfigError(
                f"{where}: action kind 'do' must be one of {choices(table)} (got {name!r:.60})"
            )
        kind = table[name]
        own = [p.name for p in kind.args]
        known = ("do", *kind.fields, *own)
        for key in data:
            if key not in known:
                raise ConfigError(
                    f"{where}: unknown action field {key!r:.60} for a {name!r} action; "
                    f"valid fields: {choices(known)}"
                )

        def integer(field: str, low: int = 0) -> int | None:
            value = data.get(field)
            if value is None:
                if field in kind.required:
                    raise ConfigError(f"{where}: a {name!r} action needs an integer {field!r}")
                return None
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(
                    f"{where}: action field {field!r} must be an integer >= {low} (got {value!r:.60})"
                )
            if value > 2**31:
                raise ConfigError(f"{where}: action field {field!r} is too large (got {value})")
            return value

        node = integer("node") or 0
        at = integer("at") or 0
        until = integer("until")
        if until is not None and until <= at:
            raise ConfigError(f"{where}: 'until' must be after 'at' (got at={at}, until={until})")
        nodes = data.get("nodes")
        if nodes is None and "nodes" in kind.required:
            raise ConfigError(f"{where}: a {name!r} action needs 'nodes' (a list of node ids)")
        if nodes is not None and (
            not isinstance(nodes, list)
            or not nodes
            or len(nodes) > 100_000
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in nodes)
        ):
            raise ConfigError(
                f"{where}: 'nodes' must be a non-empty list of node ids (got {nodes!r:.60})"
            )
        field = data.get("field")
        if field is not None and (isinstance(field, bool) or not isinstance(field, int | str)):
            raise ConfigError(f"{where}: 'field' must be a field name or index (got {field!r:.60})")
        if isinstance(field, int) and field < 0:
            raise ConfigError(f"{where}: a field index must be >= 0 (got {field})")
        how = data.get("how")
        if how is not None and not isinstance(how, str):
            raise ConfigError(
                f"{where}: 'how' must be one of {choices(MUTATIONS)} (got {how!r:.60})"
            )
        extra = integer("extra", low=1)
        args = kind.validate_args({k: data[k] for k in own if k in data}, where)
        action = cls(
            name,
            node,
            at,
            until,
            integer("dst"),
            nodes,
            field,
            how,
            extra,
            tuple((k, v) for k, v in args.items() if v is not None),
        )
        kind.check(action, where)
        return action

    # -- plain words ---------------------------------------------------------------------

    def describe(self) -> str:
        return self.kind.describe(self)


@attrs.frozen
class FaultModel:
    """What a schedule may do. ``faults`` bounds faulty (crashed or corrupted) nodes."""

    n: int
    rounds: int
    faults: int
    network: Network = Network()
    #: the action kinds to draw (None: every generated kind, plug-ins' included)
    kinds: tuple[str, ...] | None = None
    max_actions: int = 6
    targets: tuple[int, ...] | None = None  # nodes that may be faulty (None: all)
    #: nodes whose faults count against ``faults`` (None: all)
    counted: frozenset[int] | None = None
    #: nodes the scenario's own adversaries already made faulty (they use the budget;
    #: further actions by them are free)
    spent: tuple[int, ...] = ()
    #: whether Byzantine kinds belong to the model (a crash-only protocol: no)
    byzantine: bool = True
    #: whether the protocol's messages are signed (signature-chain kinds need it)
    signed: bool = False
    #: adversary plug-ins written for this protocol (the ``adversary`` kind draws them)
    adversaries: tuple[str, ...] = ()
    #: the protocol's own claim, in words (None: it makes none)
    declared: str | None = None
    #: why this model lies outside the declared one (None: it does not)
    outside: str | None = None
    #: the protocol and parameters the model was made for (lets a schedule run on its own)
    protocol: str | None = None
    params: Mapping[str, Any] = attrs.field(factory=dict, eq=False, hash=False)
    #: node -> rounds in which it sent messages in the fault-free run (optional); message
    #: actions try those rounds first, so small raw rounds hit real messages
    active: Mapping[int, tuple[int, ...]] = attrs.field(factory=dict, eq=False, hash=False)
    _minority: tuple[int, ...] = attrs.field(init=False, eq=False, hash=False, repr=False)

    def __attrs_post_init__(self) -> None:
        targets = self.target_nodes
        counted = tuple(t for t in targets if self.counts(t))
        minority = counted if 0 < 2 * len(counted) < len(targets) else ()
        object.__setattr__(self, "_minority", minority)
        if self.n < 1 or self.rounds < 1:
            raise ConfigError(
                f"fault model: n and rounds must be >= 1 (got n={self.n}, rounds={self.rounds})"
            )
        if self.faults < 0:
            raise ConfigError(f"fault model: faults must be >= 0 (got {self.faults})")
        table = actions.kinds()
        for kind in self.kinds or ():
            if kind not in table or not table[kind].generated:
                valid = [k for k, v in table.items() if v.generated]
                raise ConfigError(
                    f"fault model: unknown action kind {kind!r}; available: {choices(valid)}"
                )
        if self.max_actions < 0:
            raise ConfigError(f"fault model: max_actions must be >= 0 (got {self.max_actions})")

    # -- nodes and rounds -----------------------------------------------------------------

    @property
    def target_nodes(self) -> tuple[int, ...]:
        return tuple(range(self.n)) if self.targets is None else self.targets

    def counts(self, node: int) -> bool:
        return self.counted is None or node in self.counted

    def counted_targets(self) -> tuple[int, ...]:
        """The target nodes whose faults count (replicas, servers), when they are a
        minority of the targets: a draw of a faulty node then picks among them half the
        time (``raw_bounds``, ``Draw.faulty_node``), so 20 servers among 2,000 clients
        are not faulted once in a hundred draws. Empty when they are not a minority
        (PBFT's four replicas and two clients: drawn uniformly, as ever)."""
        return self._minority

    def has_free_targets(self) -> bool:
        """Whether some node may be faulty without using the budget."""
        return any(not self.counts(t) for t in self.target_nodes)

    def byzantine_allowed(self) -> bool:
        return self.byzantine

    def rounds_for(self, node: int) -> list[int]:
        """All rounds, the ones in which ``node`` is known to send first."""
        first = [r for r in self.active.get(node, ()) if 0 <= r < self.rounds]
        return first + [r for r in range(self.rounds) if r not in first]

    def message_round(self, node: int, raw: int) -> int:
        """The round of a message action from a raw round in ``0..rounds-1``.

        With activity known, the first three quarters of the raw range map onto
        the rounds in which ``node`` sends in the fault-free run (so most message
        actions hit a message), the last quarter onto the other rounds (where it
        may send only under faults, e.g. during a view change).
        """
        active = [r for r in self.active.get(node, ()) if 0 <= r < self.rounds]
        if not active or len(active) == self.rounds:
            return self.rounds_for(node)[raw % self.rounds]
        split = max(1, self.rounds - self.rounds // 4)
        if raw < split:
            return active[raw % len(active)]
        others = [r for r in range(self.rounds) if r not in active]
        return others[(raw - split) % len(others)]

    def drop_rounds(self) -> list[int]:
        """Rounds in which an honest node's message may be dropped."""
        net = self.network
        if net.model == "lossy":
            return list(range(self.rounds))
        if net.model == "partial-synchrony":
            return list(range(min(net.gst, self.rounds)))
        return []

    def max_delay(self, sent: int) -> int:
        """The longest extra delay the network model allows for a message sent in ``sent``."""
        net = self.network
        if net.model == "lossy":
            return net.delta
        if net.model == "partial-synchrony":
            return net.gst + net.delta - sent - 1 if sent < net.gst else net.delta
        return 0

    def delay_rounds(self) -> list[int]:
        return [r for r in range(self.rounds) if self.max_delay(r) >= 1]

    # -- kinds ------------------------------------------------------------------------------

    def usable_kinds(self) -> tuple[str, ...]:
        """The kinds this model can actually generate (budget, network and size allowing)."""
        table = actions.kinds()
        names = (
            self.kinds if self.kinds is not None else [k for k, v in table.items() if v.generated]
        )
        return tuple(k for k in names if table[k].usable(self))

    def describe(self) -> str:
        who = "" if self.targets is None else f" among nodes {list(self.targets)}"
        what = "" if self.byzantine else " (crash faults only)"
        if self.spent:
            what += f", nodes {list(self.spent)} already faulty in the scenario"
        text = (
            f"up to {self.faults} faulty node(s){who}{what}, network {self.network.describe()}, "
            f"{self.rounds} rounds, at most {self.max_actions} actions of kinds "
            f"{', '.join(self.usable_kinds()) or '(none)'}"
        )
        if self.outside:
            text += f"; OUTSIDE the protocol's declared model: {self.outside}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "rounds": self.rounds,
            "faults": self.faults,
            "byzantine": self.byzantine,
            "network": self.network.describe(),
            "kinds": list(self.usable_kinds()),
            "max_actions": self.max_actions,
            "declared": self.declared,
            "outside": self.outside,
        }


@attrs.frozen
class Schedule:
    """An explicit list of actions under a fault model: one point of the search space."""

    actions: tuple[Action, ...]
    model: FaultModel

    def __len__(self) -> int:
        return len(self.actions)

    def _nodes_of(self, faults: Iterable[str]) -> frozenset[int]:
        wanted = set(faults)
        return frozenset(a.node for a in self.actions if a.kind.fault in wanted)

    @property
    def corrupted(self) -> frozenset[int]:
        return self._nodes_of(("byzantine",))

    @property
    def faulty(self) -> frozenset[int]:
        return self._nodes_of(("crash", "byzantine"))

    def kinds(self) -> frozenset[str]:
        return frozenset(a.do for a in self.actions)

    def without(self, index: int) -> Schedule:
        return attrs.evolve(self, actions=self.actions[:index] + self.actions[index + 1 :])

    def keeping(self, indexes: Iterable[int]) -> Schedule:
        keep = sorted(set(indexes))
        return attrs.evolve(self, actions=tuple(self.actions[i] for i in keep))

    def adversary_params(self) -> dict[str, Any]:
        return {"actions": [a.to_dict() for a in self.actions], "faults": self.model.faults}

    def describe(self) -> list[str]:
        return [a.describe() for a in self.actions] or ["no faults at all"]

    def __str__(self) -> str:
        return "; ".join(self.describe())


# -- decoding ------------------------------------------------------------------------------


def raw_bounds(model: FaultModel) -> tuple[int, int, int, int, int]:
    """Inclusive upper bounds of the raw components (node, round, x, y, z). A raw round
    below ``rounds`` prefers rounds in which the node sends in the fault-free run; one
    from ``rounds`` up names a round directly (the guided search aims there at rounds
    that only happen under faults, such as a view change)."""
    span = max(model.n - 1, model.rounds)
    mask = (1 << min(model.n, MAX_MASK_BITS)) - 1
    return (
        # raw nodes from n up name a counted node (see FaultModel.counted_targets)
        2 * model.n - 1 if model.counted_targets() else model.n - 1,
        2 * model.rounds - 1,
        span,
        max(model.rounds, FIELD_SLOTS, len(MUTATIONS)),
        max(mask, 1),
    )


def decode(raw: Sequence[RawAction], model: FaultModel, disabled: int = 0) -> Schedule:
    """Turn raw integer tuples into a valid schedule under ``model`` (never fails).

    ``disabled`` is a swarm-testing mask (Groce et al. 2012): bit i switches off the
    i-th usable kind for this schedule, so some schedules concentrate on a few kinds.
    It shrinks toward 0 (every kind on); if it switches off every kind, none is off.
    """
    kinds = model.usable_kinds()
    if not kinds:
        return Schedule((), model)
    swarm = tuple(k for i, k in enumerate(kinds) if not disabled >> i & 1) or kinds
    table = actions.kinds()
    budget: list[int] = [n for n in model.spent if model.counts(n)]
    out: list[Action] = []
    for item in raw[: model.max_actions]:
        kind = table[swarm[item[0] % len(swarm)]]
        action = kind.draw(Draw(model, item, budget, kind))
        if action is not None:
            out.append(action)
    return Schedule(tuple(out), model)


def random_raw(model: FaultModel, rng: random.Random, count: int | None = None) -> list[RawAction]:
    """Uniformly random raw tuples: ``count`` of them (default 1..max_actions)."""
    kinds = model.usable_kinds()
    if not kinds or model.max_actions == 0:
        return []
    node, _, x, y, z = raw_bounds(model)
    if count is None:
        count = rng.randint(1, model.max_actions)
    rounds = model.rounds
    return [
        (
            rng.randrange(len(kinds)),
            rng.randint(0, node),
            # three in four aim where the node sends in the fault-free run, one anywhere
            rng.randrange(rounds) + (rounds if rng.random() < 0.25 else 0),
            rng.randint(0, x),
            rng.randint(0, y),
            rng.randint(0, z),
        )
        for _ in range(count)
    ]


def random_schedule(model: FaultModel, rng: random.Random) -> Schedule:
    """A uniformly random schedule: 1..max_actions actions, each component uniform.

    The baseline for the benchmark (random faults in the same space, no swarm mask,
    no shrinking).
    """
    return decode(random_raw(model, rng), model)


# -- the declared model ---------------------------------------------------------------------


def declared_model(
    spec: Any,
    params: Mapping[str, Any],
    *,
    rounds: int,
    network: Network,
    faults: int | None = None,
    kinds: Sequence[str] | None = None,
    max_actions: int = 6,
    targets: Sequence[int] | None = None,
    active: Mapping[int, tuple[int, ...]] | None = None,
    signed: bool = False,
    spent: Iterable[int] = (),
) -> FaultModel:
    """The fault model a search uses for ``spec``: the protocol's declared tolerance,
    narrowed or widened by the caller's ``faults``, ``kinds`` and ``targets`` (a widening
    beyond the declaration is recorded in ``outside``). The faulty nodes ``spent`` by the
    scenario's own adversaries use the budget first; further actions by them are free."""
    from bft.core import registry

    n = spec.node_count(params)
    roles = spec.roles(params)
    tolerance = spec.tolerance(params)
    outside: list[str] = []
    if tolerance is None:
        counted = None
        allowed = list(range(n))
        byzantine = True
        budget = 1
        declared = None
    else:
        counted = frozenset(i for i in range(n) if tolerance.counts(roles[i]))
        allowed = [i for i in range(n) if tolerance.allows_role(roles[i])]
        byzantine = tolerance.kind == "byzantine"
        budget = tolerance.faults
        declared = tolerance.describe()
        if network.model not in tolerance.networks:
            outside.append(f"the {network.model} network model is not in the claim")
    if faults is not None:
        if faults < 0:
            raise ConfigError(f"--faults must be >= 0 (got {faults})")
        if faults > n:
            raise ConfigError(f"--faults {faults} exceeds the number of nodes ({n})")
        if tolerance is not None and faults > budget:
            outside.append(f"{faults} faulty nodes where the protocol tolerates {budget}")
        budget = faults
    table = actions.kinds()
    if kinds is not None:
        for name in kinds:
            if name not in table or not table[name].generated:
                valid = [k for k, v in table.items() if v.generated]
                raise ConfigError(
                    f"--kinds: unknown action kind {name!r}; available: {', '.join(valid)}"
                )
        if not byzantine and any(table[k].fault == "byzantine" for k in kinds):
            outside.append("Byzantine action kinds where the protocol claims crash faults only")
            byzantine = True
    if targets is not None:
        chosen = tuple(t for t in targets)
        if tolerance is not None and any(t not in allowed for t in chosen):
            outside.append("faults on nodes whose role the protocol does not let be faulty")
        allowed = list(chosen)
    adversaries = tuple(
        name
        for name in registry.names("adversary")
        if spec.name in (getattr(registry.adversary(name), "protocols", None) or ())
    )
    return FaultModel(
        n=n,
        rounds=rounds,
        faults=budget,
        network=network,
        kinds=tuple(kinds) if kinds is not None else None,
        max_actions=max_actions,
        targets=None if allowed == list(range(n)) else tuple(allowed),
        counted=None if counted is None or len(counted) == n else counted,
        spent=tuple(sorted(set(spent))),
        byzantine=byzantine,
        signed=signed,
        adversaries=adversaries,
        declared=declared,
        outside="; ".join(outside) or None,
        protocol=spec.name,
        params=dict(params),
        active=dict(active or {}),
    )


def fault_model(
    protocol: str,
    *,
    n: int | None = None,
    faults: int | None = None,
    network: str | Mapping[str, Any] | Network = "synchronous",
    gst: int | None = None,
    delta: int | None = None,
    rounds: int | None = None,
    params: Mapping[str, Any] | None = None,
    kinds: Sequence[str] | None = None,
    max_actions: int = 6,
    targets: Sequence[int] | None = None,
) -> FaultModel:
    """A fault model for a registered protocol; defaults come from the protocol.

    ``faults`` defaults to the number of faults the protocol claims to tolerate;
    ``rounds`` to its default run length. For partial synchrony, GST defaults to
    a third of the run and delta to 1; for the lossy model delta defaults to 1.
    """
    from bft.core import registry
    from bft.core.params import resolve

    spec = registry.protocol(protocol)()
    given = dict(params or {})
    if n is not None:
        given["n"] = n
    resolved = resolve(f"protocol {protocol!r}", spec.params, given)
    spec.check(resolved)
    length = rounds if rounds is not None else spec.default_rounds(resolved)
    if isinstance(network, Network):
        net = network
    else:
        table: dict[str, Any] = (
            dict(network) if isinstance(network, Mapping) else {"model": network}
        )
        model_name = table.get("model", "synchronous")
        if model_name == "partial-synchrony":
            table.setdefault("gst", gst if gst is not None else max(1, length // 3))
            table.setdefault("delta", delta if delta is not None else 1)
        elif model_name == "lossy":
            table.setdefault("delta", delta if delta is not None else 1)
        net = Network.from_mapping(table)
    return declared_model(
        spec,
        resolved,
        rounds=length,
        network=net,
        faults=faults,
        kinds=kinds,
        max_actions=max_actions,
        targets=targets,
    )
