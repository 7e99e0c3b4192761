"""Wrong code: tune returns a list instead of a dict. The grade fails with the
harness's message, not a traceback."""

from __future__ import annotations

from typing import Any


def tune(n: int, loss: float) -> Any:
    return [("lifeguard", True)]
