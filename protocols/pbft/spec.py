"""The ``pbft`` protocol plug-in: parameters, node layout, bound checks.

Node layout: replicas ``0 .. n-1`` (role ``replica``), then ``clients`` client
nodes (role ``client``). ``n`` (``--nodes``) counts replicas; f defaults to
floor((n-1)/3). A configuration with n < 3f+1 is refused unless
``exceed_bound=true`` asks for it, and such a run is labelled beyond the bound.
The service-family parameters (``clients``, ``rate``, ``timeout``,
``capacity``, ``down_rounds``, ``login_cost``, ``variants``, ``freeze_rounds``,
``recover_threshold``, ``recover_within``) mean what they mean in
``bft.protocols.service``, so ``skype-2007`` and ``poison-call`` run unchanged
with ``--protocol pbft`` (``login_cost`` is accepted but unused: PBFT has no
sessions).
"""

from __future__ import annotations

from typing import Any

from bft.core.errors import ConfigError
from bft.core.node import Node
from bft.core.params import Param
from bft.core.properties import Property
from bft.core.protocol import Params, ProtocolSpec, Tolerance
from bft.core.record import RunRecord
from bft.protocols.pbft.certificates import Config
from bft.protocols.pbft.client import Client
from bft.protocols.pbft.log import PAPER, Quorums
from bft.protocols.pbft.properties import faults, pbft_metrics, pbft_properties
from bft.protocols.pbft.replica import Replica
from bft.protocols.pbft.viewchange import ViewChanges
from bft.protocols.service import check_service, service_environment

REPLICA, CLIENT = "replica", "client"


