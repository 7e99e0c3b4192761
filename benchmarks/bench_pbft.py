"""PBFT committed requests per second against the crypto floor, measured side by side.

The workload: ``pbft-normal`` (fault-free, synchronous) with 4 closed-loop
clients, at n = 4, 16 and 64 replicas, with real Ed25519 signatures and with the
ideal signature functionality. The *crypto floor* is the cost of the
signatures alone for the same run: as many Ed25519 signatures as the run made
(every message signed once) and as many verifications (each distinct signed
message verified once, whether or not the run needed to), on messages of the
same size (a canonical COMMIT). ``floor req/s`` is the run's
committed requests divided by that time: the rate a PBFT whose only cost was its
cryptography would reach. ``ratio`` = measured rate / floor rate; the target in
real mode is 0.7. Each run is paired with its own floor (the machine's speed
drifts): half of the floor's operations are timed just before the run and half
just after, and the median of five pairs, by ratio, is kept.

Run: ``python benchmarks/bench_pbft.py`` (``--quick`` for a short run).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bft.core.encoding import canonical_bytes
from bft.protocols.pbft.messages import Commit
from bft.run import scenario
from bft.run.runner import run as run_scenario

SIZES = ((4, 50), (16, 12), (64, 3))  # (replicas, requests per client)
CLIENTS = 4


def pbft_run(n: int, requests: int, mode: str) -> tuple[float, int, int]:
    """(seconds, committed requests, signed messages) of one run."""
    base = scenario.load("pbft-normal")
    s = scenario.with_overrides(
        base,
        params={"n": n, "requests": requests, "clients": CLIENTS},
        signatures=mode,
        adversaries=[],
    )
    start = time.perf_counter()
    result = run_scenario(s)
    elapsed = time.perf_counter() - start
    assert result.ok, result.violated
    m = result.metrics
    return elapsed, int(m["committed"] or 0), int(m["signatures"] or 0)


def crypto_floor(signed: int) -> float:
    """Seconds to sign ``signed`` messages with Ed25519 and verify each of them once."""
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    public = key.public_key()
    data = canonical_bytes(Commit(3, 1234, bytes(16), 17))
    signature = key.sign(data)
    start = time.perf_counter()
    for _ in range(signed):
        key.sign(data)
    for _ in range(signed):
        public.verify(signature, data)
    return time.perf_counter() - start


def run(quick: bool = False) -> list[dict[str, Any]]:
    rows = []
    repeats = 1 if quick else 5
    pbft_run(4, 1, "ideal")  # warm up imports and registries
    for n, requests in SIZES:
        if quick:
            requests = max(1, requests // 3)
        samples: dict[str, list[tuple[float, float]]] = {"real": [], "ideal": []}
        # runs are deterministic: every run of a size signs as many messages as the first
        expected = {mode: pbft_run(n, requests, mode)[2] for mode in ("real", "ideal")}
        for _ in range(repeats):
            # each run is paired with its own floor, timed in two halves, one on each side
            # of the run, so a change in the machine's speed during the pair affects both
            # alike; the median pair (by ratio) is reported
            for mode in ("real", "ideal"):
                before = crypto_floor(expected[mode] // 2)
                elapsed, committed, signed = pbft_run(n, requests, mode)
                floor = before + crypto_floor(signed - expected[mode] // 2)
                expected[mode] = signed
                samples[mode].append((committed / elapsed, committed / floor))
        for mode in ("real", "ideal"):
            ranked = sorted(samples[mode], key=lambda pair: pair[0] / pair[1])
            value, baseline = ranked[len(ranked) // 2]
            rows.append(
                {
                    "benchmark": "pbft committed requests",
                    "case": f"n={n} {mode} signatures",
                    "value": value,
                    "unit": "req/s",
                    "baseline": baseline,
                    "ratio": value / baseline,
                }
            )
    return rows


def main() -> None:
    from tabulate import tabulate

    rows = run(quick="--quick" in sys.argv)
    print(
        tabulate(
            [
                (r["case"], f"{r['value']:,.1f}", f"{r['baseline']:,.1f}", f"{r['ratio']:.2f}x")
                for r in rows
            ],
            headers=["case", "committed req/s", "crypto floor req/s", "ratio to floor"],
        )
    )


if __name__ == "__main__":
    main()
