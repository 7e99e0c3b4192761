"""The ``fab`` and ``fab-fixed`` protocol plug-ins.

Node layout as PBFT's: replicas ``0 .. n-1`` (role ``replica``, each a
proposer, acceptor and learner), then ``clients`` clients. The parameterised
protocol runs on n = 3f + 2t + 1 replicas: always safe with f Byzantine
replicas, two-step ("fast") with at most t faulty non-leaders. ``t`` defaults
to 0 (n = 4 for f = 1: the setting of Abraham et al.); t = f gives the
original 5f+1 FaB Paxos. f defaults to floor((n - 1 - 2t) / 3).

Messages per request (fault-free, view 0, batch 1, a message to oneself
free): n-1 PROPOSE, n(n-1) ACCEPTED, n(n-1) COMMIT, n replies:
(n-1)(2n+1) + n (31 at n=4; PBFT: 28). From view 1 on each slot adds a QUERY
and n-1 REP: 2(n-1) more. Latency: a request issued in round r is proposed
in r+1, accepted in r+2, learned (fast) and replied to in r+3: accepted by
the client in r+4 (PBFT: r+5).

Liveness bound B, with hop = delta+1, T = ``view_timeout``, k =
``max_backoff``, C = clients, b = ``batch``:

    B = (f + 1) * (T * 2^k + 2 * hop) + (ceil(C / b) + 1) * 7 * hop + hop

at most f+1 views fail after GST (each faulty leader once, and the view in
progress at GST), each costing at most a backed-off timeout plus the SUSPECT
hop; then each of the at most ceil(C/b)+1 slots ahead of the request takes
QUERY, REP, PROPOSE, ACCEPTED, COMMIT and the reply. Published FaB violates
it in the scenario of Abraham et al. (docs/known-bugs.md); ``fab-fixed`` meets it.
"""

from __future__ import annotations

from math import ceil
from typing import Any, ClassVar

from bft.core.errors import ConfigError
from bft.core.node import Node
from bft.core.params import Param
from bft.core.properties import Property
from bft.core.protocol import Params, ProtocolSpec, Tolerance
from bft.core.record import RunRecord
from bft.protocols.fab.replica import Replica
from bft.protocols.hotstuff.spec import shared_params
from bft.protocols.pbft.certificates import Config
from bft.protocols.service import check_service, service_environment
from bft.protocols.smr import CLIENT, REPLICA, BroadcastClient, delta, smr_metrics, smr_properties

NORMAL_KINDS = ("propose", "accepted", "commit", "reply")


def faults(p: Params) -> int:
    if p.get("f") is not None:
        return int(p["f"])
    return max(0, (int(p["n"]) - 1 - 2 * int(p["t"])) // 3)


def message_formula(n: int) -> int:
    """FaB's fault-free messages per request in view 0 (batch 1): (n-1)(2n+1) + n."""
    return (n - 1) * (2 * n + 1) + n


def liveness_bound(p: Params, network_delta: int) -> int:
    if p.get("liveness_bound") is not None:
        return int(p["liveness_bound"])
    hop = network_delta + 1
    timeout = p["view_timeout"] * 2 ** p["max_backoff"]
    slots = ceil(int(p["clients"]) / p["batch"]) + 1
    return (faults(p) + 1) * (timeout + 2 * hop) + slots * 7 * hop + hop


class FaB(ProtocolSpec):
    name = "fab"
    all_to_all = True
    summary = (
        "Fast Byzantine Paxos (Martin and Alvisi 2006), parameterised (n = 3f+2t+1): two-step "
        "common case, commit proofs, recovery with progress certificates (as published)"
    )
    nodes_are = "replicas (clients are set with --param clients=C)"
    corrected: ClassVar[bool] = False
    params = (
        *shared_params(30),
        Param("t", int, default=0, doc="faults the fast path tolerates (n = 3f+2t+1)", min=0),
        Param(
            "view_timeout",
            int,
            default=10,
            doc="rounds a replica waits for a pending request before suspecting the leader",
            min=1,
        ),
        Param(
            "max_backoff",
            int,
            default=2,
            doc="k: the timeout doubles after each failed view, up to 2^k times",
            min=0,
            max=10,
        ),
        Param("batch", int, default=1, doc="most requests per proposed value", min=1),
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
                f"{self.name}: parameter 'rate' must be in (0, 1] (got {p['rate']!r}); it is "
                "the probability that an idle client issues a request in a round"
            )
        n, f, t = p["n"], faults(p), p["t"]
        if t > f and f > 0:
            raise ConfigError(f"{self.name}: t={t} must be at most f={f}")
        if n < 3 * f + 2 * t + 1 and not p["exceed_bound"]:
            raise ConfigError(
                f"{self.name}: n={n} replicas cannot tolerate f={f} faults with t={t}: "
                f"parameterised FaB needs n >= 3f+2t+1 = {3 * f + 2 * t + 1}; use a larger n, "
                "a smaller f or t, or set exceed_bound=true to run beyond the bound (a lab)"
            )
        if 2 * f + 1 > n:
            raise ConfigError(f"{self.name}: f={f} is too large for n={n}")

    def node_count(self, p: Params) -> int:
        return int(p["n"]) + int(p["clients"])

    def roles(self, p: Params) -> tuple[str, ...]:
        return (REPLICA,) * int(p["n"]) + (CLIENT,) * int(p["clients"])

    def config(self, p: Params) -> Config:
        return Config(int(p["n"]), faults(p), 0, self.node_count(p), p["batch"])

    def make_node(self, node_id: int, p: Params) -> Node:
        cfg = self.config(p)
        if node_id < cfg.n:
            return Replica(
                node_id, cfg, p["t"], p["view_timeout"], p["max_backoff"], self.corrected
            )
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
            slots = ceil(p["clients"] * p["requests"] / p["batch"])
            return 4 * slots + liveness_bound(p, 0) + 10
        return 300

    def environment_defaults(self, p: Params) -> dict[str, Any]:
        return service_environment(p)

    def properties(self, p: Params) -> list[Property]:
        return smr_properties(p, lambda d: liveness_bound(p, d))

    def metrics(self, record: RunRecord, p: Params) -> dict[str, float | None]:
        out = smr_metrics(
            record,
            p,
            normal_kinds=NORMAL_KINDS,
            view_change_messages=int(sum(record.tally("fab-view-change-messages"))),
            formula=message_formula(int(p["n"])),
            bound=liveness_bound(p, delta(record)),
        )
        out["stuck_views"] = len({o.data["view"] for o in record.outputs_named("stuck")})
        return out

    def tolerance(self, p: Params) -> Tolerance:
        return Tolerance(
            kind="byzantine",
            faults=faults(p),
            networks=("synchronous", "partial-synchrony"),
            roles=(REPLICA,),
            unlimited=(CLIENT,),
            bound="n >= 3f+2t+1",
        )

    def beyond_bound(self, p: Params) -> str | None:
        n, f, t = p["n"], faults(p), p["t"]
        if n < 3 * f + 2 * t + 1:
            return f"parameterised FaB needs n >= 3f+2t+1 (n={n}, f={f}, t={t})"
        return None


class FaBFixed(FaB):
    name = "fab-fixed"
    summary = (
        "FaB with the corrected recovery rule of Abraham, Gueta, Malkhi and Martin (2018, "
        "'Thelma'): a new proposal must agree with the highest view's potential decision"
    )
    corrected = True
