"""The built-in action kinds.

Process faults: ``crash`` (and ``recover``, in files only). Network faults on
honest messages, only as the network model allows: ``drop``, ``delay``,
``partition``. Byzantine faults of a corrupted node, with its own key and the
messages it holds:

* ``omit``: withhold its messages; ``lag``: send them late (time faults);
* ``mutate``: change one field (flip, inc, dec); ``equivocate``: change it for
  some recipients only (value faults, ByzzFuzz's small-scope mutations);
* ``replay``: send an earlier message of the same kind instead; ``splice``:
  take one field's value from an earlier message of the same kind;
* ``wrap`` / ``unwrap``: for signature chains, send a signed message it holds
  with its own signature added, or with the outer signature removed (to the
  nodes it chooses, in the round it chooses);
* ``twin``: run a second copy of its own node code (Twins, Bano et al. 2021);
* ``adversary``: an adversary plug-in written for this protocol, with drawn
  parameters, from round ``at`` on.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from bft.core.adversary import Adversary, Envelope, RoundControl, SetupControl, TrafficControl
from bft.core.crypto import Signed
from bft.core.encoding import kind_of
from bft.core.environment import Environment
from bft.core.errors import ConfigError
from bft.core.node import BROADCAST, Context, Destination, Node
from bft.core.params import Nodes, Param
from bft.search.actions.base import MAX_HELD, ActionKind, ActionRun, ChoiceView, Draw
from bft.search.actions.values import (
    MUTATIONS,
    innermost,
    mutate,
    mutated_part,
    scalar_fields,
    splice,
)

#: a mutated field is the k-th scalar field (mod their count); 60: uniform up to 6 fields
FIELD_SLOTS = 60
#: how far back replay, splice, wrap and unwrap reach (the k-th most recent message)
MAX_AGE = MAX_HELD


def _of_kinds(kinds: set[str]) -> Callable[[str, Any], bool]:
    """A ``History.earlier`` match: a payload of one of ``kinds``."""
    return lambda kind, payload: kind in kinds


def _other_of_kind(env: Envelope) -> Callable[[str, Any], bool]:
    """A ``History.earlier`` match: a payload of ``env``'s kind, other than its own."""
    return lambda kind, payload: kind == env.kind and payload != env.payload


def _to(action: Any) -> str:
    return "everyone" if action.dst is None else f"node {action.dst}"


def _listed(nodes: Any) -> str:
    members = list(nodes or ())
    return ("node " if len(members) == 1 else "nodes ") + ", ".join(map(str, members))


def _field(action: Any) -> str:
    if action.field is None:
        return "its value field"
    if isinstance(action.field, str):
        return f"field {action.field!r}"
    return f"scalar field #{action.field}"


def _age(action: Any) -> str:
    age = action.arg("age", 0)
    return "the latest" if age == 0 else f"the {age + 1}th latest"


# -- process faults ---------------------------------------------------------------------------


class Crash(ActionKind):
    name = "crash"
    summary = "a node stops in round 'at' (and comes back with its state in round 'until')"
    fault = "crash"
    fields = ("node", "at", "until")
    intercepts = False
    order = 0

    phase = "before"
    enumerable = True

    def choices(self, view: ChoiceView) -> list[Any]:
        from bft.search.schedule import Action

        r, rounds = view.round, view.model.rounds
        out = []
        for node in view.model.target_nodes:
            if not view.up[node] or not view.can_fault(node):
                continue
            for back in view.scope.crash_back:
                until = None if back is None else r + back
                if until is None or until < rounds:
                    out.append(Action("crash", node, r, until))
        return out

    def draw(self, d: Draw) -> Any:
        from bft.search.schedule import Action

        node = d.faulty_node()
        if node is None:
            return None
        at = d.message_round(node)  # a crash matters where the node acts
        until = at + 1 + d.x
        return Action("crash", node, at, until if until < d.model.rounds else None)

    def check(self, action: Any, where: str) -> None:
        if action.until is not None and action.until <= action.at:
            raise ConfigError(
                f"{where}: 'until' must be after 'at' (got at={action.at}, until={action.until})"
            )

    def describe(self, action: Any) -> str:
        end = " for good" if action.until is None else f", back in round {action.until}"
        return f"node {action.node} crashes in round {action.at}{end}"

    def before_round(self, run: ActionRun, ctl: RoundControl) -> None:
        action = run.action
        if action.at == ctl.round and ctl.is_up(action.node) and ctl.crash(action.node):
            run.note(ctl)
        elif action.until == ctl.round and not ctl.is_up(action.node):
            ctl.recover(action.node)


