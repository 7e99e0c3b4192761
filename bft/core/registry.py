"""Registries of protocols and adversaries, filled from entry points.

The built-ins register through the same entry-point groups a third-party
package uses (``bft.protocols``, ``bft.adversaries`` in pyproject.toml), so
nothing here is special to them. ``register`` adds one in-process, for tests
and for labs that grade a student's file.

A name means one thing. Two entry points that register the same name (from
two distributions, or with two different targets) are an error naming both
sources, raised on the first look-up, never a silent choice of one of them;
so is an in-process ``register`` of a name already taken by another object.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from bft.core.errors import ConfigError, unknown

GROUPS = {"protocol": "bft.protocols", "adversary": "bft.adversaries"}
_extra: dict[str, dict[str, Any]] = {"protocol": {}, "adversary": {}}
_loaded: dict[str, dict[str, EntryPoint]] = {}


def _distribution(ep: EntryPoint) -> str:
    """The name and version of the distribution that declares ``ep`` ('?' if unknown)."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "?"
    return f"{dist.metadata['Name'] or '?'} {dist.version}"


def source(ep: EntryPoint) -> str:
    """Where an entry point comes from, for messages: ``dist 1.0 (module:Class)``."""
    return f"{_distribution(ep)} ({ep.value})"


def _describe(item: Any) -> str:
    if isinstance(item, EntryPoint):
        return f"the entry point of {source(item)}"
    module = getattr(item, "__module__", "?")
    return f"{module}:{getattr(item, '__qualname__', repr(item))} (registered in-process)"


def _load(kind: str) -> dict[str, Any]:
    if kind not in _loaded:
        found: dict[str, EntryPoint] = {}
        for ep in sorted(entry_points(group=GROUPS[kind]), key=lambda e: (e.name, e.value)):
            other = found.get(ep.name)
            if other is not None and (
                other.value != ep.value or _distribution(other) != _distribution(ep)
            ):
                raise ConfigError(
                    f"{kind} {ep.name!r} is registered twice (entry-point group "
                    f"{GROUPS[kind]!r}): by {source(other)} and by {source(ep)}; "
                    "uninstall one of them or rename its entry point"
                )
            found[ep.name] = ep
        _loaded[kind] = found
    return {**_loaded[kind], **_extra[kind]}


def names(kind: str) -> list[str]:
    return sorted(_load(kind))


def installed_names(kind: str) -> list[str]:
    """Names registered through entry points only (not with ``register`` in-process)."""
    _load(kind)
    return sorted(_loaded[kind])


def _resolve(kind: str, name: str, item: Any) -> Any:
    if isinstance(item, EntryPoint):
        try:
            return item.load()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in is reported, not raised
            raise ConfigError(
                f"{kind} {name!r} failed to load from {source(item)}: {type(exc).__name__}: {exc}"
            ) from None
    return item


def get(kind: str, name: str) -> Any:
    """The class registered as ``name``; a ``ConfigError`` listing choices if none."""
    table = _load(kind)
    if name not in table:
        raise unknown(kind, name, table)
    return _resolve(kind, name, table[name])


def register(kind: str, name: str, cls: Any) -> None:
    """Register ``cls`` as the ``kind`` ('protocol' or 'adversary') called ``name``,
    in this process. Registering the object a name already stands for again is a
    no-op; a name taken by anything else is a ``ConfigError`` naming its owner."""
    if kind not in GROUPS:
        raise ConfigError(f"register: kind must be 'protocol' or 'adversary' (got {kind!r})")
    existing = _load(kind).get(name)
    if existing is not None:
        try:
            same = _resolve(kind, name, existing) is cls
        except ConfigError:
            same = False
        if same:
            return
        raise ConfigError(
            f"cannot register {kind} {name!r} ({_describe(cls)}): the name is already taken by "
            f"{_describe(existing)}; pick another name (or unregister the in-process one first)"
        )
    _extra[kind][name] = cls


def unregister(kind: str, name: str) -> None:
    """Remove an in-process registration (entry points stay)."""
    _extra[kind].pop(name, None)


def protocol(name: str) -> Any:
    return get("protocol", name)


def adversary(name: str) -> Any:
    return get("adversary", name)
