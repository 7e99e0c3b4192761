"""Small-scope value mutations of messages (ByzzFuzz's value faults).

A message is a frozen attrs value, possibly inside ``Signed`` layers. A field
is named (``"view"``) or indexed (the k-th *mutable* field: the scalar fields,
int, bool, bytes or str, in declaration order, then the tuples of scalars: a
relay path, a list of signers). A mutation changes one such field: ``flip``
(0 <-> 1, true <-> false, or another value of the same type), ``inc`` or
``dec``; in a tuple it changes the last element (the newest hop of a path:
a corrupted relay claiming that another node relayed it). When the message is signed, every layer whose signer the adversary
holds the key of is signed again (``resign`` returns None for the others,
which keep their old, now invalid, signature): a corrupted node can always
re-sign its own statements, never an honest node's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from bft.core.crypto import Signed

SCALARS = (bool, int, bytes, str)
MUTATIONS = ("flip", "inc", "dec")
Resign = Callable[[int, Any], Signed | None]


def flipped(value: Any) -> Any:
    """A different value of the same type: the opposite order, the next number, ..."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return 1 - value if value in (0, 1) else value + 1
    if isinstance(value, bytes):
        return bytes(b ^ 0xFF for b in value[:1]) + value[1:] if value else b"\x00"
    if isinstance(value, str):
        return value + "'"
    return value


def _scalar_tuple(value: Any) -> bool:
    return type(value) is tuple and bool(value) and all(isinstance(v, SCALARS) for v in value)


def scalar_fields(payload: Any) -> list[str]:
    """Names of the mutable fields of an attrs message: its scalar fields in declaration
    order, then its tuples of scalars (so a scalar field's index does not depend on
    whether the message also carries a tuple)."""
    if not attrs.has(type(payload)):
        return []
    names = [f.name for f in attrs.fields(type(payload))]
    scalars = [n for n in names if isinstance(getattr(payload, n), SCALARS)]
    return scalars + [n for n in names if _scalar_tuple(getattr(payload, n))]


def mutated_part(value: Any) -> Any:
    """The scalar a mutation of ``value`` changes: the value, or a tuple's last element."""
    return value[-1] if _scalar_tuple(value) else value


def mutated_value(value: Any, how: str | None) -> Any:
    if _scalar_tuple(value):
        return (*value[:-1], mutated_value(mutated_part(value), how))
    if isinstance(value, bool) or how in (None, "flip") or not isinstance(value, int):
        return flipped(value)
    return value + 1 if how == "inc" else value - 1


def field_name(payload: Any, field: int | str | None) -> str | None:
    """The scalar field ``field`` designates in ``payload`` (None: it has no such field)."""
    names = scalar_fields(payload)
    if not names:
        return None
    if field is None:
        return "value" if "value" in names else names[0]
    if isinstance(field, str):
        return field if field in names else None
    return names[field % len(names)]


def innermost(payload: Any) -> Any:
    while isinstance(payload, Signed):
        payload = payload.payload
    return payload


def rebuild(payload: Any, change: Callable[[Any], Any | None], resign: Resign | None) -> Any:
    """``payload`` with its innermost value replaced by ``change(value)`` (None: no change),
    every signed layer signed again where ``resign`` can, else keeping its signature."""
    if isinstance(payload, Signed):
        inner = rebuild(payload.payload, change, resign)
        if inner is None:
            return None
        signed = resign(payload.signer, inner) if resign is not None else None
        return signed if signed is not None else Signed(payload.signer, inner, payload.signature)
    return change(payload)


def mutate(
    payload: Any, field: int | str | None, how: str | None, resign: Resign | None
) -> tuple[Any, str] | None:
    """``payload`` with one field changed, and a note saying what changed; None if it has none."""
    said: list[str] = []

    def change(value: Any) -> Any | None:
        name = field_name(value, field)
        if name is None:
            return None
        old = getattr(value, name)
        new = mutated_value(old, how)
        try:
            changed = attrs.evolve(value, **{name: new})
        except (TypeError, ValueError):
            return None
        said.append(f"{type(value).__name__}.{name} {old!r} -> {new!r}")
        return changed

    result = rebuild(payload, change, resign)
    return None if result is None else (result, said[0])


def splice(
    payload: Any, donor: Any, field: int | str | None, resign: Resign | None
) -> tuple[Any, str] | None:
    """``payload`` with one field's value taken from ``donor`` (a message of the same
    kind): ByzzFuzz's "a field's value from another message"."""
    said: list[str] = []
    source = innermost(donor)

    def change(value: Any) -> Any | None:
        name = field_name(value, field)
        if name is None or type(source) is not type(value):
            return None
        old, new = getattr(value, name), getattr(source, name)
        if old == new:
            return None
        try:
            changed = attrs.evolve(value, **{name: new})
        except (TypeError, ValueError):
            return None
        said.append(f"{type(value).__name__}.{name} {old!r} -> {new!r}")
        return changed

    result = rebuild(payload, change, resign)
    return None if result is None else (result, said[0])
