"""A gossip-health server: SWIM among servers, sessions, admission, crash attribution.

Theory of operation.

*Health checks.* Servers run the SWIM detector (``bft.protocols.swim.member``)
among themselves. Every answer to a client carries the server's view: the
servers it holds alive (suspects and dead ones left out), as a bitmask.

*Admission control.* Before opening a session or executing a request a
server checks that the work fits in ``admit_share`` of its capacity; if not it
answers a cheap ``Busy`` (or sheds the message when even that would not fit),
so a login storm is refused, not allowed to take servers down.

*Crash attribution.* A server cannot report its own death, so the first
request of every session (the request a failing-over client brings along, or
the first one after a login) is announced before it runs: the server sends
``Intent(fingerprint, client)`` to ``watchers`` servers (those it holds alive and
heard from most recently, the best bet to be up) and runs the
request one round later. A watcher pings it (``Watch``) when the intent
arrives; if no ``WatchAck`` comes within ``watch_timeout`` rounds the server
went down while executing that request: the watcher records the correlation
and multicasts ``Correlation(fingerprint, client, server)`` to every server
(and gossips it on SWIM messages, which repairs losses). A request
fingerprint, or a client, correlated with ``quarantine_k`` distinct dead
servers is quarantined: every server answers its requests with
``Quarantined`` instead of executing them (the client too, because a poisoner
would otherwise start a new walk with every fresh request). A poison walking
from server to server with its client is thus stopped after about k servers
(plus the one it reached before any session change, which no intent covered).

Outputs, for ``quarantine-justified`` (``bft.protocols.gossip_health.properties``):
``announce`` (client, fingerprint) for each request announced to watchers,
``attribute`` (server, client, fingerprint) when a watcher correlates a death,
``quarantine`` (client or fingerprint, and the servers it rests on).

The fingerprint is a hash of the whole request as received (the server does
not interpret it). Simplifications, named: requests within an established
session run at once (only a session's first request is announced), so a
poison that arrives in an old session kills that one server unattributed;
a watcher's missing ack is taken as a death (under heavy loss it can
correlate an innocent request, which is why it takes k deaths).
"""

from __future__ import annotations

import hashlib
from typing import Any

from bft.core.encoding import canonical_bytes
from bft.core.environment import Operation
from bft.core.node import Context, Inbox
from bft.protocols.gossip_health.messages import (
    Correlation,
    HealthReply,
    HealthWelcome,
    Intent,
    Quarantined,
    Watch,
    WatchAck,
)
from bft.protocols.service_nodes import ServiceServer
from bft.protocols.swim.member import ALIVE, SwimMember


def fingerprint(op: Operation) -> int:
    """A 64-bit hash of the request as received."""
    return int.from_bytes(hashlib.blake2b(canonical_bytes(op), digest_size=8).digest(), "big")


