"""Reference policy for lab 1: exponential backoff with full jitter, started high.

sleep = U(0, min(cap, base * 2**attempt)) with base 32 and cap 64 rounds: the
~100 clients of a server that comes back arrive spread over tens of rounds,
a few logins a round, well under its capacity.
"""

from __future__ import annotations

import random

BASE, CAP = 32.0, 64.0


def reconnect_delay(attempt: int, busy: bool, rng: random.Random) -> int:
    return int(rng.uniform(0.0, min(CAP, BASE * 2.0**attempt)))
