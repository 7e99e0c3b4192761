"""Bracha's three messages, and the quorums they are counted against.

Messages are frozen attrs values: the engine copies them for adversaries, hashes
them into the trace, and a search mutates their scalar fields. Each has exactly
one scalar field, ``value``, so every mutation the search tries changes what a
node claims, never bookkeeping. ``KIND`` names the message in message counts,
in ``bft show`` diagrams and for the search (a ``replay`` swaps a message for an
earlier one of the same kind).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs


@attrs.frozen
class Send:
    """The sender's proposal (Bracha's *initial* message)."""

    value: int

    KIND = "send"


@attrs.frozen
class Echo:
    """'The sender told me ``value``' (each node echoes at most once)."""

    value: int

    KIND = "echo"


@attrs.frozen
class Ready:
    """'Enough nodes echoed ``value`` for me to commit to it' (at most once per node)."""

    value: int

    KIND = "ready"


MESSAGES = (Send, Echo, Ready)


@attrs.frozen
class Quorums:
    """How many distinct nodes (this one included) must say the same value.

    ``echo``: more than (n+f)/2 ECHOs; two such sets share more than f nodes, so
    an honest one, so no two honest nodes get READY from ECHOs for two values.
    ``amplify``: f+1 READYs; one of them is honest, so the value is safe to adopt.
    ``deliver``: 2f+1 READYs; f+1 of them are honest and reach every honest node,
    which then amplifies: this is what makes delivery all-or-nothing.
    """

    echo: int
    amplify: int
    deliver: int

    @classmethod
    def of(cls, n: int, f: int) -> Quorums:
        return cls(echo=(n + f) // 2 + 1, amplify=f + 1, deliver=2 * f + 1)


def faults(p: Mapping[str, Any]) -> int:
    """The ``f`` of a parameter table: as given, or the most that n >= 3f+1 allows."""
    return (int(p["n"]) - 1) // 3 if p.get("f") is None else int(p["f"])
