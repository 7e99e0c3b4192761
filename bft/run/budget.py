"""Size budgets: refuse, before anything runs, a run this machine cannot finish.

A scenario's size comes from user input (``--nodes``, ``--rounds``, a file), so
it is checked like any other input: with a message that says why and what
would fit. The bounds are generous (the scale runs of the benchmarks stay
inside them) but finite, so a typo never turns into a hang or an out-of-memory
kill.
"""

from __future__ import annotations

import os

from bft.core.errors import ConfigError

MAX_NODES = 20_000_000
MAX_ROUNDS = 10_000_000
#: node-rounds: about a day at the engine's pace of roughly a million per second
MAX_NODE_ROUNDS = 10**11
#: memory one node costs at least (its context, inbox lists, a small protocol object)
BYTES_PER_NODE = 2_000
#: memory a pair of nodes costs in an all-to-all protocol (per-peer votes, messages in
#: flight, relayed chains): Dolev-Strong with n = 1,000 peaks at about 1 GB
BYTES_PER_PAIR = 1_000


def physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _gb(count: float) -> str:
    return f"{count / 1e9:,.1f} GB"


def check_size(owner: str, n: int, rounds: int, *, all_to_all: bool = False) -> None:
    """Refuse ``n`` nodes over ``rounds`` rounds when it cannot run here (``all_to_all``:
    the protocol keeps state per pair of nodes, so its memory grows with n^2)."""
    if n > MAX_NODES:
        raise ConfigError(
            f"{owner}: n={n:,} nodes needs about {_gb(n * BYTES_PER_NODE)} of memory (about "
            f"{BYTES_PER_NODE:,} bytes a node); at most {MAX_NODES:,} nodes are accepted"
        )
    memory = physical_memory()
    if memory is not None and n * BYTES_PER_NODE > memory:
        raise ConfigError(
            f"{owner}: n={n:,} nodes needs about {_gb(n * BYTES_PER_NODE)} of memory, more than "
            f"this machine's {_gb(memory)}; use at most {memory // BYTES_PER_NODE:,} nodes"
        )
    if all_to_all and memory is not None and n * n * BYTES_PER_PAIR > memory:
        fits = int((memory / BYTES_PER_PAIR) ** 0.5)
        raise ConfigError(
            f"{owner}: n={n:,} nodes talking all-to-all needs about "
            f"{_gb(n * n * BYTES_PER_PAIR)} of memory (about {BYTES_PER_PAIR:,} bytes per pair "
            f"of nodes), more than this machine's {_gb(memory)}; use at most {fits:,} nodes"
        )
    if rounds > MAX_ROUNDS:
        raise ConfigError(
            f"{owner}: {rounds:,} rounds is more than the {MAX_ROUNDS:,} accepted (a run that "
            "long would not finish in a working day)"
        )
    if n * rounds > MAX_NODE_ROUNDS:
        raise ConfigError(
            f"{owner}: n={n:,} nodes for {rounds:,} rounds is {n * rounds:,} node-rounds, about "
            f"{n * rounds / 1e6 / 3600:,.0f} hours at a million node-rounds a second; at most "
            f"{MAX_NODE_ROUNDS:,} node-rounds are accepted"
        )
