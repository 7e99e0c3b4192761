"""A PBFT client (Castro and Liskov, section 4.1), fed into the shared service meter.

Theory of operation. A client has at most one request outstanding. It signs a
``Request`` whose operation's ``seq`` is its timestamp, the round it issued it
(a client clock: timestamps keep increasing across a client restart, so a
rebooted client is never mistaken for a replay of its old requests), and sends
it to the primary of the latest view it knows of. It accepts a result once
f+1 replicas sent matching replies (at least one is correct, so the result is
the agreed one). Replies are not signed: they travel on the authenticated
point-to-point channel (the engine tells the receiver who sent a message, as
the paper's MACs do), and the client checks that a reply comes from the
replica it names. Nobody needs to forward a reply, so nothing is lost. If no
result is accepted within ``timeout`` rounds it multicasts the request to
every replica, and again every ``timeout`` rounds.

An idle client issues its next request with probability ``rate`` per round
(1: at once, a closed loop), until it has issued ``requests`` (0: no limit).
The shared ``ClientMeter`` (``bft.protocols.service``) turns waits into served and
unserved client-rounds for the availability metrics; the outputs ``submit`` and
``accept`` feed the PBFT properties (validity, liveness-after-gst).
"""

from __future__ import annotations

from bft.core.crypto import Signed
from bft.core.node import Context, Inbox, Node
from bft.protocols.pbft.messages import Reply, Request, is_int, op_label
from bft.protocols.service import ClientMeter, new_operation


class Client(Node):
    def __init__(
        self,
        node_id: int,
        n: int,
        *,
        quorum: int,
        timeout: int,
        rate: float,
        requests: int,
        meter_timeout: int,
    ) -> None:
        self.me = node_id
        self.n = n
        self.quorum = quorum  # matching replies needed: f+1 (the spec's reply_quorum)
        self.replicas = list(range(n))
        self.timeout = timeout
        self.rate = rate
        self.limit = requests
        self.meter = ClientMeter(meter_timeout)
        self.view = 0
        self.issued = 0
        self.current: Signed | None = None
        self.deadline = 0
        self.votes: dict[int, set[int]] = {}  # result -> replicas that replied it
        self.views: dict[int, int] = {}  # replica -> view named in its reply

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        for src, msg in inbox:
            self._on_message(ctx, src, msg)
        if self.current is None:
            if (not self.limit or self.issued < self.limit) and (
                self.rate >= 1.0 or ctx.rng.random() < self.rate
            ):
                self._issue(ctx)
        elif ctx.round >= self.deadline:
            ctx.multicast(self.replicas, self.current)
            self.deadline = ctx.round + self.timeout
        self.meter.tick(ctx)

    def _issue(self, ctx: Context) -> None:
        op = new_operation(ctx, ctx.round)
        self.current = ctx.sign(Request(op))
        self.issued += 1
        self.votes = {}
        self.views = {}
        self.deadline = ctx.round + self.timeout
        ctx.send(self.view % self.n, self.current)
        self.meter.want(ctx)
        ctx.output("submit", req=op_label(self.me, op))

    def _on_message(self, ctx: Context, src: int, msg: object) -> None:
        if type(msg) is not Reply:
            ctx.reject(src, msg, "not a reply")
            return
        reply = msg
        if not (is_int(reply.replica) and is_int(reply.ts) and is_int(reply.view)) or not is_int(
            reply.result
        ):
            ctx.reject(src, msg, "malformed reply")
            return
        if reply.replica != src or not 0 <= src < self.n or reply.client != self.me:
            ctx.reject(src, msg, "reply not sent by the replica it names, or for another client")
            return
        current = self.current
        if current is None or reply.ts != current.payload.op.seq:
            return  # a late reply to a request already answered
        voters = self.votes.setdefault(reply.result, set())
        if reply.replica in voters:
            return
        voters.add(reply.replica)
        self.views[reply.replica] = reply.view
        if len(voters) >= self.quorum:
            op = current.payload.op
            self.view = max(self.view, sorted(self.views[r] for r in voters)[-self.quorum])
            self.current = None
            self.meter.answered(ctx, op, reply.result, reply.replica)
            ctx.output(
                "accept", req=op_label(self.me, op), result=reply.result, replies=len(voters)
            )