class Recover(ActionKind):
    name = "recover"
    summary = "a node crashed by an earlier action comes back in round 'at'"
    fault = "crash"
    generated = False
    intercepts = False

    def describe(self, action: Any) -> str:
        return f"node {action.node} recovers in round {action.at}"

    def before_round(self, run: ActionRun, ctl: RoundControl) -> None:
        action = run.action
        if action.at == ctl.round and not ctl.is_up(action.node):
            ctl.recover(action.node)


# -- network faults (honest messages, within the network model) ------------------------------


class Drop(ActionKind):
    name = "drop"
    summary = "the network drops a node's messages of round 'at' (to 'dst', or all)"
    fault = "network"
    fields = ("node", "at", "dst")

    enumerable = True

    def choices(self, view: ChoiceView) -> list[Any]:
        from bft.search.schedule import Action

        if view.round not in view.model.drop_rounds():
            return []
        out = []
        for src in view.senders():
            if src in view.corrupted:
                continue  # the adversary's own messages: 'omit' covers them
            for dst in [*view.recipients(src), None]:
                out.append(Action("drop", src, view.round, dst=dst))
        return out

    def draw(self, d: Draw) -> Any:
        from bft.search.schedule import Action

        node = d.any_node()
        allowed = set(d.model.drop_rounds())
        order = [r for r in d.model.rounds_for(node) if r in allowed]
        return Action("drop", node, order[d.raw_round % len(order)], dst=d.dst(node))

    def describe(self, action: Any) -> str:
        return (
            f"the network drops node {action.node}'s messages to {_to(action)} "
            f"sent in round {action.at}"
        )

    def on_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        if run.action.at == ctl.round:
            for env in self.own_messages(ctl, run.action):
                if ctl.drop(env):
                    run.note(ctl)


class Delay(ActionKind):
    name = "delay"
    summary = "the network delays a node's messages of round 'at' by 'extra' rounds"
    fault = "network"
    fields = ("node", "at", "dst", "extra")
    required = ("node", "at", "extra")

    enumerable = True

    def choices(self, view: ChoiceView) -> list[Any]:
        from bft.search.schedule import Action

        longest = view.model.max_delay(view.round)
        out = []
        for src in view.senders():
            if src in view.corrupted:
                continue  # 'lag' covers the adversary's own messages
            for dst in [*view.recipients(src), None]:
                for extra in view.scope.delays:
                    if extra <= longest:
                        out.append(Action("delay", src, view.round, dst=dst, extra=extra))
        return out

    def usable(self, model: Any) -> bool:
        return bool(model.delay_rounds())

    def draw(self, d: Draw) -> Any:
        from bft.search.schedule import Action

        node = d.any_node()
        allowed = set(d.model.delay_rounds())
        order = [r for r in d.model.rounds_for(node) if r in allowed]
        at = order[d.raw_round % len(order)]
        extra = 1 + d.y % d.model.max_delay(at)
        return Action("delay", node, at, dst=d.dst(node), extra=extra)

    def check(self, action: Any, where: str) -> None:
        if action.extra is None or action.extra < 1:
            raise ConfigError(f"{where}: a 'delay' action needs an integer 'extra' >= 1")

    def describe(self, action: Any) -> str:
        return (
            f"the network delays node {action.node}'s messages to {_to(action)} sent in round "
            f"{action.at} by {action.extra} extra round(s)"
        )

    def on_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        action = run.action
        if action.at != ctl.round:
            return
        for env in self.own_messages(ctl, action):
            # delays of one message do not add up: the longest one asked for holds
            more = (action.extra or 1) - env.extra_delay
            if more > 0 and ctl.delay(env, more):
                run.note(ctl)


