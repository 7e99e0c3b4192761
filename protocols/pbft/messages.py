"""PBFT messages (Castro and Liskov, OSDI 1999), as frozen values.

Every replica-to-replica message travels signed: a ``bft.core.crypto.Signed`` whose
payload is one of the classes below, so the message kind counted in the trace
is the payload's ``KIND``. Clients sign their ``Request``. A ``Reply`` goes
unsigned on the authenticated point-to-point channel (the paper's MAC), since
only its addressee ever checks it. The paper authenticates the normal case with MAC vectors and uses
signatures for view changes; this implementation signs throughout (the
"simpler variant" the paper also describes), so every certificate is
transferable.

Simplification (named): the client requests are carried inside the signed
``PrePrepare`` instead of being piggybacked beside it. The digest is still
computed and checked, and prepares and commits carry only the digest.

Batching (as in the paper's implementation): a pre-prepare orders a *batch* of
requests under one sequence number; with the default batch size of 1 every
request has its own sequence number and the message count per request is the
textbook one.
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
NULL_DIGEST = b"\x00" * DIGEST_SIZE  # the digest of the null request that fills gaps
GENESIS = b"\x00" * DIGEST_SIZE  # the service state before anything executed


@attrs.frozen
class Request:
    """Client -> primary (or all replicas, on retransmission): execute ``op``.

    Signed by the client; ``op.seq`` is the client's timestamp: a replica executes a
    client's requests only in increasing timestamp order, each at most once.
    """

    op: Operation

    KIND = "request"


@attrs.frozen
class PrePrepare:
    """Primary -> backups: the batch ``requests`` gets sequence number ``seq`` in ``view``.

    ``requests`` holds the clients' signed requests, executed in that order; the
    empty batch is the null request (digest ``NULL_DIGEST``) that a new primary
    uses to fill a gap.
    """

    view: int
    seq: int
    digest: bytes
    requests: tuple[Signed, ...]

    KIND = "pre-prepare"


@attrs.frozen
class Prepare:
    view: int
    seq: int
    digest: bytes
    replica: int

    KIND = "prepare"


@attrs.frozen
class Commit:
    view: int
    seq: int
    digest: bytes
    replica: int

    KIND = "commit"


@attrs.frozen
class Reply:
    """Replica -> client: the result of the client's request with timestamp ``ts``."""

    view: int
    ts: int
    client: int
    replica: int
    result: int

    KIND = "reply"


@attrs.frozen
class Checkpoint:
    """Replica -> replicas: my state after executing ``seq``.

    ``state`` is a hash chain over every executed (seq, digest); ``table`` is the
    rest of the service state, each client's last timestamp and reply, as
    sorted ``(client, ts, result)`` triples. Carrying the table makes a
    checkpoint certificate enough for state transfer (the service's results are a
    pure function of the operation, so no other state exists).
    """

    seq: int
    state: bytes
    table: tuple[tuple[int, int, int], ...]
    replica: int

    KIND = "checkpoint"


@attrs.frozen
class PreparedCert:
    """Proof that a request prepared: the signed pre-prepare and 2f signed prepares."""

    pre_prepare: Signed
    prepares: tuple[Signed, ...]

    KIND = "prepared-cert"


@attrs.frozen
class ViewChange:
    """Replica -> replicas: move to ``view``.

    Carries the replica's last stable checkpoint (``stable_seq`` with 2f+1 signed
    checkpoints as proof; empty for the genesis checkpoint 0) and one prepared
    certificate per sequence number above it that prepared in some view.
    """

    view: int
    stable_seq: int
    checkpoint_proof: tuple[Signed, ...]
    prepared: tuple[PreparedCert, ...]
    replica: int

    KIND = "view-change"


@attrs.frozen
class NewView:
    """New primary -> backups: 2f+1 view-changes and the pre-prepares they imply."""

    view: int
    view_changes: tuple[Signed, ...]
    pre_prepares: tuple[Signed, ...]

    KIND = "new-view"


@by_identity()
def request_digest(requests: tuple[Signed, ...]) -> bytes:
    """The digest a pre-prepare, prepare and commit name for a batch of requests.

    Remembered by the identity of the batch: the n-1 backups that check one
    pre-prepare share its batch object and hash it once.
    """
    if not requests:
        return NULL_DIGEST
    return hashlib.blake2b(canonical_bytes(requests), digest_size=DIGEST_SIZE).digest()


def next_state(state: bytes, seq: int, digest: bytes) -> bytes:
    """Extend the state hash chain by one executed sequence number."""
    return hashlib.blake2b(
        state + seq.to_bytes(8, "big") + digest, digest_size=DIGEST_SIZE
    ).digest()


def is_int(value: Any) -> bool:
    return type(value) is int


def is_digest(value: Any) -> bool:
    return type(value) is bytes and len(value) == DIGEST_SIZE


def op_label(client: int, op: Operation) -> str:
    """A short readable name for a request: ``client:ts:arg``, with ``!`` if poisoned."""
    return f"{client}:{op.seq}:{op.arg}{'!' if op.poison else ''}"


@by_identity()
def request_label(requests: tuple[Signed, ...]) -> str:
    """The labels of a committed batch, comma-separated, or ``null`` for the null request.

    Remembered by the identity of the batch (every replica labels the same one)."""
    if not requests:
        return "null"
    return ",".join(op_label(r.signer, r.payload.op) for r in requests)


@attrs.frozen
class Status:
    """Replica -> replicas, only while it waits without progress: where I am.

    Peers answer with what it lacks (the retransmission of lost messages that the
    paper's implementation performs with status messages): the NEW-VIEW of a later
    view, their VIEW-CHANGE for the view it is moving to, the pre-prepares,
    prepares and commits above its last executed sequence number, and the proof
    of their stable checkpoint if it is below it.
    """

    view: int
    active: bool
    last_exec: int
    replica: int

    KIND = "status"
