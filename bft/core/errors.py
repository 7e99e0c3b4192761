"""Errors that say who is at fault and what to do.

``ConfigError`` is the user's: a bad scenario, parameter or name. The CLI turns
it into one line on stderr and exit status 2. (An adversary that tries
something its network model or key set does not allow is not an error: the
engine refuses the action, records it and goes on.)
"""

from __future__ import annotations

from collections.abc import Iterable


class BftError(Exception):
    """Base class for every error bft raises on purpose."""


class ConfigError(BftError):
    """A scenario, parameter, name or file is invalid. Exit status 2 on the CLI."""


class PluginError(ConfigError):
    """Plug-in code (a property, a metric) raised or returned the wrong type: a bug in the
    plug-in, named in one line. On the command line it is reported like bad input."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during a run. The engine raises it from its own signal handler,
    so it is told apart from a ``KeyboardInterrupt`` that protocol code raises itself
    (which is a protocol bug like any other exception)."""


class TooLong(Interrupted):
    """A command-line run stopped early because it is projected to take far longer than
    a user waits (``bft.run.patience``); reported like bad input, with the projection."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "the run is projected to take too long"


def describe_exception(exc: BaseException) -> str:
    """``Type: message (at file.py:line)`` for an exception from plug-in code: one line."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {shorten(str(exc), 300)}{where}"


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
