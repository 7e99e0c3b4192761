"""Reference solution for lab 2 (OM(1)), written the way a student fills in the skeleton."""

from __future__ import annotations

from collections import Counter
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
        self.order = params["value"]  # None for a lieutenant
        self.direct: int | None = None
        self.relayed: dict[int, int] = {}

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        if self.me == self.commander:
            if ctx.round == 0:
                ctx.broadcast(Order((self.me,), self.order))
                ctx.output("decide", value=self.order)
            return
        for src, msg in inbox:
            if not isinstance(msg, Order) or not isinstance(msg.value, int):
                ctx.reject(src, msg, "not an order")
            elif (
                ctx.round == 1
                and msg.path == (self.commander,)
                and src == self.commander
                and self.direct is None
            ):
                self.direct = msg.value
                others = [j for j in range(self.n) if j not in (self.commander, self.me)]
                ctx.multicast(others, Order((self.commander, self.me), msg.value))
            elif (
                ctx.round == 2
                and msg.path == (self.commander, src)
                and src not in self.relayed
                and src != self.commander
            ):
                self.relayed[src] = msg.value
            else:
                ctx.reject(src, msg, f"unexpected path {msg.path} in round {ctx.round}")
        if ctx.round == 2:
            values = [RETREAT if self.direct is None else self.direct]
            for j in range(self.n):
                if j not in (self.commander, self.me):
                    values.append(self.relayed.get(j, RETREAT))
            value, count = Counter(values).most_common(1)[0]
            ctx.output("decide", value=value if 2 * count > len(values) else RETREAT)
