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

``Checkpoints`` owns the checkpoint messages and the stable proof; what a
stable checkpoint or a state transfer does to the rest of the replica (the
log, execution, the primary's queue) the replica does (``Replica.stabilise``,
``Replica.transfer_state``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bft.core.crypto import Signed
from bft.core.node import Context
from bft.protocols.pbft.certificates import Verify, checkpoint_problem
from bft.protocols.pbft.messages import Checkpoint

if TYPE_CHECKING:
    from bft.protocols.pbft.replica import Replica

Key = tuple[int, bytes, Any]  # (seq, state, table): what matching checkpoints agree on


class Checkpoints:
    def __init__(self, replica: Replica, interval: int) -> None:
        self.replica = replica
        self.interval = interval  # K
        self.proof: tuple[Signed, ...] = ()  # 2f+1 checkpoints proving the stable one (h)
        self._by_seq: dict[int, dict[int, Signed]] = {}  # h < seq <= h+L: replica -> its own
        self._matching: dict[Key, list[Signed]] = {}  # the same, grouped by what they say
        self._ahead: dict[int, Signed] = {}  # beyond h+L: the latest per replica

    def due(self, seq: int) -> bool:
        return seq % self.interval == 0

    def send(self, ctx: Context, seq: int) -> None:
        """Multicast my checkpoint for ``seq`` (just executed or installed)."""
        r = self.replica
        service = r.service
        signed = ctx.sign(Checkpoint(seq, service.state, service.table(), r.me))
        ctx.multicast(r.others, signed)
        self._store(ctx, signed)

    def problem(self, msg: Signed, verify: Verify) -> str | None:
        """Why a CHECKPOINT is refused (signature last: it is the costly check)."""
        cp = msg.payload
        problem = checkpoint_problem(msg, self.replica.cfg)
        if problem is None and (cp.seq <= 0 or cp.seq % self.interval):
            problem = f"checkpoint for {cp.seq}, not a positive multiple of {self.interval}"
        if problem is None and not verify(msg):
            problem = "checkpoint with an invalid signature"
        return problem

    def on_checkpoint(self, ctx: Context, src: int, msg: Signed) -> None:
        seq = msg.payload.seq
        if type(seq) is int and 0 < seq <= self.replica.log.low:
            ctx.tally("pbft-late-checkpoint")  # at or below my stable checkpoint: discarded unread
            return
        problem = self.problem(msg, ctx.verify)
        if problem:
            ctx.reject(src, msg, problem)
            return
        self._store(ctx, msg)

    def _store(self, ctx: Context, signed: Signed) -> None:
        r = self.replica
        cp = signed.payload
        if cp.seq > r.log.high:
            held = self._ahead.get(cp.replica)
            if held is None or held.payload.seq < cp.seq:
                self._ahead[cp.replica] = signed
            self._ahead_quorum(ctx)
            return
        votes = self._by_seq.setdefault(cp.seq, {})
        if cp.replica in votes:
            return
        votes[cp.replica] = signed
        matching = self._matching.setdefault((cp.seq, cp.state, cp.table), [])
        matching.append(signed)
        if len(matching) >= 2 * r.f + 1:
            self.stabilise(ctx, cp.seq, tuple(sorted(matching, key=lambda s: s.signer)))
        elif len(matching) >= r.f + 1 and cp.seq > r.service.last_exec:
            self._maybe_transfer(ctx, matching)

    def _ahead_quorum(self, ctx: Context) -> None:
        """Checkpoints beyond my window: stable at 2f+1 matching, state transfer at f+1."""
        f = self.replica.f
        groups: dict[Key, list[Signed]] = {}
        for signed in self._ahead.values():
            cp = signed.payload
            groups.setdefault((cp.seq, cp.state, cp.table), []).append(signed)
        stable = [k for k, v in groups.items() if len(v) >= 2 * f + 1]
        if stable:
            key = max(stable)
            self.stabilise(ctx, key[0], tuple(sorted(groups[key], key=lambda s: s.signer)))
        else:
            self._maybe_transfer(ctx, list(self._ahead.values()))

    def _maybe_transfer(self, ctx: Context, candidates: list[Signed]) -> None:
        """Adopt the highest state that f+1 replicas vouch for, if I am behind it."""
        r = self.replica
        groups: dict[Key, set[int]] = {}
        for s in candidates:
            cp = s.payload
            groups.setdefault((cp.seq, cp.state, cp.table), set()).add(cp.replica)
        best = None
        for key, replicas in groups.items():
            if (
                len(replicas) >= r.f + 1
                and key[0] > r.service.last_exec
                and (best is None or key[0] > best[0])
            ):
                best = key
        if best is None:
            return
        seq, state, table = best
        r.transfer_state(ctx, seq, state, table)
        if seq <= r.log.high:
            self.send(ctx, seq)

    def stabilise(self, ctx: Context, seq: int, proof: tuple[Signed, ...]) -> None:
        """The checkpoint at ``seq`` is stable, with ``proof``: truncate, catch up, go on."""
        r = self.replica
        if seq <= r.log.low:
            return
        self.proof = proof
        for s in [s for s in self._by_seq if s <= seq]:
            del self._by_seq[s]
        for key in [k for k in self._matching if k[0] <= seq]:
            del self._matching[key]
        cp = proof[0].payload
        r.stabilise(ctx, seq, cp.state, cp.table)
        high = r.log.high
        for replica in [i for i, s in self._ahead.items() if s.payload.seq <= high]:
            held = self._ahead.pop(replica, None)
            if held is not None and held.payload.seq > r.log.low:
                self._store(ctx, held)
