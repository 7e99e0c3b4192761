"""What a protocol plug-in provides: parameters, nodes, properties, metrics.

A protocol is registered under the entry-point group ``bft.protocols`` as a
subclass of ``ProtocolSpec``. The engine knows nothing else about it: it builds
the nodes with ``make_node``, runs them, and hands the run record to the
protocol's properties and metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from bft.core.errors import choices
from bft.core.network import MODELS
from bft.core.node import Node
from bft.core.params import Param, str_tuple
from bft.core.properties import Property
from bft.core.record import RunRecord

Params = Mapping[str, Any]

#: ``crash``: a faulty node stops (and may come back where the protocol says it can);
#: ``byzantine``: a faulty node may do anything its keys allow (crashing included).
FAULT_KINDS = ("crash", "byzantine")


def _in_fault_kinds(instance: object, attribute: object, value: str) -> None:
    if value not in FAULT_KINDS:
        raise ValueError(f"Tolerance: kind must be one of {choices(FAULT_KINDS)} (got {value!r})")


def _in_models(instance: object, attribute: object, value: tuple[str, ...]) -> None:
    for model in value:
        if model not in MODELS:
            raise ValueError(
                f"Tolerance: unknown network model {model!r}; available: {choices(MODELS)}"
            )


@attrs.frozen(kw_only=True)
class Tolerance:
    """The faults a protocol claims to tolerate, as part of its specification.

    ``bft check`` searches exactly this model by default (and says so), and every
    run is judged against it: a run whose adversaries make more nodes faulty, make
    a node Byzantine where only crashes are tolerated, or use a network model the
    claim does not cover, is labelled *beyond the model*, so a violation there is
    not blamed on the protocol.
    """

    kind: str = attrs.field(validator=_in_fault_kinds)
    faults: int  #: how many nodes may be faulty (crashed or corrupted) in one run
    networks: tuple[str, ...] = attrs.field(
        default=MODELS, converter=str_tuple, validator=_in_models
    )
    #: the roles whose faulty nodes count against ``faults`` (None: every node)
    roles: tuple[str, ...] | None = None
    #: roles any number of whose nodes may be faulty (PBFT's clients, say)
    unlimited: tuple[str, ...] = ()
    bound: str = ""  #: the bound in words, e.g. "n >= 3f+1"

    def counts(self, role: str) -> bool:
        """Whether a faulty node with ``role`` counts against ``faults``."""
        return role not in self.unlimited and (self.roles is None or role in self.roles)

    def allows_role(self, role: str) -> bool:
        """Whether a node with ``role`` may be faulty at all."""
        return role in self.unlimited or self.roles is None or role in self.roles

    def describe(self) -> str:
        what = "Byzantine" if self.kind == "byzantine" else "crash"
        who = "node" if self.roles is None else " or ".join(self.roles)
        plural = "" if self.faults == 1 else "s"
        text = f"up to {self.faults} {what}-faulty {who}{plural}"
        if self.bound:
            text += f" ({self.bound})"
        if self.unlimited:
            text += f", any number of faulty {' or '.join(self.unlimited)}s"
        return f"{text}; networks: {', '.join(self.networks)}"


class ProtocolSpec:
    name: ClassVar[str]
    summary: ClassVar[str]
    #: what ``n`` (``--nodes``) counts for this protocol: generals, replicas, members...
    nodes_are: ClassVar[str] = "nodes"
    params: ClassVar[tuple[Param, ...]] = ()
    #: every node may talk to every other and keep state per peer (votes, relayed
    #: chains): memory grows with n^2, which the size budget checks before a run
    all_to_all: ClassVar[bool] = False

    def check(self, p: Params) -> None:
        """Cross-parameter checks; raise ``ConfigError`` naming the bad values."""

    def node_count(self, p: Params) -> int:
        return int(p["n"])

    def roles(self, p: Params) -> tuple[str, ...]:
        """A role name per node (e.g. 'server', 'client'); adversaries may target roles."""
        return ("node",) * self.node_count(p)

    def make_node(self, node_id: int, p: Params) -> Node:
        raise NotImplementedError

    def variant_of(self, node_id: int, p: Params, variants: int) -> int:
        """Which implementation variant a node runs (default: round robin)."""
        return node_id % variants

    def default_rounds(self, p: Params) -> int:
        raise NotImplementedError

    def environment_defaults(self, p: Params) -> dict[str, Any]:
        """Environment settings this protocol's scenarios start from."""
        return {}

    def properties(self, p: Params) -> list[Property]:
        return []

    def metrics(self, record: RunRecord, p: Params) -> dict[str, float | None]:
        return {}

    def interchangeable(self, p: Params) -> tuple[tuple[int, ...], ...]:
        """Groups of nodes that play the same part: renaming nodes within a group maps
        every run onto a run the properties judge alike (OM's lieutenants, say). An
        exhaustive search then explores one corrupted set per symmetry orbit. Declare a
        group only when that holds (the default: none)."""
        return ()

    def primary_of(self, view: int, p: Params) -> int | None:
        """The leader of ``view``, for protocols that have one (diagrams mark it); else None."""
        return None

    def tolerance(self, p: Params) -> Tolerance | None:
        """The faults this configuration claims to tolerate (None: no claim, and
        ``bft check`` then needs ``--faults`` and ``--kinds``)."""
        return None

    def beyond_bound(self, p: Params) -> str | None:
        """Why this configuration lies outside the protocol's proven bound, if it does."""
        return None
