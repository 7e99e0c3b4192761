"""Wrong policy: textbook exponential backoff with full jitter from 2 rounds. The
crowd still comes back together after the 20-round outage."""

from __future__ import annotations

import random


def reconnect_delay(attempt: int, busy: bool, rng: random.Random) -> int:
    return int(rng.uniform(0, min(64, 2 * 2**attempt)))