class PBFT(ProtocolSpec):
    name = "pbft"
    all_to_all = True
    summary = (
        "PBFT (Castro and Liskov 1999): 3f+1 replicas, pre-prepare/prepare/commit, "
        "checkpoints, view change"
    )
    nodes_are = "replicas (clients are set with --param clients=C)"
    #: the prepared and committed-local rules replicas run by (lab 4 and the planted
    #: bugs pass their own)
    quorums: Quorums = PAPER
    #: the view-change machinery replicas compose (a planted bug passes its own)
    view_changes: type[ViewChanges] = ViewChanges
    params = (
        Param("n", int, default=4, doc="number of replicas (node ids 0..n-1)", min=1),
        Param("f", int, default=None, doc="faults tolerated (default floor((n-1)/3))", min=0),
        Param(
            "exceed_bound", bool, default=False, doc="allow n < 3f+1 (a lab: the run is labelled)"
        ),
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
            doc="rounds a client waits before multicasting its request to all replicas "
            "(also the service meter's patience)",
            min=1,
        ),
        Param(
            "view_timeout",
            int,
            default=10,
            doc="rounds a backup waits for a request to execute",
            min=1,
        ),
        Param(
            "checkpoint_interval",
            int,
            default=10,
            doc="K: a checkpoint every K sequence numbers",
            min=1,
        ),
        Param(
            "window",
            int,
            default=None,
            doc="L: sequence numbers h < seq <= h+L (default 2K)",
            min=1,
        ),
        Param("batch", int, default=1, doc="most requests per pre-prepare (1: no batching)", min=1),
        Param(
            "pace",
            bool,
            default=False,
            doc="execute committed requests only as far as capacity allows each round",
        ),
        Param(
            "msg_cost",
            float,
            default=0.0,
            doc="work units a replica spends per message received",
            min=0.0,
        ),
        Param(
            "capacity",
            float,
            default=None,
            doc="replica capacity per round (none: unlimited)",
            min=0.0,
        ),
        Param("down_rounds", int, default=20, doc="rounds an overloaded replica stays down", min=1),
        Param(
            "login_cost",
            float,
            default=2.0,
            doc="accepted for the service scenarios; unused",
            min=0.0,
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
            "recover_within",
            int,
            default=60,
            doc="rounds within which 'recovers' asks for it",
            min=1,
        ),
        Param(
            "liveness_bound",
            int,
            default=None,
            doc="B for liveness-after-gst (default: a formula)",
            min=1,
        ),
        Param(
            "throughput_fraction",
            float,
            default=0.5,
            doc="throughput-floor: share of the fault-free rate required",
            min=0.0,
            max=1.0,
        ),
        Param(
            "baseline_rate",
            float,
            default=None,
            doc="fault-free requests per round (default: clients / (4 + 1/rate))",
            min=0.0,
        ),
    )

    def check(self, p: Params) -> None:
        if p["capacity"] is not None:
            check_service(self.name, p)
        elif not 0.0 < p["rate"] <= 1.0:
            raise ConfigError(
                f"pbft: parameter 'rate' must be in (0, 1] (got {p['rate']!r}); it is the "
                "probability that an idle client issues a request in a round"
            )
        n, f = p["n"], faults(p)
        if n < 3 * f + 1 and not p["exceed_bound"]:
            raise ConfigError(
                f"pbft: n={n} replicas cannot tolerate f={f} faults: PBFT needs n >= 3f+1 = "
                f"{3 * f + 1}; use n >= {3 * f + 1} or f <= {(n - 1) // 3}, or set "
                "exceed_bound=true to run beyond the bound (a lab)"
            )
        if 2 * f + 1 > n:
            raise ConfigError(
                f"pbft: f={f} needs quorums of 2f+1 = {2 * f + 1} replicas, more than n={n}; "
                f"use f <= {(n - 1) // 2}"
            )
        window = self.window(p)
        if window < p["checkpoint_interval"]:
            raise ConfigError(
                f"pbft: window L={window} must be at least the checkpoint interval "
                f"K={p['checkpoint_interval']} (the paper uses L = 2K)"
            )

    @staticmethod
    def window(p: Params) -> int:
        return p["window"] if p["window"] is not None else 2 * p["checkpoint_interval"]

    def node_count(self, p: Params) -> int:
        return int(p["n"]) + int(p["clients"])

    def roles(self, p: Params) -> tuple[str, ...]:
        return (REPLICA,) * int(p["n"]) + (CLIENT,) * int(p["clients"])

    def config(self, p: Params) -> Config:
        return Config(int(p["n"]), faults(p), self.window(p), self.node_count(p), p["batch"])

    def make_node(self, node_id: int, p: Params) -> Node:
        cfg = self.config(p)
        if node_id < cfg.n:
            return Replica(
                node_id,
                cfg,
                p["checkpoint_interval"],
                p["view_timeout"],
                p["msg_cost"],
                p["batch"],
                p["pace"],
                quorums=self.quorums,
                view_changes=self.view_changes,
            )
        return Client(
            node_id,
            cfg.n,
            quorum=self.reply_quorum(p),
            timeout=p["timeout"],
            rate=p["rate"],
            requests=p["requests"],
            meter_timeout=p["timeout"],
        )

    def reply_quorum(self, p: Params) -> int:
        """Matching replies a client needs before it accepts a result: f+1, so one is correct."""
        return faults(p) + 1

    def variant_of(self, node_id: int, p: Params, variants: int) -> int:
        return node_id % variants if node_id < int(p["n"]) else 0

    def default_rounds(self, p: Params) -> int:
        if p["requests"] and p["rate"] >= 1.0:
            return 5 * p["requests"] + 40
        return 200

    def environment_defaults(self, p: Params) -> dict[str, Any]:
        return service_environment(p)

    def properties(self, p: Params) -> list[Property]:
        return pbft_properties(p)

    def metrics(self, record: RunRecord, p: Params) -> dict[str, float | None]:
        return pbft_metrics(record, p)

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
                f"PBFT needs n >= 3f+1 replicas to tolerate f faults (n={n}, f={f}); "
                "run with exceed_bound=true"
            )
        return None
