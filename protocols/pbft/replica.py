"""A PBFT replica: one state machine over one log (Castro and Liskov, OSDI 1999).

Theory of operation, in the paper's order.

4.1 Requests. A client sends its signed request to the primary of the view
it knows (view v's primary is replica v mod n). A replica that already
executed it answers from its reply cache; a backup that has not holds it,
forwards it to the primary and starts that request's view-change timer
(``requests.Pending``, ``viewchange``); the primary queues it for ordering
(``requests.Sequencer``).

4.2 Normal case. The primary gives each batch of queued requests the next
sequence number and multicasts a signed PRE-PREPARE. A backup accepts it when
it is in normal mode in view v, the number lies between the watermarks
(h < seq <= h + L), the digest matches the batch and it holds no other
pre-prepare for (v, seq); it then multicasts a PREPARE. Every change to a
slot of the log (``log``: a pre-prepare accepted, a vote counted) is followed
by the step of the slot's state machine it can cause: a PRE_PREPARED slot for
which ``prepared(slot, f)`` holds becomes PREPARED and the replica multicasts
a COMMIT (``_on_prepared``); a PREPARED slot for which
``committed_local(slot, f)`` holds becomes COMMITTED and goes to execution
(``_on_committed``). The two predicates are the replica's ``quorums``: the
paper's by default, a lab's or a planted bug's when it passes its own.
Committed batches execute strictly in sequence order (``execution``), each
request sending a REPLY.
Each message type has one rule (one handler, one validator, cheap checks
first and the signature last); votes for a phase whose quorum already formed
are discarded unread. Messages for later views are kept in their slots and
acted on when the replica enters that view; messages for earlier views are
stale and rejected.

4.3 Garbage collection. Every K executed numbers the replica multicasts a
CHECKPOINT; 2f+1 matching ones make it stable, which truncates the log
(``checkpoints``); f+1 matching ones above what it executed let a replica that
fell behind adopt the state.

4.4 View changes. The replica's ``mode`` is NORMAL while it takes part in
its view and VIEW_CHANGE from the moment it multicasts a VIEW-CHANGE until it
enters the next view with a NEW-VIEW (``viewchange``).

Retransmission of lost messages before GST (``status``) is the paper's
implementation's, not its protocol's.

Ownership: the replica owns its view, its mode and the quorum rules, and
composes one object per piece of state: ``log`` (slots, watermarks, prepared
certificates), ``service`` (execution and the service state), ``pending``
(requests waiting, each with its timer), ``sequencer`` (the primary's numbering), ``checkpoints``,
``view_changes`` and ``status``. The composed objects change each other only
through the replica's methods below.

Batching: the primary orders the requests that reached it in a round at the
end of that round, up to ``batch`` per pre-prepare (default 1: no batching).
Pacing (``pace``, off by default): see ``execution``.

Simplification (named): replica messages are signed instead of carrying MAC
authenticators (replies use the authenticated channel; see ``messages``).
"""

from __future__ import annotations

import enum

from bft.core.crypto import Signed
from bft.core.node import Context, Inbox, Node
from bft.protocols.pbft.certificates import (
    Config,
    Plan,
    Verify,
    pre_prepare_problem,
    request_problem,
)
from bft.protocols.pbft.checkpoints import Checkpoints
from bft.protocols.pbft.execution import Execution, Table
from bft.protocols.pbft.log import (
    COMMITTED,
    NO_SLOTS,
    NONE,
    PAPER,
    PRE_PREPARED,
    PREPARED,
    Log,
    Quorums,
    Slot,
)
from bft.protocols.pbft.messages import (
    DIGEST_SIZE,
    Checkpoint,
    Commit,
    NewView,
    Prepare,
    PrePrepare,
    Request,
    Status,
    ViewChange,
    request_digest,
)
from bft.protocols.pbft.requests import Pending, Sequencer
from bft.protocols.pbft.status import Retransmission
from bft.protocols.pbft.viewchange import ViewChanges


class Mode(enum.Enum):
    NORMAL = "normal"  # taking part in the current view
    VIEW_CHANGE = "view-change"  # VIEW-CHANGE sent for the current view, NEW-VIEW awaited


NORMAL = Mode.NORMAL  # read per vote: a module global is faster than an enum attribute


