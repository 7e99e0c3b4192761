"""Zyzzyva (Kotla, Alvisi, Dahlin, Clement, Wong; SOSP 2007, TOCS 2009): speculative BFT.

Modules: ``messages`` (the message values), ``certificates`` (checking
certificates and view-changes; the published and the corrected new-view
rules), ``replica`` (speculative execution, commit certificates, fill-hole),
``viewchange`` (I-HATE-THE-PRIMARY, VIEW-CHANGE, NEW-VIEW, VIEW-CONFIRM),
``client`` (fast path, slow path, retransmission, proofs of misbehaviour),
``properties`` (agreement as completed histories, validity,
liveness-after-gst, metrics comparable with PBFT's) and ``spec`` (the
``zyzzyva`` and ``zyzzyva-fixed`` plug-ins).

Choices where the papers leave one open, and simplifications (each module
names its own): the view change follows TOCS 2009 (with VIEW-CONFIRM); a
replica starts a new view only after 2f+1 matching view-confirms and only then
rolls back; its certificate in a VIEW-CHANGE is whichever of its commit
certificate (of its current view) and its view-confirm certificate reaches
further; there are no checkpoints, so a VIEW-CHANGE carries the whole history;
a commit certificate of the current view that contradicts a replica's history
makes it suspect the primary; proofs of misbehaviour cover order-reqs of one
view that differ at one sequence number, order one request twice, or do not
chain; a new primary orders the forwarded requests it holds as soon as it
starts the view; clients send the request (and their COMMIT) to every replica
on retransmission. Retransmission rules the papers leave to the
implementation keep it live after GST (all found by ``bft check``): a backup
whose forwarded request times out, or a replica that gets a retransmission of
a request it answered, asks every replica for what lies above its history; a
replica that missed a view change is sent the NEW-VIEW when it speaks in its
old view, and asks for it when it sees a commit certificate of a later view.
"""

from bft.protocols.zyzzyva.spec import Zyzzyva, ZyzzyvaFixed

__all__ = ["Zyzzyva", "ZyzzyvaFixed"]
