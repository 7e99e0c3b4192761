"""Byzantine faults: corrupted nodes that lie."""

from __future__ import annotations

from typing import Any

import attrs

from bft.adversaries.generic import TARGET_PARAMS, pick_targets
from bft.core.adversary import Adversary, SetupControl, TrafficControl
from bft.core.params import Param


def flipped(value: Any) -> Any:
    """A different value of the same type: the opposite order, the next number, ..."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return 1 - value if value in (0, 1) else value + 1
    if isinstance(value, bytes):
        return bytes(b ^ 0xFF for b in value[:1]) + value[1:] if value else b"\x00"
    if isinstance(value, str):
        return value + "'"
    return value


class Traitor(Adversary):
    """Corrupts nodes and rewrites one field of every message they send.

    ``split`` sends conflicting values: recipients at even positions (in id
    order) get the flipped value, the others the true one; ``flip`` lies to
    everyone; ``random`` flips each message with probability 1/2.
    """

    name = "traitor"
    summary = "corrupted nodes send conflicting values in a message field (default: 'value')"
    intercepts = True
    params = (
        *TARGET_PARAMS,
        Param("field", str, default="value", doc="the message field to lie about"),
        Param(
            "strategy", str, default="split", doc="how to lie", choices=("split", "flip", "random")
        ),
    )

    def setup(self, ctl: SetupControl) -> None:
        if self.p.get("nodes") is None and self.p.get("count") is None:
            self.p = {**self.p, "nodes": (-1,)}
        ctl.corrupt(pick_targets(self, ctl))

    def on_traffic(self, ctl: TrafficControl) -> None:
        field, strategy = self.p["field"], self.p["strategy"]
        for node in sorted(ctl.corrupted):
            mine = sorted(ctl.from_node(node), key=lambda e: e.dst)
            for position, env in enumerate(mine):
                payload = env.payload
                if not attrs.has(type(payload)) or not hasattr(payload, field):
                    continue
                if strategy == "flip":
                    lie = True
                elif strategy == "split":
                    lie = position % 2 == 0
                else:
                    lie = ctl.rng.random() < 0.5
                if lie:
                    ctl.replace(
                        env, attrs.evolve(payload, **{field: flipped(getattr(payload, field))})
                    )
