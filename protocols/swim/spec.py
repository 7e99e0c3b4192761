"""The ``swim`` protocol: the SWIM failure detector run on its own.

Every node is a member; ``n`` counts members. See ``bft.protocols.swim.member`` for
the theory of operation and ``bft.protocols.swim.analysis`` for what is measured.
"""

from __future__ import annotations

from typing import Any

from bft.core.node import Context, Inbox, Node
from bft.core.params import Param
from bft.core.properties import Property
from bft.core.protocol import Params, ProtocolSpec, Tolerance
from bft.core.record import RunRecord
from bft.protocols.swim.analysis import detector_metrics, detector_properties
from bft.protocols.swim.config import DETECTOR_PARAMS, SwimConfig, detector_config
from bft.protocols.swim.member import SwimMember


class Member(Node):
    """A node that only runs the detector."""

    __slots__ = ("swim",)

    def __init__(self, swim: SwimMember) -> None:
        self.swim = swim

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        swim = self.swim
        for src, msg in inbox:
            if not swim.handle(ctx, src, msg):
                ctx.reject(src, msg, f"not a SWIM message: {type(msg).__name__}")
        if ctx.round >= swim.wake:
            swim.tick(ctx)

    def on_recover(self, ctx: Context) -> None:
        self.swim.pause(ctx)


class Swim(ProtocolSpec):
    name = "swim"
    summary = (
        "SWIM failure detector (Das, Gupta, Motivala 2002) with suspicion and optional "
        "Lifeguard refinements"
    )
    nodes_are = "members"
    params = (
        Param("n", int, default=32, doc="number of members", min=2),
        *DETECTOR_PARAMS,
    )

    def __init__(self) -> None:
        self._cfg: dict[tuple[Any, ...], SwimConfig] = {}

    def config(self, p: Params) -> SwimConfig:
        key = tuple(sorted(p.items()))
        cfg = self._cfg.get(key)
        if cfg is None:
            cfg = detector_config(p, p["n"], "swim")
            self._cfg[key] = cfg
        return cfg

    def check(self, p: Params) -> None:
        self.config(p)

    def make_node(self, node_id: int, p: Params) -> Node:
        return Member(SwimMember(node_id, range(p["n"]), self.config(p)))

    def default_rounds(self, p: Params) -> int:
        return 40 * p["period"]

    def properties(self, p: Params) -> list[Property]:
        # membership-justified takes its timeouts from the parameters, not from
        # ``self.config``: a variant that gets its configuration wrong is judged by the rule
        return detector_properties(
            range(p["n"]), self.config(p), detector_config(p, p["n"], self.name)
        )

    def tolerance(self, p: Params) -> Tolerance:
        """SWIM detects crash-stop members, any number of them; it makes no claim about
        members that lie (Byzantine), which are outside its model."""
        return Tolerance(kind="crash", faults=p["n"] - 1, bound="any number of crash-stop members")

    def metrics(self, record: RunRecord, p: Params) -> dict[str, Any]:
        return detector_metrics(record, range(p["n"]), self.config(p))
