"""Wrong attack: corrupts the sender and lets it follow the protocol. Nothing
breaks."""

from __future__ import annotations

from bft.core.adversary import Adversary, SetupControl, TrafficControl


class Attack(Adversary):
    name = "attack"
    summary = "corrupts the sender and does nothing"
    intercepts = True

    def setup(self, ctl: SetupControl) -> None:
        ctl.corrupt([int(ctl.params["sender"])])

    def on_traffic(self, ctl: TrafficControl) -> None:
        pass
