"""A basic (non-pipelined, three-phase) HotStuff replica with its pacemaker.

Theory of operation (Yin et al., PODC 2019, section 4, Algorithm 2).

Views and leaders. View v is led by replica v mod n. At the start of every
view each replica sends the leader a NEW-VIEW carrying its prepareQC (the
highest prepare QC it holds). The leader waits for n-f of them, takes the
highest QC among them (highQC) and proposes a node extending highQC.node with
the oldest pending client requests (PREPARE).

Phases. A replica votes for a PREPARE if the node extends the justify's node and
``safeNode`` holds: the node extends the node of its lockedQC (safety) or the
justify's view is higher than its lockedQC's (liveness). With n-f votes the
leader forms prepareQC and sends PRE-COMMIT; replicas store it as their
prepareQC and vote; n-f of those form precommitQC, sent in COMMIT; replicas
lock on it (lockedQC) and vote; n-f of those form commitQC, sent in DECIDE;
replicas execute the node and its not yet executed ancestors in order (through
``ctx.execute``, as PBFT does), reply to the clients and enter the next view.
Votes go to the leader only, and a view change is just the next view's
NEW-VIEW: both are linear in n (PBFT's view change is quadratic).

Pacemaker. The paper leaves view synchronisation to a separate Pacemaker: after
GST it must bring all correct replicas and a correct leader into one view for
long enough (it suggests exponential backoff). Ours, our choices named:

* A replica runs a view timer while it knows of a client request not yet
  executed: ``view_timeout * 2**k`` after k consecutive failed views, k capped
  at ``max_backoff``; executing a decision resets k to 0.
* A view has *started* at a replica when it knows that n-f replicas reached it:
  view 0; a DECIDE of the view before, even one that arrives just after the
  replica timed out of it (a correct leader sends it to every replica, so after
  GST they all enter the view within one hop of each other); the view's PREPARE
  with the n-f NEW-VIEWs it carries, or a QC of the view; at the leader, n-f
  NEW-VIEWs for it; or NEW-VIEWs from n-f replicas (itself included) at the view
  or later.
* In a view that has started, the timer works as in the paper: when it
  expires, the replica enters the next view and sends its NEW-VIEW (its
  prepareQC) to that view's leader only, the linear view change (and to any
  replica it knows is already further, which happens only out of step).
* In a view that has not started, the replica does not leave when its timer
  expires: as PBFT starts its view-change timer only once 2f+1 replicas moved,
  a replica never runs ahead of the others. It sends every replica its
  NEW-VIEW marked ``waiting`` (in effect the TIMEOUT message of later HotStuff
  variants; the leader can still use it as a NEW-VIEW), repeats it every
  ``view_timeout`` rounds, and waits. It leaves at once when n-f replicas
  (itself included) are known to wait there too or to be past the view (a
  timeout certificate, one hop after a faulty leader's view expires everywhere).
  If instead the view starts (the others arrive: a PREPARE or QC, or their
  NEW-VIEWs), its timer starts afresh: the view may still decide.
* A replica that receives a ``waiting`` NEW-VIEW for a view it has left answers
  with its own NEW-VIEW (the sender learns where the others are); one that
  hears from f+1 others at later views (one at least correct) joins the highest
  view f+1 of them reached, telling that view's leader.
* A leader proposes only when it has a pending request (or an uncommitted branch
  to finish), so an idle system sends nothing. A replica that falls behind joins
  a later view on its PREPARE (checking the n-f NEW-VIEWs it carries) or on a QC
  of that view (a PRE-COMMIT, COMMIT or DECIDE). A DECIDE of an older view is
  still executed (a commitQC is final whatever the view).
* A replica that must execute a node it never received asks its peers for it
  (FETCH, answered by BLOCK), and asks again every ``view_timeout`` rounds.

Why a replica must wait for its view to start: timers alone do not synchronise.
A replica that saw a DECIDE the others lost (before GST) enters the next view
early with a reset backoff; from then on it enters every view ahead of the
others and, its timeout no longer than theirs, leaves each one before a
proposal can be decided there, whatever the backoff
(``tests/regressions/hotstuff-pacemaker-liveness.toml``). Waiting bounds how far
a correct replica runs ahead, and since only a view that fails to start makes
replicas broadcast, the view change stays linear whenever they are in step:
n-1 NEW-VIEWs, to the next leader.

Named simplification: one node per view, three phases (not the chained,
pipelined variant); threshold signatures are sets of n-f signatures
(``messages``).
"""

