"""A Zyzzyva client (Kotla et al., section 3.2, steps 4a-4d), fed into the shared service meter.

Theory of operation. A client has at most one request outstanding. It signs a
``Request`` whose operation's ``seq`` is its timestamp (the round it issued
it) and sends it to the primary of the latest view it knows. Replicas answer
with signed spec-responses naming (view, sequence number, history, result):

* 4a, the fast path: 3f+1 matching spec-responses complete the request.
* 4b, the slow path: if ``spec_timeout`` rounds after sending it holds 2f+1 but
  fewer than 3f+1 matching ones, it sends every replica a COMMIT with 2f+1 of
  them (a commit certificate, the responses of the lowest replica ids), and
  2f+1 LOCAL-COMMITs naming that certificate's view, sequence number and
  history complete the request.
* 4c: with no completion ``timeout`` rounds after sending, it sends the
  request (and its COMMIT, if it made one) to every replica, and again every
  ``timeout`` rounds; the spec timer restarts with each retransmission.
* 4d: two spec-responses carrying order-reqs of one view that put different
  requests at one sequence number, or its request at two, prove the primary
  equivocated; the client sends that proof of misbehaviour to every replica.

Spec-responses travel signed (they form commit certificates); the client
checks each signature and that the signer is the replica that sent it. An idle
client issues its next request with probability ``rate`` per round (1: at once),
until it has issued ``requests`` (0: no limit). Outputs: ``submit`` (req) and
``accept`` (req, result, path: fast or slow, view, seq, history) for the
properties; the shared ``ClientMeter`` turns waits into served and unserved
client-rounds.
"""

from __future__ import annotations

from bft.core.crypto import Signed
from bft.core.node import Context, Inbox, Node
from bft.protocols.service import ClientMeter, new_operation
from bft.protocols.zyzzyva.messages import (
    Commit,
    LocalCommit,
    OrderReq,
    ProofOfMisbehavior,
    Request,
    SpecReply,
    SpecResponse,
    is_digest,
    is_int,
    op_label,
)

Key = tuple[int, int, bytes, int]  # (view, seq, history, result)


