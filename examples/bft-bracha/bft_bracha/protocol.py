"""The protocol plug-in: what bft needs to know about Bracha's broadcast.

Registered in pyproject.toml under the entry-point group ``bft.protocols`` as
``bracha``. The engine builds one ``BrachaNode`` per node with ``make_node``,
runs them for ``default_rounds`` lockstep rounds (unless the scenario says
otherwise), and judges the run with ``properties``.
"""

from __future__ import annotations

from bft import ConfigError, Node, Param, Params, Property, ProtocolSpec, RunRecord, Tolerance

from bft_bracha.messages import faults
from bft_bracha.node import BrachaNode
from bft_bracha.properties import DELIVERY_ROUND, broadcast_properties, deliveries


class Bracha(ProtocolSpec):
    name = "bracha"
    summary = "Bracha's reliable broadcast (1987): SEND, ECHO, READY with amplification"
    nodes_are = "nodes (the sender included)"
    params = (
        Param("n", int, default=4, doc="number of nodes, the sender included", min=1),
        Param("f", int, default=None, doc="Byzantine nodes tolerated (default: (n-1)//3)", min=0),
        Param("sender", int, default=0, doc="the node that broadcasts", min=0),
        Param("value", int, default=1, doc="the value it broadcasts"),
    )

    def check(self, p: Params) -> None:
        if p["sender"] >= p["n"]:
            raise ConfigError(
                f"bracha: sender must be a node 0..{p['n'] - 1} (got sender={p['sender']})"
            )
        if faults(p) >= p["n"]:
            raise ConfigError(f"bracha: f must be < n (got f={faults(p)}, n={p['n']})")

    def make_node(self, node_id: int, p: Params) -> Node:
        return BrachaNode(node_id, n=p["n"], f=faults(p), sender=p["sender"], value=p["value"])

    def roles(self, p: Params) -> tuple[str, ...]:
        return tuple("sender" if i == p["sender"] else "node" for i in range(p["n"]))

    def default_rounds(self, p: Params) -> int:
        return DELIVERY_ROUND + 3  # room for late Byzantine moves, and for totality's r+1

    def tolerance(self, p: Params) -> Tolerance:
        # The round bounds of validity and totality need every honest message to
        # arrive one round later: the synchronous model. (Agreement and integrity
        # would hold on any network, but a claim covers all the properties.)
        return Tolerance(
            kind="byzantine", faults=faults(p), networks=("synchronous",), bound="n >= 3f+1"
        )

    def beyond_bound(self, p: Params) -> str | None:
        f = faults(p)
        if p["n"] < 3 * f + 1:
            return f"n={p['n']} is below 3f+1={3 * f + 1}: Bracha's quorums need n >= 3f+1"
        return None

    def primary_of(self, view: int, p: Params) -> int | None:
        return p["sender"] if view == 0 else None  # diagrams mark the sender

    def properties(self, p: Params) -> list[Property]:
        return broadcast_properties(p["sender"], p["value"])

    def metrics(self, record: RunRecord, p: Params) -> dict[str, float | None]:
        made = deliveries(record)
        firsts = [made[i][0][0] for i in sorted(record.correct) if i in made]
        return {"delivered": len(firsts), "delivery_round": max(firsts, default=None)}
