"""Wrong logic (lab 6's target): deciding at the end of round t instead of t+1.
A chain revealed in round t is accepted and never relayed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bft.core.crypto import Signed
from bft.core.node import Context, Inbox, Node
from bft.protocols.dolev_strong import DSValue

DEFAULT = 0


class Broadcaster(Node):
    def __init__(self, node_id: int, params: Mapping[str, Any]) -> None:
        self.me = node_id
        self.n = int(params["n"])
        self.t = int(params["t"])
        self.sender = int(params["sender"])
        self.value = params["value"]
        self.accepted: list[int] = []
        self.decided = False

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        if self.me == self.sender:
            if ctx.round == 0:
                ctx.broadcast(ctx.sign(DSValue(self.sender, self.value)))
                ctx.output("decide", value=self.value)
            return
        for src, msg in inbox:
            if self.decided:
                ctx.reject(src, msg, "after the decision")
                continue
            signers = self.valid_chain(ctx, msg)
            if signers is None:
                ctx.reject(src, msg, "not a valid chain for this round")
                continue
            value = self.statement(msg).value
            if value in self.accepted:
                continue
            self.accepted.append(value)
            if ctx.round < self.t and len(self.accepted) <= 2:
                ctx.multicast([j for j in range(self.n) if j not in signers], ctx.sign(msg))
        if ctx.round == max(self.t, 1) and not self.decided:
            self.decided = True
            ctx.output("decide", value=self.accepted[0] if len(self.accepted) == 1 else DEFAULT)

    @staticmethod
    def statement(msg: Any) -> Any:
        while isinstance(msg, Signed):
            msg = msg.payload
        return msg

    def valid_chain(self, ctx: Context, msg: Any) -> list[int] | None:
        signers: list[int] = []
        layer = msg
        while isinstance(layer, Signed):
            if not ctx.verify(layer):
                return None
            signers.append(layer.signer)
            layer = layer.payload
        signers.reverse()
        if not isinstance(layer, DSValue) or type(layer.value) is not int:
            return None
        if layer.sender != self.sender or not signers or signers[0] != self.sender:
            return None
        if len(set(signers)) != len(signers) or self.me in signers:
            return None
        if len(signers) != ctx.round:
            return None
        return signers
