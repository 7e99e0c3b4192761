"""SWIM messages: the probe messages and the membership updates they carry.

Probe messages (``Ping``, ``PingReq``, ``Ack``, ``Nack``) are what the engine
counts; membership updates (``Alive``, ``Suspect``, ``Dead``) never travel on
their own: they ride piggybacked on probe messages (SWIM's infection-style
dissemination), so they add no messages, only bytes.
"""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class Alive:
    """``member`` is alive at ``incarnation`` (a refutation when it is the member's own)."""

    member: int
    incarnation: int

    KIND = "alive"


@attrs.frozen
class Suspect:
    """``origin`` suspects ``member`` at ``incarnation``."""

    member: int
    incarnation: int
    origin: int

    KIND = "suspect"


@attrs.frozen
class Dead:
    """``origin`` declared ``member`` dead at ``incarnation`` (SWIM's Confirm)."""

    member: int
    incarnation: int
    origin: int

    KIND = "dead"


@attrs.frozen
class Ping:
    """A direct probe; ``updates`` are piggybacked gossip."""

    seq: int
    updates: tuple[Any, ...] = ()

    KIND = "ping"


@attrs.frozen
class PingReq:
    """Ask the receiver to probe ``target`` on the sender's behalf (indirect probe)."""

    seq: int
    target: int
    updates: tuple[Any, ...] = ()

    KIND = "ping-req"


@attrs.frozen
class Ack:
    """Answer to a ``Ping`` (or forwarded by an intermediary for a ``PingReq``)."""

    seq: int
    updates: tuple[Any, ...] = ()

    KIND = "ack"


@attrs.frozen
class Nack:
    """Lifeguard: an intermediary got no ack from the target in time.

    Its arrival tells the requester that its own message path works, so a
    missing nack counts against the requester's local health, not the target.
    """

    seq: int

    KIND = "nack"
