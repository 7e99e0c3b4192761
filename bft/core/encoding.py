"""Canonical encoding of message values.

Every message is a frozen attrs instance (or a plain int, str, bytes, bool,
None, tuple or frozenset of those). ``to_plain`` turns one into JSON-ready data
whose form does not depend on PYTHONHASHSEED (frozensets are sorted, attrs
instances are tagged with their class name); ``canonical_bytes`` is the
byte string that signatures and trace digests are computed over.

Fields marked ``UNENCODED`` are left out. A signature is one: honest keys are
random per run (so an adversary cannot derive them), which makes signature
bytes differ between two runs of the same scenario and seed; leaving them out
of every encoding keeps digests, traces and anything a protocol derives from
``canonical_bytes`` identical across runs, and identical between real and
ideal signatures.
"""

from __future__ import annotations

import json
import json.encoder
from typing import Any

import attrs

_PLAIN_CACHE: dict[type, tuple[str, ...]] = {}


#: attrs field metadata: ``attrs.field(metadata={UNENCODED: True})`` leaves a field out of
#: the canonical encoding (a signature's bytes, random per run, must never reach a digest)
UNENCODED = "bft.unencoded"


def _field_names(cls: type) -> tuple[str, ...]:
    names = _PLAIN_CACHE.get(cls)
    if names is None:
        names = tuple(f.name for f in attrs.fields(cls) if not f.metadata.get(UNENCODED))
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


def canonical_json(value: Any) -> str:
    """``dumps(to_plain(value))``, written directly for the common message types.

    Signing and tracing encode every message, so this skips building the plain
    form for exact ints, strs, bools, None, bytes, tuples, lists, attrs instances
    and dicts with plain string keys; anything else (floats, frozensets, subclasses,
    other dicts) goes through ``to_plain`` and ``dumps``. Canonical JSON nests (a
    value's text is the same wherever it appears), so that fallback is per value.
    The two paths agree byte for byte: tests/test_encoding.py checks it with
    Hypothesis.
    """
    cls = type(value)
    if cls is int:
        return int.__repr__(value)
    if cls is str:
        return _quote(value)
    if cls is bytes:
        return '{"$bytes":"' + value.hex() + '"}'
    if cls is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if cls is tuple or cls is list:
        return "[" + ",".join([canonical_json(v) for v in value]) + "]"
    plan = _ATTRS_PLANS.get(cls)
    if plan is None and cls not in _NOT_ATTRS:
        plan = _attrs_plan(cls)
    if plan is not None:
        text = plan[0]
        for name, key in plan[1]:  # ints and bytes inline: most message fields are
            field = getattr(value, name)
            kind = type(field)
            if kind is int:
                text += key + int.__repr__(field)
            elif kind is bytes:
                text += key + '{"$bytes":"' + field.hex() + '"}'
            else:
                text += key + canonical_json(field)
        return text + "}"
    if cls is dict:
        native = True
        for k, v in value.items():
            if type(k) is not str or k.startswith("$"):
                return dumps(to_plain(value))  # encoded as a $map
            if type(v) not in _NATIVE and not (type(v) is dict and _is_native_dict(v)):
                native = False
        if native:  # plain JSON already: one call into the C encoder
            return _encode_native(value)
        return (
            "{"
            + ",".join([_quote(k) + ":" + canonical_json(value[k]) for k in sorted(value)])
            + "}"
        )
    return dumps(to_plain(value))


_quote = json.encoder.encode_basestring_ascii  # what json.dumps uses with ensure_ascii
_NATIVE = frozenset({int, str, bool, type(None)})  # encoded the same by json and to_plain


def _c_encoder() -> Any:
    """json's C encoder with canonical settings, built once (``json.dumps`` builds one
    per call); None where the C accelerator is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    return make(None, None, _quote, None, ":", ",", True, False, True)


_C_ENCODE = _c_encoder()


def _encode_native(value: dict[str, Any]) -> str:
    """Plain JSON data (no cycles) in canonical form."""
    if _C_ENCODE is None:
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


_ATTRS_PLANS: dict[type, tuple[str, tuple[tuple[str, str], ...]]] = {}
_NOT_ATTRS: set[type] = set()


def _is_native_dict(value: dict[Any, Any]) -> bool:
    """A dict that JSON encodes exactly as ``to_plain`` would: plain string keys and
    int, str, bool or None values (a trace event's ``data``, say)."""
    for k, v in value.items():
        if type(k) is not str or k.startswith("$") or type(v) not in _NATIVE:
            return False
    return True


def _attrs_plan(cls: type) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """For an attrs class: the text up to its first field, and per field (sorted by
    name, as ``sort_keys`` orders them) the name and the text before its value.
    ``$type`` sorts before every identifier, so it always comes first."""
    if not attrs.has(cls):
        _NOT_ATTRS.add(cls)
        return None
    names = sorted(_field_names(cls))
    head = '{"$type":' + _quote(cls.__name__)
    plan = (head, tuple((name, "," + _quote(name) + ":") for name in names))
    _ATTRS_PLANS[cls] = plan
    return plan


def canonical_bytes(value: Any) -> bytes:
    """The bytes a signature or digest covers for ``value``."""
    return canonical_json(value).encode()


def kind_of(payload: Any) -> str:
    """The short kind name of a message, used for counting and filtering."""
    kind = getattr(payload, "KIND", None)
    if kind is not None:
        return kind
    return type(payload).__name__
