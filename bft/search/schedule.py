"""Adversary schedules: the file format, the fault model, and the decoder.

Theory of operation. A *schedule* is an explicit, finite list of adversary
actions (``Action``): crash a node (and maybe let it recover), drop or delay an
honest node's messages, cut the network in two, or, for a corrupted node,
withhold, alter or equivocate its messages, or run a *twin* of it (a second
copy of the node's own code under the same identity, as in Twins, Bano et al.
2021). The ``schedule`` adversary (``bft.adversaries.schedule``) executes such a
list, so a schedule is an ordinary scenario file and replays exactly.

A ``FaultModel`` bounds what a schedule may do: how many nodes may be faulty
(crashed or corrupted, counted together), which nodes may be, which network
model is in force (so drops and delays of honest messages are generated only
where the model allows them: before GST and within delta), how many rounds the
run lasts, and which action kinds to use.

``decode`` turns a list of small integer tuples into a valid schedule (it
never fails); the Hypothesis strategies (``bft.search.strategies``) draw those
tuples, and ``random_schedule`` draws them uniformly. This module does not
import Hypothesis: replaying a schedule file does not need it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from bft.core.errors import ConfigError, choices
from bft.core.network import Network

#: Action kinds, simplest first (Hypothesis shrinks a kind toward the first).
GENERATED_KINDS = ("crash", "omit", "drop", "delay", "partition", "mutate", "equivocate", "twin")
#: Kinds a schedule file may contain (``recover`` undoes a ``crash`` without ``until``).
KINDS = (*GENERATED_KINDS, "recover")
#: Kinds that make their node faulty (count against the fault budget).
PROCESS_KINDS = frozenset({"crash", "recover", "omit", "mutate", "equivocate", "twin"})
#: Kinds that corrupt their node (the adversary takes its key).
BYZANTINE_KINDS = frozenset({"omit", "mutate", "equivocate", "twin"})
#: Kinds that act on honest nodes' messages (allowed only by the network model).
NETWORK_KINDS = frozenset({"drop", "delay", "partition"})
MUTATIONS = ("flip", "inc", "dec")
FIELD_SLOTS = (
    60  # a mutated field is the k-th scalar field (mod their count); 60: uniform up to 6 fields
)
MAX_MASK_BITS = 24
MIN_ACTIONS = 0

RawAction = tuple[int, int, int, int, int, int]


def _nodes(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    return tuple(sorted({int(v) for v in value}))


@attrs.frozen
class Action:
    """One adversary action, as written in a schedule file.

    ``node`` is the acting or affected node (the sender, for message actions);
    ``at`` the round; ``until`` the first round a crash or partition no longer
    holds (None: to the end of the run); ``dst`` the recipient (None: all);
    ``nodes`` the recipients that get the altered message or hear the twin, or
    one side of a partition; ``field`` a field name or the index of a scalar
    field; ``how`` the mutation (flip, inc, dec); ``extra`` the rounds of delay.
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

    # -- files ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"do": self.do}
        for name in ("node", "at", "until", "dst", "nodes", "field", "how", "extra"):
            value = getattr(self, name)
            if value is None or (name == "node" and self.do == "partition"):
                continue
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "schedule") -> Action:
        """Validate one action table from a file; errors name the action and the fix."""
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{where}: an action must be a table like {{do = 'crash', node = 1, at = 0}} (got {data!r})"
            )
        known = ("do", "node", "at", "until", "dst", "nodes", "field", "how", "extra")
        for key in data:
            if key not in known:
                raise ConfigError(
                    f"{where}: unknown action field {key!r}; valid fields: {choices(known)}"
                )
        kind = data.get("do")
        if kind not in KINDS:
            raise ConfigError(
                f"{where}: action kind 'do' must be one of {choices(KINDS)} (got {kind!r})"
            )

        def integer(name: str, required: bool = False, low: int = 0) -> int | None:
            value = data.get(name)
            if value is None:
                if required:
                    raise ConfigError(f"{where}: a {kind!r} action needs an integer {name!r}")
                return None
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(
                    f"{where}: action field {name!r} must be an integer >= {low} (got {value!r})"
                )
            return value

        node = integer("node", required=kind != "partition") or 0
        at = integer("at", required=True) or 0
        until = integer("until")
        if until is not None and until <= at:
            raise ConfigError(f"{where}: 'until' must be after 'at' (got at={at}, until={until})")
        nodes = data.get("nodes")
        if nodes is not None and (
            not isinstance(nodes, list)
            or not nodes
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in nodes)
        ):
            raise ConfigError(
                f"{where}: 'nodes' must be a non-empty list of node ids (got {nodes!r})"
            )
        if kind == "partition" and nodes is None:
            raise ConfigError(f"{where}: a 'partition' action needs 'nodes' (one side of the cut)")
        field = data.get("field")
        if field is not None and (isinstance(field, bool) or not isinstance(field, int | str)):
            raise ConfigError(f"{where}: 'field' must be a field name or index (got {field!r})")
        if isinstance(field, int) and field < 0:
            raise ConfigError(f"{where}: a field index must be >= 0 (got {field})")
        how = data.get("how")
        if how is not None and how not in MUTATIONS:
            raise ConfigError(f"{where}: 'how' must be one of {choices(MUTATIONS)} (got {how!r})")
        extra = integer("extra", required=kind == "delay", low=1)
        return cls(kind, node, at, until, integer("dst"), nodes, field, how, extra)

    # -- plain words ---------------------------------------------------------------------

    def describe(self) -> str:
        to = "everyone" if self.dst is None else f"node {self.dst}"
        field = (
            "its value field"
            if self.field is None
            else f"field {self.field!r}"
            if isinstance(self.field, str)
            else f"scalar field #{self.field}"
        )
        members = list(self.nodes or ())
        listed = ("node " if len(members) == 1 else "nodes ") + ", ".join(map(str, members))
        if self.do == "crash":
            end = " for good" if self.until is None else f", back in round {self.until}"
            return f"node {self.node} crashes in round {self.at}{end}"
        if self.do == "recover":
            return f"node {self.node} recovers in round {self.at}"
        if self.do == "drop":
            return f"the network drops node {self.node}'s messages to {to} sent in round {self.at}"
        if self.do == "delay":
            return (
                f"the network delays node {self.node}'s messages to {to} sent in round "
                f"{self.at} by {self.extra} extra round(s)"
            )
        if self.do == "partition":
            end = "the end" if self.until is None else f"round {self.until}"
            verb = "is" if len(members) == 1 else "are"
            return f"{listed} {verb} cut off from the rest from round {self.at} until {end}"
        if self.do == "omit":
            return f"corrupted node {self.node} withholds its messages to {to} in round {self.at}"
        if self.do == "mutate":
            how = {"flip": "flips", "inc": "increments", "dec": "decrements", None: "flips"}[
                self.how
            ]
            return f"corrupted node {self.node} {how} {field} of its messages to {to} in round {self.at}"
        if self.do == "equivocate":
            return (
                f"corrupted node {self.node} equivocates in round {self.at}: {listed} "
                f"{'gets' if len(members) == 1 else 'get'} {field} flipped, the others "
                "the true message"
            )
        return (
            f"node {self.node} is twinned from round {self.at}: a second copy of its code, "
            f"fed by {listed}, speaks to {'it' if len(members) == 1 else 'them'} in its place"
        )


