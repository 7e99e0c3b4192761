"""Server and client machinery shared by the failover-family protocols.

Theory of operation. Every service-family protocol (``bft.protocols.failover``,
``bft.protocols.gossip_health``) has the same two halves, and this module holds
what they share; each protocol keeps what makes it different.

*Servers* (``ServiceServer``) keep a session table, open sessions at
``login_cost`` work units, and may use admission control: before each piece
of work a server checks that it still fits in ``admit_share`` of its capacity;
if not it answers ``Busy`` for ``reject_cost`` work units, or sheds the
message without an answer when even that would not fit. At round 0 the
service is in its steady state: client c is attached to server (c - S) mod S.

*Clients* (``ServiceClient``) are attached to one server, keep at most one
request pending, and issue a new one with probability ``rate`` per idle,
attached round. A client that waited ``timeout`` rounds for an answer, or was
answered ``Busy``, reacts through the protocol's hooks (``_on_timeout``,
``_on_busy``, ``_restart_server``); the shared part is logging in, sleeping
``U(0, min(cap, base * 2**attempt))`` rounds of exponential backoff with full
jitter, waking up, and issuing requests, all accounted by ``ClientMeter``.
A client with backoff reports each backoff from the round loop (``backoff``:
the server it gave up on, the next one, the sleep, the answers counted), so
the backoff properties (``bft.protocols.service_promises``) judge what it did.
"""

from __future__ import annotations

from typing import Any

from bft.core.environment import Operation
from bft.core.node import Context, Node
from bft.protocols.service import Busy, ClientMeter, Login, Request, new_operation


def steady_state_clients(server: int, servers: int, clients: int) -> range:
    """The clients attached to ``server`` at round 0: client c is at server (c - S) mod S."""
    return range(servers + server, servers + clients, servers)


class ServiceServer(Node):
    """Session and admission-control machinery of a service-family server."""

    def __init__(
        self,
        node_id: int,
        servers: int,
        clients: int,
        login_cost: float,
        admission: bool,
        admit_share: float,
        reject_cost: float,
    ) -> None:
        self.me = node_id
        self.servers = servers
        self.clients = clients
        self.login_cost = login_cost
        self.admission = admission
        self.admit_share = admit_share
        self.reject_cost = reject_cost
        self.op_cost = 1.0  # learnt from the load each execution adds

    def _steady_state_clients(self, ctx: Context) -> range:
        """The clients this server holds sessions for when it starts (none after a restart)."""
        if ctx.round > 0:
            return range(0)
        return steady_state_clients(self.me, self.servers, self.clients)

    def _admit(self, ctx: Context, cost: float) -> bool:
        """Whether ``cost`` more work units still fit in ``admit_share`` of the capacity."""
        capacity = ctx.capacity
        return capacity is None or ctx.load + cost <= self.admit_share * capacity

    def _refuse(self, ctx: Context, src: int, seq: int) -> None:
        """Answer ``Busy(seq)``, or shed the message if even that does not fit."""
        capacity = ctx.capacity
        if capacity is not None and ctx.load + self.reject_cost > capacity:
            return  # shed without an answer
        ctx.work(self.reject_cost)
        ctx.send(src, Busy(seq))

    def _admit_work(self, ctx: Context, src: int, op: Operation | None, new: bool) -> bool:
        """Admission for a login or request from ``src``; True if it goes ahead.

        The work is the login (for a ``new`` session) plus the operation, if
        any. With admission control, work that does not fit is refused
        (``_refuse``); admitted work pays the login at once. The caller records
        the session and runs the operation.
        """
        cost = (self.login_cost if new else 0.0) + (0.0 if op is None else self.op_cost)
        if self.admission and not self._admit(ctx, cost):
            self._refuse(ctx, src, -1 if op is None else op.seq)
            return False
        if new:
            ctx.work(self.login_cost)
        return True

    def _execute(self, ctx: Context, op: Operation) -> int:
        """Run ``op`` through the environment; learn its cost from the load it adds."""
        before = ctx.load
        result = ctx.execute(op)
        self.op_cost = ctx.load - before
        return result

    def _invalid(self, src: int, msg: Any) -> str | None:
        """Why ``msg`` from ``src`` is not a well-formed client login or request (None: it is)."""
        if not self.servers <= src < self.servers + self.clients:
            return f"node {src} is not a client"
        kind = type(msg)
        if kind is not Login and kind is not Request:
            return "not a client request or login"
        op = msg.op
        if op is None and kind is Login:
            return None
        if type(op) is not Operation:
            return "the request is not an operation"
        if op.client != src:
            return f"request names client {op.client} but came from node {src}"
        return None


