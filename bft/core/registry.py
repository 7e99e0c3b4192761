"""Registries of protocols and adversaries, filled from entry points.

The built-ins register through the same entry-point groups a third-party
package uses (``bft.protocols``, ``bft.adversaries`` in pyproject.toml), so
nothing here is special to them. ``register`` adds one in-process, for tests
and for labs that grade a student's file.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from bft.core.errors import ConfigError, unknown

GROUPS = {"protocol": "bft.protocols", "adversary": "bft.adversaries"}
_extra: dict[str, dict[str, Any]] = {"protocol": {}, "adversary": {}}
_loaded: dict[str, dict[str, Any]] = {}


def _load(kind: str) -> dict[str, Any]:
    if kind not in _loaded:
        found: dict[str, Any] = {}
        for ep in entry_points(group=GROUPS[kind]):
            found[ep.name] = ep
        _loaded[kind] = found
    return {**_loaded[kind], **_extra[kind]}


def names(kind: str) -> list[str]:
    return sorted(_load(kind))


def installed_names(kind: str) -> list[str]:
    """Names registered through entry points only (not with ``register`` in-process)."""
    _load(kind)
    return sorted(_loaded[kind])


def get(kind: str, name: str) -> Any:
    """The class registered as ``name``; a ``ConfigError`` listing choices if none."""
    table = _load(kind)
    if name not in table:
        raise unknown(kind, name, table)
    item = table[name]
    if hasattr(item, "load"):
        try:
            item = item.load()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in is reported, not raised
            raise ConfigError(f"{kind} {name!r} failed to load from {item.value}: {exc}") from None
    return item


def register(kind: str, name: str, cls: Any) -> None:
    _extra[kind][name] = cls


def unregister(kind: str, name: str) -> None:
    _extra[kind].pop(name, None)


def protocol(name: str) -> Any:
    return get("protocol", name)


def adversary(name: str) -> Any:
    return get("adversary", name)
