"""Protocol specs for ``naive-reconnect`` and ``backoff-reconnect``.

Defaults reproduce the Skype 2007 model of docs/facts.md: S = 20 servers,
C = 2000 clients (100 per server), capacity k = 30 work units per round,
theta = 1, an overloaded server down for D = 20 rounds, a login costing 2
units and a request 1. Steady demand is about 100 * 0.1 / 1.2 ~ 8 units per
server-round, well under k; but clients that all need a server and retry
every ``timeout`` = 3 rounds bring 100 / 3 * 2 ~ 67 units per server-round,
twice k. So once a trigger (a login storm, a crash wave) takes the servers
down, naive retries keep every server that comes back overloaded: the
failure outlives its trigger. Backoff spreads the retries out, and admission
control keeps servers up while they refuse the excess.
"""

from __future__ import annotations

from bft.core.errors import ConfigError
from bft.core.node import Node
from bft.core.params import Param
from bft.core.properties import Property
from bft.core.protocol import Params
from bft.protocols.failover.client import FailoverClient
from bft.protocols.failover.server import FailoverServer
from bft.protocols.service import SERVICE_PARAMS, ServiceSpec, check_backoff_admission
from bft.protocols.service_promises import (
    BLAST_RADIUS,
    admission_property,
    backoff_properties,
    blast_radius_property,
)

CACHE = Param(
    "cache", int, default=0, doc="server addresses a client caches (0: all servers)", min=0
)


class NaiveReconnect(ServiceSpec):
    name = "naive-reconnect"
    summary = (
        "failover: on a timeout, reconnect at once to the next cached server and resend "
        "(Skype 2007 style)"
    )
    params = (*SERVICE_PARAMS, CACHE, BLAST_RADIUS)

    def check(self, p: Params) -> None:
        super().check(p)
        if p["cache"] > p["n"]:
            raise ConfigError(
                f"{self.name}: parameter 'cache' must be at most the number of servers "
                f"(got cache={p['cache']}, n={p['n']}); 0 means all servers"
            )

    def make_server(self, node_id: int, p: Params) -> Node:
        return FailoverServer(node_id, p["n"], p["clients"], p["login_cost"])

    def properties(self, p: Params) -> list[Property]:
        """The service's properties and ``blast-radius``, which failover does not guarantee:
        nothing but implementation diversity stops a poisoned client's walk."""
        return [
            *super().properties(p),
            blast_radius_property(
                p,
                guaranteed=False,
                defence="failover has no quarantine: after each freeze the poisoned client "
                "moves on to the next server, and only a server of a variant the poison does "
                "not freeze stops it",
            ),
        ]

    def make_client(self, node_id: int, p: Params) -> Node:
        return FailoverClient(node_id, p["n"], p["rate"], p["timeout"], p["cache"])

    def make_node(self, node_id: int, p: Params) -> Node:
        if node_id < p["n"]:
            return self.make_server(node_id, p)
        return self.make_client(node_id, p)


class BackoffReconnect(NaiveReconnect):
    name = "backoff-reconnect"
    summary = (
        "failover with exponential backoff and full jitter; servers refuse work beyond "
        "capacity with a cheap busy reply (admission control)"
    )
    params = (
        *NaiveReconnect.params,
        Param("base", float, default=1.0, doc="backoff base in rounds", min=0.0),
        Param("cap", float, default=32.0, doc="largest backoff in rounds", min=0.0),
        Param("admission", bool, default=True, doc="servers use admission control"),
        Param(
            "admit_share",
            float,
            default=0.8,
            doc="share of capacity a server fills with admitted work (the rest pays for refusals)",
            min=0.0,
            max=1.0,
        ),
        Param("reject_cost", float, default=0.02, doc="work units to answer 'busy'", min=0.0),
    )

    def check(self, p: Params) -> None:
        super().check(p)
        check_backoff_admission(self.name, p)

    def properties(self, p: Params) -> list[Property]:
        """Failover's, plus the promises of admission control and of the backoff."""
        return [*super().properties(p), admission_property(p), *backoff_properties(p)]

    def make_server(self, node_id: int, p: Params) -> Node:
        return FailoverServer(
            node_id,
            p["n"],
            p["clients"],
            p["login_cost"],
            admission=p["admission"],
            admit_share=p["admit_share"],
            reject_cost=p["reject_cost"],
        )

    def make_client(self, node_id: int, p: Params) -> Node:
        return FailoverClient(
            node_id,
            p["n"],
            p["rate"],
            p["timeout"],
            p["cache"],
            backoff_base=p["base"],
            backoff_cap=p["cap"],
        )
