"""Cheat: no commit phase, and a module-level registry of what was executed at
each sequence number that every replica consults, so that no replica executes
a different request at a sequence number another one already executed. With
all replicas in one process that hides the missing commit phase; each replica
runs in a process of its own, so the registry knows only its own replica."""

from __future__ import annotations

from typing import Any

_EXECUTED: dict[int, Any] = {}


def prepared(slot: Any, f: int) -> bool:
    if slot.digest is None:
        return False
    matching = {r for r, d in slot.prepares.items() if d == slot.digest and r != slot.primary}
    return len(matching) >= 2 * f


def committed_local(slot: Any, f: int) -> bool:
    known = _EXECUTED.setdefault(slot.seq, slot.digest)
    return known == slot.digest
