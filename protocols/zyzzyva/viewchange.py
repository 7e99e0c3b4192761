"""Zyzzyva view changes: I-HATE-THE-PRIMARY, VIEW-CHANGE, NEW-VIEW, VIEW-CONFIRM.

Theory of operation (Kotla et al., TOCS 2009, section 3.5; the SOSP 2007 paper
without the view-confirm phase).

Suspicion. A replica that suspects the primary of its view v (a forwarded
request not ordered in time, a fill-hole not answered, a proof of
misbehaviour, a commit certificate of view v that contradicts its history, or
no new view in time) multicasts a signed I-HATE-THE-PRIMARY(v) and carries on
(it repeats the message every ``view_timeout`` rounds while it stays in v, as
messages may be lost before GST). A suspicion alone changes nothing: faulty
replicas cannot force a view change.

Commitment. A replica holding f+1 I-HATE-THE-PRIMARY(v) from distinct replicas
(its own or not) commits to the view change: it stops taking part in view v
and multicasts a signed VIEW-CHANGE(v+1) carrying the f+1 complaints as proof,
its certificate (the commit certificate it stored in its current view, or else
the view-confirm certificate with which it started that view, whichever
reaches further) and its history (``messages.ViewChange``). A replica that
receives a valid VIEW-CHANGE for a later view learns the proof from it and
commits to that view too.

New view. The primary of v+1, once it holds 2f+1 valid VIEW-CHANGEs for v+1
(its own and the others' in replica order), multicasts a NEW-VIEW carrying them.
Every replica checks them and computes the new history with the protocol's rule
(``certificates``: ``published_history`` for ``zyzzyva``, ``fixed_history`` for
``zyzzyva-fixed``), then multicasts VIEW-CONFIRM(v+1, n, h_n). With 2f+1 matching
view-confirms (its own included) it starts the view: it rolls its speculative
history back to the longest common prefix, executes the rest of the new
history, keeps the view-confirms as its certificate, and (as primary) orders
the requests it holds that the history lacks; a backup restarts its timers for
them. Order-reqs of the new view that arrive earlier wait in a buffer.

Timers. A replica that committed to view w without starting it by
``view_timeout * 2^k`` rounds later (k counts the views it has committed to
since it last started one) suspects the primary of w, which leads to w+1.
Until the view starts it repeats its VIEW-CHANGE (or VIEW-CONFIRM) every
``view_timeout`` rounds, and a replica that already started w answers a late
VIEW-CHANGE with the NEW-VIEW and a late VIEW-CONFIRM with its own; a replica
that speaks in an older view (an order-req, complaint, view-confirm or
fill-hole of a view before mine) missed the change, and gets my NEW-VIEW (at
most once per ``view_timeout`` rounds).
A replica that sees a commit certificate of a later view (a client's COMMIT)
knows it missed one and sends a FILL-HOLE of its own view to every replica to
provoke that answer (retransmission, like PBFT's status messages; the papers
leave it to the implementation).

This mixin is part of ``Replica`` and shares its state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bft.core.crypto import Signed
from bft.core.node import Context
from bft.protocols.zyzzyva.certificates import (
    CONFIRM_CERT,
    CertInfo,
    Config,
    Report,
    view_change_report,
)
from bft.protocols.zyzzyva.messages import (
    GENESIS,
    Entry,
    FillHole,
    IHateThePrimary,
    NewView,
    ViewChange,
    ViewConfirm,
    chain,
    is_digest,
    is_int,
    request_digest,
)

ACTIVE, CHANGING, CONFIRMING = "active", "changing", "confirming"


class ViewChanger:
    # The state and helpers of ``Replica`` these methods share (declared for the type checker;
    # ``Replica.__init__`` sets them).
    me: int
    n: int
    f: int
    cfg: Config
    rule: Callable[[Sequence[Report], int], tuple[Signed, ...]]
    view_timeout: int
    others: tuple[int, ...]
    requests: list[Signed]
    orders: list[Signed | None]
    last_ts: dict[int, int]
    cc: tuple[Signed, ...] | None
    cc_info: CertInfo | None
    committed: int
    waiting_ccs: dict[int, Signed]
    pending: dict[int, Signed]
    timers: dict[int, int]
    buffer: dict[int, dict[int, Signed]]
    fill_target: int
    fill_stage: int

    if TYPE_CHECKING:

        def is_primary(self) -> bool: ...
        @property
        def top(self) -> int: ...
        def _order(self, ctx: Context, req: Signed) -> None: ...
        def _drain_buffer(self, ctx: Context) -> None: ...
        def _append(
            self, ctx: Context, req: Signed, order: Signed | None, view: int | None = None
        ) -> None: ...
        def _rebuild(self, requests: tuple[Signed, ...]) -> int: ...

    def _init_view_change(self) -> None:
        self.view = 0
        self.phase = ACTIVE
        self.started_view = 0
        self.confirm_cert: tuple[Signed, ...] = ()
        self.confirm_info: CertInfo | None = None
        self.hates: dict[int, dict[int, Signed]] = {}
        self.hated = -1  # the view I last suspected
        self.hate_resend: int | None = None
        self.vc_latest: dict[int, Signed] = {}
        self.reports: dict[int, Report] = {}
        self.nv_sent = -1
        self.nv_msg: Signed | None = None
        self.nv_history: tuple[Signed, ...] = ()
        self.nv_top: tuple[int, bytes] = (0, GENESIS)
        self.nv_deadline: int | None = None
        self.resend: int | None = None  # round to repeat my VIEW-CHANGE or VIEW-CONFIRM
        self.confirms: dict[int, dict[int, Signed]] = {}
        self.helped: dict[int, int] = {}  # replica -> round I last sent it my NEW-VIEW
        self.lagging: dict[int, int] = {}  # later view -> round I last asked about it

    def _behind(self, ctx: Context, src: int, view: int) -> None:
        """Replica ``src`` spoke in an older view: it missed the view change (messages
        are lost before GST), so send it the NEW-VIEW of mine (at most once per
        ``view_timeout`` rounds)."""
        if view >= self.view or self.phase == CHANGING or self.nv_msg is None:
            return
        if not 0 <= src < self.n or src == self.me:
            return
        last = self.helped.get(src)
        if last is not None and ctx.round < last + self.view_timeout:
            return
        self.helped[src] = ctx.round
        ctx.send(src, self.nv_msg)

    def _lagging(self, ctx: Context, view: int) -> None:
        """A commit certificate of a later view proves that view runs without me: speak in
        mine (a FILL-HOLE to every replica), so that those in the later view send me its
        NEW-VIEW (``_behind``); again after ``view_timeout`` rounds if nothing came."""
        asked = self.lagging.get(view)
        if asked is not None and ctx.round < asked + self.view_timeout:
            return
        self.lagging[view] = ctx.round
        ctx.multicast(
            self.others, ctx.sign(FillHole(self.view, self.top + 1, self.top + 1, self.me))
        )

    # -- suspicion -------------------------------------------------------------------------

    def _hate(self, ctx: Context, why: str) -> None:
        if self.hated == self.view:
            return
        self.hated = self.view
        signed = ctx.sign(IHateThePrimary(self.view, self.me))
        ctx.multicast(self.others, signed)
        self.hates.setdefault(self.view, {})[self.me] = signed
        self.hate_resend = ctx.round + self.view_timeout
        ctx.output("suspect", view=self.view, why=why)
        self._check_hates(ctx, self.view)

    def _on_hate(self, ctx: Context, src: int, msg: Signed) -> None:
        h = msg.payload
        if not (is_int(h.view) and is_int(h.replica)) or h.replica != msg.signer:
            ctx.reject(src, msg, "malformed i-hate-the-primary")
            return
        if not 0 <= h.replica < self.n or h.view < 0 or not ctx.verify(msg):
            ctx.reject(src, msg, "i-hate-the-primary from an unknown replica or badly signed")
            return
        if h.view < self.view or h.view > self.view + self.n:
            ctx.tally("zyzzyva-stale-hate")
            self._behind(ctx, h.replica, h.view)
            return
        self.hates.setdefault(h.view, {})[h.replica] = msg
        self._check_hates(ctx, h.view)

    def _check_hates(self, ctx: Context, view: int) -> None:
        held = self.hates.get(view, {})
        if view >= self.view and len(held) >= self.f + 1:
            proof = tuple(held[r] for r in sorted(held)[: self.f + 1])
            self._start_view_change(ctx, view + 1, proof)

    # -- VIEW-CHANGE -----------------------------------------------------------------------

    def _report_state(self) -> tuple[tuple[Signed, ...], tuple[Entry, ...]]:
        """My certificate and history, as a VIEW-CHANGE carries them."""
        cert: tuple[Signed, ...] = ()
        low = 0
        if self.cc_info is not None and (
            self.confirm_info is None or self.cc_info.seq >= self.confirm_info.seq
        ):
            cert, low = self.cc, self.cc_info.seq  # type: ignore[assignment]
        elif self.confirm_info is not None:
            cert, low = self.confirm_cert, self.confirm_info.seq
        entries = tuple(
            Entry(req, self.orders[i] if i >= low else None) for i, req in enumerate(self.requests)
        )
        return cert, entries

    def _start_view_change(self, ctx: Context, view: int, proof: tuple[Signed, ...]) -> None:
        if view <= self.view:
            return
        self.view = view
        self.phase = CHANGING
        self.nv_msg = None
        self.fill_target = self.fill_stage = 0
        self.waiting_ccs.clear()
        for old in [v for v in self.hates if v < view - 1]:
            del self.hates[old]
        cert, entries = self._report_state()
        signed = ctx.sign(ViewChange(view, cert, entries, proof, self.me))
        ctx.multicast(self.others, signed)
        self.vc_latest[self.me] = signed
        self.reports.pop(self.me, None)
        waited = min(view - self.started_view - 1, 16)
        self.nv_deadline = ctx.round + self.view_timeout * 2**waited
        self.resend = ctx.round + self.view_timeout
        ctx.output("view-change", view=view)
        self._check_vc_quorum(ctx)

    def _on_view_change(self, ctx: Context, src: int, msg: Signed) -> None:
        problem, report = view_change_report(msg, self.cfg, ctx.verify)
        if problem:
            ctx.reject(src, msg, problem)
            return
        vc = msg.payload
        if vc.replica == self.me:
            ctx.tally("zyzzyva-duplicate")
            return
        if vc.view < self.view:
            ctx.tally("zyzzyva-stale-view-change")
            self._behind(ctx, vc.replica, vc.view)
            return
        if vc.view == self.view and self.phase != CHANGING:
            if self.nv_msg is not None:
                ctx.send(vc.replica, self.nv_msg)  # it missed the NEW-VIEW: send it again
            return
        held = self.vc_latest.get(vc.replica)
        if held is not None and held.payload.view >= vc.view:
            ctx.tally("zyzzyva-duplicate")
            return
        self.vc_latest[vc.replica] = msg
        self.reports[vc.replica] = report
        if vc.view > self.view:
            self._start_view_change(ctx, vc.view, vc.proof)  # its proof is proof enough for me
        else:
            self._check_vc_quorum(ctx)

    def _own_report(self, ctx: Context) -> Report:
        report = self.reports.get(self.me)
        if report is None:
            problem, report = view_change_report(self.vc_latest[self.me], self.cfg, ctx.verify)
            assert problem is None, problem
            self.reports[self.me] = report
        return report

    def _check_vc_quorum(self, ctx: Context) -> None:
        if self.phase != CHANGING or self.cfg.primary(self.view) != self.me:
            return
        if self.nv_sent == self.view:
            return
        support = sorted(
            (r for r, s in self.vc_latest.items() if r != self.me and s.payload.view == self.view)
        )
        if 1 + len(support) < 2 * self.f + 1:
            return
        chosen = sorted([self.me, *support[: 2 * self.f]])
        vcs = tuple(self.vc_latest[r] for r in chosen)
        reports = [self._own_report(ctx) if r == self.me else self.reports[r] for r in chosen]
        signed = ctx.sign(NewView(self.view, vcs))
        ctx.multicast(self.others, signed)
        self.nv_sent = self.view
        self._accept_new_view(ctx, signed, reports)

    # -- NEW-VIEW ----------------------------------------------------------------------------

    def _on_new_view(self, ctx: Context, src: int, msg: Signed) -> None:
        nv = msg.payload
        if not is_int(nv.view) or type(nv.view_changes) is not tuple:
            ctx.reject(src, msg, "malformed new-view")
            return
        if nv.view < 1 or msg.signer != self.cfg.primary(nv.view) or msg.signer == self.me:
            ctx.reject(src, msg, f"new-view for view {nv.view} signed by {msg.signer!r}")
            return
        if nv.view < self.view:
            ctx.tally("zyzzyva-stale-new-view")
            return
        if nv.view == self.view and self.phase != CHANGING:
            ctx.tally("zyzzyva-duplicate")
            return
        if not 2 * self.f + 1 <= len(nv.view_changes) <= self.n or not ctx.verify(msg):
            ctx.reject(src, msg, "new-view without 2f+1 view-changes, or badly signed")
            return
        reports: list[Report] = []
        seen: set[int] = set()
        for vc in nv.view_changes:
            problem, report = view_change_report(vc, self.cfg, ctx.verify)
            if problem:
                ctx.reject(src, msg, "new-view carrying a bad view-change: " + problem)
                return
            if vc.payload.view != nv.view or report.replica in seen:
                ctx.reject(src, msg, "new-view with view-changes for another view or repeated")
                return
            seen.add(report.replica)
            reports.append(report)
        self._accept_new_view(ctx, msg, reports)

    def _accept_new_view(self, ctx: Context, msg: Signed, reports: list[Report]) -> None:
        """Compute the new history and confirm it (the view starts on 2f+1 confirmations)."""
        view = msg.payload.view
        history = self.rule(reports, self.f)
        h = GENESIS
        for req in history:
            h = chain(h, request_digest(req))
        self.view = view
        self.phase = CONFIRMING
        self.nv_msg = msg
        self.nv_history = history
        self.nv_top = (len(history), h)
        if self.nv_deadline is None:
            self.nv_deadline = ctx.round + self.view_timeout
        signed = ctx.sign(ViewConfirm(view, len(history), h, self.me))
        ctx.multicast(self.others, signed)
        self.confirms.setdefault(view, {})[self.me] = signed
        self.resend = ctx.round + self.view_timeout
        self._check_confirms(ctx)

    # -- VIEW-CONFIRM --------------------------------------------------------------------------

    def _on_view_confirm(self, ctx: Context, src: int, msg: Signed) -> None:
        c = msg.payload
        if not (is_int(c.view) and is_int(c.seq) and is_int(c.replica) and is_digest(c.history)):
            ctx.reject(src, msg, "malformed view-confirm")
            return
        if c.replica != msg.signer or not 0 <= c.replica < self.n or not ctx.verify(msg):
            ctx.reject(src, msg, "view-confirm not signed by the replica it names")
            return
        if c.view < self.view or c.view > self.view + self.n:
            ctx.tally("zyzzyva-stale-view-confirm")
            self._behind(ctx, c.replica, c.view)
            return
        if c.view == self.view and self.phase == ACTIVE:
            mine = self.confirms.get(c.view, {}).get(self.me)
            if mine is not None and c.replica != self.me:
                ctx.send(c.replica, mine)  # it is still confirming: help it along
            return
        self.confirms.setdefault(c.view, {})[c.replica] = msg
        self._check_confirms(ctx)

    def _check_confirms(self, ctx: Context) -> None:
        if self.phase != CONFIRMING:
            return
        top = self.nv_top
        held = self.confirms.get(self.view, {})
        matching = [
            held[r] for r in sorted(held) if (held[r].payload.seq, held[r].payload.history) == top
        ]
        if len(matching) >= 2 * self.f + 1:
            self._start_view(ctx, tuple(matching[: 2 * self.f + 1]))

    def _start_view(self, ctx: Context, confirmations: tuple[Signed, ...]) -> None:
        view = self.view
        history = self.nv_history
        keep = self._rebuild(history)
        for req in history[keep:]:
            self._append(ctx, req, None, view)
        self.orders = [None] * len(self.orders)  # the view-confirm certificate covers them all
        self.phase = ACTIVE
        self.started_view = view
        self.confirm_cert = confirmations
        self.confirm_info = CertInfo(CONFIRM_CERT, view, *self.nv_top)
        self.cc = self.cc_info = None
        self.committed = min(self.committed, keep)
        self.nv_deadline = self.resend = None
        self.hate_resend = None
        self.waiting_ccs.clear()
        self.fill_target = self.fill_stage = 0
        for old in [v for v in self.buffer if v < view]:
            del self.buffer[old]
        for old in [v for v in self.confirms if v < view]:
            del self.confirms[old]
        ctx.output(
            "new-view",
            view=view,
            primary=self.cfg.primary(view),
            length=len(history),
            history=self.nv_top[1].hex(),
        )
        if self.is_primary():
            self.timers = {}  # a primary does not time itself
            for client in sorted(self.pending):
                req = self.pending[client]
                if req.payload.op.seq > self.last_ts.get(client, -1):
                    self._order(ctx, req)
        else:
            self.timers = {c: ctx.round + self.view_timeout for c in sorted(self.pending)}
        self._drain_buffer(ctx)

    # -- timers ---------------------------------------------------------------------------------

    def _check_view_timers(self, ctx: Context) -> None:
        now = ctx.round
        if self.hate_resend is not None and now >= self.hate_resend and self.hated == self.view:
            mine = self.hates.get(self.view, {}).get(self.me)
            if mine is not None:
                ctx.multicast(self.others, mine)
            self.hate_resend = now + self.view_timeout
        if self.phase == ACTIVE:
            return
        if self.nv_deadline is not None and now >= self.nv_deadline:
            self.nv_deadline = None
            self._hate(ctx, f"view {self.view} did not start in time")
            if self.phase == ACTIVE:
                return
        if self.resend is not None and now >= self.resend:
            self.resend = now + self.view_timeout
            if self.phase == CHANGING:
                ctx.multicast(self.others, self.vc_latest[self.me])
            else:
                mine = self.confirms.get(self.view, {}).get(self.me)
                if mine is not None:
                    ctx.multicast(self.others, mine)
