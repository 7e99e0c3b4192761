"""Lab 6: break "fast Dolev-Strong" (target.py) within its claimed bound. Write your adversary here.

The grader runs the target with n nodes, at most t of them faulty (t < n, as
the protocol claims to tolerate), a sender and a value it varies (read them
from ``ctl.params``), and your ``Attack`` as the only adversary, in a process
of its own. You win a case when agreement or validity is violated while at
most t nodes are faulty (corrupted or crashed).

An adversary acts through control objects (see ``bft/core/adversary.py``):

    setup(ctl):       ctl.corrupt([nodes]) takes those nodes over; ctl.params
                      holds a copy of the protocol's parameters (n, t,
                      sender, value)
    on_traffic(ctl):  called after every round with ctl.envelopes, every
                      message in flight (src, dst, payload). For corrupted
                      senders you may ctl.drop(env), ctl.replace(env, payload)
                      and ctl.inject(src, dst, payload); ctl.sign(node, payload)
                      signs as a corrupted node (and only as one); ctl.round
                      is the round the envelopes were sent in.

Useful: ``DSValue`` and ``chain_signers`` from ``bft.protocols.dolev_strong``.
Run ``bft lab grade 6`` to grade this file.
"""

from __future__ import annotations

from typing import Any

from bft.core.adversary import Adversary, SetupControl, TrafficControl
from bft.protocols.dolev_strong import DSValue, chain_signers  # noqa: F401 - message helpers


class Attack(Adversary):
    name = "attack"
    summary = "my attack on fast Dolev-Strong"
    intercepts = True  # we want to see (and change) the traffic

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)

    def setup(self, ctl: SetupControl) -> None:
        # TODO: which nodes do you corrupt? (at most ctl.params["t"] of them)
        pass

    def on_traffic(self, ctl: TrafficControl) -> None:
        # TODO: what do the corrupted nodes send, to whom, and in which round?
        pass
