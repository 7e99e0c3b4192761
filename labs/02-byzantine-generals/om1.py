"""Lab 2: the Byzantine generals with oral messages, OM(1). Write your code here.

You implement one general. The grader builds one ``General`` per node with
``General(node_id, params)``, each in a process of its own, where ``params``
holds what that general knows when it starts:

    n          the number of generals, the commander included
    m          always 1 in this lab
    commander  which general commands (any general: the grader varies it)
    value      the commander's order, 1 (attack) or 0 (retreat), for the
               commander only; a lieutenant gets None and learns the order
               from the messages it receives

Each lockstep round the engine calls ``on_round(ctx, inbox)``. ``inbox`` is a
list of ``(sender, message)`` pairs: the messages sent to this general in the
previous round. Act only through ``ctx``:

    ctx.round                    the current round (0, 1, 2, ...)
    ctx.broadcast(msg)           send msg to every other general (arrives next round)
    ctx.send(dst, msg)           send msg to general dst
    ctx.multicast(dsts, msg)     send msg to each general in dsts
    ctx.output("decide", value=v)  announce your decision (exactly once!)
    ctx.reject(src, msg, reason)   record a message you refuse as malformed

A traitor may send you anything: a wrong value, a different value to each
general, an order claiming to come from someone else (a path that does not end
with its sender), an order in the wrong round, the same path twice, old
messages again, garbage. Never let such a message crash your code; reject it.
The grader's traitors forge ``Order`` messages of your own class: keep its
name and its two fields.

Run ``bft lab grade 2`` to grade this file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from bft.core.node import Context, Inbox, Node

RETREAT = 0  # the default order, used when there is no majority


@attrs.frozen
class Order:
    """An order and the path of generals it went through, commander first.

    The commander sends ``Order((commander,), v)``; a lieutenant i relaying it
    sends ``Order((commander, i), v)``.
    """

    path: tuple[int, ...]
    value: int

    KIND = "om"


class General(Node):
    def __init__(self, node_id: int, params: Mapping[str, Any]) -> None:
        self.me = node_id
        self.n = int(params["n"])
        self.commander = int(params["commander"])
        self.order = params["value"]  # the commander's order; None for a lieutenant
        # TODO: what does a lieutenant need to remember between rounds?

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        # TODO round 0: the commander sends its order to every lieutenant (and decides it).
        # TODO round 1: each lieutenant relays the order it received to the other lieutenants.
        # TODO round 2: each lieutenant decides the majority of the n-1 values it holds
        #      (the commander's, and one relayed by each other lieutenant); a missing value
        #      counts as RETREAT, and so does a tie.
        raise NotImplementedError("General.on_round: write OM(1) here (see the TODOs)")
