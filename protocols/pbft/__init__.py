"""PBFT (Castro and Liskov, OSDI 1999): Byzantine-fault-tolerant state machine replication.

Modules, in the paper's order: ``messages`` (the message values),
``certificates`` (validating messages and certificates, the new-view rule),
``client``, ``requests`` (requests a replica waits for, the primary's
numbering), ``log`` (slots, their phases and the two predicates ``prepared``
and ``committed_local``), ``replica`` (the state machine: normal case and
what the parts below do to each other), ``execution`` (in-order execution
and the service state), ``checkpoints`` (stable checkpoints, state
transfer), ``viewchange`` (timers, VIEW-CHANGE, NEW-VIEW), ``status``
(retransmission), ``properties`` (agreement, validity, liveness-after-gst,
throughput-floor, metrics) and ``spec`` (the plug-in).
"""

from bft.protocols.pbft.spec import PBFT

__all__ = ["PBFT"]
