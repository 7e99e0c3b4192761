"""Parameterised FaB Paxos messages (Martin and Alvisi, IEEE TDSC 2006), as frozen values.

Every replica plays the paper's three roles (proposer, acceptor, learner).
Replica messages travel signed (``bft.core.crypto.Signed``), except ``Pull``
and ``Decided``, whose contents prove themselves. One consensus instance runs
per log position (``slot``); a value is a batch of signed client requests.

* ``Propose`` (leader -> acceptors): the value for (view, slot), with a
  progress certificate (the n-f ``Rep`` it collected) from view 1 on.
* ``Accepted`` (acceptor -> all): I accepted digest d in (view, slot).
  ``fast_quorum`` = ceil((n+3f+1)/2) of them let a learner learn in two steps.
* ``Commit`` (acceptor -> all): I hold a commit proof (``commit_quorum`` =
  ceil((n+f+1)/2) matching ``Accepted``) for the value I accepted (the parameterised
  protocol's second phase); ``commit_quorum`` of them let a learner learn.
* ``Suspect`` (replica -> all): I give up on the leader; move to ``view``.
* ``Query`` (new leader -> acceptors) and ``Rep`` (acceptor -> leader): the
  acceptor's accepted digest for the slot, the view it accepted it in, its
  commit proof, the value, and the signed ``Propose`` it accepted (used as
  evidence by ``fab-fixed``; ignored by published FaB).
* ``Pull``/``Decided``: a replica that fell behind asks for decided slots and
  gets each value with the certificate that decided it.
"""

from __future__ import annotations

import hashlib

import attrs

from bft.core.crypto import Signed
from bft.core.encoding import canonical_bytes
from bft.core.memo import by_identity

DIGEST_SIZE = 16
NONE = b"\x00" * DIGEST_SIZE  # "accepted nothing"


@attrs.frozen
class Propose:
    view: int
    slot: int
    digest: bytes
    value: tuple[Signed, ...]
    pc: tuple[Signed, ...]  # the progress certificate (empty in view 0)

    KIND = "propose"


@attrs.frozen
class Accepted:
    view: int
    slot: int
    digest: bytes
    replica: int

    KIND = "accepted"


@attrs.frozen
class Commit:
    view: int
    slot: int
    digest: bytes
    replica: int

    KIND = "commit"


@attrs.frozen
class Suspect:
    view: int
    replica: int

    KIND = "suspect"


@attrs.frozen
class Query:
    view: int
    slot: int

    KIND = "query"


@attrs.frozen
class Rep:
    view: int  # the view of the query this answers
    slot: int
    digest: bytes  # the accepted digest (NONE: nothing accepted)
    accepted_view: int  # the view it was accepted in (-1: none)
    replica: int
    value: tuple[Signed, ...]
    proof: tuple[Signed, ...]  # commit_quorum signed Accepted for it, or ()
    evidence: Signed | None  # the signed Propose the acceptor accepted

    KIND = "rep"


@attrs.frozen
class Pull:
    slot: int  # the first slot the sender has not learned

    KIND = "pull"


@attrs.frozen
class Decided:
    slot: int
    value: tuple[Signed, ...]
    certificate: tuple[Signed, ...]  # fast_quorum Accepted or commit_quorum Commit

    KIND = "decided"


@by_identity()
def value_digest(value: tuple[Signed, ...]) -> bytes:
    return hashlib.blake2b(b"fab-value" + canonical_bytes(value), digest_size=DIGEST_SIZE).digest()