class ServiceClient(Node):
    """Login, backoff and request issuing of a service-family client.

    Subclasses handle their inbox, then call ``_advance(ctx, busy)``, and
    define the hooks ``_restart_server``, ``_on_busy`` and ``_on_timeout``.
    """

    __slots__ = (
        "me",
        "servers",
        "rate",
        "timeout",
        "base",
        "cap",
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
        base: float | None,
        cap: float,
    ) -> None:
        self.me = node_id
        self.servers = servers
        self.rate = rate
        self.timeout = timeout
        self.base = base  # None: no backoff (reconnect at once)
        self.cap = cap
        self.server = (node_id - servers) % servers  # home server
        self.attached = True
        self.pending: Operation | None = None
        self.seq = 0
        self.sent_at: int | None = None  # round of the last unanswered send to self.server
        self.attempt = 0  # failures since the last answer
        self.wake: int | None = None  # backing off until this round
        self.meter = ClientMeter(timeout)
        self.started = False

    # -- hooks -------------------------------------------------------------------------
    def _restart_server(self, ctx: Context) -> int:
        """The server a client restarted after round 0 logs in to."""
        raise NotImplementedError

    def _on_busy(self, ctx: Context) -> None:
        """The current server answered ``Busy`` to the last send."""
        raise NotImplementedError

    def _on_timeout(self, ctx: Context) -> None:
        """The current server did not answer within ``timeout`` rounds."""
        raise NotImplementedError

    # -- shared actions ----------------------------------------------------------------
    def _start(self, ctx: Context) -> None:
        """On the first round this node runs: a restarted client logs in again."""
        if not self.started:
            self.started = True
            if ctx.round > 0:
                self.server = self._restart_server(ctx)
                self._connect(ctx)

    def _connect(self, ctx: Context) -> None:
        """Log in to ``self.server``, carrying the pending request."""
        self.attached = False
        self.meter.want(ctx)
        ctx.send(self.server, Login(self.pending))
        self.sent_at = ctx.round

    def _back_off(self, ctx: Context) -> None:
        """Sleep ``U(0, min(cap, base * 2**attempt))`` rounds, then log in (at once if 0)."""
        assert self.base is not None
        bound = min(self.cap, self.base * 2.0**self.attempt)
        self.attempt += 1
        sleep = int(ctx.rng.uniform(0.0, bound))
        self.attached = False
        self.meter.want(ctx)
        if sleep == 0:
            self._connect(ctx)
        else:
            self.wake = ctx.round + sleep

    def _answered(self) -> None:
        """The current server answered: attached again, no wait, no backoff."""
        self.attached = True
        self.sent_at = None
        self.attempt = 0
        self.wake = None

    def _retry_detail(self) -> dict[str, Any]:
        """What else a ``backoff`` output reports (a subclass's view of live servers)."""
        return {}

    def _report_retry(self, ctx: Context, server: int, busy: bool) -> None:
        """Emit ``backoff``: the client gave up on ``server`` (or it answered busy).

        Reported from the round loop, whatever the hooks did, so the backoff
        properties judge what the client actually does: ``to`` is the server it
        will log in to, ``sleep`` the rounds it waits first (0: at once), and
        ``answers`` the answers its meter has counted (a change since the
        previous backoff means the backoff must start again from ``base``).
        Only clients with backoff report (a naive client retries thousands of
        times in an outage, and promises nothing about when).
        """
        if self.base is None:
            return
        wake = self.wake
        ctx.output(
            "backoff",
            server=server,
            to=self.server,
            busy=busy,
            sleep=0 if wake is None else wake - ctx.round,
            answers=self.meter.answers,
            **self._retry_detail(),
        )

    def _advance(self, ctx: Context, busy: bool) -> None:
        """After the inbox: react to busy, wake-up or timeout, maybe issue a request, account."""
        rnd = ctx.round
        if busy:
            server = self.server
            self._on_busy(ctx)
            self._report_retry(ctx, server, busy=True)
        elif self.wake is not None:
            if rnd >= self.wake:
                self.wake = None
                self._connect(ctx)
        elif self.sent_at is not None and rnd - self.sent_at >= self.timeout:
            server = self.server
            self._on_timeout(ctx)
            self._report_retry(ctx, server, busy=False)
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
            self.sent_at = rnd
        self.meter.tick(ctx)
