"""The Byzantine replica of the published Zyzzyva safety violation.

Abraham, Gueta, Malkhi, Alvisi, Kotla and Martin ("Revisiting Fast Practical
Byzantine Fault Tolerance", arXiv 1712.01367, 2017) show that Zyzzyva's view
change can lose a request a client completed, with four replicas, two view
changes, in the first log slot. This adversary plays the one faulty replica of
that scenario as we reconstruct it (``docs/known-bugs.md``); the network's part
(asynchrony before GST) is left to other adversaries, in the regression file a
``schedule`` with one dropped message and one partition. Every client is correct.

``zyzzyva-stale-certificate`` corrupts one replica R (default replica 0, the
primary of view 0). R runs the protocol's own code; the adversary changes only
what R sends, and remembers what it sees in transit (a rushing adversary sees
every message; messages are signed, not secret):

1. View 0, R primary: R's first order-req (some request x at sequence number 1)
   goes to every backup except the primary of view 1 (``hide_from``); R's later
   order-reqs, and all R's spec-responses of view 0, never leave R. No client
   gets 2f+1 matching spec-responses, so nothing completes in view 0, and the
   request R never orders makes the backups suspect it.
2. The adversary keeps the signed spec-responses for sequence number 1 of view
   0 that it sees, R's own included. Those of R and of the two backups that
   executed x form a valid commit certificate for x that no correct replica
   holds.
3. R's first VIEW-CHANGE hides everything: no certificate, an empty history.
   The primary of view 1 never saw x, so x is in one report only and view 1
   starts without it; a request y takes sequence number 1 there and, R
   answering honestly, completes on the fast path.
4. Every later VIEW-CHANGE of R carries the stale certificate for x from view 0
   (and x, which it certifies). The published rule takes the certificate with
   the highest sequence number, x's at 1, over the view-1 order-reqs for y at
   the same number: y, completed, is replaced.

Everything R sends is signed with R's key; the certificate's other signatures
are the backups' own. The corrected rule (``zyzzyva-fixed``) ranks x's
certificate (view 0) below y's view-1 reports and keeps y.
"""

from __future__ import annotations

from typing import Any

from bft.core.adversary import Adversary, SetupControl, TrafficControl
from bft.core.crypto import Signed
from bft.core.errors import ConfigError
from bft.core.params import Nodes, Param, resolve_nodes
from bft.protocols.zyzzyva.messages import (
    Entry,
    OrderReq,
    Request,
    SpecReply,
    SpecResponse,
    ViewChange,
)


class StaleCertificate(Adversary):
    name = "zyzzyva-stale-certificate"
    summary = (
        "the Zyzzyva attack of Abraham et al. 2017: the view-0 primary hides a request in the "
        "first view change and replays a stale commit certificate for it in the next"
    )
    intercepts = True
    #: a protocol-aware attack: ``bft check`` may draw it as one action on these protocols
    protocols = ("zyzzyva", "zyzzyva-fixed")
    params = (
        Param("nodes", Nodes, default=(0,), doc="the faulty replica (default 0, view 0's primary)"),
        Param(
            "hide_from",
            int,
            default=None,
            doc="the backup that never sees the first request (default: the primary of view 1)",
            min=0,
        ),
        Param(
            "client",
            int,
            default=None,
            doc=(
                "the client whose request R orders first; R ignores the others' requests "
                "until then (default: the highest-numbered client)"
            ),
            min=0,
        ),
    )

    def setup(self, ctl: SetupControl) -> None:
        replicas = ctl.nodes_with_role("replica")
        if not replicas:
            raise ConfigError(f"{self.name}: needs replica nodes (a Zyzzyva run)")
        nodes = resolve_nodes(self.name, self.p["nodes"], ctl.n)
        if len(nodes) != 1 or nodes[0] not in replicas:
            raise ConfigError(f"{self.name}: 'nodes' must name one replica (got {list(nodes)})")
        self.replica = nodes[0]
        self.quorum = 2 * ((len(replicas) - 1) // 3) + 1
        hide = self.p.get("hide_from")
        self.hide_from = (self.replica + 1) % len(replicas) if hide is None else hide
        if self.hide_from not in replicas or self.hide_from == self.replica:
            raise ConfigError(f"{self.name}: 'hide_from' must be another replica")
        clients = ctl.nodes_with_role("client")
        chosen = self.p.get("client")
        self.client = (max(clients) if clients else None) if chosen is None else chosen
        if chosen is not None and chosen not in clients:
            raise ConfigError(f"{self.name}: 'client' must be a client node (got {chosen})")
        ctl.corrupt([self.replica])
        self.first: Signed | None = None  # the request R ordered at sequence number 1 in view 0
        self.responses: dict[int, Signed] = {}  # replica -> its view-0 spec-response for seq 1
        self.cert: tuple[Signed, ...] = ()
        self.view_changes = 0
        self.rewritten: dict[int, Signed] = {}  # id of R's view-change -> what replaces it

    def on_traffic(self, ctl: TrafficControl) -> None:
        r = self.replica
        for env in ctl.envelopes:
            if env.dropped:
                continue
            payload = env.payload
            body = payload.payload if type(payload) is Signed else payload
            if type(body) is SpecReply:
                self._learn(body)
            if env.dst == r and self.first is None and type(body) is Request:
                if body.op.client != self.client:
                    ctl.drop(env)  # R ignores it: a faulty replica may ignore anything
                continue
            if env.src != r:
                continue
            if type(body) is OrderReq and body.view == 0:
                if body.seq == 1 and self.first is None:
                    self.first = body.request
                if body.seq != 1 or env.dst == self.hide_from:
                    ctl.drop(env)
            elif type(body) is SpecReply and body.response.payload.view == 0:
                ctl.drop(env)
            elif type(body) is ViewChange:
                new = self.rewritten.get(id(payload))
                if new is None:
                    new = self.rewritten[id(payload)] = self._view_change(ctl, body)
                    what = (
                        "carries the stale commit certificate for sequence number 1"
                        if new.payload.cert
                        else "hides the replica's history"
                    )
                    ctl.note(f"replica {r}'s view-change for view {body.view} {what}")
                ctl.replace(env, new)

    def _learn(self, reply: SpecReply) -> None:
        """Keep view-0 spec-responses for sequence number 1 that match R's order."""
        if self.cert or self.first is None or type(reply.response) is not Signed:
            return
        response = reply.response.payload
        if type(response) is not SpecResponse or (response.view, response.seq) != (0, 1):
            return
        self.responses.setdefault(response.replica, reply.response)
        first = self.responses.get(self.replica)
        if first is None:
            return
        same = [
            s
            for _, s in sorted(self.responses.items())
            if s.payload.history == first.payload.history
        ]
        if len(same) >= self.quorum:
            self.cert = tuple(same[: self.quorum])

    def _view_change(self, ctl: TrafficControl, vc: ViewChange) -> Signed:
        self.view_changes += 1
        body: Any
        if self.view_changes == 1 or not self.cert or self.first is None:
            body = ViewChange(vc.view, (), (), vc.proof, vc.replica)
        else:
            body = ViewChange(vc.view, self.cert, (Entry(self.first, None),), vc.proof, vc.replica)
        signed = ctl.sign(self.replica, body)
        assert signed is not None  # R is corrupted: the adversary holds its key
        return signed
