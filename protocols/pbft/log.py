"""The PBFT message log: slots, their phase, and the two predicates that move them.

Theory of operation (Castro and Liskov, OSDI 1999, section 4.2). A replica
keeps, for every view v and sequence number n between its watermarks
(h < n <= h + L), one *slot*: the PRE-PREPARE it accepted for (v, n), and the
first PREPARE and COMMIT each replica sent for (v, n). Two predicates over a
slot decide everything the normal case does:

* ``prepared(slot, f)``: the replica accepted the pre-prepare and holds 2f
  PREPAREs from distinct backups that match it (same view, sequence number
  and digest). Any two sets of 2f+1 replicas (the primary's pre-prepare plus
  2f prepares) among 3f+1 share a correct replica, and a correct replica
  prepares one digest per (v, n), so no two correct replicas prepare
  different requests at (v, n).
* ``committed_local(slot, f)``: prepared, and 2f+1 matching COMMITs from
  distinct replicas (its own included). Then at least f+1 correct replicas
  prepared the request, so every quorum of 2f+1 VIEW-CHANGEs carries its
  prepared certificate into any later view: it keeps its number for good.

Both are pure functions of a slot; the replica asks them after every change
to a slot (``replica``), and lab 4 and the planted bugs pass their own
functions of the same interface (``Quorums``). A slot's ``phase`` records how
far the replica took it: NONE (no pre-prepare accepted yet, though early
votes, or a pre-prepare for a view the replica has not entered, may already
be held), PRE_PREPARED (accepted: a backup has sent its PREPARE), PREPARED
(``prepared`` held: it has sent its COMMIT) and COMMITTED (``committed_local``
held: the request is handed to execution). Phases only move forward, so a
vote that arrives after its phase's quorum formed adds nothing and is
discarded unread, as the paper's implementation does.

Speed: each slot keeps the number of distinct replicas whose vote matches its
pre-prepare (counted as votes arrive, and once over the votes that came
before the pre-prepare), so the predicates cost O(1) whatever n is;
``prepares`` and ``commits`` give the same votes as plain {replica: digest}
maps for rules that count them themselves (lab 4).

The log also remembers, per sequence number, the slot that prepared it in
the highest view: the prepared certificates a VIEW-CHANGE carries (section
4.4). ``truncate`` discards everything at or below a stable checkpoint
(section 4.3).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

import attrs

from bft.core.crypto import Signed
from bft.protocols.pbft.messages import PreparedCert


class Phase(enum.IntEnum):
    """How far a replica has taken one slot (phases only move forward)."""

    NONE = 0  # no pre-prepare accepted
    PRE_PREPARED = 1  # pre-prepare accepted (a backup has multicast its PREPARE)
    PREPARED = 2  # prepared(slot, f) held: COMMIT multicast
    COMMITTED = 3  # committed_local(slot, f) held: handed to execution


# the members as plain names: the hot path compares against them per vote, and a module
# global is read several times faster than an enum class attribute
NONE, PRE_PREPARED, PREPARED, COMMITTED = Phase


class Slot:
    """What one replica holds about sequence number ``seq`` in ``view``."""

    __slots__ = (
        "view",
        "seq",
        "primary",
        "pre_prepare",
        "digest",
        "requests",
        "phase",
        "prepare_msgs",
        "commit_msgs",
        "matching_prepares",
        "matching_commits",
    )

    def __init__(self, view: int, seq: int, primary: int) -> None:
        self.view = view
        self.seq = seq
        self.primary = primary  # the primary of ``view``: it pre-prepares and never prepares
        self.pre_prepare: Signed | None = None  # the signed PRE-PREPARE held for (view, seq)
        self.digest: bytes | None = None  # its digest (None: none held yet)
        self.requests: tuple[Signed, ...] = ()  # its batch of signed client requests
        self.phase = NONE
        self.prepare_msgs: dict[int, Signed] = {}  # replica -> its first PREPARE (own included)
        self.commit_msgs: dict[int, Signed] = {}  # replica -> its first COMMIT (own included)
        self.matching_prepares = 0  # PREPAREs from distinct replicas naming ``digest``
        self.matching_commits = 0  # COMMITs from distinct replicas naming ``digest``

    # -- what the predicates read ----------------------------------------------------

    @property
    def prepares(self) -> Mapping[int, bytes]:
        """Replica -> the digest its PREPARE named (this replica's own included)."""
        return {r: s.payload.digest for r, s in self.prepare_msgs.items()}

    @property
    def commits(self) -> Mapping[int, bytes]:
        """Replica -> the digest its COMMIT named (this replica's own included)."""
        return {r: s.payload.digest for r, s in self.commit_msgs.items()}

    @property
    def prepared(self) -> bool:
        """Whether this replica has prepared the slot (``prepared`` said yes)."""
        return self.phase >= PREPARED

    # -- what the replica writes -----------------------------------------------------

    def hold_pre_prepare(self, signed: Signed) -> None:
        """Keep ``signed`` as the slot's pre-prepare (its votes are recounted against it)."""
        pp = signed.payload
        digest = pp.digest
        self.pre_prepare, self.digest, self.requests = signed, digest, pp.requests
        # votes that came first (usually none) are counted once, here
        if self.prepare_msgs or self.commit_msgs:
            self.matching_prepares = sum(
                1 for s in self.prepare_msgs.values() if s.payload.digest == digest
            )
            self.matching_commits = sum(
                1 for s in self.commit_msgs.values() if s.payload.digest == digest
            )

    def add_prepare(self, replica: int, signed: Signed, digest: bytes) -> None:
        """Count ``signed``, the first PREPARE from ``replica``, naming ``digest``."""
        self.prepare_msgs[replica] = signed
        if digest == self.digest:
            self.matching_prepares += 1

    def add_commit(self, replica: int, signed: Signed, digest: bytes) -> None:
        """Count ``signed``, the first COMMIT from ``replica``, naming ``digest``."""
        self.commit_msgs[replica] = signed
        if digest == self.digest:
            self.matching_commits += 1


# -- the two predicates (section 4.2) -----------------------------------------------------


def prepared(slot: Slot, f: int) -> bool:
    """The pre-prepare is accepted and 2f PREPAREs from distinct backups match it."""
    return slot.matching_prepares >= 2 * f and slot.phase >= PRE_PREPARED


def committed_local(slot: Slot, f: int) -> bool:
    """Prepared, and 2f+1 COMMITs from distinct replicas (own included) match it."""
    return slot.matching_commits >= 2 * f + 1 and slot.phase >= PREPARED


Predicate = Callable[[Slot, int], bool]


@attrs.frozen
class Quorums:
    """The two rules a replica runs by: the paper's, unless a lab or a planted bug
    passes its own."""

    prepared: Predicate = prepared
    committed_local: Predicate = committed_local


PAPER = Quorums()


def prepared_certificate(slot: Slot, f: int) -> PreparedCert:
    """The proof a prepared slot carries into a VIEW-CHANGE: its pre-prepare and 2f
    matching prepares, lowest replica ids first. (A prepared slot takes no more
    prepares, so the certificate is the same whenever it is built.)"""
    digest = slot.digest
    msgs = slot.prepare_msgs
    proof = tuple(msgs[r] for r in sorted(msgs) if msgs[r].payload.digest == digest)[: 2 * f]
    return PreparedCert(slot.pre_prepare, proof)  # type: ignore[arg-type]


NO_SLOTS: dict[int, Slot] = {}  # the slots of a view with none yet (never written to)


class Log:
    """Slots per view and sequence number, between the watermarks h and h + L."""

    def __init__(self, n: int, window: int) -> None:
        self.n = n
        self.low = 0  # h: the sequence number of the last stable checkpoint
        self.window = window  # L
        #: view -> seq -> slot. Others may read it (the vote handler looks slots up
        #: here directly: it runs once per vote delivered); only the log writes it.
        self.views: dict[int, dict[int, Slot]] = {}
        # seq -> the slot that prepared it in the highest view (its certificate is built
        # only when a VIEW-CHANGE carries it: most never leave the replica)
        self._prepared: dict[int, Slot] = {}

    def in_window(self, seq: int) -> bool:
        return self.low < seq <= self.low + self.window

    @property
    def high(self) -> int:
        return self.low + self.window

    def get(self, view: int, seq: int) -> Slot | None:
        return self.views.get(view, NO_SLOTS).get(seq)

    def slot(self, view: int, seq: int) -> Slot:
        """The slot for (view, seq), created empty if there is none."""
        by_seq = self.views.get(view)
        if by_seq is None:
            by_seq = self.views[view] = {}
        slot = by_seq.get(seq)
        if slot is None:
            slot = by_seq[seq] = Slot(view, seq, view % self.n)
        return slot

    def slots_of(self, view: int) -> Mapping[int, Slot]:
        return self.views.get(view, NO_SLOTS)

    def discard_views_below(self, view: int) -> None:
        for old in [v for v in self.views if v < view]:
            del self.views[old]

    def remember_prepared(self, slot: Slot) -> None:
        """``slot`` prepared: it is now the one a VIEW-CHANGE reports for its number,
        unless that number prepared in a higher view."""
        current = self._prepared.get(slot.seq)
        if current is None or current.view < slot.view:
            self._prepared[slot.seq] = slot

    def prepared_certificates(self, f: int) -> tuple[PreparedCert, ...]:
        """One certificate per prepared sequence number above h (the highest view's)."""
        prepared = self._prepared
        return tuple(prepared_certificate(prepared[s], f) for s in sorted(prepared) if s > self.low)

    def truncate(self, seq: int) -> None:
        """A checkpoint at ``seq`` is stable: h = seq; discard everything at or below it."""
        self.low = seq
        for by_seq in self.views.values():
            for s in [s for s in by_seq if s <= seq]:
                del by_seq[s]
        for s in [s for s in self._prepared if s <= seq]:
            del self._prepared[s]
