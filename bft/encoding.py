"""Canonical encoding of message values.

Every message is a frozen attrs instance (or a plain int, str, bytes, bool,
None, tuple or frozenset of those). ``to_plain`` turns one into JSON-ready data
whose form does not depend on PYTHONHASHSEED (frozensets are sorted, attrs
instances are tagged with their class name); ``canonical_bytes`` is the
byte string that signatures and trace digests are computed over.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

_PLAIN_CACHE: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _PLAIN_CACHE.get(cls)
    if names is None:
        names = tuple(f.name for f in attrs.fields(cls))
        _PLAIN_CACHE[cls] = names
    return names


_SCALARS = frozenset({int, str, bool, float, type(None)})
# one encoder for every call: json.dumps with options builds a new encoder each time
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def to_plain(value: Any) -> Any:
    """A JSON-compatible, hash-seed-independent form of ``value``."""
    cls = type(value)
    if cls in _SCALARS:  # exact types first (the common case); subclasses below
        return value
    if cls is tuple:
        return [to_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | str | float):
        return value
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    if isinstance(value, frozenset | set):
        items = [to_plain(v) for v in value]
        return {"$set": sorted(items, key=_sort_key)}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: to_plain(v) for k, v in value.items()}
        return {
            "$map": sorted(([to_plain(k), to_plain(v)] for k, v in value.items()), key=_sort_key)
        }
    if attrs.has(cls):
        out: dict[str, Any] = {"$type": cls.__name__}
        for name in _field_names(cls):
            out[name] = to_plain(getattr(value, name))
        return out
    raise TypeError(
        f"cannot encode {cls.__name__!r} in a message; use frozen attrs classes, "
        "ints, strs, bytes, bools, None, tuples or frozensets"
    )


def _sort_key(item: Any) -> str:
    return dumps(item)


def dumps(plain: Any) -> str:
    """Compact canonical JSON (sorted keys, no spaces)."""
    return _ENCODER.encode(plain)


def canonical_bytes(value: Any) -> bytes:
    """The bytes a signature or digest covers for ``value``."""
    return dumps(to_plain(value)).encode()


def kind_of(payload: Any) -> str:
    """The short kind name of a message, used for counting and filtering."""
    kind = getattr(payload, "KIND", None)
    if kind is not None:
        return kind
    return type(payload).__name__
