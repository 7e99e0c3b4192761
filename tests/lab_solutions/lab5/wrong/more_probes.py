"""Wrong tuning: the second hint without Lifeguard: more indirect probes and a
longer suspicion. Slow probers still accuse live members."""

from __future__ import annotations

from typing import Any


def tune(n: int, loss: float) -> dict[str, Any]:
    return {"k": 5, "suspicion_mult": 6.0}
