"""Zyzzyva messages (Kotla, Alvisi, Dahlin, Clement, Wong; SOSP 2007, TOCS 2009), as frozen values.

Every message a replica sends travels signed (a ``bft.core.crypto.Signed`` whose
payload is one of the classes below), and so does every client message, so any
certificate built from them is transferable. The paper signs where a message
must be shown to third parties (spec-responses in commit certificates,
order-reqs in proofs of misbehaviour, view-changes) and uses MACs elsewhere;
signing throughout is the simpler variant the paper also allows.

Histories. ``h_n = H(h_{n-1}, d_n)`` chains the digests of the requests in
sequence order from ``GENESIS``; it does not name views, so one history hash
means one request sequence whatever view ordered it.

Simplification (named): the service is deterministic, so order-reqs carry no
non-deterministic values (the paper's ND field).
"""

from __future__ import annotations

import hashlib
from typing import Any

import attrs

from bft.core.crypto import Signed
from bft.core.encoding import canonical_bytes
from bft.core.environment import Operation
from bft.core.memo import by_identity

DIGEST_SIZE = 16
GENESIS = b"\x00" * DIGEST_SIZE  # the history before any request


@attrs.frozen
class Request:
    """Client -> primary (or every replica, on retransmission): execute ``op``.

    Signed by the client; ``op.seq`` is the client's timestamp ``t``.
    """

    op: Operation

    KIND = "request"


@attrs.frozen
class OrderReq:
    """Primary -> backups: ``request`` gets sequence number ``seq`` in ``view``;
    ``history`` is h_seq and ``digest`` the request's digest."""

    view: int
    seq: int
    history: bytes
    digest: bytes
    request: Signed

    KIND = "order-req"


@attrs.frozen
class SpecResponse:
    """The signed part of a replica's speculative reply (what commit certificates hold)."""

    view: int
    seq: int
    history: bytes
    result: int
    client: int
    ts: int
    replica: int

    KIND = "spec-response"


@attrs.frozen
class SpecReply:
    """Replica -> client: a signed ``SpecResponse`` and the signed order-req it executed
    (None for an entry installed by a new view), so the client can prove an
    equivocating primary."""

    response: Signed
    order: Signed | None

    KIND = "spec-response"


@attrs.frozen
class Commit:
    """Client -> replicas (signed by the client): a commit certificate, 2f+1 signed
    ``SpecResponse``s from distinct replicas that match in everything but the replica."""

    client: int
    cert: tuple[Signed, ...]

    KIND = "commit"


@attrs.frozen
class LocalCommit:
    """Replica -> client: I hold the commit certificate for history ``history`` at ``seq``."""

    view: int
    seq: int
    history: bytes
    client: int
    ts: int
    replica: int

    KIND = "local-commit"


@attrs.frozen
class FillHole:
    """Replica -> primary (then -> every replica): send me the order-reqs ``first..last``."""

    view: int
    first: int
    last: int
    replica: int

    KIND = "fill-hole"


@attrs.frozen
class IHateThePrimary:
    """Replica -> replicas: I suspect the primary of ``view``."""

    view: int
    replica: int

    KIND = "i-hate-the-primary"


@attrs.frozen
class ProofOfMisbehavior:
    """Two order-reqs signed by one primary for one view and sequence number that differ."""

    first: Signed
    second: Signed

    KIND = "pom"


@attrs.frozen
class ViewConfirm:
    """Replica -> replicas: the history I computed from the NEW-VIEW of ``view``."""

    view: int
    seq: int
    history: bytes
    replica: int

    KIND = "view-confirm"


@attrs.frozen
class Entry:
    """One request of a replica's history as a VIEW-CHANGE reports it: the signed
    request and, above the certificate, the signed order-req that ordered it."""

    request: Signed
    order: Signed | None

    KIND = "entry"


@attrs.frozen
class ViewChange:
    """Replica -> replicas: move to ``view``.

    ``cert`` is the replica's certificate: a commit certificate (signed
    ``SpecResponse``s) obtained since its last view change, or else the f+1
    signed ``ViewConfirm``s of the last view it started, or nothing. ``entries``
    is its whole history, one ``Entry`` per sequence number from 1; the entries
    above the certificate each carry their order-req. ``proof`` holds f+1 signed
    ``IHateThePrimary`` for ``view - 1``.
    """

    view: int
    cert: tuple[Signed, ...]
    entries: tuple[Entry, ...]
    proof: tuple[Signed, ...]
    replica: int

    KIND = "view-change"


@attrs.frozen
class NewView:
    """New primary -> replicas: the 2f+1 view-changes every replica computes the history from."""

    view: int
    view_changes: tuple[Signed, ...]

    KIND = "new-view"


@by_identity()
def request_digest(request: Signed) -> bytes:
    """d = H(m): the digest of a signed client request (signature bytes excluded)."""
    return hashlib.blake2b(canonical_bytes(request), digest_size=DIGEST_SIZE).digest()


def chain(history: bytes, digest: bytes) -> bytes:
    """h_n = H(h_{n-1}, d_n)."""
    return hashlib.blake2b(history + digest, digest_size=DIGEST_SIZE).digest()


def is_int(value: Any) -> bool:
    return type(value) is int


def is_digest(value: Any) -> bool:
    return type(value) is bytes and len(value) == DIGEST_SIZE


def op_label(client: int, op: Operation) -> str:
    """A short readable name for a request: ``client:ts:arg``, with ``!`` if poisoned."""
    return f"{client}:{op.seq}:{op.arg}{'!' if op.poison else ''}"


def request_label(request: Signed) -> str:
    return op_label(request.signer, request.payload.op)
