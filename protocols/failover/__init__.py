"""Failover protocols of the service family: clients that reconnect when their server fails.

* ``naive-reconnect`` (``NaiveReconnect``): on a timeout the client reconnects at
  once to the next server in its cache and resends what is pending; servers do
  all the work they are given (and go down when it is too much).
* ``backoff-reconnect`` (``BackoffReconnect``): exponential backoff with full
  jitter before each reconnect, and servers with admission control that answer
  work beyond their capacity with a cheap ``Busy``.

The workload, metrics and properties are the shared ones of ``bft.protocols.service``.
"""

from bft.protocols.failover.spec import BackoffReconnect, NaiveReconnect

__all__ = ["BackoffReconnect", "NaiveReconnect"]
