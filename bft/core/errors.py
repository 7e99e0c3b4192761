"""Errors that say who is at fault and what to do.

``ConfigError`` is the user's: a bad scenario, parameter or name. The CLI turns
it into one line on stderr and exit status 2. ``PowerExceeded`` is an
adversary's: it tried something its network model or key set does not allow;
the engine refuses the action, records it and goes on.
"""

from __future__ import annotations

from collections.abc import Iterable


class BftError(Exception):
    """Base class for every error bft raises on purpose."""


class ConfigError(BftError):
    """A scenario, parameter, name or file is invalid. Exit status 2 on the CLI."""


class PowerExceeded(BftError):
    """An adversary action outside the network model or the adversary's keys."""


class ReplayMismatch(BftError):
    """A replayed file produced a different trace digest than the one it records."""


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters for an error message (long input stays readable)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def choices(names: Iterable[str]) -> str:
    """Format valid choices for an error message: ``'a', 'b', 'c'``."""
    listed = sorted(names)
    return ", ".join(repr(name) for name in listed) if listed else "(none)"


def unknown(kind: str, name: str, valid: Iterable[str]) -> ConfigError:
    """The error for a name that is not in a registry or a set of fields."""
    import difflib

    valid = sorted(valid)
    hint = difflib.get_close_matches(name, valid, n=1)
    maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
    return ConfigError(f"unknown {kind} {name!r}{maybe}; available: {choices(valid)}")
