"""Checking PBFT certificates, and computing a new view's pre-prepares.

Theory of operation. Byzantine replicas can sign anything with their own keys,
so a valid signature proves only who spoke, not that the content makes sense.
Every function here takes a possibly hostile value and returns ``None`` when it
is well formed and properly certified, or a short reason it is not; none of
them raises on any input. ``verify`` is the node's ``ctx.verify``.

* A client request is valid when a client node signed it and it carries an
  ``Operation`` with integer fields.
* A pre-prepare is valid when the primary of its view signed it and its digest
  is the digest of the batch it carries (the null digest for the empty batch),
  and the batch holds at most ``batch`` distinct valid requests.
* A checkpoint proof is 2f+1 signed, matching checkpoints from distinct replicas.
* A prepared certificate is a valid pre-prepare plus 2f signed prepares from
  distinct backups (not the view's primary) naming the same view, sequence
  number and digest.
* A view-change is valid when its checkpoint proof and every prepared
  certificate are, the certificates name distinct sequence numbers inside the
  watermark window above the checkpoint, and they come from earlier views.

``new_view_plan`` is the new primary's rule (paper, section 4.4): min-s is the
highest stable checkpoint among the 2f+1 view-changes, max-s the highest
prepared sequence number; each number in (min-s, max-s] is re-proposed with the
request of the certificate from the highest view, or the null request if none
prepared. Backups recompute the same plan to check a NEW-VIEW.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from bft.core.crypto import Signed
from bft.core.environment import Operation
from bft.core.memo import by_identity
from bft.protocols.pbft.messages import (
    NULL_DIGEST,
    Checkpoint,
    Prepare,
    PreparedCert,
    PrePrepare,
    Request,
    ViewChange,
    is_digest,
    is_int,
    request_digest,
)

Verify = Callable[..., bool]


@attrs.frozen
class Config:
    """The numbers every check needs: replicas, faults, window, node count."""

    n: int  # replicas (ids 0..n-1)
    f: int
    window: int  # L: sequence numbers accepted are h < seq <= h + L
    total: int  # all nodes; clients are n..total-1
    batch: int = 1  # most requests one pre-prepare may order

    def primary(self, view: int) -> int:
        return view % self.n


def request_problem(req: Any, cfg: Config, verify: Verify) -> str | None:
    if type(req) is not Signed or type(req.payload) is not Request:
        return "not a signed request"
    op = req.payload.op
    if type(op) is not Operation or not (is_int(op.client) and is_int(op.seq) and is_int(op.arg)):
        return "request without a well-formed operation"
    if type(op.poison) is not bool:
        return "request without a well-formed operation"
    if not is_int(req.signer) or not cfg.n <= req.signer < cfg.total:
        return f"request signed by {req.signer!r}, which is not a client"
    if op.seq < 0:
        return f"request with negative timestamp {op.seq}"
    if not verify(req):
        return "request with an invalid client signature"
    return None


def pre_prepare_problem(signed: Any, cfg: Config, verify: Verify) -> str | None:
    if type(signed) is not Signed or type(signed.payload) is not PrePrepare:
        return "not a signed pre-prepare"
    pp = signed.payload
    if not (is_int(pp.view) and is_int(pp.seq) and is_digest(pp.digest)):
        return "malformed pre-prepare"
    if pp.view < 0 or pp.seq < 1:
        return f"pre-prepare with view {pp.view} and sequence number {pp.seq}"
    if signed.signer != cfg.primary(pp.view):
        return f"pre-prepare for view {pp.view} signed by {signed.signer!r}, not its primary"
    batch = pp.requests
    if type(batch) is not tuple or len(batch) > cfg.batch:
        return f"pre-prepare with a malformed batch (at most {cfg.batch} requests)"
    if not batch:
        if pp.digest != NULL_DIGEST:
            return "null pre-prepare with a non-null digest"
    else:
        seen: set[tuple[int, int]] = set()
        for req in batch:
            problem = request_problem(req, cfg, verify)
            if problem:
                return "pre-prepare carrying a bad request: " + problem
            key = (req.signer, req.payload.op.seq)
            if key in seen:
                return "pre-prepare carrying the same request twice"
            seen.add(key)
        if request_digest(batch) != pp.digest:
            return "pre-prepare digest does not match its requests"
    if not verify(signed):
        return "pre-prepare with an invalid signature"
    return None


def checkpoint_proof_problem(
    seq: Any, proof: Any, cfg: Config, verify: Verify
) -> tuple[str | None, Checkpoint | None]:
    """Check 2f+1 matching checkpoints for ``seq``; returns (problem, one of them)."""
    if not is_int(seq) or seq < 0:
        return "malformed checkpoint sequence number", None
    if type(proof) is not tuple:
        return "malformed checkpoint proof", None
    if seq == 0:
        return (None, None) if proof == () else ("genesis checkpoint with a proof", None)
    if len(proof) < 2 * cfg.f + 1:
        return f"checkpoint proof with {len(proof)} checkpoints (needs {2 * cfg.f + 1})", None
    seen: set[int] = set()
    first: Checkpoint | None = None
    for signed in proof:
        if type(signed) is not Signed or type(signed.payload) is not Checkpoint:
            return "checkpoint proof with a non-checkpoint", None
        cp = signed.payload
        if cp.seq != seq or cp.replica != signed.signer or not is_int(cp.replica):
            return "checkpoint proof with a mismatched checkpoint", None
        if not 0 <= cp.replica < cfg.n or cp.replica in seen:
            return "checkpoint proof with a repeated or unknown replica", None
        if first is None:
            problem = checkpoint_problem(signed, cfg)
            if problem:
                return "checkpoint proof: " + problem, None
            first = cp
        elif (cp.state, cp.table) != (first.state, first.table):
            return "checkpoint proof with checkpoints that do not match", None
        if not verify(signed):
            return "checkpoint proof with an invalid signature", None
        seen.add(cp.replica)
    return None, first


def checkpoint_problem(signed: Signed, cfg: Config) -> str | None:
    cp = signed.payload
    if not (is_int(cp.seq) and is_digest(cp.state) and is_int(cp.replica)):
        return "malformed checkpoint"
    if cp.replica != signed.signer or not 0 <= cp.replica < cfg.n:
        return f"checkpoint for replica {cp.replica!r} signed by {signed.signer!r}"
    table = cp.table
    if type(table) is not tuple or len(table) > cfg.total or not _well_formed_table(table):
        return "malformed checkpoint table"
    return None


@by_identity()
def _well_formed_table(table: tuple[Any, ...]) -> bool:
    """Every row is a (client, ts, result) triple of ints. Remembered by the identity of
    the table: the n-1 replicas that receive one checkpoint share its table."""
    return all(
        type(row) is tuple
        and len(row) == 3
        and type(row[0]) is int
        and type(row[1]) is int
        and type(row[2]) is int
        for row in table
    )


def prepared_cert_problem(
    cert: Any, cfg: Config, verify: Verify, below_view: int, low: int
) -> str | None:
    if type(cert) is not PreparedCert or type(cert.prepares) is not tuple:
        return "malformed prepared certificate"
    problem = pre_prepare_problem(cert.pre_prepare, cfg, verify)
    if problem:
        return "prepared certificate: " + problem
    pp = cert.pre_prepare.payload
    if pp.view >= below_view:
        return f"prepared certificate from view {pp.view}, not before view {below_view}"
    if not low < pp.seq <= low + cfg.window:
        return (
            f"prepared certificate for sequence number {pp.seq} outside ({low}, {low + cfg.window}]"
        )
    if len(cert.prepares) < 2 * cfg.f:
        return f"prepared certificate with {len(cert.prepares)} prepares (needs {2 * cfg.f})"
    primary = cfg.primary(pp.view)
    seen: set[int] = set()
    for signed in cert.prepares:
        if type(signed) is not Signed or type(signed.payload) is not Prepare:
            return "prepared certificate with a non-prepare"
        p = signed.payload
        if (p.view, p.seq, p.digest) != (pp.view, pp.seq, pp.digest):
            return "prepared certificate with a prepare that does not match"
        if p.replica != signed.signer or not is_int(p.replica) or not 0 <= p.replica < cfg.n:
            return "prepared certificate with a prepare from an unknown replica"
        if p.replica == primary or p.replica in seen:
            return "prepared certificate with a repeated prepare or one from the primary"
        if not verify(signed):
            return "prepared certificate with an invalid prepare signature"
        seen.add(p.replica)
    return None


def view_change_problem(signed: Any, cfg: Config, verify: Verify) -> str | None:
    if type(signed) is not Signed or type(signed.payload) is not ViewChange:
        return "not a signed view-change"
    vc = signed.payload
    if not (is_int(vc.view) and is_int(vc.replica) and is_int(vc.stable_seq)):
        return "malformed view-change"
    if vc.view < 1 or vc.replica != signed.signer or not 0 <= vc.replica < cfg.n:
        return f"view-change for view {vc.view} from replica {vc.replica!r}"
    if type(vc.prepared) is not tuple or len(vc.prepared) > cfg.window:
        return "view-change with a malformed prepared set"
    if not verify(signed):
        return "view-change with an invalid signature"
    problem, _ = checkpoint_proof_problem(vc.stable_seq, vc.checkpoint_proof, cfg, verify)
    if problem:
        return "view-change: " + problem
    seqs: set[int] = set()
    for cert in vc.prepared:
        problem = prepared_cert_problem(cert, cfg, verify, vc.view, vc.stable_seq)
        if problem:
            return "view-change: " + problem
        seq = cert.pre_prepare.payload.seq
        if seq in seqs:
            return f"view-change with two certificates for sequence number {seq}"
        seqs.add(seq)
    return None


@attrs.frozen
class Plan:
    """What a NEW-VIEW must contain: the checkpoint to start from and the pre-prepares."""

    min_s: int
    max_s: int
    checkpoint: Signed | None  # a view-change whose checkpoint is min-s (None: genesis)
    entries: tuple[tuple[int, bytes, tuple[Signed, ...]], ...]  # (seq, digest, requests)


def new_view_plan(view_changes: Sequence[Signed]) -> Plan:
    """The pre-prepares a new view re-issues, from valid view-changes (deterministic)."""
    min_s, source = 0, None
    for signed in view_changes:
        if signed.payload.stable_seq > min_s:
            min_s, source = signed.payload.stable_seq, signed
    best: dict[int, PrePrepare] = {}
    for signed in view_changes:
        for cert in signed.payload.prepared:
            pp = cert.pre_prepare.payload
            if pp.seq <= min_s:
                continue
            current = best.get(pp.seq)
            if current is None or pp.view > current.view:
                best[pp.seq] = pp
    max_s = max(best, default=min_s)
    entries: list[tuple[int, bytes, tuple[Signed, ...]]] = []
    for seq in range(min_s + 1, max_s + 1):
        pp = best.get(seq)
        if pp is None:
            entries.append((seq, NULL_DIGEST, ()))
        else:
            entries.append((seq, pp.digest, pp.requests))
    return Plan(min_s, max_s, source, tuple(entries))
