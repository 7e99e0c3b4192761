"""Named properties: predicates over a run record with a readable witness.

A property has a name, a kind (``safety``: nothing bad ever happens, so a
violation has a finite witness; ``liveness``: something good happens within a
stated bound, the only form of liveness a finite trace can check) and a check
function returning a ``Verdict``. A verdict that holds only because the
situation never arose (validity when the commander is a traitor, recovery when
nothing failed) is marked ``exercised=False`` so a report can say so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from bft.core.record import RunRecord

KINDS = ("safety", "liveness")


@attrs.frozen
class Verdict:
    holds: bool
    witness: str | None = None
    exercised: bool = True
    #: where a violation shows (optional: diagrams open on it), the round and the nodes
    round: int | None = None
    nodes: tuple[int, ...] = ()

    @classmethod
    def ok(cls, note: str | None = None) -> Verdict:
        return cls(True, note, True)

    @classmethod
    def vacuous(cls, why: str) -> Verdict:
        return cls(True, why, False)

    @classmethod
    def violated(
        cls, witness: str, *, round: int | None = None, nodes: Iterable[int] = ()
    ) -> Verdict:
        return cls(False, witness, True, round, tuple(sorted(set(nodes))))


@attrs.frozen
class Property:
    """A named predicate over a run.

    ``guaranteed`` says whether the protocol promises it whenever the faults stay
    within its bound. A performance expectation (PBFT's throughput floor, which a
    slow Byzantine primary can always undercut, as Aardvark showed) is not: ``bft
    run`` judges it like any other, but ``bft check`` only searches for
    violations of guaranteed properties unless asked for others by name.
    """

    name: str
    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    description: str
    check: Callable[[RunRecord], Verdict] = attrs.field(eq=False, repr=False)
    guaranteed: bool = True


def _no_exceptions(record: RunRecord) -> Verdict:
    if not record.bugs:
        return Verdict.ok()
    first = record.bugs[0]
    return Verdict.violated(
        f"honest node {first.node} raised in round {first.round}: {first.detail} "
        f"(a bug in the protocol; replay with --seed {record.seed})"
    )


NO_EXCEPTIONS = Property(
    "no-exceptions",
    "safety",
    "no honest node raises an exception, whatever the adversary sends it",
    _no_exceptions,
)


def describe_nodes(nodes: object) -> str:
    items = sorted(nodes)  # type: ignore[call-overload]
    return "node " + str(items[0]) if len(items) == 1 else "nodes " + ", ".join(map(str, items))
