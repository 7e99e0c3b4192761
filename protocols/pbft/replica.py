"""A PBFT replica: the normal case, execution, checkpoints and state transfer.

Theory of operation (Castro and Liskov, OSDI 1999, sections 4.2-4.3).

Normal case. The primary of view v (replica v mod n) gives each new client
request the next sequence number and multicasts a signed PRE-PREPARE. A backup
accepts it when it is in view v, the sequence number lies between the
watermarks (h < seq <= h + L), the digest matches the request and it has not
accepted a different pre-prepare for (v, seq); it then multicasts a PREPARE.
A replica has *prepared* (v, seq, d) once it holds the pre-prepare and 2f
matching prepares from distinct backups (its own included); it then
multicasts a COMMIT. It has *committed-local* once it has prepared and holds
2f+1 matching commits (its own included). Committed requests execute strictly
in sequence order through ``ctx.execute`` (so the environment's capacity and
poison models apply); each client's requests execute at most once, in
timestamp order, and each execution sends a REPLY to the client.

Bookkeeping is per slot (view, seq): the pre-prepare and, per replica, the first
prepare and commit it sent, with running counts per digest, so a message costs
O(1) whatever n is. Prepares arriving after the slot prepared, and commits after
it committed, add nothing and are dropped unread (as the paper's implementation
discards them). Messages for later views are kept in their slots and acted on
when the replica enters that view; messages for earlier views are stale and
rejected.

Checkpoints, stable checkpoints, log truncation and state transfer are in
``checkpoints``; view changes in ``viewchange``; retransmission in ``status``.

Requests. A replica that executed a client's request answers a retransmission
with the cached reply. A backup that gets a request it has not executed
forwards it to the primary and starts its view-change timer (``viewchange``).

Batching: the primary orders the requests that reached it in a round at the
end of that round, up to ``batch`` per pre-prepare (default 1: no batching).

Pacing (``pace``, off by default): a replica executes committed requests, in
order, only as far as its capacity allows this round, and carries on with the
rest in the next round, instead of doing it all at once and overloading (a
burst of committed batches after a view change would otherwise take every
replica down together).

Simplification (named): replica messages are signed instead of carrying MAC
authenticators (replies use the authenticated channel; see ``messages``).
"""

from __future__ import annotations

from typing import Any

from bft.core.crypto import Signed
from bft.core.node import Context, Inbox, Node
from bft.protocols.pbft.certificates import (
    Config,
    pre_prepare_problem,
    request_problem,
)
from bft.protocols.pbft.checkpoints import Checkpointer
from bft.protocols.pbft.messages import (
    DIGEST_SIZE,
    GENESIS,
    Checkpoint,
    Commit,
    NewView,
    Prepare,
    PreparedCert,
    PrePrepare,
    Reply,
    Request,
    Status,
    ViewChange,
    is_digest,
    is_int,
    next_state,
    request_digest,
    request_label,
)
from bft.protocols.pbft.status import Retransmitter
from bft.protocols.pbft.viewchange import ViewChanger

_NO_SLOTS: dict[int, Slot] = {}  # the slots of a view with none yet (never written to)


class Slot:
    """Everything a replica holds about sequence number ``seq`` in one view."""

    __slots__ = (
        "pp",
        "digest",
        "requests",
        "accepted",
        "prepares",
        "prep_count",
        "commits",
        "commit_count",
        "prepared",
        "committed",
    )

    def __init__(self) -> None:
        self.pp: Signed | None = None
        self.digest: bytes | None = None
        self.requests: tuple[Signed, ...] = ()
        self.accepted = False  # the pre-prepare was accepted in its view (prepare sent)
        self.prepares: dict[int, Signed] = {}
        self.prep_count: dict[bytes, int] = {}
        self.commits: dict[int, Signed] = {}
        self.commit_count: dict[bytes, int] = {}
        self.prepared = False
        self.committed = False


