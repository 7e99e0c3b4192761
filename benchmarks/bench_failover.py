"""Throughput of the failover protocols: client-rounds per second at C = 2k, 20k, 200k.

Each case runs the skype-2007 workload (S = C/100 servers, a login storm of a
quarter of the clients a quarter of the way in) under ``naive-reconnect`` and
``backoff-reconnect`` with the summary trace, and reports clients x rounds per
second of wall time (engine construction included). The baseline, measured
in the same run at the same node count and rounds, is the bare engine loop:
the same engine driving nodes whose ``on_round`` does nothing, so the ratio
is the share of the engine's own speed the protocol keeps.

    python benchmarks/bench_failover.py           # all three sizes
    python benchmarks/bench_failover.py --quick   # skips C = 200,000
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bft.core.engine import Engine
from bft.core.node import Context, Inbox, Node
from bft.core.protocol import ProtocolSpec
from bft.core.trace import TraceSink
from bft.run import scenario
from bft.run.runner import prepare

SIZES = ((2_000, 200), (20_000, 40), (200_000, 10))


class _Idle(Node):
    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        return None


class _IdleSpec(ProtocolSpec):
    name = "idle"
    summary = "nodes that do nothing (the bare engine loop)"

    def node_count(self, p: Any) -> int:
        return int(p["n"])

    def make_node(self, node_id: int, p: Any) -> Node:
        return _Idle()


def bare_engine(nodes: int, rounds: int) -> float:
    start = time.perf_counter()
    Engine(_IdleSpec(), {"n": nodes}, seed=1, rounds=rounds, sink=TraceSink("summary")).run()
    return time.perf_counter() - start


def failover(protocol: str, clients: int, rounds: int) -> tuple[float, dict[str, Any]]:
    base = scenario.load("skype-2007")
    sc = scenario.with_overrides(
        base,
        protocol=protocol,
        params={"n": clients // 100, "clients": clients},
        adversaries=[
            scenario.parse_adversary(f"login-storm:at={rounds // 4},share=0.25"),
        ],
        rounds=rounds,
    )
    from bft.run.runner import execute

    start = time.perf_counter()
    result = execute(prepare(sc))
    return time.perf_counter() - start, result.metrics


def run(quick: bool = False) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for clients, rounds in SIZES:
        if quick and clients > 20_000:
            continue
        nodes = clients + clients // 100
        work = clients * rounds
        baseline = work / bare_engine(nodes, rounds)
        rows.append(
            {
                "benchmark": "failover",
                "case": f"bare engine, {nodes:,} idle nodes x {rounds} rounds",
                "value": round(baseline),
                "unit": "client-rounds/s",
                "baseline": None,
                "ratio": None,
            }
        )
        for protocol in ("naive-reconnect", "backoff-reconnect"):
            seconds, metrics = failover(protocol, clients, rounds)
            value = work / seconds
            rows.append(
                {
                    "benchmark": "failover",
                    "case": f"{protocol}, C={clients:,} S={clients // 100} x {rounds} rounds "
                    f"(servers down max {metrics['servers_down_max']})",
                    "value": round(value),
                    "unit": "client-rounds/s",
                    "baseline": round(baseline),
                    "ratio": round(value / baseline, 3),
                }
            )
    return rows


def main(argv: list[str]) -> int:
    from tabulate import tabulate

    rows = run(quick="--quick" in argv)
    print(
        tabulate(
            [(r["case"], r["value"], r["unit"], r["baseline"], r["ratio"]) for r in rows],
            headers=["case", "value", "unit", "baseline", "ratio"],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
