"""A Zyzzyva replica: speculative execution, commit certificates, fill-hole.

Theory of operation (Kotla et al., SOSP 2007 and TOCS 2009, section 3).

Agreement by speculation. The primary of view v (replica v mod n) gives each
new client request the next sequence number n and multicasts a signed
ORDER-REQ (v, n, h_n, d, request), where h_n = H(h_{n-1}, d) chains the history.
A replica accepts it when it is in view v (and has started it), the primary of v
signed it, n is the next sequence number of its history and h_n extends its
own history; it then *executes the request at once* (speculatively, through
``ctx.execute``) and sends the client a SPEC-RESPONSE naming (v, n, h_n, result),
signed, with the order-req attached. Nothing else happens among replicas: the
client decides (``client``). With 3f+1 matching spec-responses the request is
complete (the fast path); with 2f+1 the client sends a COMMIT carrying those
2f+1 signed responses (a commit certificate), and a replica whose history at n
is h_n stores it, counts its history up to n as committed and answers
LOCAL-COMMIT; 2f+1 of those complete the request (the slow path).

Each client's requests execute at most once and in timestamp order; a
request ordered again (a Byzantine primary) is a no-op that gets no response.
Results are a pure function of the request, so rolling back speculative state
(a view change) only means re-deriving each client's last timestamp.

Fill-hole. An order-req beyond the next sequence number is kept, and the
replica asks the primary for the missing ones (FILL-HOLE); if they do not come
within ``fill_timeout`` rounds it asks every replica, and after another
``fill_timeout`` it suspects the primary.

Requests sent to every replica (a client's retransmission): a replica that
executed the request sends its spec-response again (and, at most once per
``view_timeout`` rounds, asks every replica for what lies above its history:
the client lacks 2f+1 matching answers, so some replica is behind, perhaps this
one, in its view or by a whole view); one that did not forwards
it to the primary and starts a timer of ``view_timeout`` rounds; if the request
has not executed when the timer expires, it suspects the primary, and asks
every replica for the order-reqs above its history (a FILL-HOLE to all: a
faulty primary may have ordered the request and kept the order-reqs from this
replica alone, which would otherwise starve the client of its 2f+1 matching
responses while no other correct replica complains). A primary
that already ordered a forwarded request sends its order-req to the replica
that forwarded it.

Suspicion (I-HATE-THE-PRIMARY), view changes, NEW-VIEW and VIEW-CONFIRM are in
``viewchange``. Conflicting order-reqs for one view and sequence number (a
proof of misbehaviour, from a client or seen by the replica itself) and a
commit certificate of the current view that contradicts the replica's history
make it suspect the primary too. Two order-reqs of one view prove misbehaviour
when they differ at one sequence number, order one request twice, or do not
chain (``certificates.misbehavior_problem``).

Simplifications (named): no checkpoints, so histories are never truncated and
a VIEW-CHANGE carries the whole history (``messages``); no batching; replica
messages are signed instead of carrying MACs.
"""

from __future__ import annotations

from bft.core.crypto import Signed
from bft.core.node import Context, Inbox, Node
from bft.protocols.zyzzyva.certificates import (
    RULES,
    CertInfo,
    Config,
    commit_cert_problem,
    misbehavior_problem,
    order_problem,
    request_problem,
)
from bft.protocols.zyzzyva.messages import (
    GENESIS,
    Commit,
    FillHole,
    IHateThePrimary,
    LocalCommit,
    NewView,
    OrderReq,
    ProofOfMisbehavior,
    Request,
    SpecReply,
    SpecResponse,
    ViewChange,
    ViewConfirm,
    chain,
    is_int,
    request_digest,
    request_label,
)
from bft.protocols.zyzzyva.viewchange import ViewChanger

ACTIVE, CHANGING, CONFIRMING = "active", "changing", "confirming"
BUFFER_LIMIT = 256  # order-reqs kept for later per view (beyond it they are refused)


