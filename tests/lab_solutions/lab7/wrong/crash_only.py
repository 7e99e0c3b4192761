"""Wrong: a crash-faulty primary. Replica 0 falls silent (it withholds everything it
sends): the backups change view and Zyzzyva goes on safely. Crashes and omissions are
exactly what a view change is built for; the bug needs a replica that lies about
its history."""

from __future__ import annotations

from typing import Any

from bft.core.adversary import Adversary, SetupControl, TrafficControl


class Attack(Adversary):
    name = "attack"
    summary = "replica 0 falls silent"
    intercepts = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)

    def setup(self, ctl: SetupControl) -> None:
        self.me = sorted(ctl.nodes_with_role("replica"))[0]
        ctl.corrupt([self.me])

    def on_traffic(self, ctl: TrafficControl) -> None:
        for env in ctl.envelopes:
            if env.src == self.me and not env.dropped:
                ctl.drop(env)
