"""Direct sends (no intercepting adversary, summary trace) deliver and count exactly as
the routing loop does: same inboxes in the same order, same counts by kind in the same
key order, and a frozen node's sends of its round are lost in both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from bft.core.engine import Engine, _DirectContext
from bft.core.environment import Environment, Operation
from bft.core.node import Context, Inbox, Node
from bft.core.params import Param
from bft.core.protocol import Params, ProtocolSpec
from bft.core.trace import TraceSink
from tests.toy import Scripted


@attrs.frozen
class Note:
    value: int

    KIND = "note"


@attrs.frozen
class Shout:
    value: int

    KIND = "shout"


class Mixed(Node):
    """Point-to-point sends, broadcasts and multicasts of two kinds, in a random order;
    node 1 freezes in round 3 after sending."""

    def __init__(self, me: int) -> None:
        self.me = me
        self.seen: list[tuple[int, int, Any]] = []

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        self.seen.extend((ctx.round, src, msg) for src, msg in inbox)
        rng = ctx.rng
        for _ in range(rng.randrange(4)):
            choice = rng.randrange(4)
            if choice == 0:
                ctx.send(rng.randrange(ctx.n), Note(ctx.round))
            elif choice == 1:
                ctx.broadcast(Shout(ctx.round))
            elif choice == 2:
                ctx.multicast((0, 2, 3), Note(-ctx.round))
            else:
                ctx.multicast([d for d in range(ctx.n) if d % 2], Shout(-ctx.round))
        if self.me == 1 and ctx.round == 3:
            ctx.execute(Operation(client=0, seq=0, arg=0, poison=True))

    def on_recover(self, ctx: Context) -> None:
        ctx.send(0, Note(1000 + ctx.round))  # sent while the round begins


class MixedSpec(ProtocolSpec):
    name = "mixed"
    summary = "mixed sends (engine test)"
    params = (Param("n", int, default=5, doc="nodes", min=2),)

    def make_node(self, node_id: int, p: Params) -> Node:
        return Mixed(node_id)

    def default_rounds(self, p: Params) -> int:
        return 12


def _run(sink: TraceSink) -> Engine:
    engine = Engine(
        MixedSpec(),
        {"n": 5},
        seed=3,
        rounds=12,
        environment=Environment(freeze_rounds=2),
        sink=sink,
    )
    engine.run()
    return engine


def test_direct_sends_match_the_routing_loop(tmp_path: Path) -> None:
    direct = _run(TraceSink("summary"))
    routed = _run(TraceSink("full", tmp_path / "t.jsonl"))
    assert direct._direct and not routed._direct
    assert direct.record.sent == routed.record.sent
    assert [list(counts) for counts in direct.record.sent] == [
        list(counts) for counts in routed.record.sent
    ]
    assert [node.seen for node in direct.nodes] == [node.seen for node in routed.nodes]
    assert direct.record.delivered == routed.record.delivered
    assert direct.record.lost == routed.record.lost
    assert any(e.kind == "freeze" for e in direct.record.events)


def test_an_intercepting_adversary_gets_the_routed_path() -> None:
    engine = Engine(MixedSpec(), {"n": 5}, seed=3, rounds=4, adversaries=[Scripted()])
    assert engine._direct == (not Scripted.intercepts)


def test_a_direct_context_sets_every_slot_a_context_sets() -> None:
    engine = Engine(MixedSpec(), {"n": 5}, seed=3, rounds=1)
    ctx = engine.ctxs[2]
    assert type(ctx) is _DirectContext
    for name in (*Context.__slots__, *_DirectContext.__slots__):
        getattr(ctx, name)  # raises AttributeError if __init__ left it unset
    assert ctx.node_id == 2 and ctx.n == 5 and ctx._rng is None
