"""PBFT view changes: timers, VIEW-CHANGE, NEW-VIEW (Castro and Liskov, section 4.4).

Theory of operation. A backup that holds a client request it has not executed
runs a timer of ``timeout`` rounds; executing any request restarts it while
requests are still waiting (the paper's rule, and the reason a primary that
orders just one request per timeout is never replaced: see the slow-primary
adversary), and it stops when nothing waits. When the timer expires the backup
stops accepting normal-case messages for its view v and multicasts a signed
VIEW-CHANGE for v+1 carrying its last stable checkpoint with its 2f+1-message
proof and a prepared certificate for every sequence number above it that
prepared (the one from the highest view).

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
rest of what was lost before GST. A replica that sees VIEW-CHANGEs from f+1 others for views above its
own joins the smallest of them, so faulty replicas alone cannot force a view
change but correct ones are never left behind. Each replica keeps only the
latest (highest-view) VIEW-CHANGE from each replica, which bounds memory.

This mixin is part of ``Replica`` and shares its state.
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
from bft.protocols.pbft.messages import NewView, PrePrepare, ViewChange, is_int

if TYPE_CHECKING:
    from bft.protocols.pbft.replica import Replica


class ViewChanger:
    def _init_view_change(self: Replica, view_timeout: int) -> None:
        self.base_timeout = view_timeout
        self.timeout = view_timeout
        self.timer: int | None = None  # round when the request timer expires
        self.nv_deadline: int | None = None  # round when waiting for NEW-VIEW gives up
        self.vc_latest: dict[int, Signed] = {}
        self.nv_sent = -1
        self.vc_resend: int | None = None  # round to retransmit my VIEW-CHANGE

    # -- timers ---------------------------------------------------------------------------

    def _request_waiting(self: Replica, ctx: Context) -> None:
        if self.timer is None and self.active and not self.is_primary():
            self.timer = ctx.round + self.timeout

    def _executed(self: Replica, ctx: Context) -> None:
        self._progress(ctx)
        if not self.active:
            return
        self.timeout = self.base_timeout
        if self.pending and not self.is_primary():
            self.timer = ctx.round + self.timeout
        else:
            self.timer = None

    def _check_timers(self: Replica, ctx: Context) -> None:
        now = ctx.round
        if self.active:
            if self.timer is not None and now >= self.timer:
                self._start_view_change(ctx, self.view + 1)
        elif self.nv_deadline is not None and now >= self.nv_deadline:
            self.timeout *= 2
            self._start_view_change(ctx, self.view + 1)
        elif self.vc_resend is not None and now >= self.vc_resend:
            # messages may have been lost before GST: say it again until a view starts
            ctx.multicast(self.others, self.vc_latest[self.me])
            self.vc_resend = now + self.base_timeout

    # -- VIEW-CHANGE ----------------------------------------------------------------------

    def _start_view_change(self: Replica, ctx: Context, view: int) -> None:
        self.view = view
        self.active = False
        self.timer = None
        self.nv_deadline = None
        self.queue = []
        for old in [v for v in self.slots if v < view]:
            del self.slots[old]
        prepared = self.prepared_slots
        certs = tuple(self._prepared_cert(prepared[s]) for s in sorted(prepared) if s > self.h)
        signed = ctx.sign(ViewChange(view, self.h, self.stable_proof, certs, self.me))
        ctx.multicast(self.others, signed)
        self.vc_latest[self.me] = signed
        self.my_vcs[view] = signed
        for old in sorted(self.my_vcs)[:-3]:
            del self.my_vcs[old]
        self.vc_resend = ctx.round + self.base_timeout
        self._progress(ctx)
        ctx.output("view-change", view=view)
        self._check_vc_quorum(ctx)

    def _on_view_change(self: Replica, ctx: Context, src: int, msg: Signed) -> None:
        problem = view_change_problem(msg, self.cfg, ctx.verify)
        if problem:
            ctx.reject(src, msg, problem)
            return
        vc = msg.payload
        if vc.replica == self.me:
            ctx.tally("pbft-duplicate")
            return
        if vc.view < self.view:
            ctx.reject(src, msg, f"stale view-change for view {vc.view} (now in view {self.view})")
            return
        if vc.view == self.view and self.active:
            ctx.tally("pbft-late-view-change")
            if self.nv_msg is not None and self.nv_msg.payload.view == vc.view:
                ctx.send(vc.replica, self.nv_msg)  # it missed the NEW-VIEW: send it again
            return
        held = self.vc_latest.get(vc.replica)
        if held is not None and held.payload.view >= vc.view:
            ctx.tally("pbft-duplicate")
            return
        self.vc_latest[vc.replica] = msg
        self._join_higher_view(ctx)
        self._check_vc_quorum(ctx)

    def _join_higher_view(self: Replica, ctx: Context) -> None:
        views = sorted(
            s.payload.view
            for r, s in self.vc_latest.items()
            if r != self.me and s.payload.view > self.view
        )
        if len(views) >= self.f + 1:
            self._start_view_change(ctx, views[0])

    def _check_vc_quorum(self: Replica, ctx: Context) -> None:
        if self.active:
            return
        view = self.view
        support = sorted(
            (s for s in self.vc_latest.values() if s.payload.view == view), key=lambda s: s.signer
        )
        if len(support) < 2 * self.f + 1:
            return
        if self.cfg.primary(view) != self.me:
            if self.nv_deadline is None:
                self.nv_deadline = ctx.round + self.timeout
            return
        if self.nv_sent == view:
            return
        own = self.vc_latest[self.me]
        chosen = [own, *(s for s in support if s.signer != self.me)][: 2 * self.f + 1]
        chosen.sort(key=lambda s: s.signer)
        plan = new_view_plan(chosen)
        pps = tuple(ctx.sign(PrePrepare(view, seq, d, req)) for seq, d, req in plan.entries)
        self.nv_msg = ctx.sign(NewView(view, tuple(chosen), pps))  # type: ignore[misc]
        ctx.multicast(self.others, self.nv_msg)
        self.nv_sent = view
        self._install_new_view(ctx, view, plan, pps)

    # -- NEW-VIEW -------------------------------------------------------------------------

    def _on_new_view(self: Replica, ctx: Context, src: int, msg: Signed) -> None:
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
            problem = pre_prepare_problem(signed, self.cfg, ctx.verify)
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
        self._install_new_view(ctx, nv.view, plan, nv.pre_prepares)
        self.nv_msg = msg

    def _new_view_problem(self: Replica, ctx: Context, msg: Signed) -> str | None:
        """Why ``msg`` is not a NEW-VIEW to act on ('' for a harmless duplicate)."""
        nv = msg.payload
        if (
            not is_int(nv.view)
            or type(nv.view_changes) is not tuple
            or type(nv.pre_prepares) is not tuple
        ):
            return "malformed new-view"
        if nv.view < 1 or msg.signer != self.cfg.primary(nv.view):
            return f"new-view for view {nv.view} signed by {msg.signer!r}, not its primary"
        if nv.view < self.view:
            return f"stale new-view for view {nv.view} (now in view {self.view})"
        if nv.view == self.view and self.active:
            ctx.tally("pbft-duplicate")
            return ""
        if msg.signer == self.me:
            return "new-view in my own name"
        if len(nv.pre_prepares) > self.L:
            return "new-view with more pre-prepares than the window holds"
        if not ctx.verify(msg):
            return "new-view with an invalid signature"
        vcs = nv.view_changes
        if not 2 * self.f + 1 <= len(vcs) <= self.n:
            return f"new-view with {len(vcs)} view-changes (needs {2 * self.f + 1})"
        seen: set[int] = set()
        for vc in vcs:
            problem = view_change_problem(vc, self.cfg, ctx.verify)
            if problem:
                return "new-view carrying a bad view-change: " + problem
            if vc.payload.view != nv.view or vc.signer in seen:
                return "new-view with view-changes for another view or repeated replicas"
            seen.add(vc.signer)
        return None

    def _install_new_view(
        self: Replica, ctx: Context, view: int, plan: Plan, pps: tuple[Signed, ...]
    ) -> None:
        self.view = view
        self.active = True
        self.timer = None
        self.nv_deadline = None
        self.vc_resend = None
        self._progress(ctx)
        for old in [v for v in self.slots if v < view]:
            del self.slots[old]
        if plan.min_s > self.h and plan.checkpoint is not None:
            self._make_stable(ctx, plan.min_s, plan.checkpoint.payload.checkpoint_proof)
        primary = self.is_primary()
        ctx.output("new-view", view=view, primary=self.cfg.primary(view))
        in_plan: set[tuple[int, int]] = set()
        for signed in pps:
            pp = signed.payload
            for req in pp.requests:
                in_plan.add((req.signer, req.payload.op.seq))
            if pp.seq <= self.h:
                continue
            slot = self._slot(view, pp.seq)
            self._set_pre_prepare(slot, signed)
            if primary:
                slot.accepted = True
                self._check_prepared(ctx, pp.seq, slot)
            else:
                self._accept_pre_prepare(ctx, view, pp.seq, slot)
        top = max(plan.max_s, self.h)
        by_seq = self.slots.get(view, {})
        for seq in sorted(s for s in by_seq if s > top):
            slot = by_seq[seq]
            if slot.pp is not None and not slot.accepted:
                self._accept_pre_prepare(ctx, view, seq, slot)
        if primary:
            self.next_seq = top + 1
            self.assigned = set(in_plan)
            self.queue = []
            for client in sorted(self.pending):
                req = self.pending[client]
                if (client, req.payload.op.seq) not in self.assigned:
                    self._enqueue(req)
            self._drain_queue(ctx)
        elif self.pending:
            self.timer = ctx.round + self.timeout