class Partition(ActionKind):
    name = "partition"
    summary = "the nodes listed are cut off from the rest from round 'at' until 'until'"
    fault = "network"
    fields = ("at", "until", "nodes")
    required = ("at", "nodes")
    order = 10

    enumerable = True

    def choices(self, view: ChoiceView) -> list[Any]:
        from bft.search.schedule import Action

        drops = view.model.drop_rounds()
        if view.round not in drops:
            return []
        limit = drops[-1] + 1
        out = []
        for node in range(view.model.n):  # one node cut off, for a round or to the end
            for until in (view.round + 1, None):
                end = until if until is None or until < limit else limit
                if end is None and limit < view.model.rounds:
                    end = limit
                out.append(Action("partition", 0, view.round, end, nodes=(node,)))
        return sorted(set(out), key=lambda a: (a.nodes, a.until is None, a.until or 0))

    def usable(self, model: Any) -> bool:
        return bool(model.drop_rounds()) and model.n >= 2

    def draw(self, d: Draw) -> Any:
        from bft.search.schedule import Action

        drops = d.model.drop_rounds()
        rounds = d.model.rounds
        at = drops[d.raw_round % len(drops)]
        limit = drops[-1] + 1
        until = at + 1 + d.y
        # half the partitions cut off one node (the commonest way a real network splits
        # a node away); the others are any subset
        side = (d.server(),) if d.x % 2 == 0 else d.subset(list(range(d.model.n)))
        if len(side) == d.model.n:
            side = side[:-1]
        end = None if until >= rounds and limit >= rounds else min(until, limit)
        return Action("partition", 0, at, end, nodes=side)

    def check(self, action: Any, where: str) -> None:
        Crash.check(self, action, where)  # type: ignore[arg-type]

    def acts_in(self, action: Any, round: int) -> bool:
        return action.at <= round and (action.until is None or round < action.until)

    def ends(self, action: Any) -> int | None:
        return action.until  # a partition without 'until' lasts to the end

    def describe(self, action: Any) -> str:
        end = "the end" if action.until is None else f"round {action.until}"
        verb = "is" if len(action.nodes or ()) == 1 else "are"
        return f"{_listed(action.nodes)} {verb} cut off from the rest from round {action.at} until {end}"

    def on_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        action = run.action
        if not (action.at <= ctl.round and (action.until is None or ctl.round < action.until)):
            return
        side = frozenset(action.nodes or ())
        for env in ctl.envelopes:
            if not env.dropped and (env.src in side) != (env.dst in side) and ctl.drop(env):
                run.note(ctl)


# -- Byzantine faults of a corrupted node ------------------------------------------------------


class _Byzantine(ActionKind):
    fault = "byzantine"

    def usable(self, model: Any) -> bool:
        return model.byzantine_allowed() and (model.faults > 0 or model.has_free_targets())


class Omit(_Byzantine):
    name = "omit"
    summary = "a corrupted node withholds its messages of round 'at' (to 'dst', or all)"
    fields = ("node", "at", "dst")

    enumerable = True

    def choices(self, view: ChoiceView) -> list[Any]:
        from bft.search.schedule import Action

        return [
            Action("omit", src, view.round, dst=dst)
            for src in view.senders()
            if src in view.corrupted
            for dst in [*view.recipients(src), None]
        ]

    def draw(self, d: Draw) -> Any:
        from bft.search.schedule import Action

        node = d.faulty_node()
        if node is None:
            return None
        return Action("omit", node, d.message_round(node), dst=d.dst(node))

    def describe(self, action: Any) -> str:
        return f"corrupted node {action.node} withholds its messages to {_to(action)} in round {action.at}"

    def on_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        if run.action.at == ctl.round:
            for env in self.own_messages(ctl, run.action):
                if ctl.drop(env):
                    run.note(ctl)


class Lag(_Byzantine):
    name = "lag"
    summary = "a corrupted node's messages of round 'at' arrive 'extra' rounds late"
    fields = ("node", "at", "dst", "extra")
    required = ("node", "at", "extra")

    enumerable = True

    def choices(self, view: ChoiceView) -> list[Any]:
        from bft.search.schedule import Action

        return [
            Action("lag", src, view.round, dst=dst, extra=extra)
            for src in view.senders()
            if src in view.corrupted
            for dst in [*view.recipients(src), None]
            for extra in view.scope.lags
            if view.round + 1 + extra < view.model.rounds
        ]

    def draw(self, d: Draw) -> Any:
        from bft.search.schedule import Action

        node = d.faulty_node()
        if node is None:
            return None
        at = d.message_round(node)
        extra = 1 + d.y % max(1, d.model.rounds - at - 1)
        return Action("lag", node, at, dst=d.dst(node), extra=extra)

    def check(self, action: Any, where: str) -> None:
        Delay.check(self, action, where)  # type: ignore[arg-type]

    def ends(self, action: Any) -> int | None:
        return action.at + 1 + (action.extra or 1)  # the late messages have arrived

    def describe(self, action: Any) -> str:
        return (
            f"corrupted node {action.node} sends its round-{action.at} messages to "
            f"{_to(action)} {action.extra} round(s) late"
        )

    def on_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        action = run.action
        if action.at != ctl.round:
            return
        for env in self.own_messages(ctl, action):
            more = (action.extra or 1) - env.extra_delay
            if more > 0 and ctl.delay(env, more):
                run.note(ctl)


