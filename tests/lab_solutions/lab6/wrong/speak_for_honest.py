"""Cheat: corrupt only the sender, then send and sign as honest nodes and rewrite
their messages. The control refuses every one of those actions (the adversary
holds only the corrupted nodes' keys), so nothing breaks."""

from __future__ import annotations

from bft.core.adversary import Adversary, SetupControl, TrafficControl
from bft.protocols.dolev_strong import DSValue


class Attack(Adversary):
    name = "attack"
    summary = "tries to act as honest nodes"
    intercepts = True

    def setup(self, ctl: SetupControl) -> None:
        self.sender = int(ctl.params["sender"])
        ctl.corrupt([self.sender])

    def on_traffic(self, ctl: TrafficControl) -> None:
        honest = [i for i in range(ctl.n) if i not in ctl.corrupted]
        for env in ctl.envelopes:
            if env.src in honest:
                ctl.replace(env, None)
                ctl.drop(env)
        for src in honest:
            forged = ctl.sign(src, DSValue(self.sender, 0))
            for dst in honest:
                if dst != src:
                    ctl.inject(src, dst, forged if forged is not None else DSValue(self.sender, 0))
