"""Canonical snapshots of state, and fingerprints of them.

An exhaustive search cuts a schedule when it reaches a state it has already
explored at the same round. That needs a canonical, hash-seed-independent
form of everything that decides a run's future: each node's state, the
messages in flight, the adversaries' state. ``canonical(value)`` builds it
from any Python value: scalars as they are; tuples and lists as tuples; sets
and dict keys sorted by their own canonical form's text; attrs values by
their fields (signatures, which are random per run, left out); other objects
by their attributes (``__dict__`` and ``__slots__``), or by what their
``snapshot()`` method returns when they define one (a node may define it to
leave out caches or to name its state more compactly: equal snapshots must
mean equal futures); random generators by their internal state. Functions
and classes stand for their qualified names. ``fingerprint`` hashes the text
of a canonical form with BLAKE2b.
"""

from __future__ import annotations

import enum
import hashlib
import random
import types
from typing import Any

import attrs

from bft.core.encoding import UNENCODED

_SCALARS = (int, float, str, bytes, bool, type(None))
#: deeper than this, the state is summarised by its type (a cycle or a pathological value)
MAX_DEPTH = 64


def canonical(value: Any, _depth: int = 0, _seen: frozenset[int] = frozenset()) -> Any:
    """A hashable, deterministic form of ``value`` (see the module docstring)."""
    cls = type(value)
    if cls in _SCALARS:
        return value
    if isinstance(value, enum.Enum):
        return (cls.__qualname__, value.name)
    if _depth > MAX_DEPTH or id(value) in _seen:
        return ("<cycle>", cls.__qualname__)
    seen = _seen | {id(value)}
    depth = _depth + 1
    if isinstance(value, tuple | list):
        return tuple(canonical(v, depth, seen) for v in value)
    if isinstance(value, set | frozenset):
        items = [canonical(v, depth, seen) for v in value]
        return ("set", tuple(sorted(items, key=repr)))
    if isinstance(value, dict):
        pairs = [(canonical(k, depth, seen), canonical(v, depth, seen)) for k, v in value.items()]
        return ("dict", tuple(sorted(pairs, key=lambda p: repr(p[0]))))
    if isinstance(value, random.Random):
        state = value.getstate()
        return ("rng", hashlib.blake2b(repr(state).encode(), digest_size=16).hexdigest())
    if isinstance(value, type | types.FunctionType | types.BuiltinFunctionType):
        return ("code", getattr(value, "__qualname__", repr(value)))
    if isinstance(value, types.MethodType):
        return ("method", value.__func__.__qualname__, canonical(value.__self__, depth, seen))
    snap = getattr(value, "snapshot", None)
    if callable(snap) and not isinstance(value, type):
        return (cls.__qualname__, canonical(snap(), depth, seen))
    if attrs.has(cls):
        return (
            cls.__qualname__,
            tuple(
                canonical(getattr(value, f.name), depth, seen)
                for f in attrs.fields(cls)
                if not f.metadata.get(UNENCODED)
            ),
        )
    return (cls.__qualname__, _attributes(value, depth, seen))


def _attributes(value: Any, depth: int, seen: frozenset[int]) -> Any:
    names: list[str] = []
    for klass in type(value).__mro__:
        for name in getattr(klass, "__slots__", ()):
            if name not in ("__dict__", "__weakref__") and name not in names:
                names.append(name)
    out = []
    for name in names:
        if hasattr(value, name):
            out.append((name, canonical(getattr(value, name), depth, seen)))
    for name, item in sorted(getattr(value, "__dict__", {}).items()):
        out.append((name, canonical(item, depth, seen)))
    return tuple(out)


def fingerprint(value: Any) -> str:
    """A short digest of ``value``'s canonical form, the same in every process."""
    return hashlib.blake2b(repr(canonical(value)).encode(), digest_size=16).hexdigest()