from __future__ import annotations

from typing import Any

from bft.core.crypto import Signed
from bft.core.node import Context, Inbox, Node
from bft.protocols.hotstuff.certificates import (
    is_hash,
    is_int,
    new_view_problem,
    node_problem,
    qc_problem,
    view_certificate_problem,
)
from bft.protocols.hotstuff.messages import (
    GENESIS,
    GENESIS_QC,
    QC,
    Block,
    Commit,
    CommitVote,
    Decide,
    Fetch,
    NewView,
    PreCommit,
    PreCommitVote,
    Prepare,
    PrepareVote,
    node_hash,
)
from bft.protocols.hotstuff.messages import Node as Tree
from bft.protocols.pbft.certificates import Config, request_problem
from bft.protocols.pbft.messages import Reply, Request
from bft.protocols.smr import batch_label

PHASE_OF = {PrepareVote: "prepare", PreCommitVote: "pre-commit", CommitVote: "commit"}
NEXT = {"prepare": (PreCommit, PreCommitVote), "pre-commit": (Commit, CommitVote)}
MAX_WALK = 10_000  # longest ancestor walk (a chain that long is never uncommitted here)
# how a replica enters a view (``Replica._enter_view``)
TIMEOUT = "timeout"  # it timed out of the view before (a started view, or n-f gave up on it)
JOIN = "join"  # f+1 replicas told it they are at this view or later
DECIDED = "decided"  # a DECIDE ended the view before: the view has started
PROGRESS = "progress"  # a PREPARE or QC of this view, or n-f NEW-VIEWs at its leader


