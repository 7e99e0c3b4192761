"""Declared parameters of protocols and adversaries, with validation.

A protocol or adversary lists its parameters as ``Param`` values. Values come
from scenario files (already typed by TOML) or from the command line (strings,
parsed here). Every failure names the owner, the parameter, the bad value and
what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from bft.core.errors import ConfigError, choices, shorten


class Nodes:
    """The type of a parameter that names nodes: one id or a list of ids (negative ids
    count from the end). ``Param("nodes", Nodes, default=(0,), doc="...")``."""


#: the types a parameter may have, and how each is named in messages and docs
TYPE_NAMES: dict[type, str] = {
    int: "int",
    float: "float",
    bool: "bool",
    str: "str",
    Nodes: "nodes",
    list: "list",
}


def str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    """``tuple`` as an attrs converter, typed (so that the type checker knows the field's input)."""
    return tuple(values)


def _check_type(param: Param, attribute: attrs.Attribute[type], value: type) -> None:
    if value not in TYPE_NAMES:
        raise TypeError(
            f"Param {param.name!r}: type must be one of "
            f"{', '.join(t.__name__ for t in TYPE_NAMES)} (got {value!r})"
        )


@attrs.frozen
class Param:
    """One parameter of a protocol or adversary: its name, type, default and bounds.

    ``Param("n", int, default=4, doc="number of replicas", min=1)``. The options
    after the type are keyword-only. ``choices`` restricts a ``str`` to the
    values listed; ``min``/``max`` bound an ``int`` or ``float``; a default of
    None means "not set" (the owner computes one, e.g. PBFT's f from n).
    """

    name: str
    type: type = attrs.field(validator=_check_type)
    default: Any = attrs.field(default=None, kw_only=True)
    doc: str = attrs.field(default="", kw_only=True)
    min: float | None = attrs.field(default=None, kw_only=True)
    max: float | None = attrs.field(default=None, kw_only=True)
    choices: tuple[str, ...] = attrs.field(default=(), kw_only=True, converter=str_tuple)

    @property
    def type_name(self) -> str:
        return TYPE_NAMES[self.type]

    def bounds(self) -> list[str]:
        out = []
        if self.min is not None:
            out.append(f">= {self.min:g}")
        if self.max is not None:
            out.append(f"<= {self.max:g}")
        if self.choices:
            out.append("one of " + choices(self.choices))
        return out

    def describe(self) -> str:
        bounds = self.bounds()
        extra = f" ({', '.join(bounds)})" if bounds else ""
        return f"{self.name}: {self.type_name}, default {self.default!r}{extra}. {self.doc}"


#: deepest list nesting a command-line value may have
MAX_DEPTH = 16
#: the largest magnitude of an integer value (beyond it, floats and seeds lose meaning)
MAX_INT = 2**53


def parse_literal(text: str) -> Any:
    """Parse a command-line value: int, float, bool, [list] or a bare string."""
    depth = deepest = 0
    for char in text:
        depth += (char == "[") - (char == "]")
        deepest = max(deepest, depth)
    if deepest > MAX_DEPTH:
        raise ConfigError(
            f"value {shorten(text)!r} nests lists {deepest} deep; at most {MAX_DEPTH} levels"
        )
    return _literal(text)


def _literal(text: str) -> Any:
    text = text.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_literal(part) for part in split_top(inner)] if inner else []
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside square brackets."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_named(text: str, what: str, key: str = "key") -> tuple[str, dict[str, Any]]:
    """Parse ``NAME`` or ``NAME:key=value,...`` into the name and its parameters.

    Errors read ``{what} 'text': expected ...``, calling the keys ``key``
    (e.g. ``what="--adversary"``, or ``what="protocol", key="param"``).
    """
    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise ConfigError(f"{what} {text!r}: expected NAME or NAME:{key}=value,...")
    params: dict[str, Any] = {}
    for part in split_top(rest):
        k, eq, value = part.partition("=")
        if not eq or not k.strip():
            raise ConfigError(f"{what} {text!r}: expected {key}=value, got {part!r}")
        params[k.strip()] = parse_literal(value)
    return name, params


def _coerce(owner: str, param: Param, value: Any) -> Any:
    def bad(why: str) -> ConfigError:
        return ConfigError(f"{owner}: parameter {param.name!r} {why} (got {value!r})")

    kind = param.type
    if isinstance(value, str) and kind is not str:
        value = parse_literal(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise bad("must be an integer")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("must be a number")
        value = float(value)
        if not math.isfinite(value):
            raise bad("must be finite")
    elif kind is bool:
        if not isinstance(value, bool):
            raise bad("must be true or false")
    elif kind is str:
        if not isinstance(value, str):
            raise bad("must be a string")
        if param.choices and value not in param.choices:
            raise bad(f"must be one of {choices(param.choices)}")
    elif kind is Nodes:
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise bad(
                "must be a node id or a list of node ids like [0,2] (negative counts from the end)"
            )
        value = tuple(value)
    elif kind is list and not isinstance(value, list | tuple):
        raise bad("must be a list")
    if kind is int and abs(value) > MAX_INT:
        raise bad("must be between -2**53 and 2**53")
    if kind is int or kind is float:
        if param.min is not None and value < param.min:
            raise bad(f"must be >= {param.min:g}")
        if param.max is not None and value > param.max:
            raise bad(f"must be <= {param.max:g}")
    return value


def resolve(owner: str, declared: Sequence[Param], given: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with ``given``, type-checked; unknown names refused."""
    by_name = {p.name: p for p in declared}
    for name in given:
        if name not in by_name:
            raise ConfigError(
                f"{owner}: unknown parameter {name!r}; valid parameters: {choices(by_name)}"
            )
    out: dict[str, Any] = {}
    for param in declared:
        value = given.get(param.name, param.default)
        out[param.name] = None if value is None else _coerce(owner, param, value)
    return out


def resolve_nodes(owner: str, nodes: Sequence[int], n: int) -> tuple[int, ...]:
    """Turn possibly negative node ids into 0..n-1, refusing ids that do not exist."""
    out = []
    for node in nodes:
        real = node + n if node < 0 else node
        if not 0 <= real < n:
            raise ConfigError(f"{owner}: node {node} does not exist (n={n}; nodes are 0..{n - 1})")
        if real not in out:
            out.append(real)
    return tuple(sorted(out))
