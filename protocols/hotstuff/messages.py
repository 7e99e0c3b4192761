"""Basic HotStuff messages (Yin, Malkhi, Reiter, Gueta, Abraham, PODC 2019), as frozen values.

Every replica message travels signed (``bft.core.crypto.Signed``); the kind
counted in the trace is the payload's ``KIND``.

* ``Node``: a proposal (the paper's tree node): the hash of its parent, the
  view it was proposed in, and a batch of signed client requests.
* ``QC``: a quorum certificate: a phase, a view, a node hash and n-f signed
  votes for exactly that. Named simplification: the paper's (k, n) threshold
  signature is modelled as the tuple of the 2f+1 individual Ed25519 signatures
  it would combine (same unforgeability, O(n) size instead of O(1); the message
  *count* is unchanged).
* Leader messages ``Prepare`` (node + highQC), ``PreCommit`` (prepareQC),
  ``Commit`` (precommitQC), ``Decide`` (commitQC); replica votes
  ``PrepareVote``, ``PreCommitVote``, ``CommitVote``; ``NewView`` (a replica's
  prepareQC, to the next leader; marked ``waiting`` and sent to every replica
  when the sender's view did not start in time, the TIMEOUT message of later
  HotStuff variants: see ``replica``).
* ``Fetch``/``Block``: a replica that must execute a node whose ancestors it
  never received asks its peers for them by hash (not in the paper, which
  assumes the nodes are available; needed once messages can be lost).
"""

from __future__ import annotations

import hashlib

import attrs

from bft.core.crypto import Signed
from bft.core.encoding import canonical_bytes
from bft.core.memo import by_identity

HASH_SIZE = 16
GENESIS = b"\x00" * HASH_SIZE  # the hash of the root of the tree (executed by everyone)
PHASES = ("prepare", "pre-commit", "commit")


@attrs.frozen
class Node:
    parent: bytes
    view: int
    requests: tuple[Signed, ...]

    KIND = "node"


@by_identity()
def node_hash(node: Node) -> bytes:
    """A node's hash: over its canonical encoding, which leaves signatures out."""
    return hashlib.blake2b(canonical_bytes(node), digest_size=HASH_SIZE).digest()


@attrs.frozen
class QC:
    phase: str
    view: int
    node: bytes
    votes: tuple[Signed, ...]

    KIND = "qc"


GENESIS_QC = QC("prepare", -1, GENESIS, ())


@attrs.frozen
class PrepareVote:
    view: int
    node: bytes
    replica: int

    KIND = "prepare-vote"
    PHASE = "prepare"


@attrs.frozen
class PreCommitVote:
    view: int
    node: bytes
    replica: int

    KIND = "pre-commit-vote"
    PHASE = "pre-commit"


@attrs.frozen
class CommitVote:
    view: int
    node: bytes
    replica: int

    KIND = "commit-vote"
    PHASE = "commit"


VOTES: dict[str, type[PrepareVote | PreCommitVote | CommitVote]] = {
    "prepare": PrepareVote,
    "pre-commit": PreCommitVote,
    "commit": CommitVote,
}


@attrs.frozen
class NewView:
    """Replica -> leader of ``view``: I entered ``view``; my highest prepareQC is ``justify``.

    ``waiting``: my timer expired in ``view`` before I knew n-f replicas reached it,
    and I wait there (sent to every replica; n-f of these end the view).
    """

    view: int
    justify: QC
    replica: int
    waiting: bool = False

    KIND = "new-view"


@attrs.frozen
class Prepare:
    """Leader -> replicas: ``node`` extends ``justify.node`` (the highest QC the leader saw).

    ``new_views`` are the n-f signed NEW-VIEW messages the leader started ``view``
    with (empty in view 0): a replica that fell behind checks them and joins the
    view (our pacemaker's view synchronisation; see ``replica``).
    """

    view: int
    node: Node
    justify: QC
    new_views: tuple[Signed, ...]

    KIND = "prepare"


@attrs.frozen
class PreCommit:
    view: int
    justify: QC  # the prepareQC of this view

    KIND = "pre-commit"


@attrs.frozen
class Commit:
    view: int
    justify: QC  # the precommitQC of this view

    KIND = "commit"


@attrs.frozen
class Decide:
    view: int
    justify: QC  # the commitQC of this view

    KIND = "decide"


@attrs.frozen
class Fetch:
    node: bytes
    replica: int

    KIND = "fetch"


@attrs.frozen
class Block:
    node: Node

    KIND = "block"
