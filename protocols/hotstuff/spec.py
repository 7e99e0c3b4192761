"""The ``hotstuff`` protocol plug-in: parameters, node layout, bound, properties, metrics.

Node layout as PBFT's: replicas ``0 .. n-1`` (role ``replica``), then
``clients`` clients (role ``client``); f defaults to floor((n-1)/3) and
n < 3f+1 is refused unless ``exceed_bound=true``. The service parameters
(``capacity``, ``variants``, ...) mean what they mean for PBFT.

Messages per request (fault-free, batch 1, counted as PBFT counts: a message
to oneself is free): every view decides one node, and a view costs one
NEW-VIEW from each other replica to the leader, four leader broadcasts
(PREPARE, PRE-COMMIT, COMMIT, DECIDE) and three rounds of votes to the leader,
each n-1 messages, then n replies: 8(n-1) + n (28 at n=4, where PBFT also
sends 28; 55 at n=7 against PBFT's 91). The client's request, multicast to the
n replicas, is not counted (PBFT's request to the primary is not either).

Messages per view change (``messages_per_view_change``): when the replicas are
in step (they time out of a view within a hop of each other) and the next
leader is correct, each replica but that leader sends it one NEW-VIEW: n-1, the
paper's linear view change. A view that does not start (its leader is faulty
and the replicas entered it on a timeout, or they are out of step) costs more:
each replica whose timer expires there broadcasts its NEW-VIEW, n-1 each (the
pacemaker in ``replica``), as PBFT's VIEW-CHANGE does on every view change.

Latency: a request issued in round r reaches the leader in r+1; PREPARE, vote,
PRE-COMMIT, vote, COMMIT, vote and DECIDE take one round each, the replies one
more: the client accepts in round r+9 (PBFT: r+5).

Liveness bound B (``liveness-after-gst``), with hop = delta+1 rounds, T =
``view_timeout``, k = ``max_backoff``, C = clients:

    B = (W + 1) * (T * 2^k + hop) + (C + 1) * 9 * hop + hop,
    W = f * (ceil(C / (n - f)) + 1)

A request waits for at most the C-1 older requests of other clients and the
view in progress, one successful view (9 hops) each; with leaders rotating, at
most f of every n consecutive views have a faulty leader, so at most W views
fail before it is decided (plus one whose timer was already backed off at
GST), each costing at most a full backed-off timeout and the NEW-VIEW hop (the
hop in which the replicas of a view that never started tell each other so).
"""

from __future__ import annotations

from math import ceil
from typing import Any

import attrs

from bft.core.errors import ConfigError
from bft.core.node import Node
from bft.core.params import Param
from bft.core.properties import Property
from bft.core.protocol import Params, ProtocolSpec, Tolerance
from bft.core.record import RunRecord
from bft.protocols.hotstuff.replica import Replica
from bft.protocols.pbft.certificates import Config
from bft.protocols.pbft.spec import PBFT
from bft.protocols.service import check_service, service_environment
from bft.protocols.smr import CLIENT, REPLICA, BroadcastClient, delta, smr_metrics, smr_properties

SHARED = (
    "n",
    "f",
    "exceed_bound",
    "clients",
    "rate",
    "requests",
    "timeout",
    "capacity",
    "down_rounds",
    "login_cost",
    "variants",
    "freeze_rounds",
    "recover_threshold",
    "recover_within",
)
NORMAL_KINDS = (
    "new-view",
    "prepare",
    "prepare-vote",
    "pre-commit",
    "pre-commit-vote",
    "commit",
    "commit-vote",
    "decide",
    "reply",
)


def shared_params(timeout: int) -> tuple[Param, ...]:
    """PBFT's layout, workload and service parameters, with the same meaning (the
    client's ``timeout`` defaulting to ``timeout``: a request takes longer here)."""
    by_name = {p.name: p for p in PBFT.params}
    by_name["timeout"] = attrs.evolve(by_name["timeout"], default=timeout)
    return tuple(by_name[name] for name in SHARED)


def faults(p: Params) -> int:
    return (int(p["n"]) - 1) // 3 if p.get("f") is None else int(p["f"])


def message_formula(n: int) -> int:
    """Basic HotStuff's fault-free messages per request (batch 1): 8(n-1) + n."""
    return 8 * (n - 1) + n