@attrs.frozen
class FaultModel:
    """What a schedule may do. ``faults`` bounds faulty (crashed or corrupted) nodes."""

    n: int
    rounds: int
    faults: int
    network: Network = Network()
    kinds: tuple[str, ...] = GENERATED_KINDS
    max_actions: int = 6
    targets: tuple[int, ...] | None = None  # nodes that may be faulty (None: all)
    #: the protocol and parameters the model was made for (lets a schedule run on its own)
    protocol: str | None = None
    params: Mapping[str, Any] = attrs.field(factory=dict, eq=False, hash=False)
    #: node -> rounds in which it sent messages in the fault-free run (optional); message
    #: actions try those rounds first, so small raw rounds hit real messages
    active: Mapping[int, tuple[int, ...]] = attrs.field(factory=dict, eq=False, hash=False)

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

    def __attrs_post_init__(self) -> None:
        if self.n < 1 or self.rounds < 1:
            raise ConfigError(
                f"fault model: n and rounds must be >= 1 (got n={self.n}, rounds={self.rounds})"
            )
        if self.faults < 0:
            raise ConfigError(f"fault model: faults must be >= 0 (got {self.faults})")
        for kind in self.kinds:
            if kind not in GENERATED_KINDS:
                raise ConfigError(
                    f"fault model: unknown action kind {kind!r}; available: {choices(GENERATED_KINDS)}"
                )
        if self.max_actions < 0:
            raise ConfigError(f"fault model: max_actions must be >= 0 (got {self.max_actions})")

    @property
    def target_nodes(self) -> tuple[int, ...]:
        return tuple(range(self.n)) if self.targets is None else self.targets

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

    def usable_kinds(self) -> tuple[str, ...]:
        """The kinds this model can actually generate (budget and network allowing)."""
        out = []
        for kind in self.kinds:
            if kind in PROCESS_KINDS and (self.faults == 0 or not self.target_nodes):
                continue
            if kind in ("drop", "partition") and (
                not self.drop_rounds() or (kind == "partition" and self.n < 2)
            ):
                continue
            if kind == "delay" and not self.delay_rounds():
                continue
            if kind in ("equivocate", "twin") and self.n < 2:
                continue
            out.append(kind)
        return tuple(out)

    def describe(self) -> str:
        who = "" if self.targets is None else f" among nodes {list(self.targets)}"
        return (
            f"up to {self.faults} faulty node(s){who}, network {self.network.describe()}, "
            f"{self.rounds} rounds, at most {self.max_actions} actions of kinds "
            f"{', '.join(self.usable_kinds()) or '(none)'}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "rounds": self.rounds,
            "faults": self.faults,
            "network": self.network.describe(),
            "kinds": list(self.usable_kinds()),
            "max_actions": self.max_actions,
        }