class Mutate(_Byzantine):
    name = "mutate"
    summary = "a corrupted node changes one field of its messages of round 'at'"
    fields = ("node", "at", "dst", "field", "how")

    enumerable = True

    def choices(self, view: ChoiceView) -> list[Any]:
        from bft.search.schedule import Action

        out = []
        for src in view.senders():
            if src not in view.corrupted:
                continue
            for dst in [*view.recipients(src), None]:
                fields = _field_kinds(view.messages(src, dst))
                for name, numeric in fields:
                    for how in MUTATIONS if numeric else ("flip",):
                        out.append(Action("mutate", src, view.round, dst=dst, field=name, how=how))
        return out

    def draw(self, d: Draw) -> Any:
        from bft.search.schedule import Action

        node = d.faulty_node()
        if node is None:
            return None
        return Action(
            "mutate",
            node,
            d.message_round(node),
            dst=d.dst(node),
            field=d.y % FIELD_SLOTS,
            how=MUTATIONS[d.z % len(MUTATIONS)],
        )

    def check(self, action: Any, where: str) -> None:
        if action.how is not None and action.how not in MUTATIONS:
            raise ConfigError(
                f"{where}: 'how' must be one of {', '.join(map(repr, MUTATIONS))} (got {action.how!r})"
            )

    def describe(self, action: Any) -> str:
        how = {"flip": "flips", "inc": "increments", "dec": "decrements", None: "flips"}[action.how]
        return (
            f"corrupted node {action.node} {how} {_field(action)} of its messages to "
            f"{_to(action)} in round {action.at}"
        )

    def on_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        action = run.action
        if action.at != ctl.round:
            return
        for env in self.own_messages(ctl, action):
            changed = mutate(env.payload, action.field, action.how, ctl.sign)
            if changed is not None and ctl.replace(env, changed[0]):
                run.note(ctl, changed[1])


class Equivocate(_Byzantine):
    name = "equivocate"
    summary = "a corrupted node tells the nodes listed a changed field, the others the truth"
    fields = ("node", "at", "nodes", "field")
    required = ("node", "at", "nodes")

    enumerable = True

    def choices(self, view: ChoiceView) -> list[Any]:
        from bft.search.schedule import Action

        out = []
        for src in view.senders():
            if src not in view.corrupted:
                continue
            recipients = view.recipients(src)
            fields = [name for name, _ in _field_kinds(view.messages(src))]
            for side in _proper_subsets(recipients):
                for name in fields:
                    out.append(Action("equivocate", src, view.round, nodes=side, field=name))
        return out

    def usable(self, model: Any) -> bool:
        return super().usable(model) and model.n >= 2

    def draw(self, d: Draw) -> Any:
        from bft.search.schedule import Action

        node = d.faulty_node()
        if node is None:
            return None
        side = d.subset(d.others(node))
        return Action(
            "equivocate", node, d.message_round(node), nodes=side, field=d.y % FIELD_SLOTS
        )

    def describe(self, action: Any) -> str:
        verb = "gets" if len(action.nodes or ()) == 1 else "get"
        return (
            f"corrupted node {action.node} equivocates in round {action.at}: "
            f"{_listed(action.nodes)} {verb} {_field(action)} flipped, the others the true message"
        )

    def on_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        action = run.action
        if action.at != ctl.round:
            return
        side = action.nodes or ()
        for env in self.own_messages(ctl, action):
            if env.dst in side:
                changed = mutate(env.payload, action.field, "flip", ctl.sign)
                if changed is not None and ctl.replace(env, changed[0]):
                    run.note(ctl, changed[1])


class Replay(_Byzantine):
    name = "replay"
    summary = "a corrupted node sends an earlier message of the same kind instead of its own"
    fields = ("node", "at", "dst")
    args = (
        Param("age", int, default=0, doc="0: the latest earlier message, 1: the one before", min=0),
    )
    needs_history = True

    enumerable = True

    def choices(self, view: ChoiceView) -> list[Any]:
        from bft.search.schedule import Action

        if view.held is None:
            return []
        out = []
        for src in view.senders():
            if src not in view.corrupted:
                continue
            kinds = {s.kind for s in view.messages(src)}
            older = view.held.earlier(view.round, _of_kinds(kinds))
            for dst in [*view.recipients(src), None]:
                for age in view.scope.ages:
                    if age < len(older):
                        out.append(Action("replay", src, view.round, dst=dst, args=(("age", age),)))
        return out

    def draw(self, d: Draw) -> Any:
        from bft.search.schedule import Action

        node = d.faulty_node()
        if node is None:
            return None
        at = d.message_round(node)
        return Action("replay", node, at, dst=d.dst(node), args=(("age", d.y % MAX_AGE),))

    def describe(self, action: Any) -> str:
        return (
            f"corrupted node {action.node} sends {_to(action)}, instead of its round-{action.at} "
            f"messages, {_age(action)} earlier message of the same kind"
        )

    def on_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        action = run.action
        if action.at != ctl.round or run.history is None:
            return
        age = action.arg("age", 0)
        for env in self.own_messages(ctl, action):
            earlier = run.history.earlier(
                ctl.round,
                _other_of_kind(env),
            )
            if earlier and ctl.replace(env, earlier[min(age, len(earlier) - 1)]):
                run.note(ctl, f"a {env.kind} seen earlier")


