"""Environment models shared by every protocol: capacity, overload, service, poison.

Theory of operation. The engine, not the protocol, decides what a unit of work
costs and what happens to an overloaded or poisoned node, so a login storm or a
poison request means the same thing under every protocol.

* Capacity. A node that does work (``ctx.work`` or ``ctx.execute``) has a
  capacity of ``capacity`` units per round. If its work in one round exceeds
  ``theta * capacity`` it goes down for ``down_rounds`` rounds (Skype 2007:
  overloaded supernodes dropped out). A node may look at ``ctx.load`` and
  refuse work itself (admission control); refusing is the protocol's choice.
* Service. Requests are ``Operation`` values; the correct result of one is a
  pure function of it (``correct_result``), so any reply can be judged.
* Poison and diversity. Each node runs one of ``variants`` implementation
  variants (node i runs variant ``i % variants`` unless the protocol assigns
  them). Executing an operation marked ``poison`` freezes a node whose variant
  is in ``vulnerable`` for ``freeze_rounds`` rounds (0 means for the rest of
  the run): the monoculture lesson as a parameter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import attrs

from bft.core.errors import ConfigError
from bft.core.memo import by_identity
from bft.core.params import Nodes, Param, resolve


@attrs.frozen
class Operation:
    """A client request to the shared service."""

    client: int
    seq: int
    arg: int
    poison: bool = False

    KIND = "op"


@by_identity()
def correct_result(op: Operation) -> int:
    """The one correct result of ``op``: a pure function, the same everywhere
    (remembered per operation object: every replica executes the same one)."""
    data = f"{op.client}:{op.seq}:{op.arg}".encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "big")


class Frozen(BaseException):  # noqa: N818 - it is a signal, not an error
    """Raised inside a node that executed a poison; the engine takes it down.

    A BaseException so that a protocol's ``except Exception`` cannot swallow it.
    """


ENVIRONMENT_PARAMS = (
    Param(
        "capacity",
        float,
        default=None,
        doc="work units a node can do per round (none: unlimited)",
        min=0.0,
    ),
    Param("theta", float, default=1.0, doc="overload threshold as a multiple of capacity", min=0.0),
    Param("down_rounds", int, default=10, doc="rounds an overloaded node stays down", min=1),
    Param("op_cost", float, default=1.0, doc="work units to execute one operation", min=0.0),
    Param(
        "variants",
        int,
        default=1,
        doc="number of implementation variants (1: a monoculture)",
        min=1,
    ),
    Param("vulnerable", Nodes, default=(0,), doc="variants a poison operation freezes"),
    Param(
        "freeze_rounds",
        int,
        default=0,
        doc="rounds a poisoned node stays frozen (0: rest of run)",
        min=0,
    ),
)


@attrs.frozen
class Environment:
    capacity: float | None = None
    theta: float = 1.0
    down_rounds: int = 10
    op_cost: float = 1.0
    variants: int = 1
    vulnerable: tuple[int, ...] = (0,)
    freeze_rounds: int = 0

    @classmethod
    def from_mapping(cls, given: Mapping[str, Any]) -> Environment:
        values = resolve("environment", ENVIRONMENT_PARAMS, given)
        if values["capacity"] is not None and values["capacity"] <= 0:
            raise ConfigError(
                f"environment: parameter 'capacity' must be > 0 (got {values['capacity']!r}); "
                "omit it for unlimited capacity"
            )
        for v in values["vulnerable"]:
            if not 0 <= v < values["variants"]:
                raise ConfigError(
                    f"environment: vulnerable variant {v} does not exist "
                    f"(variants={values['variants']}; valid: 0..{values['variants'] - 1})"
                )
        return cls(**values)

    @property
    def overload_limit(self) -> float | None:
        return None if self.capacity is None else self.theta * self.capacity
