"""Reference tuning for lab 5: Lifeguard, more indirect probes, longer suspicion."""

from __future__ import annotations

from typing import Any


def tune(n: int, loss: float) -> dict[str, Any]:
    return {"lifeguard": True, "k": 5, "suspicion_mult": 6.0}
