"""Declared parameters of protocols and adversaries, with validation.

A protocol or adversary lists its parameters as ``Param`` values. Values come
from scenario files (already typed by TOML) or from the command line (strings,
parsed here). Every failure names the owner, the parameter, the bad value and
what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from bft.core.errors import ConfigError, choices

TYPES = ("int", "float", "bool", "str", "nodes", "choice")


@attrs.frozen
class Param:
    """One parameter: its name, type, default and bounds."""

    name: str
    type: str
    default: Any
    doc: str
    min: float | None = None
    max: float | None = None
    options: tuple[str, ...] = ()

    def describe(self) -> str:
        bounds = []
        if self.min is not None:
            bounds.append(f">= {self.min:g}")
        if self.max is not None:
            bounds.append(f"<= {self.max:g}")
        if self.options:
            bounds.append("one of " + choices(self.options))
        extra = f" ({', '.join(bounds)})" if bounds else ""
        return f"{self.name}: {self.type}, default {self.default!r}{extra}. {self.doc}"


def parse_literal(text: str) -> Any:
    """Parse a command-line value: int, float, bool, [list] or a bare string."""
    text = text.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [parse_literal(part) for part in split_top(inner)] if inner else []
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
    parts, depth, current = [], 0, []
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
    if isinstance(value, str) and kind not in ("str", "choice"):
        value = parse_literal(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise bad("must be an integer")
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("must be a number")
        value = float(value)
        if not math.isfinite(value):
            raise bad("must be finite")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise bad("must be true or false")
    elif kind == "str":
        if not isinstance(value, str):
            raise bad("must be a string")
    elif kind == "choice":
        if value not in param.options:
            raise bad(f"must be one of {choices(param.options)}")
    elif kind == "nodes":
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise bad(
                "must be a node id or a list of node ids like [0,2] (negative counts from the end)"
            )
        value = tuple(value)
    if kind in ("int", "float"):
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