class Splice(_Byzantine):
    name = "splice"
    summary = "a corrupted node takes one field's value from an earlier message of the same kind"
    fields = ("node", "at", "dst", "field")
    args = Replay.args
    needs_history = True

    enumerable = True

    def choices(self, view: ChoiceView) -> list[Any]:
        from bft.search.schedule import Action

        if view.held is None:
            return []
        out = []
        for src in view.senders():
            if src not in view.corrupted:
                continue
            kinds = {s.kind for s in view.messages(src)}
            older = view.held.earlier(view.round, _of_kinds(kinds))
            fields = [name for name, _ in _field_kinds(view.messages(src))]
            for dst in [*view.recipients(src), None]:
                for name in fields:
                    for age in view.scope.ages:
                        if age < len(older):
                            out.append(
                                Action(
                                    "splice",
                                    src,
                                    view.round,
                                    dst=dst,
                                    field=name,
                                    args=(("age", age),),
                                )  # fmt: skip
                            )
        return out

    def draw(self, d: Draw) -> Any:
        from bft.search.schedule import Action

        node = d.faulty_node()
        if node is None:
            return None
        return Action(
            "splice",
            node,
            d.message_round(node),
            dst=d.dst(node),
            field=d.y % FIELD_SLOTS,
            args=(("age", d.z % MAX_AGE),),
        )

    def describe(self, action: Any) -> str:
        return (
            f"corrupted node {action.node} copies {_field(action)} of {_age(action)} earlier "
            f"message of the same kind into its messages to {_to(action)} in round {action.at}"
        )

    def on_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        action = run.action
        if action.at != ctl.round or run.history is None:
            return
        age = action.arg("age", 0)
        for env in self.own_messages(ctl, action):
            earlier = run.history.earlier(
                ctl.round,
                _other_of_kind(env),
            )
            if not earlier:
                continue
            changed = splice(
                env.payload, earlier[min(age, len(earlier) - 1)], action.field, ctl.sign
            )
            if changed is not None and ctl.replace(env, changed[0]):
                run.note(ctl, changed[1])


class _Chain(_Byzantine):
    """Actions on signature chains: messages corrupted nodes hold, sent when they choose."""

    fields = ("node", "at", "nodes")
    required = ("node", "at", "nodes")
    args = Replay.args
    needs_history = True

    enumerable = True

    def choices(self, view: ChoiceView) -> list[Any]:
        from bft.search.schedule import Action

        if view.held is None or not view.model.signed:
            return []
        out = []
        for node in sorted(view.corrupted):
            held = view.held.earlier(view.round + 1, lambda kind, p: isinstance(p, Signed))
            if not held:
                continue
            others = [i for i in range(view.model.n) if i != node]
            for side in [*((o,) for o in others), tuple(others)]:
                for age in view.scope.ages:
                    if age < len(held):
                        out.append(
                            Action(self.name, node, view.round, nodes=side, args=(("age", age),))
                        )
        return out

    def usable(self, model: Any) -> bool:
        return super().usable(model) and model.signed and model.n >= 2

    def draw(self, d: Draw) -> Any:
        from bft.search.schedule import Action

        node = d.faulty_node()
        if node is None:
            return None
        side = d.subset(d.others(node))
        return Action(self.name, node, d.round(), nodes=side, args=(("age", d.y % MAX_AGE),))

    def pick(self, run: ActionRun, ctl: TrafficControl) -> Any | None:
        raise NotImplementedError

    def on_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        action = run.action
        if action.at != ctl.round or run.history is None:
            return
        message = self.pick(run, ctl)
        if message is None:
            return
        for dst in action.nodes or ():
            if dst != action.node and ctl.inject(action.node, dst, message):
                run.note(ctl, f"a {kind_of(innermost(message))} chain")


