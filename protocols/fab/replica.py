"""A FaB replica (proposer, acceptor and learner in one), for a replicated log.

Theory of operation (Martin and Alvisi, "Fast Byzantine Consensus", DSN 2005
and IEEE TDSC 2006, with the parameterised form's commit phase).

One consensus instance per log position (slot), one at a time: a replica
takes part in slot s+1 once it learned slot s. The value of a slot is a batch
of signed client requests, executed in order through ``ctx.execute``.

Common case. The leader of view v (replica v mod n) proposes its oldest
pending requests (PROPOSE). An acceptor accepts the first proposal of a view
(in view 0 without further ado; from view 1 on only with a progress
certificate that allows the value, ``rules``) and tells everyone (ACCEPTED).
A learner that sees ``fast_quorum`` matching ACCEPTED learns the value: two
message delays after the proposal, FaB's point. An acceptor whose own value
gathers ``commit_quorum`` matching ACCEPTED holds a commit proof and says so
(COMMIT); ``commit_quorum`` matching COMMITs also make a learner learn (the
second phase of the parameterised protocol, used when fewer than
``fast_quorum`` acceptors answer). Learners reply to the clients.

Recovery. A replica that holds a pending request which is not executed
within its timer suspects the leader: it tells everyone (SUSPECT) and moves to
the next view; f+1 SUSPECTs for later views make a replica join the smallest.
A replica's timer runs in a view only once n-f replicas (itself included)
have suspected into it (as PBFT starts its new-view timer only after 2f+1
view-changes), so a replica that suspected alone waits instead of running
ahead of the others; meanwhile it repeats its SUSPECT every base timeout.
The new leader asks the acceptors (QUERY) for their state for the slot; each
answers with a signed REP (accepted value, its view, commit proof, and the
PROPOSE it accepted). The first n-f REPs, its own included, form the progress
certificate; the leader proposes the value the certificate forces, or its own
requests if it forces none (``rules``), and attaches the certificate so each
acceptor can check it. From view 1 on every slot starts with a QUERY.
Timeouts double after each failed view (capped at 2^``max_backoff``) and reset
when a slot is learned. A replica that sees traffic for a later slot asks the
sender for the decisions it lacks (PULL, answered by DECIDED with the
certificate that decided each slot). Catching up does not wait for such
traffic: a SUSPECT names its sender's first unlearned slot and a replica that
learned it answers with DECIDED; a replica that learned the slot a QUERY asks
about sends the leader DECIDED instead of a REP; and a learner keeps a
proposed value even from a view it is not in, since the ACCEPTEDs that decide
it carry only the digest. (Without these, a replica cut off before GST while
the others decided, or a leader querying replicas that had moved on, stalled:
both found by ``bft check fab-view-change``, tests/regressions/fab-*.toml.)

``corrected`` picks the rule: published FaB's (``fab``) or the corrected,
highest-view rule (``fab-fixed``).

Named simplifications: replicas play all three roles (p = a = l = n); from
view 1 on an acceptor needs a progress certificate even for its first
acceptance of a slot (published FaB lets an acceptor that accepted nothing
take the leader's first proposal; our leaders always attach one).
"""

from __future__ import annotations

from typing import Any, cast

from bft.core.crypto import Signed
from bft.core.node import Context, Inbox, Node
from bft.protocols.fab.messages import (
    NONE,
    Accepted,
    Commit,
    Decided,
    Propose,
    Pull,
    Query,
    Rep,
    Suspect,
    value_digest,
)
from bft.protocols.fab.rules import (
    FREE,
    STUCK,
    Evidence,
    Quorums,
    content_for,
    is_digest,
    is_int,
    pc_problem,
    published_choice,
    rep_problem,
)
from bft.protocols.pbft.certificates import Config, request_problem
from bft.protocols.pbft.messages import Reply, Request
from bft.protocols.smr import batch_label

PULL_BATCH = 8  # most decisions one PULL is answered with


