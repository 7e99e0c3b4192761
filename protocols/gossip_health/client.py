"""A gossip-health client: failover guided by the servers' live view, with backoff.

Theory of operation. A client is attached to one server (at round 0 client c
to server (c - S) mod S, the steady state shared by the failover family; a
restarted client logs in to a random server it believes alive). An attached,
idle client issues a request with probability ``rate`` per round and keeps at
most one pending. Every answer from its server carries that server's view of
live servers (SWIM among the servers), which replaces the client's own.

When an answer does not come within ``timeout`` rounds the client marks that
server failed (it avoids it for ``avoid_rounds`` rounds, whatever views say)
and fails over to a server drawn at random among those its view holds alive
and it does not avoid; if there is none it tries any it does not avoid, and
if it avoids them all, any at all. It first sleeps ``U(0, min(cap, base *
2**attempt))`` rounds (exponential backoff with full jitter; ``attempt``
counts failures since the last answer) and then logs in carrying the pending
request. ``Busy`` (admission control) means the server is alive but full: the
client backs off the same way and retries the same server. ``Quarantined``
means its request was correlated with server deaths: the client drops it (the
wait goes on, unserved, until a later request is answered).
"""

from __future__ import annotations

from bft.environment import Operation
from bft.node import Context, Inbox, Node
from protocols.gossip_health.messages import HealthReply, HealthWelcome, Quarantined
from protocols.service import Busy, ClientMeter, Login, Request, new_operation


class HealthClient(Node):
    __slots__ = (
        "me",
        "servers",
        "rate",
        "timeout",
        "base",
        "cap",
        "avoid_rounds",
        "view",
        "avoid",
        "server",
        "attached",
        "pending",
        "seq",
        "sent_at",
        "attempt",
        "wake",
        "meter",
        "started",
    )

    def __init__(
        self,
        node_id: int,
        servers: int,
        rate: float,
        timeout: int,
        base: float,
        cap: float,
        avoid_rounds: int,
    ) -> None:
        self.me = node_id
        self.servers = servers
        self.rate = rate
        self.timeout = timeout
        self.base = base
        self.cap = cap
        self.avoid_rounds = avoid_rounds
        self.view = (1 << servers) - 1
        self.avoid: dict[int, int] = {}
        self.server = (node_id - servers) % servers
        self.attached = True
        self.pending: Operation | None = None
        self.seq = 0
        self.sent_at: int | None = None
        self.attempt = 0
        self.wake: int | None = None
        self.meter = ClientMeter(timeout)
        self.started = False

    def _choose(self, ctx: Context) -> int:
        now = ctx.round
        avoided = {s for s, until in self.avoid.items() if until > now}
        view = self.view
        live = [s for s in range(self.servers) if view >> s & 1 and s not in avoided]
        if not live:
            live = [s for s in range(self.servers) if s not in avoided]
        if not live:
            live = list(range(self.servers))
        return live[ctx.rng.randrange(len(live))]

    def _connect(self, ctx: Context) -> None:
        self.attached = False
        self.meter.want(ctx)
        ctx.send(self.server, Login(self.pending))
        self.sent_at = ctx.round

    def _back_off(self, ctx: Context) -> None:
        bound = min(self.cap, self.base * 2.0**self.attempt)
        self.attempt += 1
        sleep = int(ctx.rng.uniform(0.0, bound))
        self.attached = False
        self.meter.want(ctx)
        if sleep == 0:
            self._connect(ctx)
        else:
            self.wake = ctx.round + sleep

    def _fail(self, ctx: Context) -> None:
        self.sent_at = None
        self.avoid[self.server] = ctx.round + self.avoid_rounds
        self.server = self._choose(ctx)
        self._back_off(ctx)

    def _answered(self, view: int) -> None:
        self.attached = True
        self.sent_at = None
        self.attempt = 0
        self.wake = None
        if type(view) is int and view > 0:
            self.view = view

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        if not self.started:
            self.started = True
            if ctx.round > 0:  # restarted: log in somewhere believed alive
                self.server = self._choose(ctx)
                self._connect(ctx)
        busy = False
        for src, msg in inbox:
            if src != self.server:
                continue  # stale: an old server answering late
            kind = type(msg)
            if kind is HealthReply:
                pending = self.pending
                if pending is None or msg.seq != pending.seq:
                    continue
                if msg.client != self.me:
                    ctx.reject(src, msg, f"reply for client {msg.client}")
                    continue
                self.pending = None
                self._answered(msg.view)
                self.meter.answered(ctx, pending, msg.result, src)
            elif kind is HealthWelcome:
                if self.attached:
                    continue
                self._answered(msg.view)
                if self.pending is None:
                    self.meter.answered(ctx)
            elif kind is Quarantined:
                pending = self.pending
                if pending is not None and msg.seq == pending.seq:
                    self.pending = None
                    self._answered(msg.view)
                    ctx.tally("refused")
            elif kind is Busy:
                if self.sent_at is not None and self.wake is None:
                    busy = True
            else:
                ctx.reject(src, msg, "not a server answer")
        now = ctx.round
        if busy:
            self.sent_at = None
            self._back_off(ctx)
        elif self.wake is not None:
            if now >= self.wake:
                self.wake = None
                self._connect(ctx)
        elif self.sent_at is not None and now - self.sent_at >= self.timeout:
            self._fail(ctx)
        if (
            self.attached
            and self.pending is None
            and self.wake is None
            and ctx.rng.random() < self.rate
        ):
            self.seq += 1
            op = self.pending = new_operation(ctx, self.seq)
            self.meter.want(ctx)
            ctx.send(self.server, Request(op))
            self.sent_at = now
        self.meter.tick(ctx)
