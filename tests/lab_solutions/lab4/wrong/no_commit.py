"""Wrong logic (the issue's lab 4 finding): no commit phase at all; a replica
executes as soon as it has prepared. Part 3's view change makes the next
view put another request at that sequence number (agreement fails)."""

from __future__ import annotations

from typing import Any


def prepared(slot: Any, f: int) -> bool:
    """The pre-prepare plus 2f matching PREPAREs from distinct backups."""
    if slot.digest is None:
        return False
    matching = {r for r, d in slot.prepares.items() if d == slot.digest and r != slot.primary}
    return len(matching) >= 2 * f


def committed_local(slot: Any, f: int) -> bool:
    """Prepared, and 2f+1 matching COMMITs from distinct replicas (own included)."""
    return True
