"""What a protocol plug-in provides: parameters, nodes, properties, metrics.

A protocol is registered under the entry-point group ``bft.protocols`` as a
subclass of ``ProtocolSpec``. The engine knows nothing else about it: it builds
the nodes with ``make_node``, runs them, and hands the run record to the
protocol's properties and metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from bft.core.node import Node
from bft.core.params import Param
from bft.core.properties import Property
from bft.core.record import RunRecord

Params = Mapping[str, Any]


class ProtocolSpec:
    name: ClassVar[str]
    summary: ClassVar[str]
    #: what ``n`` (``--nodes``) counts for this protocol: generals, replicas, members...
    nodes_are: ClassVar[str] = "nodes"
    params: ClassVar[tuple[Param, ...]] = ()

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

    def tolerance(self, p: Params) -> int | None:
        """How many corrupted nodes the protocol claims to tolerate (None: no claim)."""
        return None

    def beyond_bound(self, p: Params) -> str | None:
        """Why this configuration lies outside the protocol's proven bound, if it does."""
        return None