@attrs.frozen
class Schedule:
    """An explicit list of actions under a fault model: one point of the search space."""

    actions: tuple[Action, ...]
    model: FaultModel

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def corrupted(self) -> frozenset[int]:
        return frozenset(a.node for a in self.actions if a.do in BYZANTINE_KINDS)

    @property
    def faulty(self) -> frozenset[int]:
        return frozenset(a.node for a in self.actions if a.do in PROCESS_KINDS)

    def kinds(self) -> frozenset[str]:
        return frozenset(a.do for a in self.actions)

    def without(self, index: int) -> Schedule:
        return attrs.evolve(self, actions=self.actions[:index] + self.actions[index + 1 :])

    def adversary_params(self) -> dict[str, Any]:
        return {"actions": [a.to_dict() for a in self.actions], "faults": self.model.faults}

    def describe(self) -> list[str]:
        return [a.describe() for a in self.actions] or ["no faults at all"]

    def __str__(self) -> str:
        return "; ".join(self.describe())


# -- decoding ------------------------------------------------------------------------------


def raw_bounds(model: FaultModel) -> tuple[int, int, int, int, int]:
    """Inclusive upper bounds of the raw components (node, round, x, y, z)."""
    span = max(model.n - 1, model.rounds)
    mask = (1 << min(model.n, MAX_MASK_BITS)) - 1
    return (
        model.n - 1,
        model.rounds - 1,
        span,
        max(model.rounds, FIELD_SLOTS, len(MUTATIONS)),
        max(mask, 1),
    )


def _mask_to_nodes(z: int, pool: Sequence[int]) -> tuple[int, ...]:
    """A non-empty subset of ``pool`` from an integer; 0 gives the first node only."""
    bits = min(len(pool), MAX_MASK_BITS)
    mask = 1 + z % ((1 << bits) - 1) if bits > 1 else 1
    return tuple(p for i, p in enumerate(pool[:bits]) if mask >> i & 1)