class Replica(ViewChanger, Checkpointer, Retransmitter, Node):
    def __init__(
        self,
        node_id: int,
        cfg: Config,
        checkpoint_interval: int,
        view_timeout: int,
        msg_cost: float = 0.0,
        batch: int = 1,
        pace: bool = False,
    ) -> None:
        self.me = node_id
        self.cfg = cfg
        self.n, self.f = cfg.n, cfg.f
        self.prepare_quorum = 2 * cfg.f  # matching prepares from distinct backups
        self.commit_quorum = 2 * cfg.f + 1  # matching commits, own included
        self.K = checkpoint_interval
        self.L = cfg.window
        self.msg_cost = msg_cost
        self.batch = batch
        self.pace = pace
        self.op_cost = 1.0  # learnt from the load each execution adds
        self.others = tuple(r for r in range(cfg.n) if r != node_id)  # a tuple: see multicast
        # view
        self.view = 0
        self.active = True
        # log
        self.h = 0
        self.stable_proof: tuple[Signed, ...] = ()
        self.slots: dict[int, dict[int, Slot]] = {}  # view -> seq -> slot
        self.committed: dict[int, tuple[bytes, Signed | None]] = {}
        # seq -> the slot that prepared it in the highest view (its certificate is built
        # only when a VIEW-CHANGE carries it: most never leave the replica)
        self.prepared_slots: dict[int, Slot] = {}
        # execution and service state
        self.last_exec = 0
        self.executed_in_batch = 0  # requests of batch last_exec+1 already run (a freeze mid-batch)
        self.state = GENESIS
        self.last_ts: dict[int, int] = {}
        self.replies: dict[int, tuple[int, int]] = {}  # client -> (ts, result)
        self.reply_msgs: dict[int, Reply] = {}
        # checkpoints: seq -> replica -> signed, for h < seq <= h + L; beyond: latest per replica
        self.checkpoints: dict[int, dict[int, Signed]] = {}
        self.checkpoint_votes: dict[tuple[int, bytes, Any], list[Signed]] = {}
        self.ahead: dict[int, Signed] = {}
        # primary
        self.next_seq = 1
        self.queue: list[Signed] = []
        self.assigned: set[tuple[int, int]] = set()
        # requests received and not executed (for timers and a future primary)
        # (a client has one request outstanding: its latest supersedes older ones)
        self.pending: dict[int, Signed] = {}  # client -> its latest unexecuted request
        self._handlers = {
            Request: self._on_request,
            PrePrepare: self._on_pre_prepare,
            Prepare: self._on_vote,
            Commit: self._on_vote,
            Checkpoint: self._on_checkpoint,
            ViewChange: self._on_view_change,
            NewView: self._on_new_view,
            Status: self._on_status,
        }
        self._init_view_change(view_timeout)
        self._init_status(max(2, view_timeout // 2))

    # -- the round -----------------------------------------------------------------------

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        if self.pace and self.last_exec + 1 in self.committed:
            self._execute_ready(ctx)  # work deferred from earlier rounds comes first
        handlers = self._handlers
        on_vote = self._on_vote
        cost = self.msg_cost
        for src, msg in inbox:
            if cost:
                ctx.work(cost)
            if type(msg) is not Signed:
                ctx.reject(src, msg, "unsigned or malformed message")
                continue
            kind = type(msg.payload)
            if kind is Prepare or kind is Commit:  # most messages: skip the table lookup
                on_vote(ctx, src, msg)
                continue
            handler = handlers.get(kind)
            if handler is None:
                ctx.reject(src, msg, "not a PBFT replica message")
                continue
            handler(ctx, src, msg)
        self._check_timers(ctx)
        self._maybe_status(ctx)
        if self.queue and self.active and self.cfg.primary(self.view) == self.me:
            self._drain_queue(ctx)

    def is_primary(self) -> bool:
        return self.cfg.primary(self.view) == self.me

    def _slot(self, view: int, seq: int) -> Slot:
        by_seq = self.slots.get(view)
        if by_seq is None:
            by_seq = self.slots[view] = {}
        slot = by_seq.get(seq)
        if slot is None:
            slot = by_seq[seq] = Slot()
        return slot

    def _in_window(self, seq: int) -> bool:
        return self.h < seq <= self.h + self.L

    # -- requests ------------------------------------------------------------------------

    def _on_request(self, ctx: Context, src: int, msg: Signed) -> None:
        problem = request_problem(msg, self.cfg, ctx.verify)
        if problem:
            ctx.reject(src, msg, problem)
            return
        client, ts = msg.signer, msg.payload.op.seq
        last = self.last_ts.get(client, -1)
        if ts <= last:
            cached = self.reply_msgs.get(client)
            if cached is not None and cached.ts == ts:
                ctx.send(client, cached)  # the reply was lost or late: send it again
            return
        key = (client, ts)
        held = self.pending.get(client)
        if held is None or held.payload.op.seq < ts:
            self.pending[client] = msg
        if self.active and self.is_primary():
            if key not in self.assigned:
                self._enqueue(msg)
            return
        primary = self.cfg.primary(self.view)
        if src == client and primary != self.me:
            ctx.send(primary, msg)
        self._request_waiting(ctx)

    def _enqueue(self, req: Signed) -> None:
        """Primary: order ``req`` (at the end of the round, in arrival order)."""
        self.assigned.add((req.signer, req.payload.op.seq))
        self.queue.append(req)

    def _drain_queue(self, ctx: Context) -> None:
        """Primary: one pre-prepare per batch of queued requests, while the window allows."""
        pending = self.pending
        queue = [r for r in self.queue if pending.get(r.signer) is r]
        start = 0
        while start < len(queue) and self.next_seq <= self.h + self.L:
            batch = tuple(queue[start : start + self.batch])
            start += len(batch)
            seq = self.next_seq
            self.next_seq += 1
            signed = ctx.sign(PrePrepare(self.view, seq, request_digest(batch), batch))
            ctx.multicast(self.others, signed)
            slot = self._slot(self.view, seq)
            self._set_pre_prepare(slot, signed)
            slot.accepted = True
            self._check_prepared(ctx, seq, slot)
        self.queue = queue[start:]

    # -- normal case ---------------------------------------------------------------------

    @staticmethod
    def _set_pre_prepare(slot: Slot, signed: Signed) -> None:
        pp = signed.payload
        slot.pp, slot.digest, slot.requests = signed, pp.digest, pp.requests

    def _on_pre_prepare(self, ctx: Context, src: int, msg: Signed) -> None:
        pp = msg.payload
        if not (is_int(pp.view) and is_int(pp.seq)):
            ctx.reject(src, msg, "malformed pre-prepare")
            return
        if pp.view < self.view:
            ctx.reject(src, msg, f"stale pre-prepare for view {pp.view} (now in view {self.view})")
            return
        if not self._in_window(pp.seq):
            ctx.reject(
                src,
                msg,
                f"pre-prepare for {pp.seq} outside watermarks ({self.h}, {self.h + self.L}]",
            )
            return
        if pp.view > self.view + self.n:
            ctx.reject(src, msg, f"pre-prepare for view {pp.view}, far beyond view {self.view}")
            return
        if self.cfg.primary(pp.view) == self.me:
            ctx.reject(src, msg, "pre-prepare in my own name")
            return
        problem = pre_prepare_problem(msg, self.cfg, ctx.verify)
        if problem:
            ctx.reject(src, msg, problem)
            return
        slot = self._slot(pp.view, pp.seq)
        if slot.pp is not None:
            if slot.digest != pp.digest:
                ctx.reject(src, msg, f"conflicting pre-prepare for view {pp.view}, seq {pp.seq}")
            else:
                ctx.tally("pbft-duplicate")
            return
        self._set_pre_prepare(slot, msg)
        if pp.view == self.view and self.active:
            self._accept_pre_prepare(ctx, pp.view, pp.seq, slot)

    def _accept_pre_prepare(self, ctx: Context, view: int, seq: int, slot: Slot) -> None:
        """Backup: multicast PREPARE for an accepted pre-prepare; then check quorums."""
        slot.accepted = True
        if self.cfg.primary(view) != self.me and self.me not in slot.prepares:
            signed = ctx.sign(Prepare(view, seq, slot.digest, self.me))
            ctx.multicast(self.others, signed)
            self._add_prepare(slot, self.me, signed)
        self._check_prepared(ctx, seq, slot)

    @staticmethod
    def _add_prepare(slot: Slot, replica: int, signed: Signed) -> None:
        slot.prepares[replica] = signed
        d = signed.payload.digest
        slot.prep_count[d] = slot.prep_count.get(d, 0) + 1

    def _on_vote(self, ctx: Context, src: int, msg: Signed) -> None:
        """A PREPARE or a COMMIT: validate it, keep each replica's first vote, count it.

        The two phases differ only in their bookkeeping and quorum rule (below);
        one handler keeps their validation identical. It is the hottest code in
        the protocol (O(n^2) deliveries per request), hence the inlined fast check.
        """
        vote = msg.payload
        prepare = type(vote) is Prepare
        view, seq = vote.view, vote.seq
        if type(view) is int and view == self.view and type(seq) is int:  # the common case
            slot = self.slots.get(view, _NO_SLOTS).get(seq)
            if slot is not None and (slot.prepared if prepare else slot.committed):
                return  # the quorum is complete: a late vote is discarded unread
            r, d = vote.replica, vote.digest
            if (  # well formed, inside the window, not a prepare from the primary
                0 < seq - self.h <= self.L
                and type(r) is int
                and r == msg.signer
                and 0 <= r < self.n
                and type(d) is bytes
                and len(d) == DIGEST_SIZE
                and not (prepare and r == view % self.n)
            ):
                problem = None if ctx.verify(msg) else f"{vote.KIND} with an invalid signature"
            else:
                problem = self._vote_problem(ctx, msg)
        else:
            slot, r, d = None, vote.replica, vote.digest
            problem = self._vote_problem(ctx, msg)  # None only for a later view
        if problem:
            ctx.reject(src, msg, problem)
            return
        if slot is None:
            slot = self._slot(view, seq)
        if prepare:
            votes, counts = slot.prepares, slot.prep_count
        else:
            votes, counts = slot.commits, slot.commit_count
        if r in votes:
            if votes[r].payload.digest != d:
                ctx.reject(src, msg, f"conflicting {vote.KIND} from replica {r}")
            return
        votes[r] = msg
        count = counts[d] = counts.get(d, 0) + 1
        if view != self.view or not self.active:
            return  # kept for when this replica enters the view
        if prepare:
            if count >= self.prepare_quorum and d == slot.digest and slot.accepted:
                self._check_prepared(ctx, seq, slot)
        elif count >= self.commit_quorum and slot.prepared:
            self._check_committed(ctx, seq, slot)

    def _vote_problem(self, ctx: Context, msg: Signed) -> str | None:
        """Why a vote off the fast path is refused, or None (it is for a later view)."""
        vote = msg.payload
        if not (is_int(vote.view) and is_int(vote.seq) and is_digest(vote.digest)):
            return f"malformed {vote.KIND}"
        if vote.replica != msg.signer or not is_int(vote.replica) or not 0 <= vote.replica < self.n:
            return f"{vote.KIND} for replica {vote.replica!r} signed by {msg.signer!r}"
        if vote.view < self.view:
            return f"stale {vote.KIND} for view {vote.view} (now in view {self.view})"
        if vote.view > self.view + self.n:
            return f"{vote.KIND} for view {vote.view}, far beyond view {self.view}"
        if not self._in_window(vote.seq):
            return f"{vote.KIND} for {vote.seq} outside watermarks ({self.h}, {self.h + self.L}]"
        if type(vote) is Prepare and vote.replica == vote.view % self.n:
            return "a prepare from the primary (the primary does not prepare)"
        if not ctx.verify(msg):
            return f"{vote.KIND} with an invalid signature"
        return None

    def _check_prepared(self, ctx: Context, seq: int, slot: Slot) -> None:
        if slot.prepared or slot.digest is None:
            return
        if slot.prep_count.get(slot.digest, 0) < 2 * self.f:
            return
        slot.prepared = True
        view = slot.pp.payload.view  # type: ignore[union-attr]
        current = self.prepared_slots.get(seq)
        if current is None or current.pp.payload.view < view:  # type: ignore[union-attr]
            self.prepared_slots[seq] = slot
        signed = ctx.sign(Commit(view, seq, slot.digest, self.me))
        ctx.multicast(self.others, signed)
        self._add_commit(slot, self.me, signed)
        self._check_committed(ctx, seq, slot)

    def _prepared_cert(self, slot: Slot) -> PreparedCert:
        """The certificate a prepared slot proves: its pre-prepare and 2f matching
        prepares, by replica id. (A prepared slot takes no more prepares, so this is
        the same whenever it is built.)"""
        proof = tuple(
            slot.prepares[r]
            for r in sorted(slot.prepares)
            if slot.prepares[r].payload.digest == slot.digest
        )[: 2 * self.f]
        return PreparedCert(slot.pp, proof)  # type: ignore[arg-type]

    @staticmethod
    def _add_commit(slot: Slot, replica: int, signed: Signed) -> None:
        slot.commits[replica] = signed
        d = signed.payload.digest
        slot.commit_count[d] = slot.commit_count.get(d, 0) + 1

    def _check_committed(self, ctx: Context, seq: int, slot: Slot) -> None:
        if slot.committed or slot.commit_count.get(slot.digest, 0) < 2 * self.f + 1:  # type: ignore[arg-type]
            return
        slot.committed = True
        if seq > self.last_exec and seq not in self.committed:
            self.committed[seq] = (slot.digest, slot.requests)  # type: ignore[assignment]
            self._execute_ready(ctx)

    # -- execution -----------------------------------------------------------------------

    def _execute_ready(self, ctx: Context) -> None:
        while self.last_exec + 1 in self.committed:
            seq = self.last_exec + 1
            digest, requests = self.committed[seq]
            for index in range(self.executed_in_batch, len(requests)):
                request = requests[index]
                op = request.payload.op
                client, ts = request.signer, op.seq
                if ts > self.last_ts.get(client, -1):
                    if self.pace and not self._fits(ctx):
                        return  # the rest waits for the next round (see on_round)
                    before = ctx.load
                    result = ctx.execute(op)  # may freeze this replica (poison)
                    self.op_cost = ctx.load - before
                    self.last_ts[client] = ts
                    self.replies[client] = (ts, result)
                    reply = Reply(self.view, ts, client, self.me, result)
                    self.reply_msgs[client] = reply
                    ctx.send(client, reply)
                self.executed_in_batch = index + 1
                held = self.pending.get(client)
                if held is not None and held.payload.op.seq <= ts:
                    del self.pending[client]
            self.executed_in_batch = 0
            self.last_exec = seq
            self.state = next_state(self.state, seq, digest)
            ctx.output("commit", seq=seq, req=request_label(requests), digest=digest.hex())
            self._executed(ctx)
            if seq % self.K == 0:
                self._send_checkpoint(ctx, seq)

    def _fits(self, ctx: Context) -> bool:
        """Pacing: does one more operation fit in this round's capacity?"""
        capacity = ctx.capacity
        return capacity is None or ctx.load + self.op_cost <= capacity
