"""Oral Messages OM(m): Lamport, Shostak and Pease, "The Byzantine Generals Problem" (1982).

Theory of operation. The commander (node ``commander``, default 0) sends its
order to every lieutenant in round 0. A message carries the *path* of generals
it passed through, starting with the commander. A lieutenant that receives a
message with a path of length k <= m in round k relays it, with itself
appended, to every general not yet on the path: this is OM(m-k) with the
lieutenant as commander. After round m+1 each lieutenant evaluates the tree
of values it received bottom up: the value for a path is the majority of what
it was told directly and the values computed for each one-longer path, and
the default order (0, retreat) where there is no strict majority or a message
never came. The decision is the value for the path (commander,).

Each general starts with only what it may know (``OralMessages.node_params``):
n, m and who commands; the order itself goes to the commander only, and a
lieutenant learns it from messages (a lieutenant handed the order could skip
the protocol and still "pass").

Oral messages are unsigned, but the receiver knows who sent each message
(assumption A2 of the paper), so a message whose path does not end with its
sender is rejected, as is one arriving in the wrong round or with a malformed
path. With n >= 3m+1 generals and at most m traitors, IC1 (all loyal
lieutenants obey the same order) and IC2 (they obey a loyal commander) hold.
Fault-free, OM(m) sends sum_{k=1..m+1} (n-1)(n-2)...(n-k) messages: 9 for
n=4, m=1 and 156 for n=7, m=2.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs

from bft.core.errors import ConfigError
from bft.core.node import Context, Inbox, Node
from bft.core.params import Param
from bft.core.properties import Property, Verdict
from bft.core.protocol import Params, ProtocolSpec, Tolerance
from bft.core.record import RunRecord

RETREAT = 0
MAX_MESSAGES = 2_000_000


@attrs.frozen
class OMMessage:
    path: tuple[int, ...]
    value: int

    KIND = "om"


def majority(values: list[int], default: int = RETREAT) -> int:
    """The strict-majority value, or ``default`` when no value has more than half."""
    value, count = Counter(values).most_common(1)[0]
    return value if 2 * count > len(values) else default


def message_count(n: int, m: int) -> int:
    total, product = 0, 1
    for k in range(1, m + 2):
        product *= n - k
        if product <= 0:
            break
        total += product
    return total


class General(Node):
    """One general. ``order`` is the commander's order, known to the commander only
    (a lieutenant is built with ``order=None``: it learns the order from messages)."""

    def __init__(self, node_id: int, n: int, m: int, commander: int, order: int | None) -> None:
        self.me = node_id
        self.n = n
        self.m = m
        self.commander = commander
        self.order = order
        self.received: dict[tuple[int, ...], int] = {}
        self.decided = False

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        if self.me == self.commander:
            if ctx.round == 0:
                assert self.order is not None  # the commander is built with its order
                ctx.broadcast(OMMessage((self.me,), self.order))
                self._decide(ctx, self.order)
            return
        for src, msg in inbox:
            reason = self._invalid(ctx.round, src, msg)
            if reason:
                ctx.reject(src, msg, reason)
                continue
            self.received[msg.path] = msg.value
            if len(msg.path) <= self.m:
                path = (*msg.path, self.me)
                ctx.multicast(
                    (j for j in range(self.n) if j not in path), OMMessage(path, msg.value)
                )
        if ctx.round == self.m + 1 and not self.decided:
            self._decide(ctx, self.value_for((self.commander,)))

    def _invalid(self, rnd: int, src: int, msg: Any) -> str | None:
        if (
            not isinstance(msg, OMMessage)
            or not isinstance(msg.path, tuple)
            or not isinstance(msg.value, int)
        ):
            return "not an OM message"
        path = msg.path
        if not path or path[0] != self.commander:
            return "path does not start at the commander"
        if path[-1] != src:
            return f"path {path} does not end with its sender {src}"
        if len(path) != rnd:
            return f"path of length {len(path)} arrived in round {rnd}"
        if len(set(path)) != len(path) or self.me in path:
            return f"path {path} repeats a general"
        if path in self.received:
            return f"duplicate message for path {path}"
        return None

    def value_for(self, path: tuple[int, ...]) -> int:
        told = self.received.get(path, RETREAT)
        if len(path) == self.m + 1:
            return told
        votes = [told]
        votes.extend(
            self.value_for((*path, j)) for j in range(self.n) if j not in path and j != self.me
        )
        return majority(votes)

    def _decide(self, ctx: Context, value: int) -> None:
        self.decided = True
        ctx.output("decide", value=value)


def _decisions(record: RunRecord) -> dict[int, list[tuple[int, Any]]]:
    out: dict[int, list[tuple[int, Any]]] = {}
    for o in record.outputs_named("decide"):
        out.setdefault(o.node, []).append((o.round, o.data.get("value")))
    return out


class OralMessages(ProtocolSpec):
    name = "om"
    all_to_all = True
    summary = (
        "Oral Messages OM(m) (Lamport, Shostak, Pease 1982): Byzantine generals without signatures"
    )
    nodes_are = "generals (the commander included)"
    params = (
        Param("n", int, default=4, doc="number of generals, the commander included", min=2),
        Param(
            "m",
            int,
            default=1,
            doc="recursion depth: the number of traitors tolerated when n >= 3m+1",
            min=0,
        ),
        Param("commander", int, default=0, doc="which general is the commander", min=0),
        Param("value", int, default=1, doc="the commander's order (1 attack, 0 retreat)"),
    )

    def check(self, p: Params) -> None:
        if p["commander"] >= p["n"]:
            raise ConfigError(
                f"om: commander must be a general 0..{p['n'] - 1} (got commander={p['commander']}, n={p['n']})"
            )
        count = message_count(p["n"], p["m"])
        if count > MAX_MESSAGES:
            raise ConfigError(
                f"om: OM({p['m']}) with n={p['n']} sends {count:,} messages (more than {MAX_MESSAGES:,}); "
                "choose a smaller n or m"
            )

    def node_params(self, node_id: int, p: Params) -> dict[str, Any]:
        """What general ``node_id`` knows when it starts: the commander's order goes to
        the commander only (a lieutenant that "knew" it could skip the protocol)."""
        return {
            "n": p["n"],
            "m": p["m"],
            "commander": p["commander"],
            "value": p["value"] if node_id == p["commander"] else None,
        }

    def make_node(self, node_id: int, p: Params) -> Node:
        known = self.node_params(node_id, p)
        return General(node_id, known["n"], known["m"], known["commander"], known["value"])

    def roles(self, p: Params) -> tuple[str, ...]:
        return tuple("commander" if i == p["commander"] else "lieutenant" for i in range(p["n"]))

    def default_rounds(self, p: Params) -> int:
        return p["m"] + 2

    def interchangeable(self, p: Params) -> tuple[tuple[int, ...], ...]:
        """The lieutenants: each starts alike (no value), relays alike and is judged alike."""
        return (tuple(i for i in range(p["n"]) if i != p["commander"]),)

    def tolerance(self, p: Params) -> Tolerance:
        return Tolerance(
            kind="byzantine", faults=p["m"], networks=("synchronous",), bound="n >= 3m+1"
        )

    def beyond_bound(self, p: Params) -> str | None:
        if p["n"] < 3 * p["m"] + 1:
            return f"OM(m) needs n >= 3m+1 generals to tolerate m traitors (n={p['n']}, m={p['m']})"
        return None

    def properties(self, p: Params) -> list[Property]:
        commander, m = p["commander"], p["m"]

        def loyal_lieutenants(record: RunRecord) -> list[int]:
            return sorted(
                i
                for i in record.honest
                if i != commander and not any(b.node == i for b in record.bugs)
            )

        def agreement(record: RunRecord) -> Verdict:
            decided = _decisions(record)
            firsts = [(i, decided[i][0]) for i in loyal_lieutenants(record) if i in decided]
            for (a, (ra, va)), (b, (rb, vb)) in zip(firsts, firsts[1:], strict=False):
                if va != vb:
                    return Verdict.violated(
                        f"loyal lieutenants {a} and {b} disagree: general {a} decided {va} "
                        f"in round {ra}, general {b} decided {vb} in round {rb}"
                    )
            if len(firsts) < 2:
                return Verdict.vacuous("fewer than two loyal lieutenants decided")
            return Verdict.ok()

        def validity(record: RunRecord) -> Verdict:
            if commander in record.faulty:
                what = "a traitor" if commander in record.corrupted else "crashed"
                return Verdict.vacuous(f"the commander (general {commander}) is {what}")
            order = p["value"]
            decided = _decisions(record)
            for i in loyal_lieutenants(record):
                if i in decided and decided[i][0][1] != order:
                    rnd, value = decided[i][0]
                    return Verdict.violated(
                        f"loyal commander {commander} ordered {order}, but loyal lieutenant {i} "
                        f"decided {value} in round {rnd}"
                    )
            return Verdict.ok()

        def integrity(record: RunRecord) -> Verdict:
            for node, decisions in sorted(_decisions(record).items()):
                if len(decisions) > 1 and node in record.honest:
                    return Verdict.violated(
                        f"general {node} decided {len(decisions)} times: {decisions}"
                    )
            return Verdict.ok()

        def termination(record: RunRecord) -> Verdict:
            decided = _decisions(record)
            bound = m + 1
            expected = [i for i in loyal_lieutenants(record) if i not in record.ever_down]
            if not expected:
                return Verdict.vacuous("no loyal, never-crashed lieutenant had to decide")
            for i in expected:
                if i not in decided:
                    return Verdict.violated(
                        f"loyal lieutenant {i} never decided (bound: round {bound})"
                    )
                if decided[i][0][0] > bound:
                    return Verdict.violated(
                        f"loyal lieutenant {i} decided in round {decided[i][0][0]}, after round {bound}"
                    )
            return Verdict.ok()

        return [
            Property(
                "agreement", "safety", "IC1: all loyal lieutenants decide the same order", agreement
            ),
            Property(
                "validity",
                "safety",
                "IC2: if the commander is loyal, loyal lieutenants decide its order",
                validity,
            ),
            Property("integrity", "safety", "every general decides at most once", integrity),
            Property(
                "termination",
                "liveness",
                "every loyal, never-crashed lieutenant decides by round m+1",
                termination,
            ),
        ]

    def metrics(self, record: RunRecord, p: Params) -> dict[str, float | None]:
        decisions = list(record.outputs_named("decide"))
        return {
            "decided": len({o.node for o in decisions}),
            "decision_round": max((o.round for o in decisions), default=None),
        }
