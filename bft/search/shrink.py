"""Shrinking a failing schedule to a minimal one.

Three passes, each keeping the schedule failing:

1. **Chunk removal** (delta debugging, Zeller and Hildebrandt 2002) over the
   raw actions: remove halves, then quarters, and so on. This removes groups
   that only fail together-or-not-at-all (three identical flips of one field
   cancel in pairs: no single one can go, two together can).
2. **Simplification** of what remains, component by component, toward 0 (the
   simplest choice: node 0, round 0, the first field, one recipient), as
   Hypothesis shrinks integers, while time allows.
3. **Single removal** over the decoded actions until none can go: the result
   is *1-minimal* (removing any one action makes every searched property hold
   again), a promise checked by this pass whatever the earlier ones did.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from bft.search.schedule import FaultModel, RawAction, Schedule, decode

Fails = Callable[[Schedule], bool]


def ddmin(items: list[RawAction], fails: Callable[[list[RawAction]], bool]) -> list[RawAction]:
    """A 1-minimal-by-chunks sublist of ``items`` that still fails (delta debugging)."""
    chunks = 2
    while len(items) >= 2:
        size = -(-len(items) // chunks)  # ceiling
        reduced = False
        for start in range(0, len(items), size):
            rest = items[:start] + items[start + size :]
            if rest and fails(rest):
                items = rest
                chunks = max(chunks - 1, 2)
                reduced = True
                break
        if not reduced:
            if chunks >= len(items):
                break
            chunks = min(chunks * 2, len(items))
    return items


def simplify(
    items: list[RawAction],
    fails: Callable[[list[RawAction]], bool],
    deadline: float | None,
) -> list[RawAction]:
    """Lower each raw component toward 0 while the schedule keeps failing."""
    items = list(items)
    for index in range(len(items)):
        for component in range(6):
            value = items[index][component]
            for candidate in sorted({0, value // 2, value - 1}):
                if deadline is not None and time.perf_counter() > deadline:
                    return items
                if not 0 <= candidate < value:
                    continue
                trial = list(items)
                changed = list(trial[index])
                changed[component] = candidate
                trial[index] = tuple(changed)  # type: ignore[assignment]
                if fails(trial):
                    items = trial
                    break
    return items


def one_minimal(schedule: Schedule, fails: Fails) -> Schedule:
    """Delete single actions while ``fails`` stays true: removing any one action of the
    result makes ``fails`` false."""
    changed = True
    while changed:
        changed = False
        for index in range(len(schedule)):
            smaller = schedule.without(index)
            if fails(smaller):
                schedule, changed = smaller, True
                break
    return schedule


def shrink(
    raw: Sequence[RawAction],
    disabled: int,
    model: FaultModel,
    fails: Fails,
    deadline: float | None = None,
) -> Schedule:
    """The minimal schedule for a failing raw draw (see the module docstring)."""

    def raw_fails(items: list[RawAction]) -> bool:
        return fails(decode(items, model, disabled))

    items = ddmin(list(raw), raw_fails)
    items = simplify(items, raw_fails, deadline)
    schedule = decode(items, model, disabled)
    if not fails(schedule):  # cannot happen for a deterministic run; keep the original then
        schedule = decode(list(raw), model, disabled)
    return one_minimal(schedule, fails)
