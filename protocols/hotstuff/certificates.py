"""Checking HotStuff certificates and proposals; none of these functions raises.

Each takes a possibly hostile value and returns ``None`` when it is well formed
and properly certified, or a short reason it is not.

* A QC is valid when it is the genesis QC, or when it carries n-f votes of its
  phase from distinct replicas, each signed by the replica it names and naming
  the QC's view and node.
* A NEW-VIEW certificate (carried by a PREPARE) is n-f valid NEW-VIEW messages
  for the PREPARE's view from distinct replicas.
* A node is well formed when its parent is a hash, its view an int, and its
  batch at most ``batch`` distinct valid client requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bft.core.crypto import Signed
from bft.protocols.hotstuff.messages import GENESIS_QC, HASH_SIZE, PHASES, QC, VOTES, NewView, Node
from bft.protocols.pbft.certificates import Config, request_problem

Verify = Callable[..., bool]


def is_int(value: Any) -> bool:
    return type(value) is int


def is_hash(value: Any) -> bool:
    return type(value) is bytes and len(value) == HASH_SIZE


def qc_problem(qc: Any, cfg: Config, verify: Verify, phase: str | None = None) -> str | None:
    if type(qc) is not QC:
        return "not a quorum certificate"
    if qc == GENESIS_QC:
        return None if phase in (None, "prepare") else f"genesis QC where a {phase} QC is due"
    if qc.phase not in PHASES or not is_int(qc.view) or not is_hash(qc.node):
        return "malformed quorum certificate"
    if phase is not None and qc.phase != phase:
        return f"{qc.phase} QC where a {phase} QC is due"
    if qc.view < 0 or type(qc.votes) is not tuple or len(qc.votes) > cfg.n:
        return "malformed quorum certificate"
    if len(qc.votes) < cfg.n - cfg.f:
        return f"QC with {len(qc.votes)} votes (needs {cfg.n - cfg.f})"
    kind = VOTES[qc.phase]
    seen: set[int] = set()
    for vote in qc.votes:
        if type(vote) is not Signed or type(vote.payload) is not kind:
            return "QC with a vote of another kind"
        body = vote.payload
        if body.view != qc.view or body.node != qc.node:
            return "QC with a vote for another view or node"
        r = body.replica
        if not is_int(r) or r != vote.signer or not 0 <= r < cfg.n or r in seen:
            return "QC with a vote from an unknown or repeated replica"
        if not verify(vote):
            return "QC with an invalid vote signature"
        seen.add(r)
    return None


def new_view_problem(signed: Any, cfg: Config, verify: Verify) -> str | None:
    if type(signed) is not Signed or type(signed.payload) is not NewView:
        return "not a signed new-view"
    nv = signed.payload
    if not (is_int(nv.view) and is_int(nv.replica)) or nv.view < 0:
        return "malformed new-view"
    if type(nv.waiting) is not bool:
        return "new-view whose 'waiting' is not a bool"
    if nv.replica != signed.signer or not 0 <= nv.replica < cfg.n:
        return f"new-view from replica {nv.replica!r} signed by {signed.signer!r}"
    problem = qc_problem(nv.justify, cfg, verify, "prepare")
    if problem:
        return "new-view carrying a bad QC: " + problem
    if not verify(signed):
        return "new-view with an invalid signature"
    return None


def view_certificate_problem(
    certificate: Any, view: int, cfg: Config, verify: Verify
) -> str | None:
    """n-f valid NEW-VIEWs for ``view`` from distinct replicas."""
    if type(certificate) is not tuple or len(certificate) > cfg.n:
        return "malformed new-view certificate"
    seen: set[int] = set()
    for signed in certificate:
        problem = new_view_problem(signed, cfg, verify)
        if problem:
            return problem
        if signed.payload.view != view or signed.signer in seen:
            return "new-view certificate for another view, or with a repeated replica"
        seen.add(signed.signer)
    if len(seen) < cfg.n - cfg.f:
        return f"new-view certificate with {len(seen)} new-views (needs {cfg.n - cfg.f})"
    return None


def node_problem(node: Any, cfg: Config, verify: Verify) -> str | None:
    if type(node) is not Node or not is_hash(node.parent) or not is_int(node.view):
        return "malformed node"
    batch = node.requests
    if type(batch) is not tuple or len(batch) > cfg.batch:
        return f"node with a malformed batch (at most {cfg.batch} requests)"
    seen: set[tuple[int, int]] = set()
    for req in batch:
        problem = request_problem(req, cfg, verify)
        if problem:
            return "node carrying a bad request: " + problem
        key = (req.signer, req.payload.op.seq)
        if key in seen:
            return "node carrying the same request twice"
        seen.add(key)
    return None
