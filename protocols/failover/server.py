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
Validation, admission and the steady-state sessions are the shared
``ServiceServer`` (``bft.protocols.service_nodes``).
"""

from __future__ import annotations

from bft.core.node import Context, Inbox
from bft.protocols.service import Reply, Welcome
from bft.protocols.service_nodes import ServiceServer


class FailoverServer(ServiceServer):
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
        super().__init__(node_id, servers, clients, login_cost, admission, admit_share, reject_cost)
        self.sessions: set[int] | None = None

    def _initial_sessions(self, ctx: Context) -> set[int]:
        return set(self._steady_state_clients(ctx))

    def on_recover(self, ctx: Context) -> None:
        self.sessions = set()

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
            if not self._admit_work(ctx, src, op, new):
                continue
            if new:
                sessions.add(src)
            if op is None:
                ctx.send(src, Welcome())
            else:
                ctx.send(src, Reply(op.client, op.seq, self._execute(ctx, op)))
