"""Shared pieces for the bench tests (no tests here).

``Coin`` is a tiny protocol whose per-round ``served`` tally and metrics vary
with the seed (each node flips a seeded coin each round), so means,
confidence intervals, violation counts and per-round series all have
something to show. Its ``explode`` parameter makes ``metrics`` (code outside
the nodes, which the engine does not guard) raise a chosen exception, or end
the process with ``os._exit``, in the runs whose seed is in ``explode_seeds``
(all runs when that is empty).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from bft.core import registry
from bft.core.node import Context, Inbox, Node
from bft.core.params import Param
from bft.core.properties import Property, Verdict
from bft.core.protocol import Params, ProtocolSpec
from bft.core.record import RunRecord


class CoinNode(Node):
    def __init__(self, bias: float) -> None:
        self.bias = bias

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        if ctx.rng.random() < self.bias:
            ctx.tally("served")


class Coin(ProtocolSpec):
    name = "coin"
    summary = "test protocol: each node is served with probability 'bias' each round"
    params = (
        Param("n", int, default=4, doc="nodes", min=1),
        Param(
            "bias", float, default=0.5, doc="chance a node is served in a round", min=0.0, max=1.0
        ),
        Param("rounds", int, default=10, doc="rounds", min=1),
        Param(
            "explode",
            str,
            default="",
            doc="metrics raise this (a bug outside node code); 'exit' ends the process",
            choices=(
                "",
                "RuntimeError",
                "SystemExit",
                "KeyboardInterrupt",
                "GeneratorExit",
                "exit",
            ),
        ),
        Param("explode_seeds", list, default=[], doc="seeds that explode (empty: all)"),
    )

    def make_node(self, node_id: int, p: Params) -> Node:
        return CoinNode(p["bias"])

    def default_rounds(self, p: Params) -> int:
        return p["rounds"]

    def metrics(self, record: RunRecord, p: Params) -> dict[str, float | None]:
        if p["explode"] and (not p["explode_seeds"] or record.seed in p["explode_seeds"]):
            explode(p["explode"], record.seed)
        served = record.tally("served")
        availability = sum(served) / (p["n"] * len(served))
        first_full = next((r for r, s in enumerate(served) if s == p["n"]), None)
        return {"availability": availability, "first_full_round": first_full}

    def properties(self, p: Params) -> list[Property]:
        def majority(record: RunRecord) -> Verdict:
            for rnd, s in enumerate(record.tally("served")):
                if 2 * s <= p["n"]:
                    return Verdict.violated(f"only {s:g} of {p['n']} served in round {rnd}")
            return Verdict.ok()

        return [
            Property("majority-served", "liveness", "more than half served every round", majority)
        ]


def explode(kind: str, seed: int) -> None:
    if kind == "exit":
        os._exit(3)
    if kind == "SystemExit":
        raise SystemExit(0)
    if kind == "KeyboardInterrupt":
        raise KeyboardInterrupt
    if kind == "GeneratorExit":
        raise GeneratorExit
    raise RuntimeError(f"metric bug in seed {seed}")


@pytest.fixture
def coin() -> Iterator[str]:
    registry.register("protocol", "coin", Coin)
    yield "coin"
    registry.unregister("protocol", "coin")


def coin_scenario(**params: Any):  # noqa: ANN201
    from bft.run.scenario import from_mapping

    return from_mapping({"protocol": "coin", "params": {"n": 4, **params}}, "coin-test")
