"""Hypothesis strategies for adversary schedules within a declared fault model.

Theory of operation. A *schedule* is an explicit, finite list of adversary
actions (``Action``): crash a node (and maybe let it recover), drop or delay an
honest node's messages, cut the network in two, or, for a corrupted node,
withhold, alter or equivocate its messages, or run a *twin* of it (a second
copy of the node's own code under the same identity, as in Twins, Bano et al.
2021). The ``schedule`` adversary (``adversaries/schedule.py``) executes such a
list, so a schedule is an ordinary scenario file and replays exactly.

A ``FaultModel`` bounds what a schedule may do: how many nodes may be faulty
(crashed or corrupted, counted together), which nodes may be, which network
model is in force (so drops and delays of honest messages are generated only
where the model allows them: before GST and within delta), how many rounds the
run lasts, and which action kinds to use.

Encoding for shrinking (Hypothesis's guide "strategies that shrink"). A
schedule is drawn as a list of small integer tuples ``(kind, node, round, x,
y, z)``, one per action, and decoded deterministically. Every component shrinks toward 0 and 0
always means the simplest choice: the first kind (``crash``), node 0, round 0,
the shortest fault, one recipient rather than all, the first field, the
plainest mutation. Deleting a tuple deletes exactly one action, so Hypothesis
shrinks toward "no faults": fewer actions, earlier and shorter faults.
Out-of-range components are folded back by modulo rather than filtered, so no
draw is ever rejected. A schedule also draws a swarm-testing mask of action
kinds to leave out (shrinking toward none left out), so some schedules pile up
one kind of fault instead of spreading thin over all of them. The fault budget is enforced while decoding: once the
budget of faulty nodes is used up, a further faulty node is mapped onto one
already faulty, so lowering a node id merges faulty nodes (fewer corrupted
nodes) instead of producing an invalid schedule. The same decoder turns
uniformly random tuples into schedules for the unshrunk baseline of the
benchmark (ByzzFuzz-style random faults, Winter et al. 2023).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from bft.core.errors import ConfigError
from bft.search.schedule import (
    GENERATED_KINDS,
    MIN_ACTIONS,
    MUTATIONS,
    FaultModel,
    RawAction,
    Schedule,
    decode,
    fault_model,
    raw_bounds,
)

__all__ = [
    "GENERATED_KINDS",
    "MUTATIONS",
    "fault_model",
    "raw_actions",
    "schedules",
    "schedules_for",
]


# -- strategies ----------------------------------------------------------------------------


def raw_actions(model: FaultModel) -> st.SearchStrategy[tuple[int, list[RawAction]]]:
    """A swarm mask and a list of raw action tuples: the shrinkable form of a schedule.

    One small integer draw per component. Hypothesis draws each with a bias
    toward small values (node 0, round 0, the first field), which is often the
    lucky choice (the commander, the primary) without starving the others.
    Measured alternatives (benchmarks/README.md): packing an action into
    one integer generates 1.6x faster but Hypothesis's integers then favour small
    values so strongly that most actions become crashes of node 0; one
    ``binary`` draw per action gives uniform components at no gain in speed and
    finds the planted bugs less often.
    """
    kinds = model.usable_kinds()
    if not kinds or model.max_actions == 0:
        return st.just((0, []))
    node, rnd, x, y, z = raw_bounds(model)
    element = st.tuples(
        st.integers(0, len(kinds) - 1),
        st.integers(0, node),
        st.integers(0, rnd),
        st.integers(0, x),
        st.integers(0, y),
        st.integers(0, z),
    )
    mask = st.integers(0, (1 << len(kinds)) - 1)
    return st.tuples(mask, st.lists(element, min_size=MIN_ACTIONS, max_size=model.max_actions))


def schedules_for(model: FaultModel) -> st.SearchStrategy[Schedule]:
    """Schedules within ``model``; they shrink toward the empty (fault-free) schedule."""
    return raw_actions(model).map(lambda raw: decode(raw[1], model, raw[0]))


def schedules(
    protocol: str | None = None,
    *,
    model: FaultModel | None = None,
    **options: Any,
) -> st.SearchStrategy[Schedule]:
    """Adversary schedules for ``protocol`` within a fault model (the public strategy).

    >>> from bft.search.strategies import schedules
    >>> strategy = schedules(protocol="om", n=4, faults=1)

    Give either a ``FaultModel`` or the protocol name plus ``fault_model`` options
    (``n``, ``faults``, ``network``, ``gst``, ``delta``, ``rounds``, ``params``,
    ``kinds``, ``max_actions``, ``targets``). Run a drawn schedule with
    ``bft.search.run_schedule(schedule, protocol=...)``; the schedule shrinks
    toward no faults.
    """
    if model is None:
        if protocol is None:
            raise ConfigError("schedules(): give a protocol name or a FaultModel")
        model = fault_model(protocol, **options)
    elif options:
        raise ConfigError(f"schedules(): options {sorted(options)} conflict with an explicit model")
    return schedules_for(model)
