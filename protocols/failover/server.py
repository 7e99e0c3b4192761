"""A failover server: sessions, request execution, and optional admission control.

Theory of operation. A server keeps a session table: the clients logged in to
it. A ``Login`` opens a session (``login_cost`` work units, the expensive part
of a login storm) and, if it carries the client's pending request, executes
it; a ``Request`` from a client with no session opens one implicitly at the
same cost (the session was lost, e.g. when the server went down). Every
operation runs through ``ctx.execute``, so the engine's capacity, overload and
poison models apply: a naive server does whatever it is sent, and if that is
more than ``theta * capacity`` in one round the environment takes it down for
``down_rounds`` rounds (the answers it sent in that round still go out: the
engine takes it down at the end of the round). A server that comes back has
lost its sessions
(volatile state), as an overloaded supernode loses its clients.

With admission control (``backoff-reconnect``) the server checks, before each
piece of work, whether it still fits in ``admit_share`` of its capacity; if
not it answers ``Busy`` for ``reject_cost`` work units, and when even that no
longer fits in its capacity it sheds the message without an answer. Receiving
is free in the environment model, so such a server never exceeds its capacity
and never goes down from overload. The cost of one operation is learnt from
the server's own load (it starts from 1 unit, the environment's default).
"""

from __future__ import annotations

from typing import Any

from bft.environment import Operation
from bft.node import Context, Inbox, Node
from protocols.service import Busy, Login, Reply, Request, Welcome, execute_reply


class FailoverServer(Node):
    def __init__(
        self,
        node_id: int,
        servers: int,
        clients: int,
        login_cost: float,
        admission: bool = False,
        admit_share: float = 0.8,
        reject_cost: float = 0.02,
    ) -> None:
        self.me = node_id
        self.servers = servers
        self.clients = clients
        self.login_cost = login_cost
        self.admission = admission
        self.admit_share = admit_share
        self.reject_cost = reject_cost
        self.op_cost = 1.0
        self.sessions: set[int] | None = None

    def _initial_sessions(self, ctx: Context) -> set[int]:
        # At round 0 the service is in its steady state: client c is attached to
        # server (c - S) mod S. A server started later (a restart) starts empty.
        if ctx.round > 0:
            return set()
        return set(range(self.servers + self.me, self.servers + self.clients, self.servers))

    def on_recover(self, ctx: Context) -> None:
        self.sessions = set()

    def _admit(self, ctx: Context, cost: float) -> bool:
        capacity = ctx.capacity
        return capacity is None or ctx.load + cost <= self.admit_share * capacity

    def _refuse(self, ctx: Context, src: int, seq: int) -> None:
        capacity = ctx.capacity
        if capacity is not None and ctx.load + self.reject_cost > capacity:
            return  # shed without an answer
        ctx.work(self.reject_cost)
        ctx.send(src, Busy(seq))

    def _execute(self, ctx: Context, op: Operation) -> Reply:
        before = ctx.load
        reply = execute_reply(ctx, op)
        self.op_cost = ctx.load - before
        return reply

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        sessions = self.sessions
        if sessions is None:
            sessions = self.sessions = self._initial_sessions(ctx)
        for src, msg in inbox:
            why = self._invalid(src, msg)
            if why is not None:
                ctx.reject(src, msg, why)
                continue
            op = msg.op
            new = src not in sessions
            cost = (self.login_cost if new else 0.0) + (0.0 if op is None else self.op_cost)
            if self.admission and not self._admit(ctx, cost):
                self._refuse(ctx, src, -1 if op is None else op.seq)
                continue
            if new:
                ctx.work(self.login_cost)
                sessions.add(src)
            if op is None:
                ctx.send(src, Welcome())
            else:
                ctx.send(src, self._execute(ctx, op))

    def _invalid(self, src: int, msg: Any) -> str | None:
        if not self.servers <= src < self.servers + self.clients:
            return f"node {src} is not a client"
        kind = type(msg)
        if kind is Login:
            op = msg.op
            if op is None:
                return None
        elif kind is Request:
            op = msg.op
        else:
            return "not a client request or login"
        if type(op) is not Operation:
            return "the request is not an operation"
        if op.client != src:
            return f"request names client {op.client} but came from node {src}"
        return None