class Replica(Node):
    def __init__(
        self,
        node_id: int,
        cfg: Config,
        t: int,
        view_timeout: int,
        max_backoff: int,
        corrected: bool,
    ) -> None:
        self.me = node_id
        self.cfg = cfg
        self.q = Quorums(cfg.n, cfg.f, t)
        self.n, self.f = cfg.n, cfg.f
        self.others = tuple(r for r in range(cfg.n) if r != node_id)
        self.corrected = corrected
        self.base_timeout = view_timeout
        self.max_backoff = max_backoff
        self.evidence: Evidence | None = None
        # view and log
        self.view = 0
        self.slot = 1  # the first slot not learned
        self.decisions: dict[int, tuple[tuple[Signed, ...], tuple[Signed, ...]]] = {}
        # acceptor state for the current slot
        self.acc: Signed | None = None  # the PROPOSE accepted last
        self.acc_view = -1  # the view of the last acceptance (one per view)
        self.proof: tuple[Signed, ...] = ()
        # learner state for the current slot: (view, digest) -> replica -> signed
        self.accepts: dict[tuple[int, bytes], dict[int, Signed]] = {}
        self.commits: dict[tuple[int, bytes], dict[int, Signed]] = {}
        self.values: dict[bytes, tuple[Signed, ...]] = {}
        self.later: list[tuple[int, Signed]] = []  # messages for later slots
        self.pulled: dict[int, int] = {}  # replica -> the slot last asked of it
        # leader state
        self.reps: dict[int, Signed] = {}  # replica -> Rep for (view, slot)
        self.asked: tuple[int, int] | None = None  # (view, slot) queried
        self.proposed: tuple[int, int] | None = None
        self.query: tuple[int, int] | None = None  # the latest QUERY received
        self.served: tuple[int, int] | None = None  # the QUERY last answered
        # service
        self.pending: dict[int, Signed] = {}
        self.last_ts: dict[int, int] = {}
        self.reply_msgs: dict[int, Reply] = {}
        # pacemaker
        self.suspects: dict[int, int] = {}  # replica -> highest view it suspected into
        self.failures = 0
        self.timer: int | None = None
        self.my_suspect: Signed | None = None
        self.resend: int | None = None
        self._handlers = {
            Request: self._on_request,
            Propose: self._on_propose,
            Accepted: self._on_accepted,
            Commit: self._on_commit,
            Suspect: self._on_suspect,
            Query: self._on_query,
            Rep: self._on_rep,
        }

    # -- the round -----------------------------------------------------------------------

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        if self.evidence is None:
            self.evidence = Evidence(self.q, ctx.verify, lambda v: self._value_ok(ctx, v))
        for src, msg in inbox:
            self._dispatch(ctx, src, msg)
        if self.timer is not None and ctx.round >= self.timer:
            self.failures += 1
            self._suspect(ctx, self.view + 1)
        self._resend_suspect(ctx)
        self._lead(ctx)

    def _dispatch(self, ctx: Context, src: int, msg: Any) -> None:
        kind = type(msg)
        if kind is Pull:
            self._on_pull(ctx, src, msg)
            return
        if kind is Decided:
            self._on_decided(ctx, src, msg)
            return
        if kind is not Signed:
            ctx.reject(src, msg, "unsigned or malformed message")
            return
        handler = self._handlers.get(type(msg.payload))
        if handler is None:
            ctx.reject(src, msg, "not a FaB replica message")
            return
        handler(ctx, src, msg)

    def _value_ok(self, ctx: Context, value: Any) -> bool:
        if type(value) is not tuple or not 0 < len(value) <= self.cfg.batch:
            return False
        seen: set[tuple[int, int]] = set()
        for req in value:
            if request_problem(req, self.cfg, ctx.verify):
                return False
            key = (req.signer, req.payload.op.seq)
            if key in seen:
                return False
            seen.add(key)
        return True

    def _choice(self, pc: tuple[Signed, ...]) -> bytes | str:
        if self.corrected:
            assert self.evidence is not None
            return self.evidence.choice(pc)
        return published_choice(pc, self.q)

    # -- pacemaker -----------------------------------------------------------------------

    def _timeout(self) -> int:
        return self.base_timeout * 2 ** min(self.failures, self.max_backoff)

    def _started(self) -> bool:
        """Whether n-f replicas (me included) have moved to my view: until then a replica
        that suspected alone waits there instead of running ahead of the others."""
        view = self.view
        return view == 0 or sum(1 for v in self.suspects.values() if v >= view) >= self.q.pc

    def _arm(self, ctx: Context) -> None:
        if self.timer is None and self.pending and self._started():
            self.timer = ctx.round + self._timeout()

    def _suspect(self, ctx: Context, view: int) -> None:
        signed = ctx.sign(Suspect(view, self.me, self.slot))
        ctx.multicast(self.others, signed)
        ctx.tally("fab-view-change-messages", self.n - 1)
        self.suspects[self.me] = view
        self.my_suspect = signed
        self.resend = ctx.round + self.base_timeout
        self._enter(ctx, view)
        ctx.output("view-change", view=view)

    def _resend_suspect(self, ctx: Context) -> None:
        """Until the view starts, say it again every base timeout (lost before GST?)."""
        if self.resend is not None and ctx.round >= self.resend and self.my_suspect is not None:
            if self._started() or not self.pending:
                self.resend = None
                return
            if self.my_suspect.payload.slot != self.slot:  # learned since: say where I am
                self.my_suspect = ctx.sign(Suspect(self.view, self.me, self.slot))
            ctx.multicast(self.others, self.my_suspect)
            ctx.tally("fab-view-change-messages", self.n - 1)
            self.resend = ctx.round + self.base_timeout

    def _enter(self, ctx: Context, view: int) -> None:
        self.view = view
        self.timer = None
        self._arm(ctx)
        self.reps = {}
        self._serve_query(ctx)

    def _on_suspect(self, ctx: Context, src: int, msg: Signed) -> None:
        s = msg.payload
        if (
            not (is_int(s.view) and is_int(s.replica) and is_int(s.slot))
            or s.replica != msg.signer
            or src != s.replica
        ):
            ctx.reject(src, msg, "malformed suspect")
            return
        if not 0 <= src < self.n or src == self.me or not ctx.verify(msg):
            ctx.reject(src, msg, "suspect with an invalid signature or sender")
            return
        if s.slot < self.slot:
            self._send_decisions(ctx, src, s.slot)  # it lags (maybe for good): let it learn
        if s.view <= self.suspects.get(src, 0):
            return
        self.suspects[src] = s.view
        later = sorted(v for r, v in self.suspects.items() if r != self.me and v > self.view)
        if len(later) >= self.f + 1:
            self._suspect(ctx, later[0])  # f+1 suspects: at least one correct replica
        else:
            self._arm(ctx)  # my view may have started now

    # -- requests ------------------------------------------------------------------------

    def _on_request(self, ctx: Context, src: int, msg: Signed) -> None:
        problem = request_problem(msg, self.cfg, ctx.verify)
        if problem:
            ctx.reject(src, msg, problem)
            return
        client, ts = msg.signer, msg.payload.op.seq
        if ts <= self.last_ts.get(client, -1):
            cached = self.reply_msgs.get(client)
            if cached is not None and cached.ts == ts:
                ctx.send(client, cached)
            return
        held = self.pending.get(client)
        if held is None or held.payload.op.seq < ts:
            self.pending[client] = msg
        self._arm(ctx)

    # -- leader --------------------------------------------------------------------------

    def _lead(self, ctx: Context) -> None:
        view, slot = self.view, self.slot
        if self.q.leader(view) != self.me or self.proposed == (view, slot) or not self.pending:
            return
        if view == 0:
            self._propose(ctx, self._own_value(), ())
            return
        if self.asked != (view, slot):
            self.asked = (view, slot)
            self.reps = {}
            ctx.multicast(self.others, ctx.sign(Query(view, slot)))
            ctx.tally("fab-view-change-messages", self.n - 1)
            self.query = (view, slot)
            self._answer_query(ctx)
            return
        if len(self.reps) < self.q.pc:
            return
        pc = tuple(self.reps.values())[: self.q.pc]  # the first n-f, in arrival order
        choice = self._choice(pc)
        if choice == STUCK:
            if self.proposed != (view, -slot):
                self.proposed = (view, -slot)  # say so once per view
                ctx.output("stuck", view=view, slot=slot)
            return
        value: tuple[Signed, ...] | None
        if choice == FREE:
            value = self._own_value()
        else:
            digest = cast(bytes, choice)  # neither FREE nor STUCK: the forced digest
            value = content_for(pc, digest, lambda v: self._value_ok(ctx, v)) or self.values.get(
                digest
            )
            if value is None:
                return  # the forced value's content is unknown here
        self._propose(ctx, value, tuple(sorted(pc, key=lambda s: s.signer)))

    def _own_value(self) -> tuple[Signed, ...]:
        oldest = sorted(self.pending.values(), key=lambda r: (r.payload.op.seq, r.signer))
        return tuple(oldest[: self.cfg.batch])

    def _propose(self, ctx: Context, value: tuple[Signed, ...], pc: tuple[Signed, ...]) -> None:
        if not value:
            return
        self.proposed = (self.view, self.slot)
        signed = ctx.sign(Propose(self.view, self.slot, value_digest(value), value, pc))
        ctx.multicast(self.others, signed)
        if pc:
            ctx.output("new-view", view=self.view, primary=self.me)
        self._accept(ctx, signed)

    def _on_query(self, ctx: Context, src: int, msg: Signed) -> None:
        qy = msg.payload
        if not (is_int(qy.view) and is_int(qy.slot)) or msg.signer != self.q.leader(qy.view):
            ctx.reject(src, msg, "query not from the leader of its view")
            return
        if src != msg.signer or src == self.me or not ctx.verify(msg):
            ctx.reject(src, msg, "query with an invalid signature")
            return
        if qy.view < self.view:
            return
        if qy.slot < self.slot:
            self._send_decisions(ctx, src, qy.slot)  # it lags: let it learn
            return
        self.query = (qy.view, qy.slot)
        if qy.slot > self.slot:
            self._pull(ctx, src)
        self._serve_query(ctx)

    def _serve_query(self, ctx: Context) -> None:
        """Answer the latest QUERY once in its view: with my REP at its slot, or with the
        decision the leader lacks if I learned its slot since the QUERY came."""
        if self.query is None or self.query[0] != self.view or self.served == self.query:
            return
        view, slot = self.query
        if slot == self.slot:
            self._answer_query(ctx)
        elif slot < self.slot:
            self.served = self.query
            leader = self.q.leader(view)
            if leader != self.me:
                self._send_decisions(ctx, leader, slot)

    def _answer_query(self, ctx: Context) -> None:
        view, slot = self.view, self.slot
        self.served = (view, slot)
        acc = self.acc
        if acc is None:
            rep = Rep(view, slot, NONE, -1, self.me, (), (), None)
        else:
            p = acc.payload
            rep = Rep(view, slot, p.digest, p.view, self.me, p.value, self.proof, acc)
        signed = ctx.sign(rep)
        leader = self.q.leader(view)
        if leader == self.me:
            self.reps.setdefault(self.me, signed)
        else:
            ctx.send(leader, signed)
            ctx.tally("fab-view-change-messages")

    def _on_rep(self, ctx: Context, src: int, msg: Signed) -> None:
        if self.q.leader(self.view) != self.me or self.asked != (self.view, self.slot):
            return  # not (or no longer) collecting
        problem = rep_problem(msg, self.view, self.slot, self.q, ctx.verify)
        if not problem and src != msg.signer:
            problem = "rep relayed by another node"
        if not problem and self.corrected:
            assert self.evidence is not None
            if not self.evidence.valid(msg.payload):
                problem = "rep whose evidence does not show what it claims"
        if problem:
            ctx.reject(src, msg, problem)
            return
        self.reps.setdefault(src, msg)

    # -- acceptor ------------------------------------------------------------------------

    def _on_propose(self, ctx: Context, src: int, msg: Signed) -> None:
        p = msg.payload
        if not (is_int(p.view) and is_int(p.slot)) or p.view < 0 or not is_digest(p.digest):
            ctx.reject(src, msg, "malformed propose")
            return
        if msg.signer != self.q.leader(p.view) or src != msg.signer or src == self.me:
            ctx.reject(src, msg, f"propose for view {p.view} not from its leader")
            return
        if p.slot > self.slot:
            self._later(ctx, src, msg)
            return
        if p.slot < self.slot:
            return  # decided
        if not ctx.verify(msg):
            ctx.reject(src, msg, "propose with an invalid signature")
            return
        if not self._value_ok(ctx, p.value) or value_digest(p.value) != p.digest:
            ctx.reject(src, msg, "propose with a malformed value or a wrong digest")
            return
        # a learner keeps the value even from a view it is not in: a quorum of ACCEPTED or
        # COMMIT for it may still come, and only the digest travels in those
        self.values.setdefault(p.digest, p.value)
        if p.view != self.view:
            return  # a view already left, or not entered (yet): the timers will tell
        if self.acc_view >= p.view:
            if self.acc is not None and self.acc.payload.digest != p.digest:
                ctx.reject(src, msg, f"a second proposal in view {p.view}")
            return
        if p.view > 0:
            problem = pc_problem(p.pc, p.view, p.slot, self.q, ctx.verify)
            if problem:
                ctx.reject(src, msg, problem)
                return
            choice = self._choice(p.pc)
            if choice == STUCK or (choice != FREE and choice != p.digest):
                ctx.reject(src, msg, "propose whose progress certificate does not vouch for it")
                return
        elif p.pc != ():
            ctx.reject(src, msg, "propose in view 0 with a progress certificate")
            return
        self._accept(ctx, msg)

    def _accept(self, ctx: Context, signed: Signed) -> None:
        p = signed.payload
        self.values[p.digest] = p.value
        self.acc = signed
        self.acc_view = p.view
        self.proof = ()
        vote = ctx.sign(Accepted(p.view, p.slot, p.digest, self.me))
        ctx.multicast(self.others, vote)
        self._count_accept(ctx, vote)

    def _on_accepted(self, ctx: Context, src: int, msg: Signed) -> None:
        a = msg.payload
        if not (is_int(a.view) and is_int(a.slot) and is_digest(a.digest)):
            ctx.reject(src, msg, "malformed accepted")
            return
        if a.replica != msg.signer or src != a.replica or not 0 <= src < self.n:
            ctx.reject(src, msg, "accepted not from the acceptor it names")
            return
        if a.slot > self.slot:
            self._later(ctx, src, msg)
            return
        if a.slot < self.slot:
            return
        if not ctx.verify(msg):
            ctx.reject(src, msg, "accepted with an invalid signature")
            return
        self._count_accept(ctx, msg)

    def _count_accept(self, ctx: Context, signed: Signed) -> None:
        a = signed.payload
        held = self.accepts.setdefault((a.view, a.digest), {})
        held.setdefault(a.replica, signed)
        acc = self.acc
        if (
            acc is not None
            and not self.proof
            and (acc.payload.view, acc.payload.digest) == (a.view, a.digest)
            and len(held) >= self.q.commit
        ):
            self.proof = tuple(held[r] for r in sorted(held)[: self.q.commit])
            vote = ctx.sign(Commit(a.view, a.slot, a.digest, self.me))
            ctx.multicast(self.others, vote)
            self._count_commit(ctx, vote)
        if len(held) >= self.q.fast:
            self._learn(ctx, a.digest, tuple(held[r] for r in sorted(held)[: self.q.fast]))

    def _on_commit(self, ctx: Context, src: int, msg: Signed) -> None:
        c = msg.payload
        if not (is_int(c.view) and is_int(c.slot) and is_digest(c.digest)):
            ctx.reject(src, msg, "malformed commit")
            return
        if c.replica != msg.signer or src != c.replica or not 0 <= src < self.n:
            ctx.reject(src, msg, "commit not from the acceptor it names")
            return
        if c.slot > self.slot:
            self._later(ctx, src, msg)
            return
        if c.slot < self.slot:
            return
        if not ctx.verify(msg):
            ctx.reject(src, msg, "commit with an invalid signature")
            return
        self._count_commit(ctx, msg)

    def _count_commit(self, ctx: Context, signed: Signed) -> None:
        c = signed.payload
        held = self.commits.setdefault((c.view, c.digest), {})
        held.setdefault(c.replica, signed)
        if len(held) >= self.q.commit:
            self._learn(ctx, c.digest, tuple(held[r] for r in sorted(held)[: self.q.commit]))

    # -- learner -------------------------------------------------------------------------

    def _learn(self, ctx: Context, digest: bytes, certificate: tuple[Signed, ...]) -> None:
        value = self.values.get(digest)
        if value is None or certificate[0].payload.slot != self.slot:
            return  # the value never reached us (a PULL will bring it), or already learned
        slot = self.slot
        self.decisions[slot] = (value, certificate)
        for request in value:
            op = request.payload.op
            client, ts = request.signer, op.seq
            if ts > self.last_ts.get(client, -1):
                result = ctx.execute(op)
                self.last_ts[client] = ts
                reply = Reply(self.view, ts, client, self.me, result)
                self.reply_msgs[client] = reply
                ctx.send(client, reply)
            held = self.pending.get(client)
            if held is not None and held.payload.op.seq <= ts:
                del self.pending[client]
        ctx.output("commit", seq=slot, req=batch_label(value), digest=digest.hex())
        self.slot = slot + 1
        self.acc, self.acc_view, self.proof = None, -1, ()
        self.accepts, self.commits, self.values = {}, {}, {}
        self.failures = 0
        self.timer = None
        self._arm(ctx)
        self._serve_query(ctx)
        later, self.later = self.later, []
        for src, msg in later:
            self._dispatch(ctx, src, msg)

    def _later(self, ctx: Context, src: int, msg: Signed) -> None:
        if len(self.later) < 16 * self.n:
            self.later.append((src, msg))
        self._pull(ctx, src)

    def _pull(self, ctx: Context, src: int) -> None:
        if self.pulled.get(src) != self.slot:
            self.pulled[src] = self.slot
            ctx.send(src, Pull(self.slot))

    def _on_pull(self, ctx: Context, src: int, msg: Pull) -> None:
        if not is_int(msg.slot) or not 0 <= src < self.n or src == self.me:
            ctx.reject(src, msg, "malformed pull, or not from a replica")
            return
        self._send_decisions(ctx, src, msg.slot)

    def _send_decisions(self, ctx: Context, dst: int, first: int) -> None:
        for slot in range(max(1, first), min(self.slot, first + PULL_BATCH)):
            value, certificate = self.decisions[slot]
            ctx.send(dst, Decided(slot, value, certificate))

    def _on_decided(self, ctx: Context, src: int, msg: Decided) -> None:
        if not is_int(msg.slot) or msg.slot != self.slot:
            return  # not the slot we are at (an old or a far answer)
        problem = self._decided_problem(ctx, msg)
        if problem:
            ctx.reject(src, msg, problem)
            return
        digest = value_digest(msg.value)
        self.values[digest] = msg.value
        self._learn(ctx, digest, msg.certificate)

    def _decided_problem(self, ctx: Context, msg: Decided) -> str | None:
        if not self._value_ok(ctx, msg.value) or type(msg.certificate) is not tuple:
            return "malformed decision"
        digest = value_digest(msg.value)
        kinds = {type(s.payload) for s in msg.certificate if type(s) is Signed}
        if len(kinds) != 1 or len(msg.certificate) > self.n:
            return "decision with a malformed certificate"
        kind = kinds.pop()
        need = self.q.fast if kind is Accepted else self.q.commit if kind is Commit else None
        if need is None:
            return "decision with a malformed certificate"
        seen: set[int] = set()
        views = set()
        for s in msg.certificate:
            body = s.payload
            if type(body) is not kind or (body.slot, body.digest) != (msg.slot, digest):
                return "decision certificate for another slot or value"
            if body.replica != s.signer or body.replica in seen or not ctx.verify(s):
                return "decision certificate with a forged or repeated message"
            seen.add(body.replica)
            views.add(body.view)
        if len(seen) < need or len(views) != 1:
            return f"decision certificate with {len(seen)} messages of one view (needs {need})"
        return None
