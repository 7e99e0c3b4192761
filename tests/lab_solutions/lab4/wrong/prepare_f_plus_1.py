"""Wrong logic: a prepare quorum of f+1 (with the commit quorum also f+1): an
equivocating primary and an accomplice get two halves of the correct replicas
to commit different requests at one sequence number."""

from __future__ import annotations

from typing import Any


def prepared(slot: Any, f: int) -> bool:
    """The pre-prepare plus 2f matching PREPAREs from distinct backups."""
    if slot.digest is None:
        return False
    matching = {r for r, d in slot.prepares.items() if d == slot.digest and r != slot.primary}
    return len(matching) >= f + 1


def committed_local(slot: Any, f: int) -> bool:
    """Prepared, and 2f+1 matching COMMITs from distinct replicas (own included)."""
    matching = {r for r, d in slot.commits.items() if d == slot.digest}
    return bool(slot.prepared) and len(matching) >= f + 1
