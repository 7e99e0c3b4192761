"""Phase King (Berman, Garay and Perry 1989): binary Byzantine agreement with n > 4f.

Theory of operation. Every node starts with a binary preference. There are
f+1 phases of two lockstep rounds each; the king of phase k is node k, so at
least one of the f+1 kings is honest.

* Round 2k (vote): every node broadcasts ``Vote(k, pref)``. In round 2k+1 a
  node counts the votes it received plus its own, and takes the majority
  value ``maj`` (0 on a tie) and its count ``mult``.
* Round 2k+1 (king): the king of phase k broadcasts ``King(k, maj)``. In
  round 2k+2 each node keeps ``pref = maj`` if ``mult > n/2 + f`` and
  otherwise adopts the king's value (0 if the king sent nothing valid).

After phase f (the (f+1)-th) every node decides its preference, in round
2(f+1). Why it works: if all honest nodes prefer v, each counts at least
n-f > n/2+f votes for v (this needs n > 4f) and keeps v: validity, and
persistence of any agreement reached. In a phase with an honest king, a node
that keeps its own majority v saw more than n/2+f votes for v, so more than
n/2 honest nodes prefer v and the king's majority is v too; the others adopt
the king's v; all honest nodes leave the phase agreeing. Messages:
(f+1)(n-1)(n+1) when nobody is faulty, O(n^2 f).

Each node emits ``prefer`` (phase, value) at the end of every phase, and
``decide`` at the end: ``king-unifies`` and ``persistence`` check the two
lemmas above phase by phase, ``decision-round`` that nobody decides before
round 2(f+1).

A node starts knowing n, f and its own input only (``PhaseKing.node_params``),
never the other nodes' inputs.

Simplifications: binary values only; a vote or king message for another
phase, a duplicate, or a king message from a non-king is rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from bft.core.errors import ConfigError
from bft.core.node import Context, Inbox, Node
from bft.core.params import Nodes, Param
from bft.core.properties import Property, Verdict
from bft.core.protocol import Params, ProtocolSpec, Tolerance
from bft.core.record import RunRecord
from bft.protocols.agreement_properties import (
    agreement_property,
    decision_metrics,
    decision_round_property,
    first_wrong_decision,
    integrity_property,
    king_properties,
    termination_property,
)

VALUES = (0, 1)


@attrs.frozen
class Vote:
    phase: int
    value: int

    KIND = "pk-vote"


@attrs.frozen
class King:
    phase: int
    value: int

    KIND = "pk-king"


def initial_values(p: Mapping[str, Any]) -> tuple[int, ...]:
    """Each node's starting preference: ``inputs`` if given, else all ``value``, else i % 2."""
    n = int(p["n"])
    if p.get("inputs") is not None:
        return tuple(int(v) for v in p["inputs"])
    if p.get("value") is not None:
        return (int(p["value"]),) * n
    return tuple(i % 2 for i in range(n))


class PhaseKingNode(Node):
    """One node. ``params`` holds n, f and this node's own ``input`` only
    (``PhaseKing.node_params``); without ``input`` it reads its entry of the inputs."""

    def __init__(self, node_id: int, params: Mapping[str, Any]) -> None:
        self.me = node_id
        self.n = int(params["n"])
        self.f = int(params["f"])
        own = params.get("input")
        self.pref = int(own) if own is not None else initial_values(params)[node_id]
        self.maj = 0
        self.mult = 0
        self.decided = False

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        rnd = ctx.round
        phase, step = divmod(rnd, 2)
        if step == 1:
            self._count_votes(ctx, phase, inbox)
            if self.me == phase:
                ctx.broadcast(King(phase, self.maj))
            return
        if rnd > 0:
            self._follow_king(ctx, phase - 1, inbox)
            ctx.output("prefer", phase=phase - 1, value=self.pref)
        if phase == self.f + 1:
            if not self.decided:
                self.decided = True
                ctx.output("decide", value=self.pref)
            return
        if phase <= self.f:
            ctx.broadcast(Vote(phase, self.pref))

    def _count_votes(self, ctx: Context, phase: int, inbox: Inbox) -> None:
        counts = [0, 0]
        counts[self.pref] += 1
        seen: set[int] = set()
        for src, msg in inbox:
            reason = self._invalid(msg, Vote, phase)
            if reason is None and src in seen:
                reason = f"a second vote from node {src} in phase {phase}"
            if reason is not None:
                ctx.reject(src, msg, reason)
                continue
            seen.add(src)
            counts[msg.value] += 1
        self.maj = 1 if counts[1] > counts[0] else 0
        self.mult = counts[self.maj]

    def _follow_king(self, ctx: Context, phase: int, inbox: Inbox) -> None:
        told: int | None = self.maj if self.me == phase else None  # the king follows itself
        for src, msg in inbox:
            reason = self._invalid(msg, King, phase)
            if reason is None and src != phase:
                reason = f"node {src} is not the king of phase {phase}"
            if reason is None and self.me == phase:
                reason = f"node {src} sent a king message to the king of phase {phase}"
            if reason is None and told is not None:
                reason = f"a second king message in phase {phase}"
            if reason is not None:
                ctx.reject(src, msg, reason)
                continue
            told = msg.value
        if 2 * self.mult > self.n + 2 * self.f:
            self.pref = self.maj
        else:
            self.pref = 0 if told is None else told

    @staticmethod
    def _invalid(msg: Any, cls: type[Vote] | type[King], phase: int) -> str | None:
        if not isinstance(msg, cls):
            return f"expected a {cls.KIND} message"
        if msg.phase != phase:
            return f"{cls.KIND} for phase {msg.phase!r} arrived in phase {phase}"
        if msg.value not in VALUES or isinstance(msg.value, bool):
            return f"value {msg.value!r} is not binary"
        return None