class Replica(Node):
    def __init__(
        self,
        node_id: int,
        cfg: Config,
        view_timeout: int,
        max_backoff: int,
        batch: int = 1,
    ) -> None:
        self.me = node_id
        self.cfg = cfg
        self.n, self.f = cfg.n, cfg.f
        self.quorum = cfg.n - cfg.f
        self.others = tuple(r for r in range(cfg.n) if r != node_id)
        self.batch = batch
        self.base_timeout = view_timeout
        self.max_backoff = max_backoff
        # consensus state
        self.view = 0
        self.prepare_qc: QC = GENESIS_QC
        self.locked_qc: QC = GENESIS_QC
        self.voted: dict[str, int] = {"prepare": -1, "pre-commit": -1, "commit": -1}
        self.nodes: dict[bytes, Tree] = {}
        # execution and service state
        self.executed: set[bytes] = {GENESIS}
        self.height = 0
        self.pending: dict[int, Signed] = {}  # client -> its latest unexecuted request
        self.last_ts: dict[int, int] = {}
        self.reply_msgs: dict[int, Reply] = {}
        self.waiting: list[QC] = []  # commitQCs whose branch is incomplete
        self.wanted: set[bytes] = set()
        self.fetch_again: int | None = None
        # leader state
        self.new_views: dict[int, dict[int, Signed]] = {}
        self.proposed: dict[int, bytes] = {}  # view -> hash of my proposal
        self.votes: dict[tuple[str, int], dict[int, Signed]] = {}
        self.formed: set[tuple[str, int]] = set()
        # pacemaker
        self.failures = 0
        self.timer: int | None = None  # when my view times out (None: nothing to wait for)
        self.started = True  # n-f replicas are known to have reached my view
        self.overdue = False  # my timer expired before my view started: I wait in it
        self.resend: int | None = None  # when to broadcast my NEW-VIEW again while overdue
        self.reached: dict[int, int] = {}  # replica -> the latest view it told me it is in
        self.gave_up: dict[int, int] = {}  # replica -> the latest view it told me it waits in
        self._handlers = {
            Request: self._on_request,
            NewView: self._on_new_view,
            Prepare: self._on_prepare,
            PrepareVote: self._on_vote,
            PreCommitVote: self._on_vote,
            CommitVote: self._on_vote,
            PreCommit: self._on_phase,
            Commit: self._on_phase,
            Decide: self._on_decide,
        }

    def leader(self, view: int) -> int:
        return view % self.n

    # -- the round -----------------------------------------------------------------------

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        for src, msg in inbox:
            kind = type(msg)
            if kind is Fetch:
                self._on_fetch(ctx, src, msg)
                continue
            if kind is Block:
                self._on_block(ctx, src, msg)
                continue
            if kind is not Signed:
                ctx.reject(src, msg, "unsigned or malformed message")
                continue
            handler = self._handlers.get(type(msg.payload))
            if handler is None:
                ctx.reject(src, msg, "not a HotStuff replica message")
                continue
            handler(ctx, src, msg)
        self._pace(ctx)
        self._check_fetch(ctx)
        self._maybe_propose(ctx)

    # -- pacemaker -----------------------------------------------------------------------

    def _timeout(self) -> int:
        return self.base_timeout * 2 ** min(self.failures, self.max_backoff)

    def _arm(self, ctx: Context) -> None:
        if self.timer is None and self.pending and not self.overdue:
            self.timer = ctx.round + self._timeout()

    def _reached_by(self, view: int) -> int:
        """Replicas (me included) known to be at ``view`` or later."""
        return 1 + sum(1 for v in self.reached.values() if v >= view)

    def _done_with(self, view: int) -> int:
        """Replicas (me included) known to wait in ``view`` in vain, or to be past it."""
        return 1 + sum(
            1 for r, v in self.reached.items() if v > view or self.gave_up.get(r, -1) >= view
        )

    def _join_target(self) -> int | None:
        """The latest view f+1 other replicas reached, if it is later than mine."""
        views = sorted(self.reached.values(), reverse=True)
        if len(views) > self.f and views[self.f] > self.view:
            return views[self.f]
        return None

    def _pace(self, ctx: Context) -> None:
        """The pacemaker's step, after the round's messages: join, start, time out."""
        target = self._join_target()
        if target is not None:
            self._enter_view(ctx, target, JOIN)
            ctx.output("view-change", view=self.view)
        if self.overdue and self._done_with(self.view) >= self.quorum:
            self._time_out(ctx)  # n-f replicas gave up on my view too, or left it
            return
        if not self.started and self._reached_by(self.view) >= self.quorum:
            self.started = True  # n-f replicas are here: the view has its full timeout
            if self.overdue:
                self.overdue = False
                self.resend = None
                self._arm(ctx)
        if self.timer is not None and ctx.round >= self.timer:
            self.timer = None
            if self.started:
                self._time_out(ctx)
                return
            self.overdue = True
            self._announce(ctx)
        elif self.overdue and self.resend is not None and ctx.round >= self.resend:
            self._announce(ctx)  # lost before GST? say it again

    def _time_out(self, ctx: Context) -> None:
        self.failures += 1
        self._enter_view(ctx, self.view + 1, TIMEOUT)
        ctx.output("view-change", view=self.view)

    def _announce(self, ctx: Context) -> None:
        """My view has not started within my timeout: tell every replica I wait here."""
        ctx.multicast(self.others, self._own_new_view(ctx, self.view))
        ctx.tally("hotstuff-view-change-messages", len(self.others))
        self.resend = ctx.round + self.base_timeout

    def _progress(self, ctx: Context) -> None:
        """A PREPARE or QC of my view: n-f replicas are in it; my timer runs from now."""
        if not self.started:
            self.started = True
            self.overdue = False
            self.resend = None
            self.timer = None
            self._arm(ctx)

    def _check_fetch(self, ctx: Context) -> None:
        if self.waiting and self.fetch_again is not None and ctx.round >= self.fetch_again:
            self.wanted = set()
            self._execute_waiting(ctx)

    def _enter_view(self, ctx: Context, view: int, how: str) -> None:
        self.view = view
        self.timer = None
        self.overdue = False
        self.resend = None
        self.started = how in (DECIDED, PROGRESS) or self._reached_by(view) >= self.quorum
        self._arm(ctx)
        for old in [v for v in self.new_views if v < view]:
            del self.new_views[old]
        for key in [k for k in self.votes if k[1] < view]:
            del self.votes[key]
        if how == PROGRESS:
            return
        signed = self._own_new_view(ctx, view)
        leader = self.leader(view)
        if leader == self.me:
            return
        dsts = [leader]
        if how != DECIDED:  # and the replicas known to be there already (out of step)
            dsts += [r for r in self.others if r != leader and self.reached.get(r, -1) >= view]
            ctx.tally("hotstuff-view-change-messages", len(dsts))
        ctx.multicast(dsts, signed)

    def _own_new_view(self, ctx: Context, view: int) -> Signed:
        signed = ctx.sign(NewView(view, self.prepare_qc, self.me, self.overdue))
        if self.leader(view) == self.me:
            self.new_views.setdefault(view, {})[self.me] = signed
        return signed

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

    def _on_new_view(self, ctx: Context, src: int, msg: Signed) -> None:
        problem = new_view_problem(msg, self.cfg, ctx.verify)
        if problem:
            ctx.reject(src, msg, problem)
            return
        nv = msg.payload
        if nv.replica != src or src == self.me:
            ctx.reject(src, msg, f"new-view of replica {nv.replica} sent by node {src}")
            return
        if nv.view > self.reached.get(src, -1):
            self.reached[src] = nv.view
        if nv.waiting and nv.view > self.gave_up.get(src, -1):
            self.gave_up[src] = nv.view
        if nv.view < self.view:
            if nv.waiting:  # it waits in a view I left: tell it where I am
                ctx.send(src, self._own_new_view(ctx, self.view))
                ctx.tally("hotstuff-view-change-messages")
            return  # a late new-view for a view already over
        if self.leader(nv.view) != self.me:
            return  # a pacemaker message only
        held = self.new_views.setdefault(nv.view, {})
        held.setdefault(nv.replica, msg)
        if nv.view > self.view and len(held) >= self.quorum - 1:
            # n-f replicas (with me) have moved to this view: f+1 correct ones are there
            self._enter_view(ctx, nv.view, PROGRESS)
            self._own_new_view(ctx, nv.view)
        elif nv.view == self.view and len(held) >= self.quorum:
            self._progress(ctx)

    def _maybe_propose(self, ctx: Context) -> None:
        view = self.view
        if self.leader(view) != self.me or view in self.proposed or not self.pending:
            return
        held = self.new_views.get(view, {})
        if view > 0 and len(held) < self.quorum:
            return
        high = GENESIS_QC
        for signed in held.values():
            qc = signed.payload.justify
            if qc.view > high.view:
                high = qc
        in_branch = self._branch_requests(high.node)
        if in_branch is None:
            return  # the branch is not all known yet: wait for the fetch
        fresh = sorted(
            (r for r in self.pending.values() if (r.signer, r.payload.op.seq) not in in_branch),
            key=lambda r: (r.payload.op.seq, r.signer),
        )[: self.batch]
        if not fresh and high.node in self.executed:
            return
        node = Tree(high.node, view, tuple(fresh))
        certificate = tuple(held[r] for r in sorted(held)[: self.quorum]) if view else ()
        signed = ctx.sign(Prepare(view, node, high, certificate))
        ctx.multicast(self.others, signed)
        digest = node_hash(node)
        self.proposed[view] = digest
        ctx.output("new-view", view=view, primary=self.me)
        self._vote_prepare(ctx, view, node, digest)

    def _branch_requests(self, head: bytes) -> set[tuple[int, int]] | None:
        """(client, ts) of the requests in the unexecuted ancestors of ``head`` (None: unknown)."""
        out: set[tuple[int, int]] = set()
        h = head
        for _ in range(MAX_WALK):
            if h in self.executed:
                return out
            node = self.nodes.get(h)
            if node is None:
                return None
            out.update((r.signer, r.payload.op.seq) for r in node.requests)
            h = node.parent
        return None

    def _on_vote(self, ctx: Context, src: int, msg: Signed) -> None:
        vote = msg.payload
        phase = PHASE_OF[type(vote)]
        if not (is_int(vote.view) and is_int(vote.replica) and is_hash(vote.node)):
            ctx.reject(src, msg, "malformed vote")
            return
        if vote.replica != msg.signer or vote.replica != src or not 0 <= src < self.n:
            ctx.reject(src, msg, "vote not signed by the replica that sent it")
            return
        if self.leader(vote.view) != self.me or self.proposed.get(vote.view) != vote.node:
            ctx.reject(src, msg, f"{phase} vote for a node I did not propose")
            return
        if vote.view != self.view or (phase, vote.view) in self.formed:
            return  # late: the view is over or the QC complete
        if not ctx.verify(msg):
            ctx.reject(src, msg, "vote with an invalid signature")
            return
        self._add_vote(ctx, phase, vote.view, vote.node, msg)

    def _add_vote(self, ctx: Context, phase: str, view: int, digest: bytes, signed: Signed) -> None:
        held = self.votes.setdefault((phase, view), {})
        held.setdefault(signed.signer, signed)
        if len(held) < self.quorum or (phase, view) in self.formed:
            return
        self.formed.add((phase, view))
        votes = tuple(held[r] for r in sorted(held)[: self.quorum])
        qc = QC(phase, view, digest, votes)
        if phase == "commit":
            ctx.multicast(self.others, ctx.sign(Decide(view, qc)))
            self._decide(ctx, view, qc)
            return
        kind, _ = NEXT[phase]
        ctx.multicast(self.others, ctx.sign(kind(view, qc)))
        self._follow(ctx, phase, view, qc)

    # -- replica -------------------------------------------------------------------------

    def _on_prepare(self, ctx: Context, src: int, msg: Signed) -> None:
        pp = msg.payload
        if not is_int(pp.view) or pp.view < 0:
            ctx.reject(src, msg, "malformed prepare")
            return
        view = pp.view
        if msg.signer != self.leader(view) or src != msg.signer or msg.signer == self.me:
            ctx.reject(src, msg, f"prepare for view {view} not from its leader")
            return
        if view < self.view:
            ctx.reject(src, msg, f"stale prepare for view {view} (now in view {self.view})")
            return
        if not ctx.verify(msg):
            ctx.reject(src, msg, "prepare with an invalid signature")
            return
        problem = node_problem(pp.node, self.cfg, ctx.verify) or qc_problem(
            pp.justify, self.cfg, ctx.verify, "prepare"
        )
        if problem:
            ctx.reject(src, msg, problem)
            return
        if view > self.view or not self.started:
            problem = view_certificate_problem(pp.new_views, view, self.cfg, ctx.verify)
            if problem:
                ctx.reject(src, msg, f"prepare for view {view}, not shown to have begun: {problem}")
                return
            if view > self.view:
                self._enter_view(ctx, view, PROGRESS)
            else:
                self._progress(ctx)
        node = pp.node
        if node.view != view or node.parent != pp.justify.node:
            ctx.reject(src, msg, "prepare whose node does not extend its justify")
            return
        if self.voted["prepare"] >= view:
            if self.proposed.get(view) != node_hash(node):
                ctx.reject(src, msg, f"a second prepare in view {view}")
            return
        if not (self._extends(node, self.locked_qc.node) or pp.justify.view > self.locked_qc.view):
            ctx.reject(src, msg, "prepare that is not safe (safeNode) for my lockedQC")
            return
        self._vote_prepare(ctx, view, node, node_hash(node))

    def _extends(self, node: Tree, ancestor: bytes) -> bool:
        h = node.parent
        for _ in range(MAX_WALK):
            if h == ancestor:
                return True
            parent = self.nodes.get(h)
            if parent is None:
                return False
            h = parent.parent
        return False

    def _vote_prepare(self, ctx: Context, view: int, node: Tree, digest: bytes) -> None:
        self.nodes.setdefault(digest, node)
        self.proposed.setdefault(view, digest)
        self._vote(ctx, "prepare", view, digest)

    def _vote(self, ctx: Context, phase: str, view: int, digest: bytes) -> None:
        if self.voted[phase] >= view:
            return
        self.voted[phase] = view
        kind = {"prepare": PrepareVote, "pre-commit": PreCommitVote, "commit": CommitVote}[phase]
        signed = ctx.sign(kind(view, digest, self.me))
        leader = self.leader(view)
        if leader == self.me:
            self._add_vote(ctx, phase, view, digest, signed)
        else:
            ctx.send(leader, signed)

    def _on_phase(self, ctx: Context, src: int, msg: Signed) -> None:
        """PRE-COMMIT (carrying prepareQC) or COMMIT (carrying precommitQC)."""
        body = msg.payload
        phase = "prepare" if type(body) is PreCommit else "pre-commit"
        view = body.view
        problem = self._leader_message_problem(ctx, src, msg, phase)
        if problem:
            ctx.reject(src, msg, problem)
            return
        if view < self.view:
            return  # the view is over for me
        if view > self.view:
            self._enter_view(ctx, view, PROGRESS)  # its QC proves n-f replicas got there
        else:
            self._progress(ctx)
        self._follow(ctx, phase, view, body.justify)

    def _follow(self, ctx: Context, phase: str, view: int, qc: QC) -> None:
        """A replica's step on a QC of ``phase``: store prepareQC or lock, then vote."""
        if phase == "prepare":
            if qc.view > self.prepare_qc.view:
                self.prepare_qc = qc
            self._vote(ctx, "pre-commit", view, qc.node)
        else:
            if qc.view > self.locked_qc.view:
                self.locked_qc = qc
            self._vote(ctx, "commit", view, qc.node)

    def _leader_message_problem(
        self, ctx: Context, src: int, msg: Signed, phase: str
    ) -> str | None:
        body = msg.payload
        if not is_int(body.view) or body.view < 0:
            return f"malformed {body.KIND}"
        if msg.signer != self.leader(body.view) or src != msg.signer or msg.signer == self.me:
            return f"{body.KIND} for view {body.view} not from its leader"
        if not ctx.verify(msg):
            return f"{body.KIND} with an invalid signature"
        problem = qc_problem(body.justify, self.cfg, ctx.verify, phase)
        if problem:
            return problem
        if body.justify.view != body.view:
            return f"{body.KIND} for view {body.view} carrying a QC of view {body.justify.view}"
        return None

    def _on_decide(self, ctx: Context, src: int, msg: Signed) -> None:
        problem = self._leader_message_problem(ctx, src, msg, "commit")
        if problem:
            ctx.reject(src, msg, problem)
            return
        self._decide(ctx, msg.payload.view, msg.payload.justify)

    def _decide(self, ctx: Context, view: int, qc: QC) -> None:
        self.waiting.append(qc)
        self._execute_waiting(ctx)
        if view >= self.view:
            self.failures = 0
            self._enter_view(ctx, view + 1, DECIDED)
        elif view == self.view - 1:  # I timed out just before: the others enter my view now
            self.failures = 0
            self._progress(ctx)

    # -- execution -----------------------------------------------------------------------

    def _execute_waiting(self, ctx: Context) -> None:
        still: list[QC] = []
        for qc in self.waiting:
            if qc.node in self.executed:
                continue
            chain: list[tuple[bytes, Tree]] = []
            h = qc.node
            missing = None
            for _ in range(MAX_WALK):
                if h in self.executed:
                    break
                node = self.nodes.get(h)
                if node is None:
                    missing = h
                    break
                chain.append((h, node))
                h = node.parent
            if missing is not None:
                still.append(qc)
                if missing not in self.wanted:
                    self.wanted.add(missing)
                    ctx.multicast(self.others, Fetch(missing, self.me))
                    self.fetch_again = ctx.round + self.base_timeout
                continue
            for digest, node in reversed(chain):
                self._execute(ctx, digest, node)
        self.waiting = still

    def _execute(self, ctx: Context, digest: bytes, node: Tree) -> None:
        for request in node.requests:
            op = request.payload.op
            client, ts = request.signer, op.seq
            if ts > self.last_ts.get(client, -1):
                result = ctx.execute(op)  # may freeze this replica (poison)
                self.last_ts[client] = ts
                reply = Reply(self.view, ts, client, self.me, result)
                self.reply_msgs[client] = reply
                ctx.send(client, reply)
            held = self.pending.get(client)
            if held is not None and held.payload.op.seq <= ts:
                del self.pending[client]
        self.executed.add(digest)
        self.height += 1
        ctx.output("commit", seq=self.height, req=batch_label(node.requests), digest=digest.hex())
        if not self.pending:  # nothing left to wait for
            self.timer = None
            self.overdue = False
            self.resend = None

    # -- fetching missing nodes ----------------------------------------------------------

    def _on_fetch(self, ctx: Context, src: int, msg: Any) -> None:
        if not is_hash(msg.node) or not 0 <= src < self.n or src == self.me:
            ctx.reject(src, msg, "malformed fetch, or not from a replica")
            return
        node = self.nodes.get(msg.node)
        if node is not None:
            ctx.send(src, Block(node))

    def _on_block(self, ctx: Context, src: int, msg: Any) -> None:
        problem = node_problem(msg.node, self.cfg, ctx.verify)
        if problem:
            ctx.reject(src, msg, problem)
            return
        digest = node_hash(msg.node)
        if digest not in self.wanted:
            return  # not asked for (or already received)
        self.wanted.discard(digest)
        self.nodes.setdefault(digest, msg.node)
        self._execute_waiting(ctx)
