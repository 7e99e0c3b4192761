"""A member that processes late: Lifeguard's slow-member case, as a network adversary.

Modelling choice. In a lockstep engine a node handles its inbox in the round
it is delivered, so "processing late" is modelled by holding back the
messages *addressed to* the slow member for ``lag`` extra rounds: its receive
queue is ``lag`` rounds deep. Its own timers still fire on time (its clock is
fine, only its message handling lags), so it times out probes whose acks sit
in its queue and accuses healthy members, which is exactly the failure
Lifeguard targets. Its replies go out as soon as it handles the request, so
other members see its acks ``lag`` rounds late too. With ``direction = "both"``
its outgoing messages are held back as well (a slow sender).

The delays are ordinary network delays, so the engine's model bounds them:
the scenario must use a lossy (or partially synchronous) network with
``delta >= lag``; anything beyond is refused and recorded. The member is never
crashed and its messages are never dropped: it is correct, only slow.
"""

from __future__ import annotations

from bft.adversaries.generic import TARGET_PARAMS, pick_targets
from bft.adversaries.network import WINDOW, _Windowed
from bft.core.adversary import SetupControl, TrafficControl
from bft.core.params import Param


class SlowMember(_Windowed):
    name = "slow-member"
    summary = "the chosen members handle messages 'lag' rounds late (Lifeguard's slow member)"
    params = (
        *TARGET_PARAMS,
        *WINDOW,
        Param(
            "lag", int, default=6, doc="rounds the member's receive queue holds each message", min=1
        ),
        Param(
            "direction",
            str,
            default="in",
            doc="'in': only messages to the member are late; 'both': its sends too",
            choices=("in", "both"),
        ),
    )

    def setup(self, ctl: SetupControl) -> None:
        self.slow = frozenset(pick_targets(self, ctl))

    def on_traffic(self, ctl: TrafficControl) -> None:
        if not self.active(ctl.round):
            return
        slow, lag, both = self.slow, self.p["lag"], self.p["direction"] == "both"
        for env in ctl.envelopes:
            if env.dropped:
                continue
            if env.dst in slow or (both and env.src in slow):
                ctl.delay(env, lag)