class Wrap(_Chain):
    name = "wrap"
    summary = "a corrupted node adds its own signature to a signed message it holds and sends it"

    def describe(self, action: Any) -> str:
        return (
            f"corrupted node {action.node} signs {_age(action)} signed message it holds and "
            f"sends it to {_listed(action.nodes)} in round {action.at}"
        )

    def pick(self, run: ActionRun, ctl: TrafficControl) -> Any | None:
        node = run.action.node
        held = run.history.earlier(  # type: ignore[union-attr]
            ctl.round + 1, lambda kind, p: isinstance(p, Signed) and p.signer != node
        )
        if not held:
            return None
        return ctl.sign(node, held[min(run.action.arg("age", 0), len(held) - 1)])


class Unwrap(_Chain):
    name = "unwrap"
    summary = "a corrupted node sends the inner signed message of a chain it holds"

    def describe(self, action: Any) -> str:
        return (
            f"corrupted node {action.node} strips the outer signature of {_age(action)} "
            f"signature chain it holds and sends the rest to {_listed(action.nodes)} in round "
            f"{action.at}"
        )

    def pick(self, run: ActionRun, ctl: TrafficControl) -> Any | None:
        held = run.history.earlier(  # type: ignore[union-attr]
            ctl.round + 1, lambda kind, p: isinstance(p, Signed) and isinstance(p.payload, Signed)
        )
        if not held:
            return None
        return held[min(run.action.arg("age", 0), len(held) - 1)].payload


# -- twins ----------------------------------------------------------------------------------


class _TwinKeys:
    """Signing for a twin: through the adversary's control, as the corrupted node."""

    def __init__(self) -> None:
        self.ctl: TrafficControl | None = None

    def sign(self, node: int, payload: Any) -> Signed:
        signed = self.ctl.sign(node, payload) if self.ctl is not None else None
        return signed if signed is not None else Signed(node, payload, b"")

    def verify(self, signed: Any, signer: int | None = None) -> bool:
        return self.ctl is not None and self.ctl.verify(signed, signer)


class _TwinHost:
    """The world a twin's node code runs in: sends collected for the adversary to route;
    its outputs, tallies and work are not observable (the node is corrupted)."""

    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.seed = seed
        self.keys = _TwinKeys()
        self.environment = Environment()
        self.out: list[tuple[int, Destination, Any]] = []

    def emit_output(self, node: int, name: str, data: dict[str, Any]) -> None:
        pass

    def record_reject(self, node: int, src: int, payload: Any, reason: str) -> None:
        pass

    def add_tally(self, name: str, amount: float) -> None:
        pass

    def add_work(self, node: int, units: float) -> None:
        pass

    def work_of(self, node: int) -> float:
        return 0.0


class Twin(_Byzantine):
    name = "twin"
    summary = "a second copy of a corrupted node's own code speaks for it to the nodes listed"
    fields = ("node", "at", "nodes")
    required = ("node", "at", "nodes")
    order = 0

    def usable(self, model: Any) -> bool:
        return super().usable(model) and model.n >= 2

    def acts_in(self, action: Any, round: int) -> bool:
        return True  # it hears every message to its node from the start (some arrive late)

    def ends(self, action: Any) -> int | None:
        return None  # a twin speaks to the end

    def draw(self, d: Draw) -> Any:
        from bft.search.schedule import Action

        node = d.faulty_node()
        if node is None:
            return None
        return Action("twin", node, d.message_round(node), nodes=d.subset(d.others(node)))

    def describe(self, action: Any) -> str:
        them = "it" if len(action.nodes or ()) == 1 else "them"
        return (
            f"node {action.node} is twinned from round {action.at}: a second copy of its code, "
            f"fed by {_listed(action.nodes)}, speaks to {them} in its place"
        )

    def setup(self, run: ActionRun, ctl: SetupControl) -> None:
        node = ctl.build_node(run.action.node)  # the protocol's own, unmodified code
        if node is None:
            return
        host = _TwinHost(ctl.n, random.Random(ctl.rng.getrandbits(64)).getrandbits(64))
        run.state.update(node=node, host=host, ctx=Context(host, run.action.node), pending={})

    def on_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        action, state = run.action, run.state
        node: Node | None = state.get("node")
        if node is None or ctl.round < action.at:
            return
        host, ctx = state["host"], state["ctx"]
        ctx.round = ctl.round
        host.keys.ctl = ctl
        host.out.clear()
        try:
            node.on_round(ctx, state["pending"].pop(ctl.round, []))
        except Exception:  # noqa: BLE001 - a twin is a corrupted node; its crash is not a bug
            state["node"] = None
            return
        side = frozenset(action.nodes or ())
        # recipients on the twin's side hear the twin instead of the original
        silenced = False
        for env in ctl.envelopes:
            if env.src == action.node and env.dst in side and not env.dropped:
                silenced = ctl.drop(env) or silenced
        spoke = False
        for _src, dst, payload in host.out:
            if dst == BROADCAST:
                targets = sorted(side)
            elif type(dst) is tuple:
                targets = [t for t in dst if t in side]
            else:
                targets = [dst] if dst in side else []
            for target in targets:
                if target != action.node:
                    spoke = ctl.inject(action.node, target, payload) or spoke
        if spoke or silenced:
            run.note(ctl)

    def after_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        action, state = run.action, run.state
        if state.get("node") is None:
            return
        side = action.nodes or ()
        for env in ctl.envelopes:
            if env.dst == action.node and env.src in side and not env.dropped:
                arrival = ctl.round + 1 + env.extra_delay
                if arrival >= action.at:
                    state["pending"].setdefault(arrival, []).append((env.src, env.payload))


