"""Reference attack for lab 6: a chain through every corrupted node, revealed to one node last.

The sender (corrupted) signs 1 for everyone in round 0. The t corrupted nodes
then build a chain for 0 carrying all t of their signatures and show it to a
single honest node so that it arrives in round t, the round fast Dolev-Strong
decides in: that node accepts 0 but may no longer relay it, so it holds {0, 1}
and decides the default 0 while every other honest node decides 1.
"""

from __future__ import annotations

from bft.core.adversary import Adversary, SetupControl, TrafficControl
from bft.protocols.dolev_strong import DSValue


class Attack(Adversary):
    name = "attack"
    summary = "late reveal of a fully corrupted signature chain"
    intercepts = True

    def setup(self, ctl: SetupControl) -> None:
        self.t = int(ctl.params["t"])
        self.sender = int(ctl.params["sender"])
        others = [i for i in range(ctl.n) if i != self.sender]
        self.team = [self.sender, *others[: self.t - 1]]
        ctl.corrupt(self.team)
        self.victim = max(i for i in range(ctl.n) if i not in self.team)

    def on_traffic(self, ctl: TrafficControl) -> None:
        for env in ctl.envelopes:
            if env.src in ctl.corrupted and env.src != self.sender:
                ctl.drop(env)  # corrupted relays stay quiet
        if ctl.round != len(self.team) - 1:
            return
        chain = ctl.sign(self.sender, DSValue(self.sender, 0))
        for signer in self.team[1:]:
            chain = ctl.sign(signer, chain)
        ctl.inject(self.team[-1], self.victim, chain)
