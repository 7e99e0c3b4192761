"""Wrong logic: a lieutenant obeys the commander's order and ignores the relays.

Fault-free that is enough; a traitorous commander that tells half the
lieutenants 'attack' and half 'retreat' splits the loyal ones (agreement).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from bft.core.node import Context, Inbox, Node

RETREAT = 0


@attrs.frozen
class Order:
    path: tuple[int, ...]
    value: int

    KIND = "om"


class General(Node):
    def __init__(self, node_id: int, params: Mapping[str, Any]) -> None:
        self.me = node_id
        self.n = int(params["n"])
        self.commander = int(params["commander"])
        self.order = params["value"]
        self.direct: int | None = None

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        if self.me == self.commander:
            if ctx.round == 0:
                ctx.broadcast(Order((self.me,), self.order))
                ctx.output("decide", value=self.order)
            return
        for src, msg in inbox:
            if ctx.round == 1 and src == self.commander and isinstance(msg, Order):
                self.direct = msg.value
                others = [j for j in range(self.n) if j not in (self.commander, self.me)]
                ctx.multicast(others, Order((self.commander, self.me), msg.value))
        if ctx.round == 2:
            ctx.output("decide", value=RETREAT if self.direct is None else self.direct)
