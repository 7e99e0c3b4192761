"""A failover client: one server at a time, a cache of others, and a reconnect rule.

Theory of operation. A client is attached to one server. At round 0 the
service is in its steady state (client c is attached to server (c - S) mod S);
a client that starts later (a restart: the engine builds a fresh node) logs
in to a server drawn at random from its cache. An attached, idle client
issues a request with probability ``rate`` per round and keeps at most one
request pending. Whatever it sends (a ``Login``, carrying the pending request
if there is one, or a ``Request``) it expects answered within ``timeout``
rounds; otherwise it decides that the server has failed and fails over to
the next server in its cache (a random order of the servers, its home server
first), logging in there and resending what is pending. The cache order is a
random affine order of the servers (a random start and a random stride coprime
to S; a simplification of a random permutation that needs O(1) memory per
client, so 200,000 clients fit); ``cache`` > 0 keeps only its first entries.
The rule for *when*
it reconnects is the protocol:

* naive (``backoff_base`` None): at once, in the round the timeout fires;
* backoff: after sleeping ``U(0, min(cap, base * 2**attempt))`` rounds
  (exponential backoff with full jitter; ``attempt`` counts failures since
  the last answer, from 0). A ``Busy`` answer means the server is alive but
  full: the client backs off the same way and retries the *same* server.

Replies from a server other than the current one are stale (an old server
answering late) and ignored. Logging in, the backoff sleep, issuing requests
and availability accounting are the shared ``ServiceClient``
(``bft.protocols.service_nodes``).
"""

from __future__ import annotations

from math import gcd

from bft.core.node import Context, Inbox
from bft.protocols.service import Busy, Reply, Welcome
from bft.protocols.service_nodes import ServiceClient


class FailoverClient(ServiceClient):
    __slots__ = ("cache_size", "cache", "pos")

    def __init__(
        self,
        node_id: int,
        servers: int,
        rate: float,
        timeout: int,
        cache_size: int = 0,
        backoff_base: float | None = None,
        backoff_cap: float = 32.0,
    ) -> None:
        super().__init__(node_id, servers, rate, timeout, backoff_base, backoff_cap)
        self.cache_size = cache_size if 0 < cache_size <= servers else servers
        self.cache: tuple[int, int, int] | None = None  # drawn on first failover
        self.pos = 0

    # -- the cache -------------------------------------------------------------------
    def _build_cache(self, ctx: Context) -> tuple[int, int, int]:
        """Draw this client's cache order: (start, stride, index of home in the sequence).

        The servers other than home, in cache order, are (start + k * stride) mod S
        for k = 0, 1, ... with home skipped; stride is coprime to S, so one cycle
        visits every server once. O(1) memory per client, whatever S.
        """
        s = self.servers
        home = (self.me - s) % s
        if s == 1:
            self.cache = (0, 1, 0)
            return self.cache
        start = ctx.rng.randrange(s)
        stride = ctx.rng.randrange(1, s)
        while gcd(stride, s) != 1:
            stride = ctx.rng.randrange(1, s)
        self.cache = (start, stride, (home - start) * pow(stride, -1, s) % s)
        return self.cache

    def _cached(self, ctx: Context, pos: int) -> int:
        """The server at position ``pos`` of the cache (position 0: home)."""
        s = self.servers
        if pos == 0:
            return (self.me - s) % s
        start, stride, home_at = self.cache or self._build_cache(ctx)
        k = pos - 1 if pos - 1 < home_at else pos
        return (start + k * stride) % s

    def _next_server(self, ctx: Context) -> int:
        self.pos = (self.pos + 1) % self.cache_size
        return self._cached(ctx, self.pos)

    # -- actions ---------------------------------------------------------------------
    def _fail(self, ctx: Context, busy: bool) -> None:
        """The current server did not answer in time (or said it is busy)."""
        self.sent_at = None
        if not busy:
            self.server = self._next_server(ctx)
        if self.base is None:
            self._connect(ctx)
            return
        self._back_off(ctx)

    def _restart_server(self, ctx: Context) -> int:
        """A restarted client logs in again, somewhere in its cache."""
        self._build_cache(ctx)
        self.pos = ctx.rng.randrange(self.cache_size)
        return self._cached(ctx, self.pos)

    def _on_busy(self, ctx: Context) -> None:
        self._fail(ctx, busy=True)

    def _on_timeout(self, ctx: Context) -> None:
        self._fail(ctx, busy=False)

    # -- the round -------------------------------------------------------------------
    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        self._start(ctx)
        busy = False
        for src, msg in inbox:
            kind = type(msg)
            if kind is Reply:
                pending = self.pending
                if src != self.server or pending is None or msg.seq != pending.seq:
                    continue  # stale: an old server, or an already answered request
                if msg.client != self.me or type(msg.result) is not int:
                    ctx.reject(src, msg, "reply for another client, or without an integer result")
                    continue
                self.pending = None
                self._answered()
                self.meter.answered(ctx, pending, msg.result, src)
            elif kind is Welcome:
                if src != self.server or self.attached:
                    continue
                self._answered()
                if self.pending is None:
                    self.meter.answered(ctx)
            elif kind is Busy:
                if src == self.server and self.sent_at is not None and self.wake is None:
                    busy = True
            else:
                ctx.reject(src, msg, "not a server answer")
        self._advance(ctx, busy)
