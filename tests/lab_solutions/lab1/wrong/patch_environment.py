"""Cheat (the issue's lab 1 finding): patch the environment at import so that
servers never overload, with Skype's naive policy. The environment runs in the
grader's process, unpatched: the cascade happens, and the patch is reported."""

from __future__ import annotations

import random

import bft.core.environment as environment

environment.Environment.overload_limit = property(lambda self: None)  # type: ignore[assignment]


def reconnect_delay(attempt: int, busy: bool, rng: random.Random) -> int:
    return 0
