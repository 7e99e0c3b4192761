"""PBFT checkpoints: stable checkpoints, log truncation, state transfer.

Theory of operation (Castro and Liskov, section 4.3). After executing a
multiple of K a replica multicasts a signed CHECKPOINT of its state: a hash
chain over every executed (seq, digest) plus the service's client table. Once
a replica holds 2f+1 matching checkpoints for a sequence number, that
checkpoint is *stable*: the low watermark h moves up to it (so the window
h < seq <= h + L slides), and every slot, committed entry, prepared
certificate and checkpoint at or below it is discarded; the 2f+1 messages are
kept as the proof a VIEW-CHANGE carries. Checkpoints that arrive for a
sequence number at or below the stable one are discarded unread (counted in
the ``pbft-late-checkpoint`` tally), as late prepares and commits are.

State transfer. A replica that sees f+1 matching checkpoints (so at least one
from a correct replica) above what it has executed adopts that state, as it
does when a checkpoint it lacks becomes stable or arrives in a NEW-VIEW, and
then sends its own checkpoint. Checkpoints beyond the window are kept, the
latest per replica, so a replica far behind can still catch up.

Simplification (named): the checkpoint message carries the whole service state
(the client table; results are a pure function of the operation) instead of a
digest plus a separate fetch protocol.

This mixin is part of ``Replica`` and shares its state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bft.core.crypto import Signed
from bft.core.node import Context
from bft.protocols.pbft.certificates import checkpoint_problem
from bft.protocols.pbft.messages import Checkpoint

if TYPE_CHECKING:
    from bft.protocols.pbft.replica import Replica


class Checkpointer:
    def _table(self: Replica) -> tuple[tuple[int, int, int], ...]:
        return tuple(sorted((c, ts, res) for c, (ts, res) in self.replies.items()))

    def _send_checkpoint(self: Replica, ctx: Context, seq: int) -> None:
        signed = ctx.sign(Checkpoint(seq, self.state, self._table(), self.me))
        ctx.multicast(self.others, signed)
        self._store_checkpoint(ctx, signed)

    def _on_checkpoint(self: Replica, ctx: Context, src: int, msg: Signed) -> None:
        seq = msg.payload.seq
        if type(seq) is int and 0 < seq <= self.h:
            ctx.tally("pbft-late-checkpoint")  # at or below my stable checkpoint: discarded unread
            return
        problem = checkpoint_problem(msg, self.cfg)
        if problem is None and (msg.payload.seq <= 0 or msg.payload.seq % self.K):
            problem = f"checkpoint for {msg.payload.seq}, not a positive multiple of {self.K}"
        if problem is None and not ctx.verify(msg):
            problem = "checkpoint with an invalid signature"
        if problem:
            ctx.reject(src, msg, problem)
            return
        self._store_checkpoint(ctx, msg)

    def _store_checkpoint(self: Replica, ctx: Context, signed: Signed) -> None:
        cp = signed.payload
        if cp.seq > self.h + self.L:
            held = self.ahead.get(cp.replica)
            if held is None or held.payload.seq < cp.seq:
                self.ahead[cp.replica] = signed
            self._ahead_quorum(ctx)
            return
        votes = self.checkpoints.setdefault(cp.seq, {})
        if cp.replica in votes:
            return
        votes[cp.replica] = signed
        matching = self.checkpoint_votes.setdefault((cp.seq, cp.state, cp.table), [])
        matching.append(signed)
        if len(matching) >= 2 * self.f + 1:
            self._make_stable(ctx, cp.seq, tuple(sorted(matching, key=lambda s: s.signer)))
        elif len(matching) >= self.f + 1 and cp.seq > self.last_exec:
            self._maybe_transfer(ctx, matching)

    def _ahead_quorum(self: Replica, ctx: Context) -> None:
        """Checkpoints beyond my window: stable at 2f+1 matching, state transfer at f+1."""
        groups: dict[tuple[int, bytes, Any], list[Signed]] = {}
        for signed in self.ahead.values():
            cp = signed.payload
            groups.setdefault((cp.seq, cp.state, cp.table), []).append(signed)
        stable = [k for k, v in groups.items() if len(v) >= 2 * self.f + 1]
        if stable:
            key = max(stable)
            self._make_stable(ctx, key[0], tuple(sorted(groups[key], key=lambda s: s.signer)))
        else:
            self._maybe_transfer(ctx, list(self.ahead.values()))

    def _maybe_transfer(self: Replica, ctx: Context, candidates: list[Signed]) -> None:
        """Adopt the highest state that f+1 replicas vouch for, if I am behind it."""
        groups: dict[tuple[int, bytes, Any], set[int]] = {}
        for s in candidates:
            cp = s.payload
            groups.setdefault((cp.seq, cp.state, cp.table), set()).add(cp.replica)
        best = None
        for key, replicas in groups.items():
            if (
                len(replicas) >= self.f + 1
                and key[0] > self.last_exec
                and (best is None or key[0] > best[0])
            ):
                best = key
        if best is None:
            return
        seq, state, table = best
        self._adopt_state(ctx, seq, state, table)
        if seq <= self.h + self.L:
            self._send_checkpoint(ctx, seq)

    def _adopt_state(self: Replica, ctx: Context, seq: int, state: bytes, table: Any) -> None:
        ctx.output("state-transfer", seq=seq, previous=self.last_exec)
        self.last_exec = seq
        self.executed_in_batch = 0
        self.state = state
        self.last_ts = {c: ts for c, ts, _ in table}
        self.replies = {c: (ts, res) for c, ts, res in table}
        self.reply_msgs = {}
        for client in [
            c for c, r in self.pending.items() if r.payload.op.seq <= self.last_ts.get(c, -1)
        ]:
            del self.pending[client]
        for s in [s for s in self.committed if s <= seq]:
            del self.committed[s]
        if self.next_seq <= seq:
            self.next_seq = seq + 1
        self._execute_ready(ctx)

    def _make_stable(self: Replica, ctx: Context, seq: int, proof: tuple[Signed, ...]) -> None:
        if seq <= self.h:
            return
        cp = proof[0].payload
        self.h = seq
        self.stable_proof = proof
        for by_seq in self.slots.values():
            for s in [s for s in by_seq if s <= seq]:
                del by_seq[s]
        for s in [s for s in self.committed if s <= seq]:
            del self.committed[s]
        for s in [s for s in self.prepared_slots if s <= seq]:
            del self.prepared_slots[s]
        for s in [s for s in self.checkpoints if s <= seq]:
            del self.checkpoints[s]
        for key in [k for k in self.checkpoint_votes if k[0] <= seq]:
            del self.checkpoint_votes[key]
        if self.last_exec < seq:
            self._adopt_state(ctx, seq, cp.state, cp.table)
        if self.next_seq <= seq:
            self.next_seq = seq + 1
        if self.queue and self.active and self.is_primary():
            self._drain_queue(ctx)

        for r in [r for r, s in self.ahead.items() if s.payload.seq <= self.h + self.L]:
            held = self.ahead.pop(r, None)
            if held is not None and held.payload.seq > self.h:
                self._store_checkpoint(ctx, held)
