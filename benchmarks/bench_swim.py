"""SWIM detector benchmarks: the paper's figures, Lifeguard, and scale.

Run ``python benchmarks/bench_swim.py`` (add ``--quick`` for a small version).
Each row: benchmark, case, value, unit, baseline, ratio (value / baseline).

* ``first-detection``: mean periods from a crash to its first detection with
  uniformly random probe targets; baseline the paper's e/(e-1) (analytic).
* ``load-flat``: messages per member per period at n = 100, 1,000, 10,000
  (1% of members crash); baseline the n = 100 figure of the same run.
* ``lifeguard``: false death declarations in ``swim-slow-member`` with
  Lifeguard on; baseline the same run with Lifeguard off.
* ``scale``: 10,000 members for 100 protocol periods: CPU time, and cost per
  delivered message; baseline a trivial ping/ack protocol with the same
  members, period and message pattern, timed in the same run (engine cost).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import attrs  # noqa: E402

from bft.core.engine import Engine  # noqa: E402
from bft.core.node import Context, Inbox, Node  # noqa: E402
from bft.core.params import Param  # noqa: E402
from bft.core.protocol import Params, ProtocolSpec  # noqa: E402
from bft.protocols.swim.analysis import first_detections  # noqa: E402
from tests.helpers import run_named  # noqa: E402

PERIOD = 6


@attrs.frozen
class Hello:
    seq: int
    KIND = "ping"


@attrs.frozen
class HelloBack:
    seq: int
    KIND = "ack"


class Echo(Node):
    """Baseline: every period ping one random member; answer every ping."""

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        for src, msg in inbox:
            if type(msg) is Hello:
                ctx.send(src, HelloBack(msg.seq))
        if ctx.round % PERIOD == 0:
            target = ctx.rng.randrange(self.n - 1)
            ctx.send(target + (target >= ctx.node_id), Hello(ctx.round))


class EchoSpec(ProtocolSpec):
    name = "echo"
    summary = "benchmark baseline"
    params = (Param("n", int, default=10, doc="nodes", min=2),)

    def make_node(self, node_id: int, p: Params) -> Node:
        return Echo(p["n"])

    def default_rounds(self, p: Params) -> int:
        return 100


def _row(bench: str, case: str, value: float, unit: str, baseline: float | None) -> dict[str, Any]:
    ratio = None if baseline in (None, 0) else value / baseline
    return {
        "benchmark": bench,
        "case": case,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "ratio": ratio,
    }


def first_detection(quick: bool) -> list[dict[str, Any]]:
    n, crashes, seeds = (300, 6, 6) if quick else (1000, 10, 20)
    samples: list[int] = []
    for seed in range(seeds):
        result = run_named(
            "swim-crash",
            adversaries=[f"crash:count={crashes},at={10 * PERIOD}"],
            params={"n": n, "targets": "random"},
            seed=seed,
            rounds=10 * PERIOD + 14 * PERIOD,
        )
        samples.extend(
            d for d in first_detections(result.record, range(n)).values() if d is not None
        )
    mean = sum(samples) / len(samples) / PERIOD
    return [
        _row(
            "first-detection",
            f"random targets, n={n}, {len(samples)} crashes",
            mean,
            "periods",
            math.e / (math.e - 1),
        )
    ]


def _swim_run(n: int, periods: int, crash: bool = True) -> tuple[Any, float]:
    start = time.process_time()
    result = run_named(
        "swim-crash",
        adversaries=[f"crash:count={n // 100},at={10 * PERIOD}"] if crash else ["none"],
        params={"n": n},
        seed=1,
        rounds=periods * PERIOD,
    )
    return result, time.process_time() - start


def load_and_scale(quick: bool) -> list[dict[str, Any]]:
    sizes = (100, 300, 1000) if quick else (100, 1000, 10_000)
    periods = 30 if quick else 100
    rows = []
    base = None
    big = None
    for n in sizes:
        result, seconds = _swim_run(n, periods)
        load = result.metrics["messages_per_member_per_period"]
        base = base if base is not None else load
        rows.append(
            _row(
                "load-flat", f"n={n}, {periods} periods, 1% crash", load, "msgs/member/period", base
            )
        )
        big = (n, result, seconds)
    assert big is not None
    n, result, seconds = big
    echo = Engine(EchoSpec(), {"n": n}, seed=1, rounds=periods * PERIOD)
    start = time.process_time()
    record = echo.run()
    echo_seconds = time.process_time() - start
    echo_per = echo_seconds / record.delivered * 1e6
    quiet, quiet_seconds = _swim_run(n, periods, crash=False)
    for label, res, secs in (("fault-free", quiet, quiet_seconds), ("1% crash", result, seconds)):
        per = secs / res.metrics["deliveries"] * 1e6
        rows.append(
            _row("scale", f"n={n}, {periods} periods, {label}: CPU time", secs, "s", echo_seconds)
        )
        rows.append(
            _row("scale", f"n={n}, {periods} periods, {label}: per delivery", per, "us", echo_per)
        )
    rows.append(
        _row(
            "scale",
            f"n={n}: detected / crashed",
            result.metrics["detected"],
            "members",
            result.metrics["crashed"],
        )
    )
    return rows


def lifeguard(quick: bool) -> list[dict[str, Any]]:
    rows = []
    for metric, unit in (
        ("false_positives", "declarations"),
        ("false_positive_rate", "member-rounds"),
    ):
        values = {}
        for on in (False, True):
            values[on] = run_named("swim-slow-member", params={"lifeguard": on}).metrics[metric]
        rows.append(
            _row(
                "lifeguard",
                f"swim-slow-member {metric} (on vs off)",
                values[True],
                unit,
                values[False],
            )
        )
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    return [*first_detection(quick), *lifeguard(quick), *load_and_scale(quick)]


def main() -> None:
    from tabulate import tabulate

    rows = run(quick="--quick" in sys.argv)
    print(
        tabulate(
            [
                [
                    r["benchmark"],
                    r["case"],
                    f"{r['value']:.4g}",
                    r["unit"],
                    "-" if r["baseline"] is None else f"{r['baseline']:.4g}",
                    "-" if r["ratio"] is None else f"{r['ratio']:.3f}",
                ]
                for r in rows
            ],
            headers=["benchmark", "case", "value", "unit", "baseline", "ratio"],
        )
    )


if __name__ == "__main__":
    main()
