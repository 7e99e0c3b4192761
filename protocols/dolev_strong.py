"""Dolev-Strong authenticated broadcast (Dolev and Strong, SIAM J. Computing 1983).

Theory of operation. One designated sender broadcasts a value to n nodes of
which up to t < n may be corrupted (the sender included). Signatures replace
the n >= 3t+1 bound of oral messages: a corrupted node can withhold or
combine signed statements, but it cannot forge an honest node's signature.

A message is a *signature chain*: the sender signs ``DSValue(sender, v)``, and
every node that relays the chain signs the whole signed message it received,
so a chain of length k is k nested ``Signed`` layers by k distinct signers,
the innermost one the sender. Rounds are lockstep: the sender sends its chain
in round 0; a chain delivered in round r must carry exactly r signatures.

Each node keeps the set ``extracted`` of values it accepted. In round r
(1 <= r <= t+1) a node accepts a chain for a value v not yet extracted if the
chain has r valid signatures by distinct nodes starting with the sender's and
not including its own. It adds v to ``extracted`` and, if r <= t, appends its
own signature and sends the chain to every node not already on it (it arrives
in round r+1 with r+1 signatures). At the end of round t+1 the node decides:
the single value in ``extracted`` if there is exactly one, else the default 0.

Why t+1 rounds suffice: if an honest node accepts v in round r <= t, it
relays v and every honest node accepts v by round r+1. If it accepts v only in
round t+1, the chain has t+1 distinct signers, so one of them is honest and
accepted v earlier, relaying it to everyone. Either way all honest nodes end
with the same ``extracted`` set. Validity: an honest sender signs one value
and nobody can forge a second chain, so every honest node extracts exactly it.
Dolev and Strong also prove t+1 rounds are necessary; ``decision-round``
checks that no honest node decides before it.

Only the sender is told its value (``DolevStrong.node_params``); every other
node learns values from the chains it receives.

Simplifications: the sender decides its own value in round 0. A node relays
at most two distinct values (once it holds two it decides the default
whatever else arrives), which keeps the honest traffic at O(n^2) messages
(the O(n^2) message bound of docs/facts.md); the outcome is the same as relaying all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from bft.core.crypto import Signed
from bft.core.errors import ConfigError
from bft.core.node import Context, Inbox, Node
from bft.core.params import Param
from bft.core.properties import Property, Verdict
from bft.core.protocol import Params, ProtocolSpec, Tolerance
from bft.core.record import RunRecord
from bft.protocols.agreement_properties import (
    agreement_property,
    decision_metrics,
    decision_round_property,
    first_wrong_decision,
    integrity_property,
    termination_property,
)

DEFAULT = 0
RELAY_LIMIT = 2


@attrs.frozen
class DSValue:
    """The statement the sender signs: 'the sender's value is ``value``'."""

    sender: int
    value: int

    KIND = "ds"


def chain_signers(message: Any) -> tuple[list[int], Any]:
    """The signers of a chain, innermost (the sender) first, and the innermost payload.

    Does not check signatures; ``DolevStrongNode.check_chain`` does.
    """
    signers: list[int] = []
    layer = message
    while isinstance(layer, Signed):
        signers.append(layer.signer)
        layer = layer.payload
    signers.reverse()
    return signers, layer


class DolevStrongNode(Node):
    """One node of Dolev-Strong. ``params`` needs n, t and sender, and the sender's
    ``value`` for the sender only (``DolevStrong.node_params``: the others get None)."""

    #: the round after which nodes decide; ``t + 1`` (a lab's planted weakness changes it)
    def decision_round(self) -> int:
        return self.t + 1

    def __init__(self, node_id: int, params: Mapping[str, Any]) -> None:
        self.me = node_id
        self.n = int(params["n"])
        self.t = int(params["t"])
        self.sender = int(params["sender"])
        value = params.get("value") if node_id == self.sender else None
        self.value: int | None = None if value is None else int(value)
        self.extracted: list[int] = []
        self.decided = False

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        rnd = ctx.round
        if self.me == self.sender:
            if rnd == 0:
                value = DEFAULT if self.value is None else self.value
                ctx.broadcast(ctx.sign(DSValue(self.sender, value)))
                self.extracted.append(value)
                self._decide(ctx, value)
            return
        last = self.decision_round()
        for src, message in inbox:
            if rnd > last or self.decided:
                ctx.reject(src, message, f"arrived in round {rnd}, after the decision")
                continue
            reason = self.check_chain(ctx, message, rnd)
            if reason is not None:
                ctx.reject(src, message, reason)
                continue
            _, statement = chain_signers(message)
            value = statement.value
            if value in self.extracted:
                continue
            self.extracted.append(value)
            if rnd < last and len(self.extracted) <= RELAY_LIMIT:
                signers, _ = chain_signers(message)
                relayed = ctx.sign(message)
                ctx.multicast((j for j in range(self.n) if j not in signers), relayed)
        if rnd == last and not self.decided:
            self._decide(ctx, self.extracted[0] if len(self.extracted) == 1 else DEFAULT)

    def check_chain(self, ctx: Context, message: Any, rnd: int) -> str | None:
        """Why ``message`` is not an acceptable chain in round ``rnd`` (None if it is)."""
        if not isinstance(message, Signed):
            return "not a signed message"
        layer: Any = message
        signers: list[int] = []
        while isinstance(layer, Signed):
            if not ctx.verify(layer):
                return f"invalid signature claimed by node {layer.signer!r}"
            signers.append(layer.signer)
            layer = layer.payload
        signers.reverse()
        if not isinstance(layer, DSValue) or not isinstance(layer.value, int):
            return "the chain does not sign a Dolev-Strong value"
        if layer.sender != self.sender or signers[0] != self.sender:
            return f"the chain does not start with the sender {self.sender}"
        if len(set(signers)) != len(signers):
            return f"the chain repeats a signer: {signers}"
        if len(signers) != rnd:
            return f"a chain of {len(signers)} signatures arrived in round {rnd} (needs {rnd})"
        if self.me in signers:
            return "the chain already carries this node's signature"
        return None

    def _decide(self, ctx: Context, value: int) -> None:
        self.decided = True
        ctx.output("decide", value=value)


