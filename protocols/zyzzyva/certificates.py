"""Checking Zyzzyva certificates, and computing a new view's history.

Theory of operation. A valid signature proves only who spoke, so every function
here takes a possibly hostile value and returns a short reason it is not well
formed or not properly certified (``None`` when it is); none raises on any input.
``verify`` is the node's ``ctx.verify``.

* A request is valid when a client node signed it and it carries an ``Operation``.
* An order-req is valid when the primary of its view signed it, it carries a
  valid request and its digest is that request's.
* A *commit certificate* is 2f+1 signed spec-responses from distinct replicas that
  agree on view, sequence number, history, result, client and timestamp.
* A *view-confirm certificate* is f+1 signed view-confirms from distinct replicas
  that agree on view, sequence number and history (at least one correct replica
  computed that history from a valid NEW-VIEW).
* A view-change is valid when its I-HATE-THE-PRIMARY proof holds f+1 distinct
  signed complaints about the primary of the previous view, its certificate is
  valid and from an earlier view, its entries chain from ``GENESIS`` to the
  certificate's history at the certificate's sequence number, and every entry
  above the certificate carries a valid order-req of an earlier view for exactly
  that request, sequence number and history.

A valid view-change becomes a ``Report``: the reporter's history (requests and
the chained hashes) with, per sequence number, the view the evidence comes from
(the certificate's view up to its sequence number, the order-req's view above
it) and whether a commit certificate covers it.

The two new-view rules (a deterministic function of the 2f+1 reports the
NEW-VIEW carries, recomputed by every replica):

``published_history`` -- Zyzzyva as published (our reading of TOCS 2009, section
3.5 of the SOSP paper): start from the certificate with the highest sequence
number (ties: the later view, then the lower replica id) and the history it
certifies; then, one sequence number at a time, append the request that at
least f+1 reports hold there, chained onto the history chosen so far; stop at
the first sequence number where none does. Certificates and order-reqs are
compared by sequence number only, never by view: a commit certificate from an
old view outranks the order-reqs of a later one. Abraham, Gueta, Malkhi,
Alvisi, Kotla and Martin (arXiv 1712.01367, 2017) show that this loses a request
a client completed (``docs/known-bugs.md``).

``fixed_history`` -- the corrected rule, after the principle of Abraham, Gueta,
Malkhi and Martin, "Revisiting Fast Practical Byzantine Fault Tolerance: Thelma,
Velma, and Zelma" (arXiv 1801.10022, 2018; its Zyzzyva-like protocol is Velma):
a new view adopts, slot by slot, the value of a *potential decision from the
highest view*. At each sequence number, among the entries chained onto the
history chosen so far, a value scores (w, 2) for a commit certificate from view
w covering it, (w, 1) for a view-confirm certificate of view w covering it (the
history view w's NEW-VIEW fixed), and (w, 0) when at least f+1 reports hold it
(w is the (f+1)-th highest view among them: a lone order-req is one primary's
word, and a faulty primary signs anything). The highest score wins; the history
stops where no value scores.

Why it is safe (induction on views): let x be decided at sequence number s in
view w. By a fast path, every correct replica accepted x in w, and (induction)
every later view's history holds x, so the f+1 or more correct reports all hold
x from view w or later: x scores at least (w, 0). By a commit certificate,
f+1 correct replicas stored it, so a report in the new view's 2f+1 holds x
under that certificate (w, 2) or, having started a later view w', under its
view-confirms (w', 1). Another value y would need a certificate or f+1
reports from view w or later: a certificate of view w for y contradicts the
quorums that decided x, one of a later view contradicts the induction, and
f+1 reports include a correct replica, which holds y in view w at most
(accepted from a primary that equivocated, only possible when x was decided by
certificate): y scores (w, 0) at most, below x. The exact rule is ours: the
note sketches the principle, not this message format.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from bft.core.crypto import Signed
from bft.core.environment import Operation
from bft.protocols.zyzzyva.messages import (
    GENESIS,
    Entry,
    IHateThePrimary,
    OrderReq,
    Request,
    SpecResponse,
    ViewChange,
    ViewConfirm,
    chain,
    is_digest,
    is_int,
    request_digest,
)

Verify = Callable[..., bool]

COMMIT_CERT, CONFIRM_CERT = "commit", "confirm"
MAX_ENTRIES = 100_000  # a view-change longer than this is refused (no honest run gets near it)


@attrs.frozen
class Config:
    """The numbers every check needs: replicas, faults, node count."""

    n: int  # replicas (ids 0..n-1)
    f: int
    total: int  # all nodes; clients are n..total-1

    def primary(self, view: int) -> int:
        return view % self.n


@attrs.frozen
class CertInfo:
    """What a valid certificate certifies: history ``history`` at ``seq`` in ``view``."""

    kind: str  # COMMIT_CERT or CONFIRM_CERT
    view: int
    seq: int
    history: bytes


@attrs.frozen
class Report:
    """A valid view-change, unpacked for the new-view rules."""

    replica: int
    cert: CertInfo | None
    requests: tuple[Signed, ...]
    hashes: tuple[bytes, ...]  # hashes[s] = h_s; hashes[0] = GENESIS
    views: tuple[int, ...]  # views[s - 1]: the view of the evidence for sequence number s

    @property
    def cert_seq(self) -> int:
        return 0 if self.cert is None else self.cert.seq

    def strength(self, seq: int) -> int:
        """The evidence for sequence number ``seq``: 2 under a commit certificate, 1 under
        a view-confirm certificate, 0 for an order-req (one primary's word)."""
        if self.cert is None or seq > self.cert.seq:
            return 0
        return 2 if self.cert.kind == COMMIT_CERT else 1


def request_problem(req: Any, cfg: Config, verify: Verify) -> str | None:
    if type(req) is not Signed or type(req.payload) is not Request:
        return "not a signed request"
    op = req.payload.op
    if type(op) is not Operation or not (is_int(op.client) and is_int(op.seq) and is_int(op.arg)):
        return "request without a well-formed operation"
    if type(op.poison) is not bool:
        return "request without a well-formed operation"
    if not is_int(req.signer) or not cfg.n <= req.signer < cfg.total or op.client != req.signer:
        return f"request signed by {req.signer!r}, which is not its client"
    if op.seq < 0:
        return f"request with negative timestamp {op.seq}"
    if not verify(req):
        return "request with an invalid client signature"
    return None


def order_problem(signed: Any, cfg: Config, verify: Verify) -> str | None:
    if type(signed) is not Signed or type(signed.payload) is not OrderReq:
        return "not a signed order-req"
    o = signed.payload
    if not (is_int(o.view) and is_int(o.seq) and is_digest(o.history) and is_digest(o.digest)):
        return "malformed order-req"
    if o.view < 0 or o.seq < 1:
        return f"order-req with view {o.view} and sequence number {o.seq}"
    if signed.signer != cfg.primary(o.view):
        return f"order-req for view {o.view} signed by {signed.signer!r}, not its primary"
    problem = request_problem(o.request, cfg, verify)
    if problem:
        return "order-req carrying a bad request: " + problem
    if request_digest(o.request) != o.digest:
        return "order-req digest does not match its request"
    if not verify(signed):
        return "order-req with an invalid signature"
    return None


def misbehavior_problem(first: Any, second: Any, cfg: Config, verify: Verify) -> str | None:
    """Why two order-reqs do not prove that their primary misbehaved (None: they do).

    A correct primary's order-reqs of one view form one hash chain and order each
    request once, so two valid order-reqs of one view prove misbehaviour when they
    name one sequence number but differ, name one request at two sequence numbers,
    or name consecutive sequence numbers s and s+1 where h_{s+1} != H(h_s, d_{s+1}).
    """
    problem = order_problem(first, cfg, verify) or order_problem(second, cfg, verify)
    if problem:
        return problem
    a, b = sorted((first.payload, second.payload), key=lambda o: o.seq)
    if a.view != b.view:
        return "order-reqs of different views"
    if a.seq == b.seq:
        same = (a.digest, a.history) == (b.digest, b.history)
        return "the same order-req twice" if same else None
    if a.digest == b.digest:
        return None
    if b.seq == a.seq + 1 and b.history != chain(a.history, b.digest):
        return None
    return "order-reqs that do not conflict"


def spec_response_problem(signed: Any, cfg: Config, verify: Verify) -> str | None:
    if type(signed) is not Signed or type(signed.payload) is not SpecResponse:
        return "not a signed spec-response"
    r = signed.payload
    fields = (r.view, r.seq, r.result, r.client, r.ts, r.replica)
    if not all(is_int(x) for x in fields) or not is_digest(r.history):
        return "malformed spec-response"
    if r.replica != signed.signer or not 0 <= r.replica < cfg.n:
        return f"spec-response for replica {r.replica!r} signed by {signed.signer!r}"
    if r.view < 0 or r.seq < 1:
        return f"spec-response with view {r.view} and sequence number {r.seq}"
    if not verify(signed):
        return "spec-response with an invalid signature"
    return None


def commit_cert_problem(cert: Any, cfg: Config, verify: Verify) -> tuple[str | None, Any]:
    """Check a commit certificate; returns (problem, the first ``SpecResponse``)."""
    if type(cert) is not tuple or not 2 * cfg.f + 1 <= len(cert) <= cfg.n:
        return f"commit certificate without {2 * cfg.f + 1} spec-responses", None
    first: SpecResponse | None = None
    seen: set[int] = set()
    for signed in cert:
        problem = spec_response_problem(signed, cfg, verify)
        if problem:
            return "commit certificate: " + problem, None
        r = signed.payload
        if r.replica in seen:
            return "commit certificate with a repeated replica", None
        seen.add(r.replica)
        if first is None:
            first = r
        elif attrs.evolve(r, replica=first.replica) != first:
            return "commit certificate with spec-responses that do not match", None
    return None, first


def confirm_cert_problem(cert: Any, cfg: Config, verify: Verify) -> tuple[str | None, Any]:
    """Check f+1 matching view-confirms; returns (problem, the first ``ViewConfirm``)."""
    if type(cert) is not tuple or not cfg.f + 1 <= len(cert) <= cfg.n:
        return f"view-confirm certificate without {cfg.f + 1} view-confirms", None
    first: ViewConfirm | None = None
    seen: set[int] = set()
    for signed in cert:
        if type(signed) is not Signed or type(signed.payload) is not ViewConfirm:
            return "view-confirm certificate with a non-view-confirm", None
        c = signed.payload
        if not (is_int(c.view) and is_int(c.seq) and is_int(c.replica) and is_digest(c.history)):
            return "malformed view-confirm", None
        if c.replica != signed.signer or not 0 <= c.replica < cfg.n or c.replica in seen:
            return "view-confirm certificate with a repeated or unknown replica", None
        if c.view < 1 or c.seq < 0:
            return f"view-confirm for view {c.view} and sequence number {c.seq}", None
        if first is None:
            first = c
        elif (c.view, c.seq, c.history) != (first.view, first.seq, first.history):
            return "view-confirm certificate with view-confirms that do not match", None
        if not verify(signed):
            return "view-confirm with an invalid signature", None
        seen.add(c.replica)
    return None, first


def cert_info(cert: Any, cfg: Config, verify: Verify) -> tuple[str | None, CertInfo | None]:
    """Check a view-change's certificate (a commit or view-confirm certificate, or none)."""
    if cert == ():
        return None, None
    if type(cert) is not tuple or not cert or type(cert[0]) is not Signed:
        return "malformed certificate", None
    if type(cert[0].payload) is SpecResponse:
        problem, r = commit_cert_problem(cert, cfg, verify)
        if problem:
            return problem, None
        return None, CertInfo(COMMIT_CERT, r.view, r.seq, r.history)
    problem, c = confirm_cert_problem(cert, cfg, verify)
    if problem:
        return problem, None
    return None, CertInfo(CONFIRM_CERT, c.view, c.seq, c.history)


def hate_proof_problem(proof: Any, view: int, cfg: Config, verify: Verify) -> str | None:
    """f+1 signed I-HATE-THE-PRIMARY for ``view`` from distinct replicas."""
    if type(proof) is not tuple or not cfg.f + 1 <= len(proof) <= cfg.n:
        return f"proof without {cfg.f + 1} i-hate-the-primary messages"
    seen: set[int] = set()
    for signed in proof:
        if type(signed) is not Signed or type(signed.payload) is not IHateThePrimary:
            return "proof with a non-i-hate-the-primary message"
        h = signed.payload
        if h.view != view or h.replica != signed.signer or not is_int(h.replica):
            return f"proof with a complaint that is not about view {view}"
        if not 0 <= h.replica < cfg.n or h.replica in seen:
            return "proof with a repeated or unknown replica"
        if not verify(signed):
            return "proof with an invalid signature"
        seen.add(h.replica)
    return None


def view_change_report(signed: Any, cfg: Config, verify: Verify) -> tuple[str | None, Any]:
    """Check a signed view-change; returns (problem, its ``Report``)."""
    if type(signed) is not Signed or type(signed.payload) is not ViewChange:
        return "not a signed view-change", None
    vc = signed.payload
    if not (is_int(vc.view) and is_int(vc.replica)):
        return "malformed view-change", None
    if vc.view < 1 or vc.replica != signed.signer or not 0 <= vc.replica < cfg.n:
        return f"view-change for view {vc.view!r} from replica {vc.replica!r}", None
    entries = vc.entries
    if type(entries) is not tuple or len(entries) > MAX_ENTRIES:
        return "view-change with malformed entries", None
    if not verify(signed):
        return "view-change with an invalid signature", None
    problem = hate_proof_problem(vc.proof, vc.view - 1, cfg, verify)
    if problem:
        return "view-change: " + problem, None
    problem, cert = cert_info(vc.cert, cfg, verify)
    if problem:
        return "view-change: " + problem, None
    low = 0
    if cert is not None:
        if cert.view >= vc.view:
            return f"view-change for view {vc.view} with a certificate from view {cert.view}", None
        if cert.seq > len(entries):
            return "view-change whose entries stop below its certificate", None
        low = cert.seq
    requests: list[Signed] = []
    hashes = [GENESIS]
    views: list[int] = []
    for seq, entry in enumerate(entries, start=1):
        if type(entry) is not Entry:
            return "view-change with a malformed entry", None
        problem = request_problem(entry.request, cfg, verify)
        if problem:
            return f"view-change entry {seq}: {problem}", None
        h = chain(hashes[-1], request_digest(entry.request))
        if seq <= low:
            views.append(cert.view)  # type: ignore[union-attr]
        else:
            problem = order_problem(entry.order, cfg, verify)
            if problem:
                return f"view-change entry {seq}: {problem}", None
            assert entry.order is not None  # order_problem accepted it: a signed order-req
            o = entry.order.payload
            if (o.seq, o.history) != (seq, h) or o.request != entry.request:
                return f"view-change entry {seq} whose order-req names another history", None
            if o.view >= vc.view:
                return f"view-change entry {seq} ordered in view {o.view}, not before", None
            views.append(o.view)
        requests.append(entry.request)
        hashes.append(h)
    if cert is not None and hashes[cert.seq] != cert.history:
        return "view-change whose entries do not lead to its certificate's history", None
    return None, Report(vc.replica, cert, tuple(requests), tuple(hashes), tuple(views))


# -- the new-view rules ----------------------------------------------------------------


def _extensions(reports: Sequence[Report], seq: int, tip: bytes) -> dict[bytes, list[Report]]:
    """The reports holding an entry at ``seq`` chained onto history ``tip``, by h_seq."""
    out: dict[bytes, list[Report]] = {}
    for r in reports:
        if len(r.requests) >= seq and r.hashes[seq - 1] == tip:
            out.setdefault(r.hashes[seq], []).append(r)
    return out


def published_history(reports: Sequence[Report], f: int) -> tuple[Signed, ...]:
    """Zyzzyva's rule: the highest-sequence certificate, then f+1-supported order-reqs."""
    base = max(
        reports, key=lambda r: (r.cert_seq, -1 if r.cert is None else r.cert.view, -r.replica)
    )
    history = list(base.requests[: base.cert_seq])
    tip = base.hashes[base.cert_seq]
    seq = base.cert_seq + 1
    while True:
        supported = [
            (h, holders)
            for h, holders in _extensions(reports, seq, tip).items()
            if len(holders) > f
        ]
        if not supported:
            return tuple(history)
        tip, holders = min(supported)  # at most one of 2f+1 reports can reach f+1
        history.append(holders[0].requests[seq - 1])
        seq += 1


def fixed_history(reports: Sequence[Report], f: int) -> tuple[Signed, ...]:
    """The corrected rule: slot by slot, the potential decision from the highest view."""
    history: list[Signed] = []
    tip = GENESIS
    seq = 1
    while True:
        best: tuple[tuple[int, int], bytes, Report] | None = None
        for h, holders in sorted(_extensions(reports, seq, tip).items()):
            scores = [(r.views[seq - 1], r.strength(seq)) for r in holders if r.strength(seq)]
            views = sorted((r.views[seq - 1] for r in holders), reverse=True)
            if len(views) > f:
                scores.append((views[f], 0))
            if scores and (best is None or max(scores) > best[0]):
                best = (max(scores), h, holders[0])
        if best is None:
            return tuple(history)
        _, tip, holder = best
        history.append(holder.requests[seq - 1])
        seq += 1


RULES = {"published": published_history, "fixed": fixed_history}
