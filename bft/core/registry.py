"""Registries of protocols and adversaries, filled from entry points.

The built-ins register through the same entry-point groups a third-party
package uses (``bft.protocols``, ``bft.adversaries`` in pyproject.toml), so
nothing here is special to them. ``register`` adds one in-process, for tests
and for labs that grade a student's file.

A name means one thing. Two entry points that register the same name (from
two distributions, or with two different targets) are an error naming both
sources, raised on the first look-up, never a silent choice of one of them;
so is an in-process ``register`` of a name an installed package already
registers for another object.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import attrs

from bft.core.errors import ConfigError, unknown

GROUPS = {"protocol": "bft.protocols", "adversary": "bft.adversaries"}
_extra: dict[str, dict[str, Any]] = {"protocol": {}, "adversary": {}}
_loaded: dict[str, dict[str, _Entry]] = {}


@attrs.frozen
class _Entry:
    """An entry point not loaded yet, and where it comes from.

    (Entry points are held in this wrapper, not recognised by their class: once the
    ``importlib_metadata`` backport is imported, say by Dask, ``entry_points()`` may
    return the backport's ``EntryPoint`` objects instead of the standard library's.)
    """

    ep: Any = attrs.field(eq=False)
    value: str  # "module:attribute"
    dist: str  # the distribution's name ("?" when unknown)
    version: str

    @classmethod
    def of(cls, ep: Any) -> _Entry:
        dist = getattr(ep, "dist", None)
        if dist is None:
            return cls(ep, str(ep.value), "?", "?")
        return cls(ep, str(ep.value), dist.metadata["Name"] or "?", dist.version)

    @property
    def source(self) -> str:
        """Where it comes from, for messages: ``dist 1.0 (module:Class)``."""
        return f"{self.dist} {self.version} ({self.value})"


def _describe(item: Any) -> str:
    if isinstance(item, _Entry):
        return f"the entry point of {item.source}"
    module = getattr(item, "__module__", "?")
    return f"{module}:{getattr(item, '__qualname__', repr(item))} (registered in-process)"


def _load(kind: str) -> dict[str, Any]:
    if kind not in _loaded:
        found: dict[str, _Entry] = {}
        for ep in sorted(entry_points(group=GROUPS[kind]), key=lambda e: (e.name, e.value)):
            entry, other = _Entry.of(ep), found.get(ep.name)
            if other is not None and other != entry:
                raise ConfigError(
                    f"{kind} {ep.name!r} is registered twice (entry-point group "
                    f"{GROUPS[kind]!r}): by {other.source} and by {entry.source}; "
                    "uninstall one of them or rename its entry point"
                )
            found[ep.name] = entry
        _loaded[kind] = found
    return {**_loaded[kind], **_extra[kind]}


def names(kind: str) -> list[str]:
    return sorted(_load(kind))


def installed_names(kind: str) -> list[str]:
    """Names registered through entry points only (not with ``register`` in-process)."""
    _load(kind)
    return sorted(_loaded[kind])


def builtin_names(kind: str) -> list[str]:
    """Names bft itself registers (not plug-ins, not ``register`` in-process)."""
    _load(kind)
    return sorted(name for name, entry in _loaded[kind].items() if entry.dist == "bft")


def _resolve(kind: str, name: str, item: Any) -> Any:
    if isinstance(item, _Entry):
        try:
            return item.ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in is reported, not raised
            raise ConfigError(
                f"{kind} {name!r} failed to load from {item.source}: {type(exc).__name__}: {exc}"
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
    in this process. A name an installed package registers (bft's own included) is a
    ``ConfigError`` naming that package, unless ``cls`` is the very object it stands
    for (then this is a no-op). An earlier in-process registration of ``name`` is
    replaced (the labs grader swaps a spec this way)."""
    if kind not in GROUPS:
        raise ConfigError(f"register: kind must be 'protocol' or 'adversary' (got {kind!r})")
    _load(kind)
    installed = _loaded[kind].get(name)
    if installed is not None:
        try:
            same = _resolve(kind, name, installed) is cls
        except ConfigError:
            same = False
        if same:
            return
        raise ConfigError(
            f"cannot register {kind} {name!r} ({_describe(cls)}): the name is already taken by "
            f"{_describe(installed)}; pick another name"
        )
    _extra[kind][name] = cls


def unregister(kind: str, name: str) -> None:
    """Remove an in-process registration (entry points stay)."""
    _extra[kind].pop(name, None)


def protocol(name: str) -> Any:
    return get("protocol", name)


def adversary(name: str) -> Any:
    return get("adversary", name)
