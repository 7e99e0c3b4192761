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
wait goes on, unserved, until a later request is answered) and emits
``refused``. Each backoff is reported (``backoff``, by the shared client) with
the client's view, which ``failover-guided`` checks the choice against.
"""

from __future__ import annotations

from typing import Any

from bft.core.node import Context, Inbox
from bft.protocols.gossip_health.messages import HealthReply, HealthWelcome, Quarantined
from bft.protocols.service import Busy
from bft.protocols.service_nodes import ServiceClient


class HealthClient(ServiceClient):
    __slots__ = ("avoid_rounds", "view", "avoid")

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
        super().__init__(node_id, servers, rate, timeout, base, cap)
        self.avoid_rounds = avoid_rounds
        self.view = (1 << servers) - 1
        self.avoid: dict[int, int] = {}

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

    def _restart_server(self, ctx: Context) -> int:
        """A restarted client logs in somewhere it believes alive."""
        return self._choose(ctx)

    def _on_busy(self, ctx: Context) -> None:
        self.sent_at = None
        self._back_off(ctx)

    def _on_timeout(self, ctx: Context) -> None:
        self.sent_at = None
        self.avoid[self.server] = ctx.round + self.avoid_rounds
        self.server = self._choose(ctx)
        self._back_off(ctx)

    def _retry_detail(self) -> dict[str, Any]:
        return {"view": self.view}

    def _answered_with(self, view: int) -> None:
        """Answered, and the answer carried the server's live view (adopted if well-formed)."""
        self._answered()
        if type(view) is int and view > 0:
            self.view = view

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        self._start(ctx)
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
                self._answered_with(msg.view)
                self.meter.answered(ctx, pending, msg.result, src)
            elif kind is HealthWelcome:
                if self.attached:
                    continue
                self._answered_with(msg.view)
                if self.pending is None:
                    self.meter.answered(ctx)
            elif kind is Quarantined:
                pending = self.pending
                if pending is not None and msg.seq == pending.seq:
                    self.pending = None
                    self._answered_with(msg.view)
                    self.meter.refused()
                    ctx.tally("refused")
                    fp = msg.fingerprint if type(msg.fingerprint) is int else None
                    ctx.output("refused", server=src, seq=pending.seq, fingerprint=fp)
            elif kind is Busy:
                if self.sent_at is not None and self.wake is None:
                    busy = True
            else:
                ctx.reject(src, msg, "not a server answer")
        self._advance(ctx, busy)