# -- adversary plug-ins -----------------------------------------------------------------------


class PluginAdversary(ActionKind):
    """An adversary plug-in (``bft.adversaries``) written for this protocol, as one action.

    An adversary takes part in the default search of the protocols it names in its
    ``protocols`` class attribute. Its parameters are drawn from their declarations:
    node lists among the faulty nodes (within the budget), numbers within their
    bounds (rounds where unbounded), choices among the choices. It acts from round
    ``at`` on; what it corrupts or crashes is counted like any fault.
    """

    name = "adversary"
    summary = "an adversary plug-in written for this protocol, from round 'at' on"
    fault = "byzantine"
    fields = ("node", "at")
    required = ("at",)
    args = (
        Param("name", str, doc="the adversary's registered name"),
        Param("params", list, default=(), doc="its parameters, as [name, value] pairs"),
    )

    def usable(self, model: Any) -> bool:
        return bool(model.adversaries) and (model.faults > 0 or model.has_free_targets())

    def validate_args(self, given: Any, where: str) -> dict[str, Any]:
        # the file form writes the drawn [name, value] pairs as a table
        given = dict(given)
        if isinstance(given.get("params"), dict):
            given["params"] = [[k, v] for k, v in given["params"].items()]
        return super().validate_args(given, where)

    def draw(self, d: Draw) -> Any:
        from bft.core import registry
        from bft.search.schedule import Action

        name = d.choose(d.model.adversaries, d.x)
        cls = registry.adversary(name)
        rng = random.Random(d.y * 1_000_003 + d.z)  # the raw components decide every value
        # most attacks are written to act from the start: three draws in four do
        at = 0 if d.x // max(1, len(d.model.adversaries)) % 4 else d.round()
        # a drawn combination the adversary refuses (its constructor checks more than
        # each declaration says) is drawn again; the last try keeps every default
        budget = list(d._budget)
        for attempt in range(_DRAW_TRIES + 1):
            d._budget[:] = budget  # a refused draw spends nothing
            drawn: list[tuple[str, Any]] = []
            node = 0
            for param in cls.params:
                value: Any = _SKIP if attempt == _DRAW_TRIES else _draw_param(param, d, rng)
                if value is _SKIP:
                    continue
                if param.type is Nodes and value:
                    node = value[0]
                drawn.append((param.name, value))
            action = Action("adversary", node, at, args=(("name", name), ("params", tuple(drawn))))
            try:
                resolve_params(cls, action, "draw")
            except ConfigError:
                continue
            return action
        return None  # the adversary takes no parameters this scenario can satisfy

    def check(self, action: Any, where: str) -> None:
        from bft.core import registry

        name = action.arg("name")
        if not isinstance(name, str):
            raise ConfigError(f"{where}: an 'adversary' action needs the adversary's 'name'")
        cls = registry.adversary(name)
        resolve_params(cls, action, where)

    def describe(self, action: Any) -> str:
        params = ", ".join(f"{k}={_plain(v)}" for k, v in action.arg("params", ()))
        inner = f"{action.arg('name')}" + (f" ({params})" if params else "")
        return f"adversary {inner} acts from round {action.at}"

    def _inner(self, run: ActionRun) -> Adversary:
        inner = run.state.get("adversary")
        if inner is None:
            from bft.core import registry

            cls = registry.adversary(run.action.arg("name"))
            inner = run.state["adversary"] = cls(**resolve_params(cls, run.action, "schedule"))
        return inner

    def acts_in(self, action: Any, round: int) -> bool:
        return round >= action.at

    def ends(self, action: Any) -> int | None:
        return None  # a plug-in adversary acts to the end

    def setup(self, run: ActionRun, ctl: SetupControl) -> None:
        try:
            self._inner(run).setup(ctl)
        except ConfigError as exc:
            # parameters that only the running system can check (another replica than
            # the one corrupted, say): the action is void, which its note says
            run.state["refused"] = True
            run.note(ctl, f"refused, so it does nothing: {exc}")
            return
        run.note(ctl)

    def before_round(self, run: ActionRun, ctl: RoundControl) -> None:
        if ctl.round >= run.action.at and not run.state.get("refused"):
            self._inner(run).before_round(ctl)

    def on_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        if run.state.get("refused"):
            return
        inner = self._inner(run)
        if inner.intercepts and ctl.round >= run.action.at:
            inner.on_traffic(ctl)


