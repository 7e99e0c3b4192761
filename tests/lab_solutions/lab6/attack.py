"""Reference attack for lab 6: a chain through every corrupted node, revealed to one node last.

The corrupted sender signs 1 for every honest node but one, the victim. The t
corrupted nodes build a chain for 0 carrying all t of their signatures and
show it to the victim only, so that it arrives in round t, the round fast
Dolev-Strong decides in: the victim accepts 0 (and, for t >= 2, the 1 the
honest nodes relayed to it) and may no longer relay anything, so it decides 0
(the only value, or the default for two), while every other honest node holds
{1} and decides 1. The sender's own value does not matter: it is corrupted.
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
        if ctl.round == 0:
            # everyone but the victim hears 1 from the sender; the victim hears nothing yet
            for env in ctl.from_node(self.sender):
                if env.dst == self.victim:
                    ctl.drop(env)
                else:
                    ctl.replace(env, ctl.sign(self.sender, DSValue(self.sender, 1)))
        for env in ctl.envelopes:
            if env.src in ctl.corrupted and env.src != self.sender:
                ctl.drop(env)  # corrupted relays stay quiet
        if ctl.round != len(self.team) - 1:
            return
        # a chain for 0 with all t signatures, shown to the victim in round t: it accepts 0
        # (and 1, relayed by the honest nodes) and decides the default 0; the others decide 1
        chain = ctl.sign(self.sender, DSValue(self.sender, 0))
        for signer in self.team[1:]:
            chain = ctl.sign(signer, chain)
        ctl.inject(self.team[-1], self.victim, chain)