class Replica(Node):
    def __init__(
        self,
        node_id: int,
        cfg: Config,
        checkpoint_interval: int,
        view_timeout: int,
        msg_cost: float = 0.0,
        batch: int = 1,
        pace: bool = False,
        quorums: Quorums = PAPER,
        view_changes: type[ViewChanges] = ViewChanges,
    ) -> None:
        self.me = node_id
        self.cfg = cfg
        self.n, self.f = cfg.n, cfg.f
        self.quorums = quorums
        self.msg_cost = msg_cost
        self.batch = batch
        self.others = tuple(r for r in range(cfg.n) if r != node_id)  # a tuple: see multicast
        self.view = 0
        self.mode = Mode.NORMAL
        self.log = Log(cfg.n, cfg.window)
        self._slots = self.log.views  # read once per vote (the log never rebinds it)
        self.service = Execution(pace)
        self.pending = Pending()
        self.sequencer = Sequencer()
        self.checkpoints = Checkpoints(self, checkpoint_interval)
        self.view_changes = view_changes(self, view_timeout)
        self.status = Retransmission(self, max(2, view_timeout // 2))
        self._prepared = quorums.prepared
        self._committed_local = quorums.committed_local
        self._handlers = {
            Request: self._on_request,
            PrePrepare: self._on_pre_prepare,
            Checkpoint: self.checkpoints.on_checkpoint,
            ViewChange: self.view_changes.on_view_change,
            NewView: self.view_changes.on_new_view,
            Status: self.status.on_status,
        }

    @property
    def normal(self) -> bool:
        return self.mode is NORMAL

    def is_primary(self) -> bool:
        return self.cfg.primary(self.view) == self.me

    # -- the round -----------------------------------------------------------------------

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        if self.service.pace and self.service.waiting():
            self._execute(ctx)  # work deferred from earlier rounds comes first
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
        self.view_changes.check_timers(ctx)
        self.status.maybe_send(ctx)
        if self.sequencer and self.normal and self.is_primary():
            self._order(ctx)

    # -- 4.1 requests --------------------------------------------------------------------

    def _on_request(self, ctx: Context, src: int, msg: Signed) -> None:
        problem = request_problem(msg, self.cfg, ctx.verify)
        if problem:
            ctx.reject(src, msg, problem)
            return
        client, ts = msg.signer, msg.payload.op.seq
        if self.service.executed(client, ts):
            cached = self.service.cached_reply(client, ts, self.view, self.me)
            if cached is not None:
                ctx.send(client, cached)  # the reply was lost or late: send it again
            return
        self.pending.hold(msg)
        if self.normal and self.is_primary():
            if not self.sequencer.assigned(msg):
                self.sequencer.enqueue(msg)
            return
        primary = self.cfg.primary(self.view)
        if src == client and primary != self.me:
            ctx.send(primary, msg)
        self.view_changes.request_waiting(ctx, client)

    def _order(self, ctx: Context) -> None:
        """Primary: one PRE-PREPARE per batch of queued requests, while the window allows."""
        sequencer, log = self.sequencer, self.log
        while True:
            seq, batch = sequencer.next_batch(self.pending, log.high, self.batch)
            if not batch:
                return
            signed = ctx.sign(PrePrepare(self.view, seq, request_digest(batch), batch))
            ctx.multicast(self.others, signed)
            slot = log.slot(self.view, seq)
            slot.hold_pre_prepare(signed)
            self._accept(ctx, slot)

    # -- 4.2 normal case -----------------------------------------------------------------

    def _pre_prepare_problem(self, msg: Signed, verify: Verify) -> str | None:
        """Why a PRE-PREPARE is refused (the checks that need my state, then the message's)."""
        pp = msg.payload
        view, seq = pp.view, pp.seq
        if type(view) is not int or type(seq) is not int:
            return "malformed pre-prepare"
        if view < self.view:
            return f"stale pre-prepare for view {view} (now in view {self.view})"
        if not self.log.in_window(seq):
            return f"pre-prepare for {seq} outside watermarks ({self.log.low}, {self.log.high}]"
        if view > self.view + self.n:
            return f"pre-prepare for view {view}, far beyond view {self.view}"
        if self.cfg.primary(view) == self.me:
            return "pre-prepare in my own name"
        return pre_prepare_problem(msg, self.cfg, verify)

    def _on_pre_prepare(self, ctx: Context, src: int, msg: Signed) -> None:
        problem = self._pre_prepare_problem(msg, ctx.verify)
        if problem:
            ctx.reject(src, msg, problem)
            return
        pp = msg.payload
        slot = self.log.slot(pp.view, pp.seq)
        if slot.pre_prepare is not None:
            if slot.digest != pp.digest:
                ctx.reject(src, msg, f"conflicting pre-prepare for view {pp.view}, seq {pp.seq}")
            else:
                ctx.tally("pbft-duplicate")
            return
        slot.hold_pre_prepare(msg)
        if pp.view == self.view and self.normal:
            self._accept(ctx, slot)

    def _accept(self, ctx: Context, slot: Slot) -> None:
        """Accept the slot's pre-prepare: a backup multicasts its PREPARE."""
        slot.phase = PRE_PREPARED
        me = self.me
        assert slot.digest is not None  # the slot holds its pre-prepare
        if slot.primary != me and me not in slot.prepare_msgs:
            signed = ctx.sign(Prepare(slot.view, slot.seq, slot.digest, me))
            ctx.multicast(self.others, signed)
            slot.add_prepare(me, signed, slot.digest)
        self._advance(ctx, slot)

    def _on_vote(self, ctx: Context, src: int, msg: Signed) -> None:
        """A PREPARE or a COMMIT: the two phases share their rule and differ in bookkeeping.

        The hottest code in the protocol (O(n^2) deliveries per request), so its one
        validity rule is written out here rather than called: a vote for a slot whose
        phase's quorum is complete is discarded before anything else is read; then the
        cheap checks, the signature last. A vote can move its slot one phase only (a
        PREPARE from PRE_PREPARED to PREPARED, a COMMIT from PREPARED to COMMITTED), so
        only that step is tried.
        """
        vote = msg.payload
        prepare = type(vote) is Prepare
        view, seq = vote.view, vote.seq
        slot = None
        if type(view) is int and type(seq) is int:
            slot = self._slots.get(view, NO_SLOTS).get(seq)
            if slot is not None and (
                slot.phase is COMMITTED or (prepare and slot.phase is PREPARED)
            ):
                return  # the quorum is complete: a late vote is discarded unread
        r, d, current, log = vote.replica, vote.digest, self.view, self.log
        if (
            type(view) is not int
            or type(seq) is not int
            or type(d) is not bytes
            or len(d) != DIGEST_SIZE
        ):
            problem = f"malformed {vote.KIND}"
        elif type(r) is not int or r != msg.signer or not 0 <= r < self.n:
            problem = f"{vote.KIND} for replica {r!r} signed by {msg.signer!r}"
        elif view != current and not current < view <= current + self.n:
            if view < current:
                problem = f"stale {vote.KIND} for view {view} (now in view {current})"
            else:
                problem = f"{vote.KIND} for view {view}, far beyond view {current}"
        elif not 0 < seq - log.low <= log.window:
            problem = f"{vote.KIND} for {seq} outside watermarks ({log.low}, {log.high}]"
        elif prepare and r == view % self.n:
            problem = "a prepare from the primary (the primary does not prepare)"
        elif not ctx.verify(msg):
            problem = f"{vote.KIND} with an invalid signature"
        else:
            problem = None  # valid (for my view, or kept for a later one)
        if problem is not None:
            ctx.reject(src, msg, problem)
            return
        if slot is None:
            slot = log.slot(view, seq)
        # Only a slot of the view this replica is in normal mode in gets past NONE (votes
        # for a later view wait in theirs), so the phase alone says whether to step.
        if prepare:
            held = slot.prepare_msgs.get(r)
            if held is None:
                slot.add_prepare(r, msg, d)
                if slot.phase is PRE_PREPARED and self._prepared(slot, self.f):
                    self._on_prepared(ctx, slot)
                return
        else:
            held = slot.commit_msgs.get(r)
            if held is None:
                slot.add_commit(r, msg, d)
                if slot.phase is PREPARED and self._committed_local(slot, self.f):
                    self._on_committed(ctx, slot)
                return
        if held.payload.digest != d:
            ctx.reject(src, msg, f"conflicting {vote.KIND} from replica {r}")

    def _advance(self, ctx: Context, slot: Slot) -> None:
        """The slot's state machine after its pre-prepare was accepted (section 4.2)."""
        if slot.phase is PRE_PREPARED and self._prepared(slot, self.f):
            self._on_prepared(ctx, slot)

    def _on_prepared(self, ctx: Context, slot: Slot) -> None:
        """PRE_PREPARED -> PREPARED: multicast COMMIT (committed-local may follow at once)."""
        slot.phase = PREPARED
        self.log.remember_prepared(slot)
        assert slot.digest is not None  # a prepared slot holds its pre-prepare
        signed = ctx.sign(Commit(slot.view, slot.seq, slot.digest, self.me))
        ctx.multicast(self.others, signed)
        slot.add_commit(self.me, signed, slot.digest)
        if self._committed_local(slot, self.f):
            self._on_committed(ctx, slot)

    def _on_committed(self, ctx: Context, slot: Slot) -> None:
        """PREPARED -> COMMITTED: hand the batch to execution."""
        slot.phase = COMMITTED
        if self.service.commit(slot.seq, slot.digest, slot.requests):  # type: ignore[arg-type]
            self._execute(ctx)

    # -- execution (end of 4.2) ----------------------------------------------------------

    def _execute(self, ctx: Context) -> None:
        self.service.run(ctx, self.view, self.me, self)

    def request_executed(self, client: int, ts: int) -> None:
        self.pending.executed(client, ts)

    def batch_executed(self, ctx: Context, seq: int) -> None:
        self.status.progress(ctx)
        self.view_changes.executed(ctx)
        if self.checkpoints.due(seq):
            self.checkpoints.send(ctx, seq)

    # -- 4.3 what a stable checkpoint and a state transfer do ----------------------------

    def stabilise(self, ctx: Context, seq: int, state: bytes, table: Table) -> None:
        """The checkpoint at ``seq`` (of ``state`` and ``table``) is stable."""
        self.log.truncate(seq)
        self.service.discard_through(seq)
        if self.service.last_exec < seq:
            self.transfer_state(ctx, seq, state, table)
        self.sequencer.skip_to(seq)
        if self.sequencer and self.normal and self.is_primary():
            self._order(ctx)

    def transfer_state(self, ctx: Context, seq: int, state: bytes, table: Table) -> None:
        """Adopt the state at ``seq`` that a checkpoint certificate vouches for."""
        ctx.output("state-transfer", seq=seq, previous=self.service.last_exec)
        self.service.adopt(seq, state, table)
        self.pending.forget_executed(self.service.last_ts)
        self.sequencer.skip_to(seq)
        self._execute(ctx)

    # -- 4.4 leaving a view and entering the next ----------------------------------------

    def leave_view(self, view: int) -> None:
        """Stop taking part in my view: I am moving to ``view``."""
        self.view = view
        self.mode = Mode.VIEW_CHANGE
        self.sequencer.clear()
        self.log.discard_views_below(view)

    def enter_view(self, ctx: Context, view: int, plan: Plan, pps: tuple[Signed, ...]) -> None:
        """Start ``view`` from a NEW-VIEW's plan and pre-prepares (sent or received)."""
        self.view = view
        self.mode = Mode.NORMAL
        self.status.progress(ctx)
        log = self.log
        log.discard_views_below(view)
        if plan.min_s > log.low and plan.checkpoint is not None:
            self.checkpoints.stabilise(ctx, plan.min_s, plan.checkpoint.payload.checkpoint_proof)
        primary = self.is_primary()
        ctx.output("new-view", view=view, primary=self.cfg.primary(view))
        in_plan: set[tuple[int, int]] = set()
        for signed in pps:
            pp = signed.payload
            for req in pp.requests:
                in_plan.add((req.signer, req.payload.op.seq))
            if pp.seq <= log.low:
                continue
            slot = log.slot(view, pp.seq)
            slot.hold_pre_prepare(signed)
            self._accept(ctx, slot)
        top = max(plan.max_s, log.low)
        by_seq = log.slots_of(view)
        for seq in sorted(s for s in by_seq if s > top):
            slot = by_seq[seq]
            if slot.pre_prepare is not None and slot.phase is NONE:
                self._accept(ctx, slot)
        if primary:
            self.sequencer.restart(top + 1, in_plan)
            for request in self.pending:
                if not self.sequencer.assigned(request):
                    self.sequencer.enqueue(request)
            self._order(ctx)
