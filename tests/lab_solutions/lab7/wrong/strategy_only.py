"""Wrong: the project's strategy alone. It reuses ``zyzzyva-stale-certificate`` (the
Byzantine replica's half) and forgets the network's half: nothing cuts the view-1
primary off before GST, so there is no second view change for the stale
certificate to win, and Zyzzyva survives. (Reusing the strategy plus a partition of
your own would pass: the grader does not forbid the import; the README asks you not
to.) The grader hosts the class without parameters, so it fills in the strategy's
defaults itself: replica 0 is corrupted and plays its part."""

from __future__ import annotations

from bft.adversaries.zyzzyva import StaleCertificate


class Attack(StaleCertificate):
    name = "attack"
    params = ()  # the grader passes none: fill in the strategy's defaults here

    def __init__(self, **params: object) -> None:
        super().__init__(**{"nodes": (0,), "hide_from": None, "client": None, **params})
