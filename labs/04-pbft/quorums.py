"""Lab 4: PBFT's prepare and commit quorums. Write your code here.

The replica you run is the project's PBFT (``protocols/pbft``): it accepts
pre-prepares, multicasts PREPAREs and COMMITs, changes views, executes and
replies. Two decisions are left to you, each a pure function of what one
replica holds about one sequence number in one view:

    prepared(slot, f)         may this replica consider the request prepared?
                              (then it multicasts a COMMIT)
    committed_local(slot, f)  may it execute the request?

They are the replica's only quorum rules: it asks ``prepared`` after every
change to a slot whose pre-prepare it accepted, and ``committed_local`` after
every change to a slot it has prepared, exactly as it asks its own.

``slot`` is a ``SlotView`` (see ``labs/04-pbft/harness.py``):

    slot.primary   the primary of the slot's view (it sends the pre-prepare,
                   never a prepare)
    slot.digest    the digest of the pre-prepare this replica accepted, or None
    slot.prepares  {replica: digest} of the PREPAREs it holds, its own included
    slot.commits   {replica: digest} of the COMMITs it holds, its own included
    slot.prepared  True once your ``prepared`` said yes for this slot

There are n = 3f+1 replicas and at most f are Byzantine: they may send
PREPAREs and COMMITs for digests other than the one you accepted, and a
Byzantine primary may send different pre-prepares to different replicas.

Run ``bft lab grade 4`` to grade this file.
"""

from __future__ import annotations

from typing import Any


def prepared(slot: Any, f: int) -> bool:
    # TODO (Castro and Liskov, section 4.2): a replica has prepared when it holds the
    #      pre-prepare and enough PREPAREs from distinct backups that MATCH it. How many,
    #      so that no two correct replicas can prepare different requests in one view?
    raise NotImplementedError("prepared: write the prepare quorum rule (see the TODO)")


def committed_local(slot: Any, f: int) -> bool:
    # TODO: committed-local: prepared, plus enough matching COMMITs (yours included)
    #      that any quorum of a later view change meets at least one correct replica
    #      that prepared this request.
    raise NotImplementedError("committed_local: write the commit quorum rule (see the TODO)")