class Replica(ViewChanger, Node):
    def __init__(
        self,
        node_id: int,
        cfg: Config,
        rule: str,
        view_timeout: int,
        fill_timeout: int,
        msg_cost: float = 0.0,
    ) -> None:
        self.me = node_id
        self.cfg = cfg
        self.n, self.f = cfg.n, cfg.f
        self.rule = RULES[rule]
        self.view_timeout = view_timeout
        self.fill_timeout = fill_timeout
        self.msg_cost = msg_cost
        self.others = tuple(r for r in range(cfg.n) if r != node_id)
        # the speculative history: one entry per sequence number (index seq - 1)
        self.requests: list[Signed] = []
        self.hashes: list[bytes] = [GENESIS]  # hashes[seq] = h_seq
        self.orders: list[Signed | None] = []  # the order-req of this view, or None
        self.results: list[int | None] = []  # None: a repeated request (a no-op)
        self.last_ts: dict[int, int] = {}  # client -> last timestamp executed
        self.executed_at: dict[tuple[int, int], int] = {}  # (client, ts) -> seq
        # commitment: the highest commit certificate of the current view, what it commits
        self.cc: tuple[Signed, ...] | None = None
        self.cc_info: CertInfo | None = None
        self.committed = 0
        self.waiting_ccs: dict[int, Signed] = {}  # client -> a COMMIT beyond my history
        # requests a backup forwarded and waits to see executed: client -> request, deadline
        self.pending: dict[int, Signed] = {}
        self.timers: dict[int, int] = {}
        # order-reqs for later sequence numbers or views: view -> seq -> signed
        self.buffer: dict[int, dict[int, Signed]] = {}
        self.fill_target = 0  # fill-hole: the sequence number wanted, stage, deadline
        self.fill_stage = 0
        self.fill_deadline = 0
        self.poms_sent: set[int] = set()  # views whose primary I proved misbehaving
        self.probed = -(10**9)  # the round I last asked everyone what I lack (``_probe``)
        self._handlers = {
            Request: self._on_request,
            OrderReq: self._on_order,
            Commit: self._on_commit,
            FillHole: self._on_fill_hole,
            ProofOfMisbehavior: self._on_pom,
            IHateThePrimary: self._on_hate,
            ViewChange: self._on_view_change,
            NewView: self._on_new_view,
            ViewConfirm: self._on_view_confirm,
        }
        self._init_view_change()

    # -- the round -----------------------------------------------------------------------

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        cost = self.msg_cost
        for src, msg in inbox:
            if cost:
                ctx.work(cost)
            if type(msg) is not Signed:
                ctx.reject(src, msg, "unsigned or malformed message")
                continue
            handler = self._handlers.get(type(msg.payload))
            if handler is None:
                ctx.reject(src, msg, "not a Zyzzyva replica message")
                continue
            handler(ctx, src, msg)
        self._check_request_timers(ctx)
        self._check_fill(ctx)
        self._check_view_timers(ctx)

    def is_primary(self) -> bool:
        return self.cfg.primary(self.view) == self.me

    @property
    def top(self) -> int:
        """The last sequence number of the history."""
        return len(self.requests)

    # -- requests ------------------------------------------------------------------------

    def _on_request(self, ctx: Context, src: int, msg: Signed) -> None:
        problem = request_problem(msg, self.cfg, ctx.verify)
        if problem:
            ctx.reject(src, msg, problem)
            return
        client, ts = msg.signer, msg.payload.op.seq
        if src != client and not 0 <= src < self.n:
            ctx.reject(src, msg, f"request of client {client} relayed by node {src}")
            return
        seq = self.executed_at.get((client, ts))
        if seq is not None:
            if self.phase != ACTIVE:
                return
            if self.is_primary() and src != client:
                order = self.orders[seq - 1]
                if order is not None:  # a backup missed the order-req: send it again
                    ctx.send(src, order)
            elif src == client:
                self._spec_reply(ctx, seq)  # the response was lost or late: send it again
                self._probe(ctx)
            return
        if ts <= self.last_ts.get(client, -1):
            return  # superseded by a later request of the same client
        held = self.pending.get(client)
        if held is None or held.payload.op.seq < ts:
            self.pending[client] = msg
        if self.phase != ACTIVE:
            return
        if self.is_primary():
            self._order(ctx, msg)
            return
        if src == client:
            ctx.send(self.cfg.primary(self.view), msg)
            if client not in self.timers:
                self.timers[client] = ctx.round + self.view_timeout

    def _probe(self, ctx: Context) -> None:
        """A client retransmits a request I answered: it lacks 2f+1 matching answers, so
        some replica is behind, perhaps me. Ask every replica for what lies above my
        history (at most once per ``view_timeout`` rounds): those in my view answer
        with order-reqs, those in a later view with its NEW-VIEW (``_behind``)."""
        if ctx.round < self.probed + self.view_timeout:
            return
        self.probed = ctx.round
        first = self.top + 1
        ask = ctx.sign(FillHole(self.view, first, first + BUFFER_LIMIT - 1, self.me))
        ctx.multicast(self.others, ask)

    def _order(self, ctx: Context, req: Signed) -> None:
        """Primary: give ``req`` the next sequence number, multicast it, execute it."""
        seq = self.top + 1
        d = request_digest(req)
        order = ctx.sign(OrderReq(self.view, seq, chain(self.hashes[-1], d), d, req))
        ctx.multicast(self.others, order)
        self._append(ctx, req, order)
        self._spec_reply(ctx, seq)

    def _check_request_timers(self, ctx: Context) -> None:
        if not self.timers or self.phase != ACTIVE:
            return
        expired = sorted(c for c, deadline in self.timers.items() if ctx.round >= deadline)
        if expired:
            for client in expired:
                self.timers[client] = ctx.round + self.view_timeout
            # perhaps the primary ordered it and only I missed the order-reqs: ask everyone
            first = self.top + 1
            ask = ctx.sign(FillHole(self.view, first, first + BUFFER_LIMIT - 1, self.me))
            ctx.multicast(self.others, ask)
            self._hate(ctx, f"forwarded request of client {expired[0]} not ordered in time")

    # -- order-reqs ------------------------------------------------------------------------

    def _on_order(self, ctx: Context, src: int, msg: Signed) -> None:
        problem = order_problem(msg, self.cfg, ctx.verify)
        if problem:
            ctx.reject(src, msg, problem)
            return
        o = msg.payload
        if o.view < self.view:
            ctx.reject(src, msg, f"stale order-req for view {o.view} (now in view {self.view})")
            self._behind(ctx, src, o.view)
            return
        if o.view > self.view + self.n:
            ctx.reject(src, msg, f"order-req for view {o.view}, far beyond view {self.view}")
            return
        if o.view > self.view or self.phase != ACTIVE or o.seq > self.top + 1:
            self._keep(ctx, src, msg)
            return
        self._accept_order(ctx, src, msg)
        self._drain_buffer(ctx)

    def _keep(self, ctx: Context, src: int, msg: Signed) -> None:
        o = msg.payload
        held = self.buffer.setdefault(o.view, {})
        if o.seq not in held and len(held) >= BUFFER_LIMIT:
            ctx.reject(src, msg, f"too many order-reqs held for view {o.view}")
            return
        held.setdefault(o.seq, msg)
        if o.view == self.view and self.phase == ACTIVE and o.seq > self.top + 1:
            self._want(ctx, o.seq - 1)

    def _accept_order(self, ctx: Context, src: int, msg: Signed) -> None:
        o = msg.payload
        if o.seq <= self.top:
            mine = self.orders[o.seq - 1]
            if self.hashes[o.seq] == o.history:
                ctx.tally("zyzzyva-duplicate")
            elif mine is not None and mine.payload.view == o.view:
                self._misbehaved(ctx, mine, msg)
            else:
                ctx.reject(
                    src, msg, f"order-req for sequence number {o.seq}, which the new view fixed"
                )
            return
        if o.history != chain(self.hashes[-1], o.digest):
            mine = self.orders[-1] if self.orders else None
            if mine is not None and mine.payload.view == o.view:
                self._misbehaved(ctx, mine, msg)  # the primary signed two chains in one view
            else:
                ctx.reject(src, msg, f"order-req for {o.seq} whose history does not extend mine")
            return
        self._append(ctx, o.request, msg)
        self._spec_reply(ctx, o.seq)
        held = self.waiting_ccs
        if held:
            for client in sorted(held):
                commit = held[client]
                if commit.payload.cert[0].payload.seq <= self.top:
                    del held[client]
                    self._on_commit(ctx, client, commit)

    def _drain_buffer(self, ctx: Context) -> None:
        held = self.buffer.get(self.view)
        while held and self.phase == ACTIVE:
            msg = held.pop(self.top + 1, None)
            if msg is None:
                break
            self._accept_order(ctx, msg.signer, msg)
        if held:
            for seq in [s for s in held if s <= self.top]:
                del held[seq]
        if self.fill_target and self.top >= self.fill_target:
            self.fill_target = self.fill_stage = 0

    # -- execution -----------------------------------------------------------------------

    def _append(
        self, ctx: Context, req: Signed, order: Signed | None, view: int | None = None
    ) -> None:
        """Add ``req`` at the next sequence number and execute it (once per client timestamp)."""
        op = req.payload.op
        client, ts = req.signer, op.seq
        seq = self.top + 1
        h = chain(self.hashes[-1], request_digest(req))
        result = None
        if ts > self.last_ts.get(client, -1):
            result = ctx.execute(op)  # may freeze this replica (poison)
            self.last_ts[client] = ts
            self.executed_at[(client, ts)] = seq
            held = self.pending.get(client)
            if held is not None and held.payload.op.seq <= ts:
                del self.pending[client]
                self.timers.pop(client, None)
        prev = self.hashes[-1]
        self.requests.append(req)
        self.hashes.append(h)
        self.orders.append(order)
        self.results.append(result)
        ctx.output(
            "spec-exec",
            seq=seq,
            view=self.view if view is None else view,
            history=h.hex(),
            prev=prev.hex(),
            req=request_label(req),
        )

    def _spec_reply(self, ctx: Context, seq: int) -> None:
        result = self.results[seq - 1]
        if result is None:
            return  # a repeated request: it was answered where it first executed
        req = self.requests[seq - 1]
        response = SpecResponse(
            self.view, seq, self.hashes[seq], result, req.signer, req.payload.op.seq, self.me
        )
        ctx.send(req.signer, SpecReply(ctx.sign(response), self.orders[seq - 1]))

    def _rebuild(self, requests: tuple[Signed, ...]) -> int:
        """Roll back to the longest common prefix with ``requests``; return its length."""
        keep = 0
        h = GENESIS
        for req in requests:
            if keep >= self.top:
                break
            h = chain(h, request_digest(req))
            if h != self.hashes[keep + 1]:
                break
            keep += 1
        del self.requests[keep:], self.hashes[keep + 1 :], self.orders[keep:], self.results[keep:]
        self.last_ts = {}
        self.executed_at = {}
        for seq, req in enumerate(self.requests, start=1):
            op = req.payload.op
            if op.seq > self.last_ts.get(req.signer, -1):
                self.last_ts[req.signer] = op.seq
                self.executed_at[(req.signer, op.seq)] = seq
        return keep

    # -- commit certificates ------------------------------------------------------------------

    def _on_commit(self, ctx: Context, src: int, msg: Signed) -> None:
        commit = msg.payload
        if (
            not is_int(commit.client)
            or commit.client != msg.signer
            or not (self.n <= msg.signer < self.cfg.total)
        ):
            ctx.reject(src, msg, "commit not signed by the client it names")
            return
        problem, r = commit_cert_problem(commit.cert, self.cfg, ctx.verify)
        if problem is None and r.client != commit.client:
            problem = "commit certificate for another client"
        if problem is None and not ctx.verify(msg):
            problem = "commit with an invalid client signature"
        if problem:
            ctx.reject(src, msg, problem)
            return
        if r.view > self.view:
            self._lagging(ctx, r.view)
            return
        if r.view != self.view or self.phase != ACTIVE:
            ctx.tally("zyzzyva-stale-commit")
            return
        if r.seq > self.top:
            self.waiting_ccs[commit.client] = msg
            self._want(ctx, r.seq)
            return
        if self.hashes[r.seq] != r.history:
            self._hate(
                ctx, f"a commit certificate of view {r.view} contradicts my history at {r.seq}"
            )
            return
        if r.seq > self.committed:
            self.cc = commit.cert
            self.cc_info = CertInfo("commit", r.view, r.seq, r.history)
            for seq in range(self.committed + 1, r.seq + 1):
                ctx.output(
                    "commit",
                    seq=seq,
                    history=self.hashes[seq].hex(),
                    req=request_label(self.requests[seq - 1]),
                )
            self.committed = r.seq
        local = LocalCommit(self.view, r.seq, r.history, r.client, r.ts, self.me)
        ctx.send(commit.client, ctx.sign(local))

    # -- fill-hole ---------------------------------------------------------------------------

    def _want(self, ctx: Context, seq: int) -> None:
        """Ask the primary for the order-reqs up to ``seq`` (if not already asking)."""
        if seq <= self.top or seq <= self.fill_target:
            return
        self.fill_target = seq
        if self.fill_stage == 0:
            self.fill_stage = 1
            self.fill_deadline = ctx.round + self.fill_timeout
        hole = ctx.sign(FillHole(self.view, self.top + 1, seq, self.me))
        ctx.send(self.cfg.primary(self.view), hole)

    def _check_fill(self, ctx: Context) -> None:
        if not self.fill_stage or self.phase != ACTIVE:
            return
        if self.top >= self.fill_target:
            self.fill_target = self.fill_stage = 0
            return
        if ctx.round < self.fill_deadline:
            return
        if self.fill_stage == 1:  # the primary did not answer: ask everyone
            self.fill_stage = 2
            self.fill_deadline = ctx.round + self.fill_timeout
            hole = ctx.sign(FillHole(self.view, self.top + 1, self.fill_target, self.me))
            ctx.multicast(self.others, hole)
        else:
            self.fill_stage = 1
            self.fill_deadline = ctx.round + self.fill_timeout
            self._hate(ctx, f"no order-reqs {self.top + 1}..{self.fill_target} after fill-hole")

    def _on_fill_hole(self, ctx: Context, src: int, msg: Signed) -> None:
        hole = msg.payload
        if not (is_int(hole.view) and is_int(hole.first) and is_int(hole.last)):
            ctx.reject(src, msg, "malformed fill-hole")
            return
        if hole.replica != msg.signer or hole.replica != src or not 0 <= src < self.n:
            ctx.reject(src, msg, "fill-hole not from the replica it names")
            return
        if hole.first < 1 or hole.last < hole.first or not ctx.verify(msg):
            ctx.reject(src, msg, "fill-hole with a bad range or signature")
            return
        if hole.view != self.view or self.phase != ACTIVE:
            self._behind(ctx, src, hole.view)
            return
        for seq in range(hole.first, min(hole.last, self.top) + 1):
            order = self.orders[seq - 1]
            if order is not None:
                ctx.send(src, order)

    # -- proofs of misbehaviour ---------------------------------------------------------------

    def _misbehaved(self, ctx: Context, first: Signed, second: Signed) -> None:
        """Two order-reqs of one view and sequence number: tell everyone, suspect the primary."""
        o = first.payload
        if o.view in self.poms_sent:
            return
        self.poms_sent.add(o.view)
        ctx.multicast(self.others, ctx.sign(ProofOfMisbehavior(first, second)))
        self._hate(ctx, f"conflicting order-reqs of view {o.view} (sequence number {o.seq})")

    def _on_pom(self, ctx: Context, src: int, msg: Signed) -> None:
        pom = msg.payload
        problem = misbehavior_problem(pom.first, pom.second, self.cfg, ctx.verify)
        if problem:
            ctx.reject(src, msg, "proof of misbehaviour: " + problem)
            return
        if pom.first.payload.view == self.view:
            self._misbehaved(ctx, pom.first, pom.second)

    # -- for tests ----------------------------------------------------------------------------

    def history_labels(self) -> list[str]:
        return [request_label(r) for r in self.requests]
