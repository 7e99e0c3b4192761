"""The ``zyzzyva`` and ``zyzzyva-fixed`` protocol plug-ins: parameters, node layout, bounds.

Node layout: replicas ``0 .. n-1`` (role ``replica``), then ``clients`` client
nodes (role ``client``). ``n`` (``--nodes``) counts replicas; f defaults to
floor((n-1)/3). A configuration with n < 3f+1 is refused unless
``exceed_bound=true`` asks for it, and such a run is labelled beyond the bound.
The two plug-ins differ only in the new-view rule (``certificates``):
``zyzzyva`` is the view change as published, ``zyzzyva-fixed`` the corrected
one. The service-family parameters mean what they mean in
``bft.protocols.service`` (as for ``pbft``).

Timers (rounds): ``timeout`` (a client retransmits to every replica),
``spec_timeout`` (a client waits this long for 3f+1 matching spec-responses
before settling for a commit certificate of 2f+1: one round more than the
fault-free fast path's three), ``view_timeout`` (a backup's patience with a
forwarded request, and the base of the doubling new-view timer) and
``fill_timeout`` (each stage of fill-hole).
"""

from __future__ import annotations

from typing import Any, ClassVar

from bft.core.errors import ConfigError
from bft.core.node import Node
from bft.core.params import Param
from bft.core.properties import Property
from bft.core.protocol import Params, ProtocolSpec, Tolerance
from bft.core.record import RunRecord
from bft.protocols.service import check_service, service_environment
from bft.protocols.zyzzyva.certificates import Config
from bft.protocols.zyzzyva.client import Client
from bft.protocols.zyzzyva.properties import faults, zyzzyva_metrics, zyzzyva_properties
from bft.protocols.zyzzyva.replica import Replica

REPLICA, CLIENT = "replica", "client"

PARAMS = (
    Param("n", int, default=4, doc="number of replicas (node ids 0..n-1)", min=1),
    Param("f", int, default=None, doc="faults tolerated (default floor((n-1)/3))", min=0),
    Param("exceed_bound", bool, default=False, doc="allow n < 3f+1 (a lab: the run is labelled)"),
    Param("clients", int, default=2, doc="number of clients (node ids n..n+clients-1)", min=1),
    Param(
        "rate",
        float,
        default=1.0,
        doc="probability that an idle client issues a request in a round (1: closed loop)",
        min=0.0,
        max=1.0,
    ),
    Param("requests", int, default=10, doc="requests per client (0: no limit)", min=0),
    Param(
        "timeout",
        int,
        default=12,
        doc="rounds a client waits before sending its request to every replica "
        "(also the service meter's patience)",
        min=1,
    ),
    Param(
        "spec_timeout",
        int,
        default=4,
        doc="rounds a client waits for 3f+1 matching spec-responses before committing 2f+1",
        min=1,
    ),
    Param(
        "view_timeout",
        int,
        default=10,
        doc="rounds a backup waits for a forwarded request to execute (and the new-view timer)",
        min=1,
    ),
    Param("fill_timeout", int, default=3, doc="rounds each fill-hole stage waits", min=1),
    Param("msg_cost", float, default=0.0, doc="work units a replica spends per message", min=0.0),
    Param(
        "capacity", float, default=None, doc="replica capacity per round (none: unlimited)", min=0.0
    ),
    Param("down_rounds", int, default=20, doc="rounds an overloaded replica stays down", min=1),
    Param(
        "login_cost", float, default=2.0, doc="accepted for the service scenarios; unused", min=0.0
    ),
    Param(
        "variants",
        int,
        default=1,
        doc="implementation variants among replicas (1: monoculture)",
        min=1,
    ),
    Param(
        "freeze_rounds",
        int,
        default=0,
        doc="rounds a poisoned replica stays frozen (0: for good)",
        min=0,
    ),
    Param(
        "recover_threshold",
        float,
        default=0.9,
        doc="availability 'recovers' asks for",
        min=0.0,
        max=1.0,
    ),
    Param(
        "recover_within", int, default=60, doc="rounds within which 'recovers' asks for it", min=1
    ),
    Param(
        "liveness_bound",
        int,
        default=None,
        doc="B for liveness-after-gst (default: a formula)",
        min=1,
    ),
)


