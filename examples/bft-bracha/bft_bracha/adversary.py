"""A Byzantine adversary written for Bracha's broadcast: the split brain.

The corrupted nodes (the sender, by default) tell the honest nodes with the
highest ids the value ``value + 1`` and the others ``value``, in every SEND,
ECHO and READY they send. Their own node code keeps running; the adversary
only rewrites what leaves them, which is all a corrupted node's messages are.
It is the attack Bracha's ECHO quorum exists for: within n >= 3f+1 the honest
nodes still deliver one value; with more than f corrupted nodes they split.

``protocols = ("bracha",)`` enters it into ``bft check`` of that protocol: the
search draws it as one more action, its parameters drawn from their
declarations (``nodes`` among the faulty nodes, ``split`` within its bounds).
"""

from __future__ import annotations

import attrs
from bft import Adversary, ConfigError, Nodes, Param, SetupControl, TrafficControl

from bft_bracha.messages import MESSAGES


class SplitBrain(Adversary):
    name = "bracha-split"
    summary = "corrupted nodes tell some honest nodes one value and the rest another"
    protocols = ("bracha",)
    intercepts = True  # on_traffic sees every message in flight
    params = (
        Param(
            "nodes",
            Nodes,
            default=None,
            doc="the nodes to corrupt (default: the sender); negative ids count from the end",
        ),
        Param(
            "split",
            int,
            default=None,
            doc="how many honest nodes (the highest ids) hear value+1 (default: half)",
            min=1,
        ),
    )

    def setup(self, ctl: SetupControl) -> None:
        chosen = self.p.get("nodes") or (ctl.params["sender"],)
        nodes = sorted({node + ctl.n if node < 0 else node for node in chosen})
        if any(not 0 <= node < ctl.n for node in nodes):
            raise ConfigError(f"bracha-split: nodes {list(chosen)} are not all in 0..{ctl.n - 1}")
        ctl.corrupt(nodes)

    def on_traffic(self, ctl: TrafficControl) -> None:
        honest = [i for i in range(ctl.n) if i not in ctl.corrupted]
        count = self.p.get("split") or len(honest) // 2
        other_side = frozenset(honest[len(honest) - min(count, len(honest)) :])
        value = ctl.params["value"]
        for env in ctl.envelopes:
            if env.src not in ctl.corrupted or env.dropped or env.dst in ctl.corrupted:
                continue
            payload = env.payload
            if type(payload) in MESSAGES:
                told = value + 1 if env.dst in other_side else value
                if payload.value != told:
                    ctl.replace(env, attrs.evolve(payload, value=told))
