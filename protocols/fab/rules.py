"""Which value a new leader may propose: published FaB's rule and the corrected one.

Theory of operation. After a leader change the new leader collects a progress
certificate (PC): n-f signed ``Rep`` from distinct acceptors for the slot. The
PC must steer it to any value that may already have been decided:

* a value may have been decided on the fast path if ``fast_quorum`` acceptors
  accepted it in one view; at least ``fast_quorum - 2f`` correct ones then show
  up in any PC (f + t + 1 when n = 3f + 2t + 1): the *heavy* threshold;
* a value may have been decided on the slow path if ``commit_quorum`` acceptors
  held a commit proof for it; then at least one proof shows up in any PC.

Published FaB (Martin and Alvisi 2006, parameterised form). A PC *vouches for*
a value v when no other value appears ``heavy`` times in it and no other value
has a valid commit proof in it. Views play no part in the count. The leader
proposes the value the PC constrains it to, or any value if none; and when two
different values are constrained (one heavy, another proven), no value is
vouched for: the leader cannot propose at all. Abraham et al. (2017, "Revisiting
Fast Practical Byzantine Fault Tolerance", section 3) show that correct
acceptors can end up in exactly that state (two of them holding a value
accepted in a later view, one holding a commit proof from an earlier view for
another), and then every later leader is stuck: a liveness violation in the
first slot (see docs/known-bugs.md).

Corrected (``fab-fixed``), after the fix Abraham, Gueta, Malkhi and Martin
sketch as "Thelma" (arXiv 1801.10022, section 2): a proposal in a new view is
safe iff it is compatible with a potential decision *from the highest view*
in the PC. Each ``Rep`` carries the signed ``Propose`` its acceptor accepted
(its evidence, itself checked recursively against its own PC); let w be the
highest view with evidence. Values accepted in views below w are superseded:
the view-w proposal was itself vouched for, so it is compatible with any
decision before w. Among the view-w replies: a value with a commit proof of
view w wins; else a value heavy among them; else the value (if several, the
most reported, then the smallest digest) proposed in view w. With no accepted
value in the PC the leader is free. This is our reading of the sketch; where
it is silent (several view-w values, none heavy) we chose the most reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from bft.core.crypto import Signed
from bft.protocols.fab.messages import (
    DIGEST_SIZE,
    NONE,
    Accepted,
    Propose,
    Rep,
    value_digest,
)

Verify = Callable[..., bool]
FREE = "free"
STUCK = "stuck"


@attrs.frozen
class Quorums:
    n: int
    f: int
    t: int

    @property
    def fast(self) -> int:
        return -(-(self.n + 3 * self.f + 1) // 2)

    @property
    def commit(self) -> int:
        return -(-(self.n + self.f + 1) // 2)

    @property
    def pc(self) -> int:
        return self.n - self.f

    @property
    def heavy(self) -> int:
        return self.fast - 2 * self.f

    def leader(self, view: int) -> int:
        return view % self.n


def is_int(value: Any) -> bool:
    return type(value) is int


def is_digest(value: Any) -> bool:
    return type(value) is bytes and len(value) == DIGEST_SIZE


def proof_problem(
    proof: Any, slot: int, digest: bytes, view: int, q: Quorums, verify: Verify
) -> str | None:
    """``commit_quorum`` signed Accepted from distinct acceptors for (view, slot, digest)."""
    if type(proof) is not tuple or len(proof) > q.n:
        return "malformed commit proof"
    seen: set[int] = set()
    for signed in proof:
        if type(signed) is not Signed or type(signed.payload) is not Accepted:
            return "commit proof with a non-accepted message"
        a = signed.payload
        if (a.view, a.slot, a.digest) != (view, slot, digest):
            return "commit proof for another view, slot or value"
        if not is_int(a.replica) or a.replica != signed.signer or not 0 <= a.replica < q.n:
            return "commit proof with an accepted message from an unknown replica"
        if a.replica in seen or not verify(signed):
            return "commit proof with a repeated or forged accepted message"
        seen.add(a.replica)
    if len(seen) < q.commit:
        return f"commit proof with {len(seen)} accepted messages (needs {q.commit})"
    return None


def rep_problem(signed: Any, view: int, slot: int, q: Quorums, verify: Verify) -> str | None:
    if type(signed) is not Signed or type(signed.payload) is not Rep:
        return "not a signed rep"
    r = signed.payload
    if not (is_int(r.view) and is_int(r.slot) and is_int(r.replica) and is_int(r.accepted_view)):
        return "malformed rep"
    if (r.view, r.slot) != (view, slot):
        return f"rep for view {r.view}, slot {r.slot} (expected view {view}, slot {slot})"
    if r.replica != signed.signer or not 0 <= r.replica < q.n:
        return f"rep from replica {r.replica!r} signed by {signed.signer!r}"
    if not is_digest(r.digest) or type(r.value) is not tuple or type(r.proof) is not tuple:
        return "malformed rep"
    if r.accepted_view >= view or (r.digest == NONE) != (r.accepted_view < 0):
        return "rep with an impossible accepted view"
    if r.proof:
        problem = proof_problem(r.proof, slot, r.digest, r.accepted_view, q, verify)
        if problem:
            return "rep carrying a bad commit proof: " + problem
    if not verify(signed):
        return "rep with an invalid signature"
    return None


def pc_problem(pc: Any, view: int, slot: int, q: Quorums, verify: Verify) -> str | None:
    """n-f valid Rep for (view, slot) from distinct acceptors."""
    if type(pc) is not tuple or len(pc) > q.n:
        return "malformed progress certificate"
    seen: set[int] = set()
    for signed in pc:
        problem = rep_problem(signed, view, slot, q, verify)
        if problem:
            return "progress certificate: " + problem
        if signed.signer in seen:
            return "progress certificate with a repeated acceptor"
        seen.add(signed.signer)
    if len(seen) < q.pc:
        return f"progress certificate with {len(seen)} reps (needs {q.pc})"
    return None


# -- published FaB ----------------------------------------------------------------------


def published_choice(pc: tuple[Signed, ...], q: Quorums) -> bytes | str:
    """The digest the PC forces, ``FREE`` if none, ``STUCK`` if two values are forced."""
    counts: dict[bytes, int] = {}
    constrained: set[bytes] = set()
    for signed in pc:
        r = signed.payload
        if r.digest == NONE:
            continue
        counts[r.digest] = counts.get(r.digest, 0) + 1
        if r.proof:
            constrained.add(r.digest)
    constrained.update(d for d, c in counts.items() if c >= q.heavy)
    if not constrained:
        return FREE
    if len(constrained) > 1:
        return STUCK
    return next(iter(constrained))


# -- the corrected rule (Thelma) ---------------------------------------------------------


class Evidence:
    """Checks a Rep's evidence (the signed Propose it accepted), recursively, remembering
    the verdict per object (a certificate is re-checked by every acceptor)."""

    def __init__(self, q: Quorums, verify: Verify, value_ok: Callable[[Any], bool]) -> None:
        self.q = q
        self.verify = verify
        self.value_ok = value_ok
        self.known: dict[int, tuple[Any, bool]] = {}

    def valid(self, rep: Rep) -> bool:
        if rep.digest == NONE:
            return True
        ev = rep.evidence
        hit = self.known.get(id(ev))
        if hit is not None and hit[0] is ev:
            ok = hit[1]
        else:
            ok = self._check(ev)
            self.known[id(ev)] = (ev, ok)
        if not ok:
            return False
        assert ev is not None  # _check accepted it: a signed Propose
        p = ev.payload
        return (p.view, p.slot, p.digest) == (rep.accepted_view, rep.slot, rep.digest)

    def _check(self, ev: Any) -> bool:
        if type(ev) is not Signed or type(ev.payload) is not Propose:
            return False
        p = ev.payload
        if not (is_int(p.view) and is_int(p.slot)) or p.view < 0 or not is_digest(p.digest):
            return False
        if ev.signer != self.q.leader(p.view) or not self.value_ok(p.value):
            return False
        if value_digest(p.value) != p.digest or not self.verify(ev):
            return False
        if p.view == 0:
            return p.pc == ()
        if pc_problem(p.pc, p.view, p.slot, self.q, self.verify):
            return False
        choice = self.choice(p.pc)
        return choice == FREE or choice == p.digest

    def choice(self, pc: tuple[Signed, ...]) -> bytes | str:
        """The digest a (valid) PC forces under the corrected rule, or ``FREE``/``STUCK``."""
        reps = [s.payload for s in pc]
        if not all(self.valid(r) for r in reps):
            return STUCK
        accepted = [r for r in reps if r.digest != NONE]
        if not accepted:
            return FREE
        top = max(r.accepted_view for r in accepted)
        latest = [r for r in accepted if r.accepted_view == top]
        proven = sorted({r.digest for r in latest if r.proof})
        if proven:
            return proven[0]
        counts: dict[bytes, int] = {}
        for r in latest:
            counts[r.digest] = counts.get(r.digest, 0) + 1
        return sorted(counts, key=lambda d: (-counts[d], d))[0]


def content_for(
    pc: tuple[Signed, ...], digest: bytes, value_ok: Callable[[Any], bool]
) -> tuple[Signed, ...] | None:
    """The value with ``digest`` as some Rep of the PC carries it (None: none does)."""
    for signed in pc:
        r = signed.payload
        if r.digest == digest and value_ok(r.value) and value_digest(r.value) == digest:
            return r.value
    return None
