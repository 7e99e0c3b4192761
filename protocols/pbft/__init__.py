"""PBFT (Castro and Liskov, OSDI 1999): Byzantine-fault-tolerant state machine replication.

Modules: ``messages`` (the message values), ``certificates`` (checking
certificates, the new-view rule), ``replica`` (normal case, execution,
checkpoints), ``viewchange`` (timers, VIEW-CHANGE, NEW-VIEW), ``client``,
``properties`` (agreement, validity, liveness-after-gst, throughput-floor,
metrics) and ``spec`` (the plug-in).
"""

from bft.protocols.pbft.spec import PBFT

__all__ = ["PBFT"]
