"""Wrong: beyond the bound. The reference attack, with a second replica corrupted
"just in case". Zyzzyva with four replicas tolerates one faulty replica; a run with
two proves nothing, whatever it violates."""

from __future__ import annotations

from typing import Any

from bft.core.adversary import Adversary, SetupControl, TrafficControl
from bft.core.crypto import Signed
from bft.protocols.zyzzyva.messages import (
    Entry,
    NewView,
    OrderReq,
    Request,
    SpecReply,
    SpecResponse,
    ViewChange,
)


def _body(payload: Any) -> Any:
    return payload.payload if type(payload) is Signed else payload


class Attack(Adversary):
    name = "attack"
    summary = "stale commit certificate + a partition of the view-1 primary before GST"
    intercepts = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)

    def setup(self, ctl: SetupControl) -> None:
        replicas = sorted(ctl.nodes_with_role("replica"))
        clients = sorted(ctl.nodes_with_role("client"))
        self.n = len(replicas)
        self.f = (self.n - 1) // 3
        self.me = replicas[0]  # view 0's primary
        self.next_primary = replicas[1 % self.n]  # view 1's primary
        self.victim_client = clients[-1]
        ctl.corrupt([self.me, replicas[-1]])
        self.x: Signed | None = None  # the request R ordered at sequence number 1 in view 0
        self.seen: dict[int, Signed] = {}  # replica -> signed view-0 spec-response for seq 1
        self.cert: tuple[Signed, ...] = ()
        self.fast: set[int] = set()  # replicas seen answering seq 1 in view 1
        self.cut_from: int | None = None  # the round the partition starts
        self.cut_over = False
        self.my_view_changes: dict[int, Signed] = {}  # view -> what R sends for it

    # -- the certificate -------------------------------------------------------------
    def _keep(self, reply: SpecReply) -> None:
        signed = reply.response
        body = _body(signed)
        if type(body) is not SpecResponse or body.seq != 1:
            return
        if body.view == 1:
            self.fast.add(body.replica)
        if body.view != 0 or self.cert or type(signed) is not Signed:
            return
        self.seen.setdefault(body.replica, signed)
        mine = self.seen.get(self.me)
        if mine is None:
            return
        same = [
            s for _, s in sorted(self.seen.items()) if s.payload.history == mine.payload.history
        ]
        if len(same) >= 2 * self.f + 1:
            self.cert = tuple(same[: 2 * self.f + 1])

    def _view_change(self, ctl: TrafficControl, vc: ViewChange) -> Signed | None:
        if vc.view not in self.my_view_changes:
            if vc.view <= 1 or not self.cert or self.x is None:
                body = ViewChange(vc.view, (), (), vc.proof, vc.replica)  # hide everything
            else:
                body = ViewChange(vc.view, self.cert, (Entry(self.x, None),), vc.proof, vc.replica)
            signed = ctl.sign(self.me, body)
            if signed is None:
                return None
            self.my_view_changes[vc.view] = signed
        return self.my_view_changes[vc.view]

    # -- every round -------------------------------------------------------------------
    def on_traffic(self, ctl: TrafficControl) -> None:
        if self.cut_from is None and len(self.fast) == self.n:
            self.cut_from = ctl.round  # y completed on the fast path: cut the next primary off
        for env in ctl.envelopes:
            if env.dropped:
                continue
            payload = env.payload
            body = _body(payload)
            if type(body) is SpecReply:
                self._keep(body)
            if type(body) is NewView and body.view >= 2:
                self.cut_over = True
            if self._partitioned(env) and ctl.drop(env) is False:
                self.cut_over = True  # GST: the network delivers from now on
            if env.dst == self.me and self.x is None and type(body) is Request:
                if body.op.client != self.victim_client:
                    ctl.drop(env)  # R ignores the other clients until it ordered x
                continue
            if env.src != self.me:
                continue
            if type(body) is OrderReq and body.view == 0:
                if body.seq == 1 and self.x is None:
                    self.x = body.request
                if body.seq != 1 or env.dst == self.next_primary:
                    ctl.drop(env)
            elif type(body) is SpecReply and _body(body.response).view == 0:
                ctl.drop(env)
            elif type(body) is ViewChange:
                new = self._view_change(ctl, body)
                if new is not None:
                    ctl.replace(env, new)

    def _partitioned(self, env: Any) -> bool:
        if self.cut_from is None or self.cut_over or env.sent < self.cut_from:
            return False
        return self.next_primary in (env.src, env.dst) and self.me not in (env.src, env.dst)