class Client(Node):
    def __init__(
        self,
        node_id: int,
        n: int,
        f: int,
        timeout: int,
        spec_timeout: int,
        rate: float,
        requests: int,
        meter_timeout: int,
    ) -> None:
        self.me = node_id
        self.n = n
        self.f = f
        self.replicas = tuple(range(n))
        self.timeout = timeout
        self.spec_timeout = spec_timeout
        self.rate = rate
        self.limit = requests
        self.meter = ClientMeter(meter_timeout)
        self.view = 0
        self.issued = 0
        self.current: Signed | None = None
        self.deadline = 0
        self.spec_deadline = 0
        self.replies: dict[int, tuple[Key, SpecReply]] = {}  # replica -> its latest response
        self.commit: Signed | None = None
        self.commit_key: Key | None = None
        self.local: set[int] = set()
        self.proven: set[int] = set()  # views whose primary it proved misbehaving

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        for src, msg in inbox:
            if self.current is None:
                continue  # nothing outstanding: late answers are dropped unread
            if type(msg) is SpecReply:
                self._on_spec_reply(ctx, src, msg)
            elif type(msg) is Signed and type(msg.payload) is LocalCommit:
                self._on_local_commit(ctx, src, msg)
            else:
                ctx.reject(src, msg, "not a spec-response or local-commit")
        if self.current is None:
            if (not self.limit or self.issued < self.limit) and (
                self.rate >= 1.0 or ctx.rng.random() < self.rate
            ):
                self._issue(ctx)
        else:
            if ctx.round >= self.spec_deadline:
                self._maybe_commit(ctx)
            if self.current is not None and ctx.round >= self.deadline:
                ctx.multicast(self.replicas, self.current)
                if self.commit is not None:
                    ctx.multicast(self.replicas, self.commit)
                self.deadline = ctx.round + self.timeout
                self.spec_deadline = ctx.round + self.spec_timeout
        self.meter.tick(ctx)

    def _issue(self, ctx: Context) -> None:
        op = new_operation(ctx, ctx.round)
        self.current = ctx.sign(Request(op))
        self.issued += 1
        self.replies = {}
        self.commit = self.commit_key = None
        self.local = set()
        self.deadline = ctx.round + self.timeout
        self.spec_deadline = ctx.round + self.spec_timeout
        ctx.send(self.view % self.n, self.current)
        self.meter.want(ctx)
        ctx.output("submit", req=op_label(self.me, op))

    # -- spec-responses ------------------------------------------------------------------------

    def _on_spec_reply(self, ctx: Context, src: int, msg: SpecReply) -> None:
        signed = msg.response
        if type(signed) is not Signed or type(signed.payload) is not SpecResponse:
            ctx.reject(src, msg, "spec-response without a signed response")
            return
        r = signed.payload
        fields = (r.view, r.seq, r.result, r.client, r.ts, r.replica)
        if not all(is_int(x) for x in fields) or not is_digest(r.history):
            ctx.reject(src, msg, "malformed spec-response")
            return
        if r.replica != src or signed.signer != src or not 0 <= src < self.n or r.client != self.me:
            ctx.reject(
                src, msg, "spec-response not from the replica it names, or for another client"
            )
            return
        current = self.current
        assert current is not None
        if r.ts != current.payload.op.seq:
            return  # a late response to an earlier request
        if not ctx.verify(signed):
            ctx.reject(src, msg, "spec-response with an invalid signature")
            return
        key: Key = (r.view, r.seq, r.history, r.result)
        self.replies[src] = (key, msg)
        self._check_equivocation(ctx, msg)
        holders = [rep for rep, (k, _) in self.replies.items() if k == key]
        if len(holders) >= 3 * self.f + 1:
            self._complete(ctx, key, "fast", len(holders))

    def _maybe_commit(self, ctx: Context) -> None:
        """4b: 2f+1 matching responses (and the spec timer expired): send a commit certificate
        (again, with new responses, if a view change made the one it sent useless)."""
        by_key: dict[Key, list[int]] = {}
        for rep in sorted(self.replies):
            by_key.setdefault(self.replies[rep][0], []).append(rep)
        quorum = 2 * self.f + 1
        ready = sorted((k for k, reps in by_key.items() if len(reps) >= quorum), reverse=True)
        if not ready or ready[0] == self.commit_key:
            return
        key = ready[0]  # the highest view and sequence number (a new view replaces an old one)
        cert = tuple(self.replies[rep][1].response for rep in by_key[key][:quorum])
        self.commit = ctx.sign(Commit(self.me, cert))
        self.commit_key = key
        self.local = set()
        ctx.multicast(self.replicas, self.commit)

    def _check_equivocation(self, ctx: Context, msg: SpecReply) -> None:
        """4d: order-reqs of one view that order the client's request differently (two
        requests at one sequence number, or its request at two) prove the primary lied."""
        order = msg.order
        if type(order) is not Signed or type(order.payload) is not OrderReq:
            return
        o = order.payload
        for _, other in self.replies.values():
            theirs = other.order
            if type(theirs) is not Signed or type(theirs.payload) is not OrderReq:
                continue
            t = theirs.payload
            if (
                t.view != o.view
                or o.view in self.proven
                or (t.seq, t.digest, t.history)
                == (
                    o.seq,
                    o.digest,
                    o.history,
                )
            ):
                continue
            if t.seq != o.seq and t.digest != o.digest:
                continue
            if order.signer != theirs.signer or not (ctx.verify(order) and ctx.verify(theirs)):
                continue
            self.proven.add(o.view)
            ctx.multicast(self.replicas, ctx.sign(ProofOfMisbehavior(theirs, order)))
            return

    # -- local-commits ---------------------------------------------------------------------------

    def _on_local_commit(self, ctx: Context, src: int, msg: Signed) -> None:
        c = msg.payload
        fields = (c.view, c.seq, c.client, c.ts, c.replica)
        if not all(is_int(x) for x in fields) or not is_digest(c.history):
            ctx.reject(src, msg, "malformed local-commit")
            return
        if c.replica != src or msg.signer != src or not 0 <= src < self.n or c.client != self.me:
            ctx.reject(
                src, msg, "local-commit not from the replica it names, or for another client"
            )
            return
        key = self.commit_key
        current = self.current
        assert current is not None
        if key is None or c.ts != current.payload.op.seq or (c.view, c.seq, c.history) != key[:3]:
            return
        if not ctx.verify(msg):
            ctx.reject(src, msg, "local-commit with an invalid signature")
            return
        self.local.add(src)
        if len(self.local) >= 2 * self.f + 1:
            self._complete(ctx, key, "slow", len(self.local))

    def _complete(self, ctx: Context, key: Key, path: str, replies: int) -> None:
        current = self.current
        assert current is not None
        view, seq, history, result = key
        op = current.payload.op
        self.view = max(self.view, view)
        self.current = None
        self.meter.answered(ctx, op, result, None)
        ctx.output(
            "accept",
            req=op_label(self.me, op),
            result=result,
            path=path,
            view=view,
            seq=seq,
            history=history.hex(),
            replies=replies,
        )
