"""Property-based search over adversary schedules.

``bft.search.schedule`` holds the schedule format and the fault model (no
Hypothesis needed to replay a file); ``bft.search.strategies`` the Hypothesis
strategies; ``bft.search.driver`` the search itself (find, shrink, write a
counterexample). The names below are importable from ``bft.search`` directly;
they load on first use, so importing the package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "search": "bft.search.driver",
    "Searcher": "bft.search.driver",
    "SearchOutcome": "bft.search.driver",
    "Counterexample": "bft.search.driver",
    "run_schedule": "bft.search.driver",
    "schedules": "bft.search.strategies",
    "fault_model": "bft.search.schedule",
    "Action": "bft.search.schedule",
    "FaultModel": "bft.search.schedule",
    "Schedule": "bft.search.schedule",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bft.search' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