class PhaseKing(ProtocolSpec):
    name = "phase-king"
    all_to_all = True
    summary = "Phase King (Berman, Garay, Perry 1989): Byzantine agreement, n > 4f, 2(f+1) rounds"
    nodes_are = "nodes"
    params = (
        Param("n", int, default=5, doc="number of nodes", min=2),
        Param("f", int, default=1, doc="the most corrupted nodes tolerated (needs n > 4f)", min=0),
        Param("inputs", Nodes, default=None, doc="each node's initial value, e.g. [0,1,1,0,1]"),
        Param(
            "value",
            int,
            default=None,
            doc="every node starts with this value (unless inputs)",
            min=0,
            max=1,
        ),
    )
    node_class: type[Node] = PhaseKingNode

    def check(self, p: Params) -> None:
        n = p["n"]
        if p["f"] + 1 > n:
            raise ConfigError(
                f"phase-king: f+1 phases need f+1 distinct kings, so f must be < n "
                f"(got f={p['f']}, n={n})"
            )
        inputs = p.get("inputs")
        if inputs is not None:
            if len(inputs) != n:
                raise ConfigError(
                    f"phase-king: inputs must give one value per node (got {len(inputs)} "
                    f"values for n={n})"
                )
            bad = [v for v in inputs if v not in VALUES]
            if bad:
                raise ConfigError(f"phase-king: inputs must be 0 or 1 (got {bad[0]})")

    def node_params(self, node_id: int, p: Params) -> dict[str, Any]:
        """What node ``node_id`` knows when it starts: n, f and its own input, not the
        other nodes' inputs."""
        return {"n": p["n"], "f": p["f"], "input": initial_values(p)[node_id]}

    def make_node(self, node_id: int, p: Params) -> Node:
        return self.node_class(node_id, self.node_params(node_id, p))  # type: ignore[call-arg]

    def roles(self, p: Params) -> tuple[str, ...]:
        return tuple("king" if i <= p["f"] else "node" for i in range(p["n"]))

    def default_rounds(self, p: Params) -> int:
        return 2 * (p["f"] + 1) + 1

    def tolerance(self, p: Params) -> Tolerance:
        return Tolerance(kind="byzantine", faults=p["f"], networks=("synchronous",), bound="n > 4f")

    def beyond_bound(self, p: Params) -> str | None:
        if p["n"] <= 4 * p["f"]:
            return f"Phase King needs n > 4f nodes to tolerate f faults (n={p['n']}, f={p['f']})"
        return None

    def properties(self, p: Params) -> list[Property]:
        inputs = initial_values(p)
        bound = 2 * (p["f"] + 1)

        def validity(record: RunRecord) -> Verdict:
            starts = {inputs[i] for i in sorted(record.correct)}
            if len(starts) != 1:
                return Verdict.vacuous("honest nodes started with different values")
            (value,) = starts
            wrong = first_wrong_decision(record, value)
            if wrong is not None:
                i, rnd, got = wrong
                return Verdict.violated(
                    f"every honest node started with {value}, but node {i} decided {got} "
                    f"in round {rnd}"
                )
            return Verdict.ok()

        return [
            agreement_property(),
            Property(
                "validity",
                "safety",
                "if all honest nodes start with v, they decide v",
                validity,
            ),
            integrity_property(),
            termination_property(bound, "every honest, never-crashed node decides by round 2(f+1)"),
            decision_round_property(-1, bound, "f+1 phases, so that one of the kings is honest"),
            *king_properties(list(range(p["f"] + 1)), inputs),
        ]

    def metrics(self, record: RunRecord, p: Params) -> dict[str, float | None]:
        return decision_metrics(record)
