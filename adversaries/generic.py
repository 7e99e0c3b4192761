"""The fault-free adversary, and helpers shared by the others."""

from __future__ import annotations

from collections.abc import Sequence

from bft.core.adversary import Adversary, _Control
from bft.core.errors import ConfigError
from bft.core.params import Nodes, Param, resolve_nodes

TARGET_PARAMS = (
    Param(
        "nodes",
        Nodes,
        default=None,
        doc="node ids to target, e.g. [1,3]; negative ids count from the end",
    ),
    Param(
        "count",
        int,
        default=None,
        doc="instead of nodes: how many nodes to pick at random (seeded)",
        min=0,
    ),
    Param(
        "role",
        str,
        default=None,
        doc="restrict a random pick to nodes with this role (e.g. 'server')",
    ),
)


def pick_targets(adversary: Adversary, ctl: _Control, default_count: int = 1) -> tuple[int, ...]:
    """The nodes an adversary acts on: explicit ``nodes``, or ``count`` picked by its RNG."""
    p = adversary.p
    if p.get("nodes") is not None:
        return resolve_nodes(adversary.name, p["nodes"], ctl.n)
    pool = ctl.nodes_with_role(p["role"]) if p.get("role") else list(range(ctl.n))
    count = p["count"] if p.get("count") is not None else default_count
    if count > len(pool):
        where = f"with role {p['role']!r}" if p.get("role") else "in the run"
        raise ConfigError(f"{adversary.name}: count={count} but only {len(pool)} nodes {where}")
    return tuple(sorted(ctl.rng.sample(pool, count)))


def pick_among(
    adversary: Adversary,
    ctl: _Control,
    pool: Sequence[int],
    what: str,
    count_says: str = "",
) -> tuple[int, ...]:
    """The nodes an adversary acts on, all from ``pool`` (e.g. the clients or the servers).

    Explicit ``nodes`` must all be in ``pool``; otherwise ``count`` of them are
    picked by the adversary's RNG. ``what`` names the pool in errors (plural,
    e.g. "servers"); ``count_says`` is text after ``count=N`` in the count error.
    """
    p = adversary.p
    if p.get("nodes") is not None:
        targets = resolve_nodes(adversary.name, p["nodes"], ctl.n)
        members = set(pool)
        bad = [t for t in targets if t not in members]
        if bad:
            raise ConfigError(
                f"{adversary.name}: nodes {bad} are not {what} ({what} are {pool[0]}..{pool[-1]})"
            )
        return targets
    count = p["count"]
    if count > len(pool):
        raise ConfigError(
            f"{adversary.name}: count={count}{count_says} but the run has only {len(pool)} {what}"
        )
    return tuple(sorted(ctl.rng.sample(pool, count)))


class NoAdversary(Adversary):
    name = "none"
    summary = "no faults at all (the fault-free baseline)"
