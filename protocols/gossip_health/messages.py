"""Messages of ``gossip-health`` beyond the shared service ones and SWIM's.

Server -> client answers carry the server's view of live servers (a bitmask
over server ids) so clients fail over only to servers believed alive.
Server -> server: an ``Intent`` announces the fingerprint of a request the
sender is about to execute (a session's first), the watcher answers nothing
but checks with ``Watch``/``WatchAck`` that the sender survived it, and a
``Correlation`` (multicast, and piggybacked on SWIM gossip) tells every server
that a server died executing that fingerprint.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class HealthReply:
    """The result of the client's request ``seq``, with the server's live-server view."""

    client: int
    seq: int
    result: int
    view: int

    KIND = "reply"


@attrs.frozen
class HealthWelcome:
    """Session open (a login with no request), with the live-server view."""

    view: int

    KIND = "welcome"


@attrs.frozen
class Quarantined:
    """The request ``seq`` is quarantined: it was correlated with k server deaths."""

    seq: int
    fingerprint: int
    view: int

    KIND = "refused"


@attrs.frozen
class Intent:
    """The sender will execute a request with this fingerprint, from ``client``, next round."""

    fingerprint: int
    client: int

    KIND = "intent"


@attrs.frozen
class Watch:
    KIND = "watch"

    seq: int


@attrs.frozen
class WatchAck:
    KIND = "watch-ack"

    seq: int


@attrs.frozen
class Correlation:
    """``server`` went down while executing the request with ``fingerprint`` from ``client``.

    Travels both as a message of its own (multicast to all servers at once) and
    as a piggybacked update on SWIM messages (so a lost copy is repaired).
    """

    fingerprint: int
    client: int
    server: int

    KIND = "correlation"
