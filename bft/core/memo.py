"""Remembering pure functions of immutable values by the value's identity.

In a simulation every replica of a multicast receives the very same message
object, and each may compute the same pure function of it (a digest, a label,
the service's result). ``by_identity`` computes it once per object: the memo
keeps the object alive, so its ``id`` cannot be reused by another value while
the entry exists, and it is cleared when it reaches ``size`` entries. Only for
functions whose result depends on nothing but the (immutable) argument.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

R = TypeVar("R")


def by_identity(size: int = 4096) -> Callable[[Callable[[Any], R]], Callable[[Any], R]]:
    def decorate(fn: Callable[[Any], R]) -> Callable[[Any], R]:
        memo: dict[int, tuple[Any, R]] = {}

        @wraps(fn)
        def remembered(value: Any) -> R:
            hit = memo.get(id(value))
            if hit is not None and hit[0] is value:
                return hit[1]
            result = fn(value)
            if len(memo) >= size:
                memo.clear()
            memo[id(value)] = (value, result)
            return result

        return remembered

    return decorate
