"""PBFT with ideal signatures against a minimal hand-written PBFT normal case.

Run: ``python benchmarks/bench_pbft_minimal.py`` (``--quick``: fewer repeats).

*engine*: ``pbft-normal`` fault-free, synchronous, 4 closed-loop clients, no
batching, ``signatures = "ideal"``, run as ``bft run`` runs it (engine, the
replica with its checkpoints, timers and client table, summary trace, digest,
property checks). Value: committed requests per second of wall time.

*minimal*: the normal case written by hand as one lockstep loop: list inboxes,
messages as tuples, one primary (view 0), REQUEST -> PRE-PREPARE -> PREPARE
(2f matching, with the pre-prepare) -> COMMIT (2f + 1 matching) -> execute in
sequence order -> REPLY; a client waits for f + 1 matching replies, then sends
its next request. Signatures are set membership: signing adds ``(signer,
message)`` to a set, verifying is a membership test. No checkpoints, no view
changes, no timers, no outputs or properties: the least a PBFT normal case can
do. Same replicas, clients and requests; the two are interleaved and the best
of several repeats of each is kept.

Target (issue 16): engine/minimal >= 0.5 at n = 4, 16 and 64.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bft.run import scenario
from bft.run.runner import run as run_scenario

SIZES = ((4, 100), (16, 25), (64, 4))  # (replicas, requests per client)
CLIENTS = 4


def engine_rate(n: int, requests: int) -> float:
    s = scenario.with_overrides(
        scenario.load("pbft-normal"),
        params={"n": n, "requests": requests, "clients": CLIENTS},
        signatures="ideal",
        adversaries=[],
    )
    start = time.perf_counter()
    result = run_scenario(s)
    elapsed = time.perf_counter() - start
    assert result.ok, result.violated
    committed = int(result.metrics["committed"] or 0)
    assert committed == CLIENTS * requests, committed
    return committed / elapsed


def minimal_rate(n: int, requests: int) -> float:
    start = time.perf_counter()
    committed = minimal_pbft(n, CLIENTS, requests)
    elapsed = time.perf_counter() - start
    assert committed == CLIENTS * requests, committed
    return committed / elapsed


def minimal_pbft(n: int, clients: int, requests: int) -> int:
    """Run the hand-written normal case to the end; the requests the clients saw done."""
    f = (n - 1) // 3
    signed: set[tuple[int, Any]] = set()

    def sign(node: int, body: Any) -> tuple[int, Any]:
        message = (node, body)
        signed.add(message)
        return message

    total = n + clients
    replicas = range(n)
    inboxes: list[list[tuple[int, Any]]] = [[] for _ in range(total)]
    next_seq = 0  # the primary's (replica 0)
    pre: list[dict[int, Any]] = [{} for _ in replicas]  # seq -> the request pre-prepared
    prepares: list[dict[int, set[int]]] = [{} for _ in replicas]
    commits: list[dict[int, set[int]]] = [{} for _ in replicas]
    prepared: list[set[int]] = [set() for _ in replicas]
    ready: list[dict[int, Any]] = [{} for _ in replicas]  # committed, not yet executed
    executed = [0] * n
    state = [0] * n
    issued = [0] * clients
    current: list[Any] = [None] * clients
    votes: list[set[int]] = [set() for _ in range(clients)]
    done = 0

    def vote(i: int, out: list[list[tuple[int, Any]]], seq: int, digest: Any) -> None:
        """Check the prepared and committed-local rules for slot ``seq`` at replica i."""
        if seq not in pre[i] or pre[i][seq] != digest:
            return
        if seq not in prepared[i] and len(prepares[i].get(seq, ())) >= 2 * f:
            prepared[i].add(seq)
            commit = sign(i, ("commit", 0, seq, digest))
            commits[i].setdefault(seq, set()).add(i)
            item = (i, commit)
            for d in replicas:
                if d != i:
                    out[d].append(item)
        if (
            seq in prepared[i]
            and seq not in ready[i]
            and seq > executed[i]
            and len(commits[i].get(seq, ())) >= 2 * f + 1
        ):
            ready[i][seq] = digest
            while executed[i] + 1 in ready[i]:
                executed[i] += 1
                request = ready[i].pop(executed[i])
                _tag, client, ts = request
                state[i] += 1
                out[client].append((i, ("reply", 0, ts, client, i, state[i])))

    while done < clients * requests:
        out: list[list[tuple[int, Any]]] = [[] for _ in range(total)]
        for i in replicas:
            for src, message in inboxes[i]:
                if message not in signed or message[0] != src:
                    continue  # unsigned, or not signed by its sender
                body = message[1]
                tag = body[0]
                if tag == "request":
                    if i != 0:
                        continue
                    next_seq += 1
                    pp = sign(0, ("pre-prepare", 0, next_seq, body))
                    pre[0][next_seq] = body
                    item = (0, pp)
                    for d in replicas:
                        if d != 0:
                            out[d].append(item)
                elif tag == "pre-prepare":
                    _, view, seq, request = body
                    if src != 0 or seq in pre[i]:
                        continue
                    pre[i][seq] = request
                    prepare = sign(i, ("prepare", view, seq, request))
                    prepares[i].setdefault(seq, set()).add(i)
                    item = (i, prepare)
                    for d in replicas:
                        if d != i:
                            out[d].append(item)
                    vote(i, out, seq, request)
                elif tag == "prepare":
                    _, view, seq, digest = body
                    prepares[i].setdefault(seq, set()).add(src)
                    vote(i, out, seq, digest)
                elif tag == "commit":
                    _, view, seq, digest = body
                    commits[i].setdefault(seq, set()).add(src)
                    vote(i, out, seq, digest)
        for c in range(clients):
            me = n + c
            for src, reply in inboxes[me]:
                request = current[c]
                if request is None or reply[2] != request[1][2]:
                    continue  # late
                votes[c].add(src)
                if len(votes[c]) == f + 1:
                    done += 1
                    current[c] = None
            if current[c] is None and issued[c] < requests:
                issued[c] += 1
                current[c] = sign(me, ("request", me, issued[c]))
                votes[c] = set()
                out[0].append((me, current[c]))
        inboxes = out
    return done


def run(quick: bool = False) -> list[dict[str, Any]]:
    repeats = 1 if quick else 5
    engine_rate(4, 2)  # warm up imports and registries
    rows = []
    for n, requests in SIZES:
        best_engine = best_minimal = 0.0
        for _ in range(repeats):
            best_minimal = max(best_minimal, minimal_rate(n, requests))
            best_engine = max(best_engine, engine_rate(n, requests))
        rows.append(
            {
                "benchmark": "pbft ideal vs minimal",
                "case": f"n={n}",
                "value": best_engine,
                "unit": "req/s",
                "baseline": best_minimal,
                "ratio": best_engine / best_minimal,
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
            headers=["case", "engine req/s (ideal)", "minimal req/s", "engine/minimal"],
            disable_numparse=True,
        )
    )


if __name__ == "__main__":
    main()