def broadcast_properties(
    sender: int, value: int, bound: int, who: str = "node", bound_text: str = "t+1"
) -> list[Property]:
    """Agreement, validity, integrity and termination of a Byzantine broadcast."""

    def validity(record: RunRecord) -> Verdict:
        if sender in record.faulty:
            what = "corrupted" if sender in record.corrupted else "crashed"
            return Verdict.vacuous(f"the sender ({who} {sender}) is {what}")
        wrong = first_wrong_decision(record, value)
        if wrong is not None:
            i, rnd, got = wrong
            return Verdict.violated(
                f"honest sender {sender} sent {value}, but honest {who} {i} decided {got} "
                f"in round {rnd}"
            )
        return Verdict.ok()

    return [
        agreement_property(who),
        Property(
            "validity", "safety", "if the sender is honest, honest nodes decide its value", validity
        ),
        integrity_property(who),
        termination_property(
            bound,
            f"every honest, never-crashed {who} decides by round {bound_text} ({bound} here)",
            who,
        ),
    ]


class DolevStrong(ProtocolSpec):
    name = "dolev-strong"
    all_to_all = True
    summary = "Dolev-Strong (1983): authenticated Byzantine broadcast for any t < n in t+1 rounds"
    nodes_are = "nodes (the sender included)"
    params = (
        Param("n", int, default=4, doc="number of nodes, the sender included", min=2),
        Param("t", int, default=1, doc="the most corrupted nodes tolerated (any t < n)", min=0),
        Param("sender", int, default=0, doc="which node broadcasts", min=0),
        Param("value", int, default=1, doc="the sender's value (0 is also the default decision)"),
    )
    #: the node class; labs substitute a student's class with the same constructor
    node_class: type[Node] = DolevStrongNode

    def check(self, p: Params) -> None:
        if p["t"] >= p["n"]:
            raise ConfigError(
                f"dolev-strong: t must be < n (got t={p['t']}, n={p['n']}); "
                "with signatures any t up to n-1 is tolerated"
            )
        if p["sender"] >= p["n"]:
            raise ConfigError(
                f"dolev-strong: sender must be a node 0..{p['n'] - 1} (got sender={p['sender']})"
            )

    def node_params(self, node_id: int, p: Params) -> dict[str, Any]:
        """What node ``node_id`` knows when it starts: the sender's value goes to the
        sender only (a node that "knew" it would not need the broadcast)."""
        known = dict(p)
        if node_id != p["sender"]:
            known["value"] = None
        return known

    def make_node(self, node_id: int, p: Params) -> Node:
        return self.node_class(node_id, self.node_params(node_id, p))  # type: ignore[call-arg]

    def roles(self, p: Params) -> tuple[str, ...]:
        return tuple("sender" if i == p["sender"] else "node" for i in range(p["n"]))

    def default_rounds(self, p: Params) -> int:
        return p["t"] + 2

    def interchangeable(self, p: Params) -> tuple[tuple[int, ...], ...]:
        """Every node but the sender: each starts alike and relays alike."""
        return (tuple(i for i in range(p["n"]) if i != p["sender"]),)

    def tolerance(self, p: Params) -> Tolerance:
        return Tolerance(
            kind="byzantine", faults=p["t"], networks=("synchronous",), bound="t < n, signed"
        )

    def properties(self, p: Params) -> list[Property]:
        decide_at = p["t"] + 1
        return [
            *broadcast_properties(p["sender"], p["value"], decide_at),
            decision_round_property(
                p["sender"],
                decide_at,
                "a chain may first appear in round t+1; t+1 rounds are necessary",
            ),
        ]

    def metrics(self, record: RunRecord, p: Params) -> dict[str, float | None]:
        return decision_metrics(record)