_SKIP = object()
#: how often a refused draw of an adversary's parameters is drawn again
_DRAW_TRIES = 8


def _field_kinds(messages: list[Any]) -> list[tuple[str, bool]]:
    """The scalar fields of the messages (innermost value of signed ones), in order, each
    with whether it is a number that can be incremented (booleans and text only flip)."""
    out: dict[str, bool] = {}
    for message in messages:
        value = innermost(message.payload)
        for name in scalar_fields(value):
            field = mutated_part(getattr(value, name))
            numeric = isinstance(field, int) and not isinstance(field, bool)
            out[name] = out.get(name, True) and numeric
    return list(out.items())


def _proper_subsets(nodes: list[int]) -> list[tuple[int, ...]]:
    """Every non-empty proper subset of ``nodes`` (equivocation tells some the truth)."""
    out = []
    for mask in range(1, (1 << len(nodes)) - 1):
        out.append(tuple(n for i, n in enumerate(nodes) if mask >> i & 1))
    return out


def _plain(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "[" + ",".join(_plain(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _draw_param(param: Param, d: Draw, rng: random.Random) -> Any:
    """A value for an adversary parameter, drawn within its declaration (an optional one,
    default None, keeps its default half the time)."""
    if param.default is None and param.type is not Nodes and rng.random() < 0.5:
        return _SKIP
    if param.type is Nodes:
        count = 1 + rng.randrange(max(1, d.model.faults))
        nodes = []
        for i in range(count):
            # the first node is a server (a node whose fault counts) when there is one:
            # attacks are mostly written for servers
            targets = d.model.target_nodes
            servers = [k for k, t in enumerate(targets) if d.model.counts(t)]
            raw = rng.choice(servers) if i == 0 and servers else rng.randrange(d.model.n)
            node = d.faulty_node(raw)
            if node is not None and node not in nodes:
                nodes.append(node)
        return tuple(sorted(nodes)) if nodes else _SKIP
    if param.type is bool:
        return bool(rng.getrandbits(1))
    if param.type is str:
        return rng.choice(param.choices) if param.choices else _SKIP
    if param.type is int:
        # an unbounded number is a node half the time (a node id, a count of nodes),
        # a round the other half
        low = int(param.min) if param.min is not None else 0
        span = d.model.n if rng.random() < 0.5 else d.model.rounds
        high = int(param.max) if param.max is not None else low + span - 1
        return low + rng.randrange(max(1, min(high - low + 1, d.model.rounds)))
    if param.type is float:
        lo = param.min if param.min is not None else 0.0
        hi = param.max if param.max is not None else max(1.0, lo)
        return round(lo + (hi - lo) * rng.randrange(9) / 8, 4)
    return _SKIP


def resolve_params(cls: type[Adversary], action: Any, where: str) -> dict[str, Any]:
    from bft.core.params import resolve

    given = dict(action.arg("params", ()))
    try:
        values = resolve(f"{where}: adversary {cls.name!r}", cls.params, given)
        cls(**values)  # constructing validates combinations
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the plug-in's constructor is its own code
        raise ConfigError(
            f"{where}: adversary {cls.name!r} refused its parameters: {exc}"
        ) from None
    return values


KINDS: tuple[ActionKind, ...] = (
    Crash(),
    Omit(),
    Drop(),
    Delay(),
    Partition(),
    Mutate(),
    Equivocate(),
    Twin(),
    Lag(),
    Replay(),
    Splice(),
    Wrap(),
    Unwrap(),
    PluginAdversary(),
    Recover(),
)