class Zyzzyva(ProtocolSpec):
    name = "zyzzyva"
    all_to_all = True
    summary = (
        "Zyzzyva (Kotla et al. 2007) as published: speculative execution, fast path with 3f+1 "
        "spec-responses, commit certificates, fill-hole, view change (unsafe: Abraham et al. 2017)"
    )
    nodes_are = "replicas (clients are set with --param clients=C)"
    params = PARAMS
    rule: ClassVar[str] = "published"

    def check(self, p: Params) -> None:
        if p["capacity"] is not None:
            check_service(self.name, p)
        elif not 0.0 < p["rate"] <= 1.0:
            raise ConfigError(
                f"{self.name}: parameter 'rate' must be in (0, 1] (got {p['rate']!r}); it is the "
                "probability that an idle client issues a request in a round"
            )
        n, f = p["n"], faults(p)
        if n < 3 * f + 1 and not p["exceed_bound"]:
            raise ConfigError(
                f"{self.name}: n={n} replicas cannot tolerate f={f} faults: Zyzzyva needs "
                f"n >= 3f+1 = {3 * f + 1}; use n >= {3 * f + 1} or f <= {(n - 1) // 3}, or set "
                "exceed_bound=true to run beyond the bound (a lab)"
            )
        if 2 * f + 1 > n:
            raise ConfigError(
                f"{self.name}: f={f} needs quorums of 2f+1 = {2 * f + 1} replicas, more than "
                f"n={n}; use f <= {(n - 1) // 2}"
            )

    def node_count(self, p: Params) -> int:
        return int(p["n"]) + int(p["clients"])

    def roles(self, p: Params) -> tuple[str, ...]:
        return (REPLICA,) * int(p["n"]) + (CLIENT,) * int(p["clients"])

    def config(self, p: Params) -> Config:
        return Config(int(p["n"]), faults(p), self.node_count(p))

    def make_node(self, node_id: int, p: Params) -> Node:
        cfg = self.config(p)
        if node_id < cfg.n:
            return Replica(
                node_id, cfg, self.rule, p["view_timeout"], p["fill_timeout"], p["msg_cost"]
            )
        return Client(
            node_id,
            cfg.n,
            cfg.f,
            p["timeout"],
            p["spec_timeout"],
            p["rate"],
            p["requests"],
            p["timeout"],
        )

    def variant_of(self, node_id: int, p: Params, variants: int) -> int:
        return node_id % variants if node_id < int(p["n"]) else 0

    def default_rounds(self, p: Params) -> int:
        if p["requests"] and p["rate"] >= 1.0:
            return 5 * p["requests"] + 40
        return 200

    def environment_defaults(self, p: Params) -> dict[str, Any]:
        return service_environment(p)

    def properties(self, p: Params) -> list[Property]:
        return zyzzyva_properties(p)

    def metrics(self, record: RunRecord, p: Params) -> dict[str, float | None]:
        return zyzzyva_metrics(record, p)

    def tolerance(self, p: Params) -> Tolerance:
        return Tolerance(
            kind="byzantine",
            faults=faults(p),
            networks=("synchronous", "partial-synchrony"),
            roles=(REPLICA,),
            unlimited=(CLIENT,),
            bound="n >= 3f+1",
        )

    def beyond_bound(self, p: Params) -> str | None:
        n, f = p["n"], faults(p)
        if n < 3 * f + 1:
            return (
                f"Zyzzyva needs n >= 3f+1 replicas to tolerate f faults (n={n}, f={f}); "
                "run with exceed_bound=true"
            )
        return None


class ZyzzyvaFixed(Zyzzyva):
    name = "zyzzyva-fixed"
    summary = (
        "Zyzzyva with the corrected view change (Abraham, Gueta, Malkhi, Martin 2018, 'Velma'): "
        "a new view keeps the potential decision from the highest view"
    )
    rule = "fixed"
