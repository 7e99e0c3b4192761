"""Cheat: the reference attack with one corrupted node too many (t+1). It breaks
agreement, but beyond the bound the protocol claims, which proves nothing."""

from __future__ import annotations

from bft.core.adversary import Adversary, SetupControl, TrafficControl
from bft.protocols.dolev_strong import DSValue


class Attack(Adversary):
    name = "attack"
    summary = "one corrupted node too many"
    intercepts = True

    def setup(self, ctl: SetupControl) -> None:
        self.sender = int(ctl.params["sender"])
        t = int(ctl.params["t"])
        others = [i for i in range(ctl.n) if i != self.sender]
        self.team = [self.sender, *others[:t]]  # t+1 nodes
        ctl.corrupt(self.team)
        self.victim = max(i for i in range(ctl.n) if i not in self.team)

    def on_traffic(self, ctl: TrafficControl) -> None:
        for env in ctl.envelopes:
            if env.src in ctl.corrupted and env.src != self.sender:
                ctl.drop(env)
        if ctl.round == 0:
            for env in ctl.from_node(self.sender):
                if env.dst == self.victim:
                    ctl.drop(env)
                else:
                    ctl.replace(env, ctl.sign(self.sender, DSValue(self.sender, 1)))
            chain = ctl.sign(self.sender, DSValue(self.sender, 0))
            ctl.inject(self.sender, self.victim, chain)
