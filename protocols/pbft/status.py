"""Retransmission of lost messages through STATUS messages.

Theory of operation. Before GST the network may drop messages; the paper's
protocol assumes they are eventually retransmitted (its implementation uses
status messages for this). A replica that waits (it holds unexecuted client
requests or committed-but-unexecuted sequence numbers, or it is changing
view) and has made no progress for ``status_interval`` rounds multicasts a
signed STATUS (view, whether it is active in it, last executed sequence
number); it repeats this every interval while it still waits. A replica that
receives one answers with what the sender lacks, resending the original signed
messages (so nothing new is asserted, and each is checked as usual):

* the sender is in an earlier view, or changing to the view I am active in:
  the NEW-VIEW of my view;
* the sender is changing to a view v: my VIEW-CHANGE for v, if I sent one;
* same view, both active: for every sequence number above its last executed
  one, the pre-prepare I hold and my own prepare and commit; if it is below my
  stable checkpoint, the 2f+1 checkpoints proving it (state transfer);
* and, at most once per interval, my own STATUS, so that it can do the same
  for me.

In a fault-free run nobody waits that long, so no STATUS is ever sent and the
normal-case message count is untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bft.core.crypto import Signed
from bft.core.node import Context
from bft.protocols.pbft.messages import Status, is_int

if TYPE_CHECKING:
    from bft.protocols.pbft.replica import Replica


class Retransmitter:
    def _init_status(self: Replica, interval: int) -> None:
        self.status_interval = interval
        self.last_progress = 0
        self.next_status = 0
        self.my_vcs: dict[int, Signed] = {}
        self.nv_msg: Signed | None = None

    def _progress(self: Replica, ctx: Context) -> None:
        self.last_progress = ctx.round

    def _waiting(self: Replica) -> bool:
        return bool(self.pending) or not self.active or self.last_exec + 1 in self.committed

    def _maybe_status(self: Replica, ctx: Context) -> None:
        now = ctx.round
        if now < self.next_status or now - self.last_progress < self.status_interval:
            return
        if self._waiting():
            self._send_status(ctx, self.others)

    def _send_status(self: Replica, ctx: Context, dsts: Sequence[int]) -> None:
        signed = ctx.sign(Status(self.view, self.active, self.last_exec, self.me))
        ctx.multicast(dsts, signed)
        self.next_status = ctx.round + self.status_interval

    def _on_status(self: Replica, ctx: Context, src: int, msg: Signed) -> None:
        st = msg.payload
        if (
            not (is_int(st.view) and is_int(st.last_exec) and is_int(st.replica))
            or type(st.active) is not bool
        ):
            ctx.reject(src, msg, "malformed status")
            return
        r = st.replica
        if r != msg.signer or not 0 <= r < self.n or r == self.me:
            ctx.reject(src, msg, f"status for replica {r!r} signed by {msg.signer!r}")
            return
        if not ctx.verify(msg):
            ctx.reject(src, msg, "status with an invalid signature")
            return
        nv = self.nv_msg
        behind_view = st.view < self.view or (st.view == self.view and not st.active)
        if self.active and behind_view and nv is not None and nv.payload.view == self.view:
            ctx.send(r, nv)
        if not st.active and st.view in self.my_vcs:
            ctx.send(r, self.my_vcs[st.view])
        if st.active and self.active and st.view == self.view:
            self._resend_log(ctx, r, st.last_exec)
        if ctx.round >= self.next_status:
            self._send_status(ctx, [r])

    def _resend_log(self: Replica, ctx: Context, r: int, their_exec: int) -> None:
        if their_exec < self.h and self.stable_proof:
            for signed in self.stable_proof:
                if signed.signer != r:
                    ctx.send(r, signed)
        me = self.me
        by_seq = self.slots.get(self.view, {})
        for seq in range(max(their_exec, self.h) + 1, self.h + self.L + 1):
            slot = by_seq.get(seq)
            if slot is None:
                continue
            if slot.pp is not None and slot.pp.signer != r:
                ctx.send(r, slot.pp)
            mine = slot.prepares.get(me)
            if mine is not None:
                ctx.send(r, mine)
            mine = slot.commits.get(me)
            if mine is not None:
                ctx.send(r, mine)
