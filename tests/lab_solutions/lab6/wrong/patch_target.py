"""Cheat (the issue's lab 6 finding): corrupt nobody and rewrite the honest nodes'
code instead, so that they decide at random. The target runs in the grader's
process, unchanged: the protocol survives, and the patch is reported."""

from __future__ import annotations

import random

from bft.core.adversary import Adversary, SetupControl, TrafficControl
from bft.protocols.dolev_strong import DolevStrongNode

DolevStrongNode._decide = lambda self, ctx, value: ctx.output(  # type: ignore[method-assign]
    "decide", value=random.randint(0, 1)
)


class Attack(Adversary):
    name = "attack"
    summary = "rewrites the honest nodes instead of attacking"
    intercepts = True

    def setup(self, ctl: SetupControl) -> None:
        pass

    def on_traffic(self, ctl: TrafficControl) -> None:
        pass
