"""Wrong tuning: no false positives bought with a very long suspicion; every member
then learns of a crash far too late (dissemination time fails)."""

from __future__ import annotations

from typing import Any


def tune(n: int, loss: float) -> dict[str, Any]:
    return {"lifeguard": True, "suspicion_mult": 12.0}
