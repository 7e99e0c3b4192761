"""The ``gossip-health`` protocol: the shared service workload, with SWIM among the servers.

``n`` counts servers (ids 0..n-1), ``clients`` the clients (ids n..n+C-1), as
for the whole failover family; metrics and properties are the family's
(``bft.protocols.service`` and ``bft.protocols.service_promises``: admission,
backoff, blast radius), the detector's among the servers (``completeness``,
``membership-justified``), and gossip-health's own
(``bft.protocols.gossip_health.properties``: ``quarantine-justified``,
``failover-guided``). Defaults: the detector runs with period 6 and the
memberlist-style defaults of ``bft.protocols.swim``.

``blast-radius`` is guaranteed when quarantine can keep it: ``quarantine_k + 1
<= blast_radius`` (the home server, then k announced deaths); more watchers
than ``quarantine_k`` (the j-th announced death comes after j freezes, and a
frozen server SWIM has not yet suspected may be picked to watch: one watcher
must be alive); and a client ``timeout`` longer than ``watch_timeout`` (a
client that gave up on a frozen server reaches the next one, which holds the
request one round before running it, no sooner than the correlation does).
"""

from __future__ import annotations

from typing import Any

from bft.core.node import Node
from bft.core.params import Param
from bft.core.properties import Property
from bft.core.protocol import Params
from bft.core.record import RunRecord
from bft.protocols.gossip_health.client import HealthClient
from bft.protocols.gossip_health.properties import health_properties
from bft.protocols.gossip_health.server import HealthServer
from bft.protocols.service import SERVICE_PARAMS, ServiceSpec, check_backoff_admission, server_ids
from bft.protocols.service_promises import (
    BLAST_RADIUS,
    admission_property,
    backoff_properties,
    blast_radius_property,
)
from bft.protocols.swim.analysis import (
    completeness,
    detector_metrics,
    membership_justified_property,
)
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


def _without_loss(record: RunRecord) -> str | None:
    """Quarantine bounds the walk only if every correlation arrives in time."""
    if record.dropped or record.delayed:
        return (
            f"messages were dropped ({record.dropped}) or delayed ({record.delayed}): the "
            "quarantine's bound assumes every correlation arrives in time"
        )
    return None


class GossipHealth(ServiceSpec):
    name = "gossip-health"
    summary = (
        "failover with SWIM health checks among servers, live-server views for clients, "
        "backoff, and quarantine of requests correlated with server deaths"
    )
    params = (*SERVICE_PARAMS, *HEALTH_PARAMS, BLAST_RADIUS, *DETECTOR_PARAMS)

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
        rule = detector_config(p, int(p["n"]), self.name)  # the rule, not self.config
        quarantine_bound = p["quarantine_k"] + 1
        guaranteed = (
            quarantine_bound <= p["blast_radius"]
            and p["watchers"] > p["quarantine_k"]
            and p["timeout"] > p["watch_timeout"]
        )
        return [
            *super().properties(p),
            Property(
                "completeness",
                "liveness",
                "every server that stays down is declared dead by every correct server "
                "within the detector's bound",
                lambda record: completeness(record, servers, cfg),
            ),
            membership_justified_property(servers, rule),
            admission_property(p),
            *backoff_properties(p),
            blast_radius_property(
                p,
                guaranteed=guaranteed,
                defence=f"quarantine after quarantine_k={p['quarantine_k']} correlated deaths "
                f"stops a walk after {quarantine_bound} servers: its home server, then "
                f"{p['quarantine_k']} announced deaths",
                judged=_without_loss,
            ),
            *health_properties(p),
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
