"""Lab 7: break Zyzzyva as published (the installed protocol ``zyzzyva``). Write your adversary here.

The grader runs ``zyzzyva`` with 4 replicas (f = 1), 2 correct clients and
partial synchrony (GST at round 100, delta 2), and your ``Attack`` as the only
adversary, in a process of its own. You win a case when ``agreement`` is
violated (a request a client completed is replaced) while at most one replica is
faulty; the same attack must leave ``zyzzyva-fixed`` safe.

An adversary acts through control objects (see ``bft/core/adversary.py``):

    setup(ctl):       ctl.corrupt([node]) takes one replica over (more is beyond
                      the bound and proves nothing); ctl.nodes_with_role("replica")
                      and ctl.nodes_with_role("client") list the nodes
    on_traffic(ctl):  called after every round with ctl.envelopes, every message
                      in flight (src, dst, sent, payload). For the corrupted
                      replica you may ctl.drop(env), ctl.replace(env, payload) and
                      ctl.inject(src, dst, payload); ctl.sign(node, payload) signs
                      as it. Messages between honest nodes you may only drop or
                      delay, and only those sent before GST: that is the network,
                      not a fault. ctl.round is the round the envelopes were sent in.

Useful: the message classes in ``bft.protocols.zyzzyva.messages`` (OrderReq,
SpecReply, SpecResponse, ViewChange, Entry, NewView, Request) and
``bft.core.crypto.Signed`` (a signed message: ``.payload`` is what was signed).
Run ``bft lab grade 7`` to grade this file.
"""

from __future__ import annotations

from typing import Any

from bft.core.adversary import Adversary, SetupControl, TrafficControl
from bft.core.crypto import Signed  # noqa: F401 - signed messages
from bft.protocols.zyzzyva import messages  # noqa: F401 - the protocol's messages


class Attack(Adversary):
    name = "attack"
    summary = "my attack on Zyzzyva's view change"
    intercepts = True  # we want to see (and change) the traffic

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)

    def setup(self, ctl: SetupControl) -> None:
        # TODO: which replica do you corrupt? (one: f = 1)
        pass

    def on_traffic(self, ctl: TrafficControl) -> None:
        # TODO: what does the corrupted replica send, keep and hide, in which view? and
        # which honest messages does the network lose before GST?
        pass
