"""Executing committed requests in order, and the service state that results.

Theory of operation (Castro and Liskov, section 4.2, end). A replica executes
the batch at sequence number n once it is committed-local and every number
below n has executed: committed batches wait in ``ready`` until their turn.
Each request runs through ``ctx.execute`` (so the environment's capacity and
poison models apply) at most once per client and in timestamp order: a
request whose timestamp is not above the client's last executed one is
skipped, and the null request (an empty batch) executes nothing. Each
execution sends a REPLY to the client and keeps it, so a retransmitted
request is answered again from the cache.

The state is a hash chain over every executed (n, digest), plus the client
table (each client's last timestamp and result): together they are what a
CHECKPOINT certifies and what a state transfer installs (``adopt``).

Pacing (``pace``): a replica runs, in order, only as many operations as fit
in this round's capacity and carries on with the rest in the next round,
instead of running a whole backlog at once and overloading; a batch may then
be left half done (``in_batch``), as it is when a poisoned request freezes the
replica mid-batch.
"""

from __future__ import annotations

from typing import Protocol

from bft.core.crypto import Signed
from bft.core.node import Context
from bft.protocols.pbft.messages import GENESIS, Reply, next_state, request_label

Table = tuple[tuple[int, int, int], ...]


class Listener(Protocol):
    def request_executed(self, client: int, ts: int) -> None: ...

    def batch_executed(self, ctx: Context, seq: int) -> None: ...


class Execution:
    """The service state of one replica and the committed batches waiting to run."""

    def __init__(self, pace: bool) -> None:
        self.pace = pace
        self.last_exec = 0  # the highest sequence number executed (or installed)
        self.in_batch = 0  # requests of batch last_exec+1 already run (a pause mid-batch)
        self.state = GENESIS  # the hash chain over executed (seq, digest)
        self.last_ts: dict[int, int] = {}  # client -> timestamp of its last executed request
        self.results: dict[int, tuple[int, int]] = {}  # client -> (ts, result)
        self.replies: dict[int, Reply] = {}  # client -> the last reply sent to it
        self.ready: dict[int, tuple[bytes, tuple[Signed, ...]]] = {}  # committed, not executed
        self.op_cost = 1.0  # the work one operation adds (learnt from each execution)

    def waiting(self) -> bool:
        """Is the next batch committed and not yet executed?"""
        return self.last_exec + 1 in self.ready

    def commit(self, seq: int, digest: bytes, requests: tuple[Signed, ...]) -> bool:
        """Queue the batch committed at ``seq``; False if it executed or is queued already."""
        if seq <= self.last_exec or seq in self.ready:
            return False
        self.ready[seq] = (digest, requests)
        return True

    def executed(self, client: int, ts: int) -> bool:
        return ts <= self.last_ts.get(client, -1)

    def cached_reply(self, client: int, ts: int, view: int, me: int) -> Reply | None:
        """The reply to ``client``'s request ``ts`` when it is the last one executed: the
        reply sent then, or, after a state transfer (which installs results, not the
        messages that carried them), one made again from the client table."""
        reply = self.replies.get(client)
        if reply is not None and reply.ts == ts:
            return reply
        result = self.results.get(client)
        if result is not None and result[0] == ts:
            reply = self.replies[client] = Reply(view, ts, client, me, result[1])
            return reply
        return None

    def table(self) -> Table:
        """The client table a checkpoint carries: sorted (client, ts, result)."""
        return tuple(sorted((c, ts, res) for c, (ts, res) in self.results.items()))

    def run(self, ctx: Context, view: int, me: int, listener: Listener) -> None:
        """Execute committed batches in order, as far as they are ready (and fit)."""
        ready = self.ready
        while self.last_exec + 1 in ready:
            seq = self.last_exec + 1
            digest, requests = ready[seq]
            for index in range(self.in_batch, len(requests)):
                request = requests[index]
                op = request.payload.op
                client, ts = request.signer, op.seq
                if ts > self.last_ts.get(client, -1):
                    if self.pace and not self._fits(ctx):
                        return  # the rest waits for the next round
                    before = ctx.load
                    result = ctx.execute(op)  # may freeze this replica (poison)
                    self.op_cost = ctx.load - before
                    self.last_ts[client] = ts
                    self.results[client] = (ts, result)
                    reply = Reply(view, ts, client, me, result)
                    self.replies[client] = reply
                    ctx.send(client, reply)
                self.in_batch = index + 1
                listener.request_executed(client, ts)
            del ready[seq]
            self.in_batch = 0
            self.last_exec = seq
            self.state = next_state(self.state, seq, digest)
            ctx.output("commit", seq=seq, req=request_label(requests), digest=digest.hex())
            listener.batch_executed(ctx, seq)

    def _fits(self, ctx: Context) -> bool:
        """Pacing: does one more operation fit in this round's capacity?"""
        capacity = ctx.capacity
        return capacity is None or ctx.load + self.op_cost <= capacity

    def adopt(self, seq: int, state: bytes, table: Table) -> None:
        """State transfer: install the state a checkpoint certificate vouches for at ``seq``."""
        self.last_exec = seq
        self.in_batch = 0
        self.state = state
        self.last_ts = {c: ts for c, ts, _ in table}
        self.results = {c: (ts, res) for c, ts, res in table}
        self.replies = {}
        self.discard_through(seq)

    def discard_through(self, seq: int) -> None:
        for s in [s for s in self.ready if s <= seq]:
            del self.ready[s]
