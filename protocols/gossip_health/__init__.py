"""``gossip-health``: failover built on the SWIM detector (``bft.protocols.swim``).

Modules: ``messages``, ``server`` (SWIM, sessions, admission, crash attribution
and quarantine), ``client`` (view-guided failover with backoff), ``spec``.
"""

from bft.protocols.gossip_health.spec import GossipHealth

__all__ = ["GossipHealth"]
