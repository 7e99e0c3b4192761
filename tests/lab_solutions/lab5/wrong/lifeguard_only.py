"""Wrong tuning (the issue's lab 5 finding): the first hint's one-liner. Lifeguard
alone leaves false positives at 15% loss well above the target."""

from __future__ import annotations

from typing import Any


def tune(n: int, loss: float) -> dict[str, Any]:
    return {"lifeguard": True}