def liveness_bound(p: Params, network_delta: int) -> int:
    if p.get("liveness_bound") is not None:
        return int(p["liveness_bound"])
    n, f, clients = int(p["n"]), faults(p), int(p["clients"])
    hop = network_delta + 1
    failed = f * (ceil(clients / max(1, n - f)) + 1)
    timeout = p["view_timeout"] * 2 ** p["max_backoff"]
    return (failed + 1) * (timeout + hop) + (clients + 1) * 9 * hop + hop


class HotStuff(ProtocolSpec):
    name = "hotstuff"
    all_to_all = True
    summary = (
        "basic HotStuff (Yin et al. 2019): 3f+1 replicas, three voting phases with quorum "
        "certificates, locked QC, rotating leaders and a pacemaker with backoff"
    )
    nodes_are = "replicas (clients are set with --param clients=C)"
    params = (
        *shared_params(30),
        Param(
            "view_timeout",
            int,
            default=10,
            doc="rounds a replica waits in a view for a pending request to execute",
            min=1,
        ),
        Param(
            "max_backoff",
            int,
            default=2,
            doc="k: the view timeout doubles after each failed view, up to 2^k times",
            min=0,
            max=10,
        ),
        Param("batch", int, default=1, doc="most requests per proposal (1: no batching)", min=1),
        Param(
            "liveness_bound",
            int,
            default=None,
            doc="B for liveness-after-gst (default: the formula in the spec)",
            min=1,
        ),
    )

    def check(self, p: Params) -> None:
        if p["capacity"] is not None:
            check_service(self.name, p)
        elif not 0.0 < p["rate"] <= 1.0:
            raise ConfigError(
                f"hotstuff: parameter 'rate' must be in (0, 1] (got {p['rate']!r}); it is the "
                "probability that an idle client issues a request in a round"
            )
        n, f = p["n"], faults(p)
        if n < 3 * f + 1 and not p["exceed_bound"]:
            raise ConfigError(
                f"hotstuff: n={n} replicas cannot tolerate f={f} faults: HotStuff needs "
                f"n >= 3f+1 = {3 * f + 1}; use n >= {3 * f + 1} or f <= {(n - 1) // 3}, or set "
                "exceed_bound=true to run beyond the bound (a lab)"
            )
        if 2 * f + 1 > n:
            raise ConfigError(
                f"hotstuff: f={f} needs quorums of n-f > n/2 replicas (n={n}); "
                f"use f <= {(n - 1) // 2}"
            )

    def node_count(self, p: Params) -> int:
        return int(p["n"]) + int(p["clients"])

    def roles(self, p: Params) -> tuple[str, ...]:
        return (REPLICA,) * int(p["n"]) + (CLIENT,) * int(p["clients"])

    def config(self, p: Params) -> Config:
        return Config(int(p["n"]), faults(p), 0, self.node_count(p), p["batch"])

    def make_node(self, node_id: int, p: Params) -> Node:
        cfg = self.config(p)
        if node_id < cfg.n:
            return Replica(node_id, cfg, p["view_timeout"], p["max_backoff"], p["batch"])
        return BroadcastClient(
            node_id,
            cfg.n,
            quorum=cfg.f + 1,
            timeout=p["timeout"],
            rate=p["rate"],
            requests=p["requests"],
            meter_timeout=p["timeout"],
        )

    def variant_of(self, node_id: int, p: Params, variants: int) -> int:
        return node_id % variants if node_id < int(p["n"]) else 0

    def default_rounds(self, p: Params) -> int:
        if p["requests"] and p["rate"] >= 1.0:
            decisions = ceil(p["clients"] * p["requests"] / p["batch"])
            return 9 * decisions + liveness_bound(p, 0) + 10
        return 300

    def environment_defaults(self, p: Params) -> dict[str, Any]:
        return service_environment(p)

    def properties(self, p: Params) -> list[Property]:
        return smr_properties(p, lambda d: liveness_bound(p, d))

    def metrics(self, record: RunRecord, p: Params) -> dict[str, float | None]:
        timeouts = int(sum(record.tally("hotstuff-view-change-messages")))
        out = smr_metrics(
            record,
            p,
            normal_kinds=NORMAL_KINDS,
            view_change_messages=timeouts,
            formula=message_formula(int(p["n"])),
            bound=liveness_bound(p, delta(record)),
        )
        committed = out["committed"]
        if committed:  # NEW-VIEWs sent on a timeout belong to the view change, not the request
            normal = record.messages_of(*NORMAL_KINDS) - timeouts
            out["messages_per_request"] = round(normal / committed, 3)
        return out

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
                f"HotStuff needs n >= 3f+1 replicas to tolerate f faults (n={n}, f={f}); "
                "run with exceed_bound=true"
            )
        return None
