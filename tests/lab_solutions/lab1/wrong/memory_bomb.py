"""Misbehaviour at import: allocates far more memory than a worker may have. The
grade fails with the error, not a crashed grader."""

from __future__ import annotations

import random

_hog = bytearray(64 << 30)


def reconnect_delay(attempt: int, busy: bool, rng: random.Random) -> int:
    return 0
