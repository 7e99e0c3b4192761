"""Wrong logic: waiting for a PREPARE from every backup (3f). Fine while nobody
is faulty; after a silent primary's view change the quorum never forms
(liveness fails)."""

from __future__ import annotations

from typing import Any


def prepared(slot: Any, f: int) -> bool:
    """The pre-prepare plus 2f matching PREPAREs from distinct backups."""
    if slot.digest is None:
        return False
    matching = {r for r, d in slot.prepares.items() if d == slot.digest and r != slot.primary}
    return len(matching) >= 3 * f


def committed_local(slot: Any, f: int) -> bool:
    """Prepared, and 2f+1 matching COMMITs from distinct replicas (own included)."""
    matching = {r for r, d in slot.commits.items() if d == slot.digest}
    return bool(slot.prepared) and len(matching) >= 2 * f + 1