class HealthServer(ServiceServer):
    def __init__(
        self,
        node_id: int,
        swim: SwimMember,
        clients: int,
        login_cost: float,
        *,
        admission: bool,
        admit_share: float,
        reject_cost: float,
        watchers: int,
        watch_timeout: int,
        quarantine_k: int,
    ) -> None:
        super().__init__(
            node_id, len(swim.members), clients, login_cost, admission, admit_share, reject_cost
        )
        self.swim = swim
        swim.extra_types = (Correlation,)
        swim.on_extra = self._on_correlation_update
        self.watchers = watchers
        self.watch_timeout = watch_timeout
        self.quarantine_k = quarantine_k
        self.sessions: dict[int, bool] | None = None  # client -> still on probation
        self.held: list[tuple[int, Operation, bool]] = []  # (client, op, new session)
        self.correlated: dict[int, set[int]] = {}  # fingerprint -> servers that died on it
        self.correlated_clients: dict[int, set[int]] = {}  # client -> servers
        self.quarantined: set[int] = set()
        self.quarantined_clients: set[int] = set()
        self.watching: dict[int, tuple[int, Intent, int]] = {}  # seq -> (server, intent, deadline)
        self.watch_seq = 0
        self.heard = [-1] * self.servers  # round each server was last heard from

    # -- views and quarantine -------------------------------------------------------------

    def view(self) -> int:
        """Bitmask of the servers this server holds alive (itself included)."""
        mask = (1 << self.servers) - 1
        for server, (status, _) in self.swim.view.items():
            if status != ALIVE:
                mask &= ~(1 << server)
        return mask

    def _correlate(self, ctx: Context, c: Correlation) -> bool:
        """Record that ``c.server`` died executing ``c``'s request; True if it is news."""
        by_fp = self.correlated.setdefault(c.fingerprint, set())
        by_client = self.correlated_clients.setdefault(c.client, set())
        if c.server in by_fp and c.server in by_client:
            return False
        by_fp.add(c.server)
        by_client.add(c.server)
        k = self.quarantine_k
        if len(by_fp) >= k and c.fingerprint not in self.quarantined:
            self.quarantined.add(c.fingerprint)
            ctx.output("quarantine", fingerprint=c.fingerprint, servers=tuple(sorted(by_fp)))
        if len(by_client) >= k and c.client not in self.quarantined_clients:
            self.quarantined_clients.add(c.client)
            ctx.output("quarantine", client=c.client, servers=tuple(sorted(by_client)))
        return True

    def _learn(self, ctx: Context, c: Correlation) -> None:
        if self._correlate(ctx, c):
            self.swim.enqueue(("corr", c.fingerprint, c.server), c)

    def _on_correlation_update(self, ctx: Context, src: int, update: Any) -> bool:
        if not self._valid_correlation(update):
            return False
        self._learn(ctx, update)
        return True

    def _valid_correlation(self, c: Any) -> bool:
        return (
            type(c) is Correlation
            and type(c.fingerprint) is int
            and type(c.client) is int
            and self.servers <= c.client < self.servers + self.clients
            and type(c.server) is int
            and 0 <= c.server < self.servers
        )

    def refused(self, op: Operation) -> int | None:
        """The fingerprint to answer ``Quarantined`` with, if ``op`` is quarantined."""
        if not self.quarantined and not self.quarantined_clients:
            return None
        fp = fingerprint(op)
        if fp in self.quarantined or op.client in self.quarantined_clients:
            return fp
        return None

    # -- the round -------------------------------------------------------------------------

    def _initial_sessions(self, ctx: Context) -> dict[int, bool]:
        return dict.fromkeys(self._steady_state_clients(ctx), False)

    def on_recover(self, ctx: Context) -> None:
        self.sessions = {}
        self.held = []
        self.watching.clear()
        self.swim.pause(ctx)

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        sessions = self.sessions
        if sessions is None:
            sessions = self.sessions = self._initial_sessions(ctx)
        held, self.held = self.held, []
        work: list[tuple[int, Any]] = []
        swim = self.swim
        servers = self.servers
        heard = self.heard
        now = ctx.round
        for src, msg in inbox:
            if src < servers:
                heard[src] = now
                if not swim.handle(ctx, src, msg):
                    self._server_message(ctx, src, msg)
            else:
                work.append((src, msg))
        if ctx.round >= swim.wake:
            swim.tick(ctx)
        self._check_watches(ctx)
        for client, op, new in held:
            self._run(ctx, client, op, new, announced=True)
        for src, msg in work:
            self._client_message(ctx, sessions, src, msg)
        for client, op, _ in self.held:
            # what the watchers were told: 'quarantine-justified' checks attributions against it
            ctx.output("announce", client=client, fingerprint=fingerprint(op))

    def _server_message(self, ctx: Context, src: int, msg: Any) -> None:
        kind = type(msg)
        if kind is Intent and type(msg.fingerprint) is int and type(msg.client) is int:
            self.watch_seq += 1
            ctx.send(src, Watch(self.watch_seq))
            self.watching[self.watch_seq] = (src, msg, ctx.round + self.watch_timeout)
        elif kind is Watch and type(msg.seq) is int:
            ctx.send(src, WatchAck(msg.seq))
        elif kind is WatchAck and type(msg.seq) is int:
            entry = self.watching.get(msg.seq)
            if entry is not None and entry[0] == src:
                del self.watching[msg.seq]
        elif kind is Correlation and self._valid_correlation(msg):
            self._learn(ctx, msg)
        else:
            ctx.reject(src, msg, f"not a server-to-server message: {kind.__name__}")

    def _check_watches(self, ctx: Context) -> None:
        if not self.watching:
            return
        now = ctx.round
        for seq, (server, intent, deadline) in list(self.watching.items()):
            if now < deadline:
                continue
            del self.watching[seq]
            note = Correlation(intent.fingerprint, intent.client, server)
            if not self._valid_correlation(note):
                continue
            ctx.output(
                "attribute", server=server, client=intent.client, fingerprint=intent.fingerprint
            )
            if self._correlate(ctx, note):
                ctx.multicast(
                    (s for s in range(self.servers) if s != server and s != self.me), note
                )
                self.swim.enqueue(("corr", note.fingerprint, server), note)

    # -- client work -----------------------------------------------------------------------

    def _client_message(self, ctx: Context, sessions: dict[int, bool], src: int, msg: Any) -> None:
        why = self._invalid(src, msg)
        if why is not None:
            ctx.reject(src, msg, why)
            return
        op = msg.op
        new = src not in sessions
        if op is not None:
            fp = self.refused(op)
            if fp is not None:
                ctx.send(src, Quarantined(op.seq, fp, self.view()))
                ctx.tally("quarantined")
                return
        if not self._admit_work(ctx, src, op, new):
            return
        if new:
            sessions[src] = True
        if op is None:
            ctx.send(src, HealthWelcome(self.view()))
            return
        if sessions[src]:
            # A session's first request: announce it, run it next round.
            targets = self._pick_watchers()
            if targets:
                ctx.multicast(targets, Intent(fingerprint(op), src))
                self.held.append((src, op, new))
                return
        self._run(ctx, src, op, new, announced=False)

    def _pick_watchers(self) -> list[int]:
        """The servers SWIM holds alive that were heard from most recently.

        A server that went down recently may not be suspected yet; one that
        just sent us a message is the best bet to be up to watch.
        """
        if self.watchers <= 0:
            return []
        swim = self.swim
        heard = self.heard
        alive = [s for s in range(self.servers) if s != self.me and swim.status(s) == ALIVE]
        alive.sort(key=lambda s: -heard[s])
        return alive[: self.watchers]

    def _run(self, ctx: Context, client: int, op: Operation, new: bool, announced: bool) -> None:
        if announced:
            fp = self.refused(op)
            if fp is not None:
                ctx.send(client, Quarantined(op.seq, fp, self.view()))
                return
        if self.sessions is not None:
            self.sessions[client] = False
        result = self._execute(ctx, op)
        ctx.send(client, HealthReply(op.client, op.seq, result, self.view()))