def decode(raw: Sequence[RawAction], model: FaultModel, disabled: int = 0) -> Schedule:
    """Turn raw integer tuples into a valid schedule under ``model`` (never fails).

    ``disabled`` is a swarm-testing mask (Groce et al. 2012): bit i switches off the
    i-th usable kind for this schedule, so some schedules concentrate on a few kinds.
    It shrinks toward 0 (every kind on); if it switches off every kind, none is off.
    """
    kinds = model.usable_kinds()
    if not kinds:
        return Schedule((), model)
    swarm = tuple(k for i, k in enumerate(kinds) if not disabled >> i & 1)
    kinds = swarm or kinds
    n, rounds = model.n, model.rounds
    targets = model.target_nodes
    faulty: list[int] = []
    drop_rounds = model.drop_rounds()
    delay_rounds = model.delay_rounds()
    actions: list[Action] = []

    def faulty_node(raw_node: int) -> int:
        node = targets[raw_node % len(targets)]
        if node in faulty:
            return node
        if len(faulty) < model.faults:
            faulty.append(node)
            return node
        return sorted(faulty)[raw_node % len(faulty)]

    def dst_of(x: int, node: int) -> int | None:
        # the other nodes in id order, then "everyone": never the sender itself
        code = x % n
        if code == n - 1:
            return None
        return code if code < node else code + 1

    def message_round(node: int, raw_at: int) -> int:
        return model.message_round(node, raw_at % rounds)

    for kind_index, raw_node, raw_at, x, y, z in raw[: model.max_actions]:
        kind = kinds[kind_index % len(kinds)]
        at = raw_at % rounds
        if kind == "crash":
            node = faulty_node(raw_node)
            at = message_round(node, raw_at)  # a crash matters where the node acts
            until = at + 1 + x
            actions.append(Action("crash", node, at, until if until < rounds else None))
        elif kind == "omit":
            node = faulty_node(raw_node)
            actions.append(Action("omit", node, message_round(node, raw_at), dst=dst_of(x, node)))
        elif kind in ("drop", "delay"):
            node = raw_node % n
            allowed = drop_rounds if kind == "drop" else delay_rounds
            order = [r for r in model.rounds_for(node) if r in allowed]
            at = order[raw_at % len(order)]
            if kind == "drop":
                actions.append(Action("drop", node, at, dst=dst_of(x, node)))
            else:
                extra = 1 + y % model.max_delay(at)
                actions.append(Action("delay", node, at, dst=dst_of(x, node), extra=extra))
        elif kind == "partition":
            at = drop_rounds[raw_at % len(drop_rounds)]
            limit = drop_rounds[-1] + 1
            until = at + 1 + y
            side = _mask_to_nodes(z, list(range(n)))
            if len(side) == n:
                side = side[:-1]
            actions.append(
                Action(
                    "partition",
                    0,
                    at,
                    None if until >= rounds and limit >= rounds else min(until, limit),
                    nodes=side,
                )
            )
        elif kind == "mutate":
            node = faulty_node(raw_node)
            at = message_round(node, raw_at)
            actions.append(
                Action(
                    "mutate",
                    node,
                    at,
                    dst=dst_of(x, node),
                    field=y % FIELD_SLOTS,
                    how=MUTATIONS[z % len(MUTATIONS)],
                )
            )
        else:  # equivocate, twin
            node = faulty_node(raw_node)
            at = message_round(node, raw_at)
            others = [i for i in range(n) if i != node]
            side = _mask_to_nodes(z, others)
            if kind == "equivocate":
                actions.append(Action("equivocate", node, at, nodes=side, field=y % FIELD_SLOTS))
            else:
                actions.append(Action("twin", node, at, nodes=side))
    return Schedule(tuple(actions), model)


def random_schedule(model: FaultModel, rng: random.Random) -> Schedule:
    """A uniformly random schedule: 1..max_actions actions, each component uniform.

    The baseline for the benchmark (random faults in the same space, no swarm mask,
    no shrinking).
    """
    kinds = model.usable_kinds()
    if not kinds or model.max_actions == 0:
        return Schedule((), model)
    node, rnd, x, y, z = raw_bounds(model)
    count = rng.randint(1, model.max_actions)
    raw = [
        (
            rng.randrange(len(kinds)),
            rng.randint(0, node),
            rng.randint(0, rnd),
            rng.randint(0, x),
            rng.randint(0, y),
            rng.randint(0, z),
        )
        for _ in range(count)
    ]
    return decode(raw, model)


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
    count = spec.node_count(resolved)
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
    if faults is None:
        tolerance = spec.tolerance(resolved)
        faults = 1 if tolerance is None else tolerance.faults
    return FaultModel(
        n=count,
        rounds=length,
        faults=faults,
        network=net,
        kinds=tuple(kinds) if kinds is not None else GENERATED_KINDS,
        max_actions=max_actions,
        targets=None if targets is None else tuple(targets),
        protocol=protocol,
        params=resolved,
    )
