"""The action vocabulary of schedules: built-in kinds and those plug-ins contribute.

See ``bft.search.actions.base`` for what a kind is and ``bft.search.actions.builtin``
for the built-in ones; ``kinds()`` lists all of them, ``kind(name)`` finds one.
"""

from bft.search.actions.base import (
    ActionKind,
    ActionRun,
    Draw,
    History,
    kind,
    kinds,
    register,
    unregister,
)

__all__ = [
    "ActionKind",
    "ActionRun",
    "Draw",
    "History",
    "kind",
    "kinds",
    "register",
    "unregister",
]
