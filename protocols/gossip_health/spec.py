"""The ``gossip-health`` protocol: the shared service workload, with SWIM among the servers.

``n`` counts servers (ids 0..n-1), ``clients`` the clients (ids n..n+C-1), as
for the whole failover family; metrics and properties are the family's
(``bft.protocols.service``) plus the detector's among the servers
(``completeness``, and ``servers_declared_dead``...). Defaults: the detector
runs with period 6 and the memberlist-style defaults of ``bft.protocols.swim``.
"""

from __future__ import annotations

from typing import Any

from bft.core.node import Node
from bft.core.params import Param
from bft.core.properties import Property
from bft.core.protocol import Params
from bft.core.record import RunRecord
from bft.protocols.gossip_health.client import HealthClient
from bft.protocols.gossip_health.server import HealthServer
from bft.protocols.service import SERVICE_PARAMS, ServiceSpec, check_backoff_admission, server_ids
from bft.protocols.swim.analysis import completeness, detector_metrics
from bft.protocols.swim.config import DETECTOR_PARAMS, SwimConfig, detector_config
from bft.protocols.swim.member import SwimMember

HEALTH_PARAMS = (
    Param("base", float, default=1.0, doc="client backoff base in rounds", min=0.0),
    Param("cap", float, default=32.0, doc="largest client backoff in rounds", min=0.0),
    Param(
        "avoid_rounds",
        int,
        default=40,
        doc="rounds a client avoids a server that failed it, whatever views say",
        min=0,
    ),
    Param("admission", bool, default=True, doc="servers refuse work beyond capacity with 'busy'"),
    Param(
        "admit_share",
        float,
        default=0.8,
        doc="share of capacity filled with admitted work",
        min=0.0,
        max=1.0,
    ),
    Param("reject_cost", float, default=0.02, doc="work units to answer 'busy'", min=0.0),
    Param(
        "watchers", int, default=3, doc="servers told before a session's first request runs", min=0
    ),
    Param("watch_timeout", int, default=2, doc="rounds a watcher waits for the watch ack", min=2),
    Param(
        "quarantine_k",
        int,
        default=2,
        doc="correlated server deaths after which a request (and its client) is refused",
        min=1,
    ),
)


class GossipHealth(ServiceSpec):
    name = "gossip-health"
    summary = (
        "failover with SWIM health checks among servers, live-server views for clients, "
        "backoff, and quarantine of requests correlated with server deaths"
    )
    params = (*SERVICE_PARAMS, *HEALTH_PARAMS, *DETECTOR_PARAMS)

    def __init__(self) -> None:
        self._cfg: dict[tuple[Any, ...], SwimConfig] = {}

    def config(self, p: Params) -> SwimConfig:
        key = tuple(sorted(p.items()))
        cfg = self._cfg.get(key)
        if cfg is None:
            cfg = detector_config(p, int(p["n"]), self.name)
            self._cfg[key] = cfg
        return cfg

    def check(self, p: Params) -> None:
        super().check(p)
        self.config(p)
        check_backoff_admission(self.name, p)

    def make_node(self, node_id: int, p: Params) -> Node:
        servers = int(p["n"])
        if node_id < servers:
            return HealthServer(
                node_id,
                SwimMember(node_id, server_ids(p), self.config(p)),
                int(p["clients"]),
                p["login_cost"],
                admission=p["admission"],
                admit_share=p["admit_share"],
                reject_cost=p["reject_cost"],
                watchers=p["watchers"],
                watch_timeout=p["watch_timeout"],
                quarantine_k=p["quarantine_k"],
            )
        return HealthClient(
            node_id,
            servers,
            p["rate"],
            p["timeout"],
            p["base"],
            p["cap"],
            p["avoid_rounds"],
        )

    def properties(self, p: Params) -> list[Property]:
        servers = server_ids(p)
        cfg = self.config(p)
        return [
            *super().properties(p),
            Property(
                "completeness",
                "liveness",
                "every server that stays down is declared dead by every correct server "
                "within the detector's bound",
                lambda record: completeness(record, servers, cfg),
            ),
        ]

    def metrics(self, record: RunRecord, p: Params) -> dict[str, float | None]:
        out = super().metrics(record, p)
        detector = detector_metrics(record, server_ids(p), self.config(p))
        for name in (
            "detection_rounds_mean",
            "detection_rounds_max",
            "false_positive_rate",
            "messages_per_member_per_period",
        ):
            out[name] = detector[name]
        quarantines = [o for o in record.outputs_named("quarantine") if "client" in o.data]
        out["quarantined_clients"] = len({o.data["client"] for o in quarantines})
        out["first_quarantine_round"] = min((o.round for o in quarantines), default=None)
        return out
