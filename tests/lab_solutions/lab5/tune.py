"""Reference tuning for lab 5: Lifeguard, a longer suspicion, and faster gossip.

Lifeguard keeps slow members from being suspected by slow probers; a
suspicion of 6 (instead of 4) periods gives a live member's refutation time
to get through 15% loss; retransmitting each update 8 log(n+1) times instead
of 4 spreads refutations and death notices faster at no cost in messages (they
ride on probes), which pays back the longer suspicion: every member still
holds a crash dead within the deadline.
"""

from __future__ import annotations

from typing import Any


def tune(n: int, loss: float) -> dict[str, Any]:
    return {"lifeguard": True, "suspicion_mult": 6.0, "retransmit_mult": 8}
