"""Retransmission of lost messages through STATUS messages.

Theory of operation. Before GST the network may drop messages; the paper's
protocol assumes they are eventually retransmitted (its implementation uses
status messages for this). A replica that waits (it holds unexecuted client
requests or committed-but-unexecuted sequence numbers, or it is changing
view) and has made no progress for ``status_interval`` rounds multicasts a
signed STATUS (view, whether it is in normal mode in it, last executed
sequence number); it repeats this every interval while it still waits. A
replica that receives one answers with what the sender lacks, resending the
original signed messages (so nothing new is asserted, and each is checked as
usual):

* the sender is in an earlier view, or changing to the view I am in normal
  mode in: the NEW-VIEW of my view;
* the sender is changing to a view v: my VIEW-CHANGE for v, if I sent one;
* same view, both in normal mode: for every sequence number above its last
  executed one, the pre-prepare I hold and my own prepare and commit; if it
  is below my stable checkpoint, the 2f+1 checkpoints proving it (state
  transfer);
* and, at most once per interval, my own STATUS, so that it can do the same
  for me.

In a fault-free run nobody waits that long, so no STATUS is ever sent and the
normal-case message count is untouched. ``Retransmission`` owns only when it
last saw progress and when it may speak next; everything it resends it reads
from its owners (the log, the checkpoints, the view changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bft.core.crypto import Signed
from bft.core.node import Context
from bft.protocols.pbft.certificates import Verify
from bft.protocols.pbft.messages import Status, is_int

if TYPE_CHECKING:
    from bft.protocols.pbft.replica import Replica


class Retransmission:
    def __init__(self, replica: Replica, interval: int) -> None:
        self.replica = replica
        self.interval = interval
        self.last_progress = 0  # the last round a view started or a batch executed
        self.next_status = 0  # the first round I may send a STATUS again

    def progress(self, ctx: Context) -> None:
        self.last_progress = ctx.round

    def _waiting(self) -> bool:
        r = self.replica
        return bool(r.pending) or not r.normal or r.service.waiting()

    def maybe_send(self, ctx: Context) -> None:
        now = ctx.round
        if now < self.next_status or now - self.last_progress < self.interval:
            return
        if self._waiting():
            self._send(ctx, self.replica.others)

    def _send(self, ctx: Context, dsts: Sequence[int]) -> None:
        r = self.replica
        signed = ctx.sign(Status(r.view, r.normal, r.service.last_exec, r.me))
        ctx.multicast(dsts, signed)
        self.next_status = ctx.round + self.interval

    @staticmethod
    def problem(msg: Signed, n: int, me: int, verify: Verify) -> str | None:
        """Why a STATUS is refused (signature last)."""
        st = msg.payload
        if (
            not (is_int(st.view) and is_int(st.last_exec) and is_int(st.replica))
            or type(st.active) is not bool
        ):
            return "malformed status"
        r = st.replica
        if r != msg.signer or not 0 <= r < n or r == me:
            return f"status for replica {r!r} signed by {msg.signer!r}"
        if not verify(msg):
            return "status with an invalid signature"
        return None

    def on_status(self, ctx: Context, src: int, msg: Signed) -> None:
        r = self.replica
        problem = self.problem(msg, r.n, r.me, ctx.verify)
        if problem:
            ctx.reject(src, msg, problem)
            return
        st = msg.payload
        sender = st.replica
        vcs = r.view_changes
        nv = vcs.new_view
        behind_view = st.view < r.view or (st.view == r.view and not st.active)
        if r.normal and behind_view and nv is not None and nv.payload.view == r.view:
            ctx.send(sender, nv)
        if not st.active and st.view in vcs.sent:
            ctx.send(sender, vcs.sent[st.view])
        if st.active and r.normal and st.view == r.view:
            self._resend_log(ctx, sender, st.last_exec)
        if ctx.round >= self.next_status:
            self._send(ctx, [sender])

    def _resend_log(self, ctx: Context, dst: int, their_exec: int) -> None:
        r = self.replica
        low = r.log.low
        proof = r.checkpoints.proof
        if their_exec < low and proof:
            for signed in proof:
                if signed.signer != dst:
                    ctx.send(dst, signed)
        me = r.me
        by_seq = r.log.slots_of(r.view)
        for seq in range(max(their_exec, low) + 1, r.log.high + 1):
            slot = by_seq.get(seq)
            if slot is None:
                continue
            pp = slot.pre_prepare
            if pp is not None and pp.signer != dst:
                ctx.send(dst, pp)
            mine = slot.prepare_msgs.get(me)
            if mine is not None:
                ctx.send(dst, mine)
            mine = slot.commit_msgs.get(me)
            if mine is not None:
                ctx.send(dst, mine)
