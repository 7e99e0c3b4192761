"""Wrong logic: a commit quorum of f+1. Enough to know one correct replica
prepared, not enough to know every view-change quorum contains one."""

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
    matching = {r for r, d in slot.commits.items() if d == slot.digest}
    return bool(slot.prepared) and len(matching) >= f + 1
