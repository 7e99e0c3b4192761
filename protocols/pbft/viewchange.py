"""PBFT view changes: timers, VIEW-CHANGE, NEW-VIEW (Castro and Liskov, section 4.4).

Theory of operation. A backup runs a timer of ``timeout`` rounds for every
client request it holds and has not executed (``requests.Pending``), from the
round the request reached it (or the round a new view started) until that
request executes. The paper's text keeps one timer, restarted whenever some
request executes while others wait; with it a primary that orders every
client's requests but one is never replaced, since the others' executions
keep restarting the timer, and the ignored client starves within f faults
(Aardvark, NSDI 2009, makes the same point). One timer per request closes
that hole; a primary that orders every request, only slowly, is still not
replaced (the slow-primary adversary: its requests execute before their
timers expire, and throughput collapses instead). When a timer expires the backup
stops accepting normal-case messages for its view v (its mode becomes
VIEW_CHANGE) and multicasts a signed VIEW-CHANGE for v+1 carrying its last
stable checkpoint with its 2f+1-message proof and a prepared certificate for
every sequence number above it that prepared (the one from the highest view).

The primary of v+1, once it holds 2f+1 valid VIEW-CHANGEs for v+1 (its own
included), multicasts a NEW-VIEW with them and the pre-prepares they imply
(``certificates.new_view_plan``: the highest-view prepared request for each
sequence number up to the highest one prepared, null requests in the gaps).
A backup checks every view-change and recomputes the plan before entering the
view; it then prepares each re-issued pre-prepare as in the normal case.

A replica that holds 2f+1 VIEW-CHANGEs for the view it is moving to starts a
timer; if no valid NEW-VIEW comes before it expires it moves on to the next
view and doubles its timeout (reset to the base value once a request executes
again). Until a view starts it retransmits its VIEW-CHANGE every base
timeout, and a primary that already started the view answers a late
VIEW-CHANGE with its NEW-VIEW; STATUS messages (``status``) make good the
rest of what was lost before GST. A replica that sees VIEW-CHANGEs from f+1
others for views above its own joins the smallest of them, so faulty replicas
alone cannot force a view change but correct ones are never left behind. Each
replica keeps only the latest (highest-view) VIEW-CHANGE from each replica,
which bounds memory.

``ViewChanges`` owns the timers, the VIEW-CHANGEs and the NEW-VIEW; leaving a
view and entering the next (the log, the primary's queue) is the replica's
(``Replica.leave_view``, ``Replica.enter_view``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bft.core.crypto import Signed
from bft.core.node import Context
from bft.protocols.pbft.certificates import (
    Plan,
    new_view_plan,
    pre_prepare_problem,
    view_change_problem,
)
from bft.protocols.pbft.messages import NewView, PreparedCert, PrePrepare, ViewChange, is_int

if TYPE_CHECKING:
    from bft.protocols.pbft.replica import Replica

KEEP_SENT = 3  # my own VIEW-CHANGEs kept for retransmission (the latest views)


class ViewChanges:
    def __init__(self, replica: Replica, timeout: int) -> None:
        self.replica = replica
        self.base_timeout = timeout
        self.timeout = timeout  # doubled by each view change that fails to start a view
        self.nv_deadline: int | None = None  # round when waiting for NEW-VIEW gives up
        self.resend_at: int | None = None  # round to retransmit my VIEW-CHANGE
        self.latest: dict[int, Signed] = {}  # replica -> its highest-view VIEW-CHANGE
        self.sent: dict[int, Signed] = {}  # view -> my VIEW-CHANGE for it (the latest few)
        self.new_view: Signed | None = None  # the NEW-VIEW that started my current view
        self._nv_sent = -1  # the last view I sent a NEW-VIEW for, as its primary

    # -- timers ---------------------------------------------------------------------------

    def request_waiting(self, ctx: Context, client: int) -> None:
        """A backup holds a request of ``client`` it has not executed: start its timer."""
        r = self.replica
        if r.normal and not r.is_primary():
            r.pending.start_timer(client, ctx.round + self.timeout)

    def executed(self, ctx: Context) -> None:
        """A batch executed: the view works, so the timeout is back to its base value.
        (The timers of requests still waiting run on: see the module docstring.)"""
        if self.replica.normal:
            self.timeout = self.base_timeout

    def check_timers(self, ctx: Context) -> None:
        r = self.replica
        now = ctx.round
        if r.normal:
            if r.pending.expired(now):
                self.start(ctx, r.view + 1)
        elif self.nv_deadline is not None and now >= self.nv_deadline:
            self.timeout *= 2
            self.start(ctx, r.view + 1)
        elif self.resend_at is not None and now >= self.resend_at:
            # messages may have been lost before GST: say it again until a view starts
            ctx.multicast(r.others, self.latest[r.me])
            self.resend_at = now + self.base_timeout

    # -- VIEW-CHANGE ----------------------------------------------------------------------

    def prepared_set(self) -> tuple[PreparedCert, ...]:
        """P: a prepared certificate for every number above h that prepared."""
        r = self.replica
        return r.log.prepared_certificates(r.f)

    def start(self, ctx: Context, view: int) -> None:
        """Leave my view for ``view``: multicast a VIEW-CHANGE."""
        r = self.replica
        r.leave_view(view)
        r.pending.stop_timers()
        self.nv_deadline = None
        vc = ViewChange(view, r.log.low, r.checkpoints.proof, self.prepared_set(), r.me)
        signed = ctx.sign(vc)
        ctx.multicast(r.others, signed)
        self.latest[r.me] = signed
        self.sent[view] = signed
        for old in sorted(self.sent)[:-KEEP_SENT]:
            del self.sent[old]
        self.resend_at = ctx.round + self.base_timeout
        r.status.progress(ctx)
        ctx.output("view-change", view=view)
        self._check_quorum(ctx)

    def on_view_change(self, ctx: Context, src: int, msg: Signed) -> None:
        r = self.replica
        problem = view_change_problem(msg, r.cfg, ctx.verify)
        if problem:
            ctx.reject(src, msg, problem)
            return
        vc = msg.payload
        if vc.replica == r.me:
            ctx.tally("pbft-duplicate")
            return
        if vc.view < r.view:
            ctx.reject(src, msg, f"stale view-change for view {vc.view} (now in view {r.view})")
            return
        if vc.view == r.view and r.normal:
            ctx.tally("pbft-late-view-change")
            if self.new_view is not None and self.new_view.payload.view == vc.view:
                ctx.send(vc.replica, self.new_view)  # it missed the NEW-VIEW: send it again
            return
        held = self.latest.get(vc.replica)
        if held is not None and held.payload.view >= vc.view:
            ctx.tally("pbft-duplicate")
            return
        self.latest[vc.replica] = msg
        self._join_higher_view(ctx)
        self._check_quorum(ctx)

    def _join_higher_view(self, ctx: Context) -> None:
        r = self.replica
        views = sorted(
            s.payload.view for i, s in self.latest.items() if i != r.me and s.payload.view > r.view
        )
        if len(views) >= r.f + 1:
            self.start(ctx, views[0])

    def _check_quorum(self, ctx: Context) -> None:
        """2f+1 VIEW-CHANGEs for my new view: as its primary, send NEW-VIEW; else wait for it."""
        r = self.replica
        if r.normal:
            return
        view = r.view
        support = sorted(
            (s for s in self.latest.values() if s.payload.view == view), key=lambda s: s.signer
        )
        if len(support) < 2 * r.f + 1:
            return
        if not r.is_primary():
            if self.nv_deadline is None:
                self.nv_deadline = ctx.round + self.timeout
            return
        if self._nv_sent == view:
            return
        own = self.latest[r.me]
        chosen = [own, *(s for s in support if s.signer != r.me)][: 2 * r.f + 1]
        chosen.sort(key=lambda s: s.signer)
        plan = new_view_plan(chosen)
        pps = tuple(ctx.sign(PrePrepare(view, seq, d, req)) for seq, d, req in plan.entries)
        self.new_view = ctx.sign(NewView(view, tuple(chosen), pps))
        ctx.multicast(r.others, self.new_view)
        self._nv_sent = view
        self._install(ctx, view, plan, pps)

    # -- NEW-VIEW -------------------------------------------------------------------------

    def on_new_view(self, ctx: Context, src: int, msg: Signed) -> None:
        r = self.replica
        problem = self._new_view_problem(ctx, msg)
        if problem == "":
            return
        if problem:
            ctx.reject(src, msg, problem)
            return
        nv = msg.payload
        plan = new_view_plan(nv.view_changes)
        if len(nv.pre_prepares) != len(plan.entries):
            ctx.reject(src, msg, "new-view whose pre-prepares do not follow from its view-changes")
            return
        for signed, (seq, digest, req) in zip(nv.pre_prepares, plan.entries, strict=True):
            problem = pre_prepare_problem(signed, r.cfg, ctx.verify)
            pp = None if problem else signed.payload
            if (
                pp is None
                or pp.view != nv.view
                or (pp.seq, pp.digest, pp.requests) != (seq, digest, req)
            ):
                ctx.reject(
                    src, msg, "new-view whose pre-prepares do not follow from its view-changes"
                )
                return
        self._install(ctx, nv.view, plan, nv.pre_prepares)
        self.new_view = msg

    def _new_view_problem(self, ctx: Context, msg: Signed) -> str | None:
        """Why ``msg`` is not a NEW-VIEW to act on ('' for a harmless duplicate)."""
        r = self.replica
        nv = msg.payload
        if (
            not is_int(nv.view)
            or type(nv.view_changes) is not tuple
            or type(nv.pre_prepares) is not tuple
        ):
            return "malformed new-view"
        if nv.view < 1 or msg.signer != r.cfg.primary(nv.view):
            return f"new-view for view {nv.view} signed by {msg.signer!r}, not its primary"
        if nv.view < r.view:
            return f"stale new-view for view {nv.view} (now in view {r.view})"
        if nv.view == r.view and r.normal:
            ctx.tally("pbft-duplicate")
            return ""
        if msg.signer == r.me:
            return "new-view in my own name"
        if len(nv.pre_prepares) > r.log.window:
            return "new-view with more pre-prepares than the window holds"
        if not ctx.verify(msg):
            return "new-view with an invalid signature"
        vcs = nv.view_changes
        if not 2 * r.f + 1 <= len(vcs) <= r.n:
            return f"new-view with {len(vcs)} view-changes (needs {2 * r.f + 1})"
        seen: set[int] = set()
        for vc in vcs:
            problem = view_change_problem(vc, r.cfg, ctx.verify)
            if problem:
                return "new-view carrying a bad view-change: " + problem
            if vc.payload.view != nv.view or vc.signer in seen:
                return "new-view with view-changes for another view or repeated replicas"
            seen.add(vc.signer)
        return None

    def _install(self, ctx: Context, view: int, plan: Plan, pps: tuple[Signed, ...]) -> None:
        r = self.replica
        self.nv_deadline = None
        self.resend_at = None
        r.pending.stop_timers()
        r.enter_view(ctx, view, plan, pps)
        if not r.is_primary():
            r.pending.restart_timers(ctx.round + self.timeout)
