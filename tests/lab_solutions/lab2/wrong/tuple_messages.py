"""Wrong format: a correct OM(1) that sends plain tuples instead of ``Order``
messages. The grader's traitors forge orders of the student's own class, so the
lab prescribes it; the grade says so instead of testing against a traitor that
cannot lie."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from bft.core.node import Context, Inbox, Node

RETREAT = 0


class General(Node):
    def __init__(self, node_id: int, params: Mapping[str, Any]) -> None:
        self.me = node_id
        self.n = int(params["n"])
        self.commander = int(params["commander"])
        self.order = params["value"]
        self.direct: int | None = None
        self.relayed: dict[int, int] = {}

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        if self.me == self.commander:
            if ctx.round == 0:
                ctx.broadcast(((self.me,), self.order))
                ctx.output("decide", value=self.order)
            return
        for src, msg in inbox:
            if not (isinstance(msg, tuple) and len(msg) == 2 and isinstance(msg[1], int)):
                ctx.reject(src, msg, "not an order")
            elif ctx.round == 1 and msg[0] == (self.commander,) and src == self.commander:
                if self.direct is None:
                    self.direct = msg[1]
                    others = [j for j in range(self.n) if j not in (self.commander, self.me)]
                    ctx.multicast(others, ((self.commander, self.me), msg[1]))
            elif ctx.round == 2 and msg[0] == (self.commander, src) and src not in self.relayed:
                self.relayed[src] = msg[1]
        if ctx.round == 2:
            values = [RETREAT if self.direct is None else self.direct]
            for j in range(self.n):
                if j not in (self.commander, self.me):
                    values.append(self.relayed.get(j, RETREAT))
            value, count = Counter(values).most_common(1)[0]
            ctx.output("decide", value=value if 2 * count > len(values) else RETREAT)
