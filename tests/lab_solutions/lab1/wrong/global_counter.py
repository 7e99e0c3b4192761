"""Cheat: a global ticket counter staggers every client's reconnect, as if the
clients of the whole world shared one variable. Spread over several processes
the run changes; the grader compares the two."""

from __future__ import annotations

import random

_next = [0]


def reconnect_delay(attempt: int, busy: bool, rng: random.Random) -> int:
    _next[0] += 1
    return 5 + _next[0] % 60
