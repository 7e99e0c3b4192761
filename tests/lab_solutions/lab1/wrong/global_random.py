"""Wrong policy: a good backoff, but drawn from the global random module instead
of the client's rng: runs are not reproducible (and not the client's own)."""

from __future__ import annotations

import random


def reconnect_delay(attempt: int, busy: bool, rng: random.Random) -> int:
    return int(random.uniform(0, min(128, 32 * 2**attempt)))
