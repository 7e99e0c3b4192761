"""Tiny protocols and adversaries used to test the engine itself."""

from __future__ import annotations

from typing import Any

import attrs

from bft.core.adversary import Adversary, RoundControl, SetupControl, TrafficControl
from bft.core.environment import Operation
from bft.core.node import Context, Inbox, Node
from bft.core.params import Param
from bft.core.properties import Property, Verdict
from bft.core.protocol import Params, ProtocolSpec


@attrs.frozen
class Ping:
    value: int

    KIND = "ping"


class Echo(Node):
    """Broadcasts a signed ping each round and records what it receives."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int, Any]] = []

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        for src, msg in inbox:
            if not ctx.verify(msg, signer=src):
                ctx.reject(src, msg, "bad signature")
                continue
            self.seen.append((ctx.round, src, msg.payload.value))
            ctx.output("got", src=src, value=msg.payload.value)
        ctx.broadcast(ctx.sign(Ping(ctx.rng.randrange(1000))))


class Worker(Node):
    """Does ``load`` units of work per round, or executes an operation."""

    def __init__(self, load: float, poison: bool) -> None:
        self.load = load
        self.poison = poison

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        ctx.output("alive")
        if self.poison and ctx.round == 2:
            ctx.broadcast(Ping(1))
            ctx.execute(Operation(client=0, seq=0, arg=1, poison=True))
        ctx.work(self.load)


class Buggy(Node):
    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        if ctx.node_id == 1 and ctx.round == 3:
            raise KeyError("boom")
        ctx.output("alive")


class Toy(ProtocolSpec):
    name = "toy"
    summary = "engine test protocol"
    params = (
        Param("n", int, default=4, doc="nodes", min=1),
        Param(
            "mode", str, default="echo", doc="behaviour", choices=("echo", "work", "poison", "bug")
        ),
        Param("load", float, default=1.0, doc="work per round", min=0.0),
    )

    def make_node(self, node_id: int, p: Params) -> Node:
        if p["mode"] == "echo":
            return Echo()
        if p["mode"] == "bug":
            return Buggy()
        return Worker(p["load"], p["mode"] == "poison")

    def default_rounds(self, p: Params) -> int:
        return 6

    def properties(self, p: Params) -> list[Property]:
        return [Property("always", "safety", "always holds", lambda record: Verdict.ok())]


class Scripted(Adversary):
    """Runs a Python callback at each hook: for engine tests only."""

    name = "scripted"
    summary = "test adversary"
    intercepts = True

    def __init__(self, setup=None, before=None, traffic=None, **p: Any) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**p)
        self._setup, self._before, self._traffic = setup, before, traffic

    def setup(self, ctl: SetupControl) -> None:
        if self._setup:
            self._setup(ctl)

    def before_round(self, ctl: RoundControl) -> None:
        if self._before:
            self._before(ctl)

    def on_traffic(self, ctl: TrafficControl) -> None:
        if self._traffic:
            self._traffic(ctl)
