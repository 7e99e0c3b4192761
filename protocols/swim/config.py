"""The detector's parameters, shared by the ``swim`` protocol and ``gossip-health``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from bft.core.errors import ConfigError
from bft.core.params import Param

TARGET_MODES = ("round-robin", "random")

#: Detector parameters; ``gossip-health`` reuses them for its servers.
DETECTOR_PARAMS: tuple[Param, ...] = (
    Param(
        "period",
        int,
        default=6,
        doc="protocol period in rounds (one probe per member per period)",
        min=3,
    ),
    Param(
        "probe_timeout",
        int,
        default=2,
        doc="rounds to wait for a direct ack before asking k others (a round trip takes 2)",
        min=2,
    ),
    Param(
        "k", int, default=3, doc="members asked to probe indirectly (ping-req) on a timeout", min=0
    ),
    Param(
        "targets",
        str,
        default="round-robin",
        doc="probe order: shuffled round-robin (SWIM 4.3) or uniformly random (SWIM 3.1)",
        choices=TARGET_MODES,
    ),
    Param(
        "suspicion_mult",
        float,
        default=4.0,
        doc="suspicion timeout = suspicion_mult * max(1, log10 n) periods (memberlist's default 4)",
        min=0.0,
    ),
    Param(
        "retransmit_mult",
        int,
        default=4,
        doc="each update is piggybacked retransmit_mult * ceil(log10(n+1)) times (lambda log n)",
        min=1,
    ),
    Param("piggyback", int, default=6, doc="most updates piggybacked on one message", min=0),
    Param(
        "lifeguard",
        bool,
        default=False,
        doc="turn on all three Lifeguard refinements (each can be set on its own)",
    ),
    Param(
        "local_health",
        bool,
        default=None,
        doc="Lifeguard LHA: scale probe timeout and period by (health score + 1); nacks",
    ),
    Param(
        "dynamic_suspicion",
        bool,
        default=None,
        doc="Lifeguard LHA-Suspicion: start at the max timeout, shrink with confirmations",
    ),
    Param(
        "buddy",
        bool,
        default=None,
        doc="Lifeguard buddy system: a ping to a suspect carries the suspicion",
    ),
    Param(
        "health_max",
        int,
        default=7,
        doc="largest local health score (multiplier up to this + 1)",
        min=0,
    ),
    Param(
        "suspicion_max_mult",
        float,
        default=6.0,
        doc="Lifeguard: the suspicion timeout starts at this multiple of the minimum",
        min=1.0,
    ),
    Param(
        "suspicion_k",
        int,
        default=3,
        doc="Lifeguard: independent confirmations that bring the timeout down to the minimum",
        min=0,
    ),
)


@attrs.frozen
class SwimConfig:
    """Resolved detector settings for a group of ``size`` members (times in rounds)."""

    size: int
    period: int = 6
    probe_timeout: int = 2
    k: int = 3
    random_targets: bool = False
    suspicion_min: int = 24
    suspicion_max: int = 24
    suspicion_k: int = 0
    retransmit_limit: int = 8
    piggyback: int = 6
    local_health: bool = False
    dynamic_suspicion: bool = False
    buddy: bool = False
    health_max: int = 7

    @property
    def max_multiplier(self) -> int:
        return self.health_max + 1 if self.local_health else 1

    def suspicion_timeout(self, confirmations: int) -> int:
        """Rounds a suspicion lasts after ``confirmations`` independent confirmations.

        Classic SWIM: a fixed timeout. Lifeguard: ``max - (max - min) * log(c+1) /
        log(K+1)``, never below ``min`` (the Lifeguard paper's formula).
        """
        if not self.dynamic_suspicion or self.suspicion_k < 1:
            return self.suspicion_min
        lo, hi = self.suspicion_min, self.suspicion_max
        frac = math.log(confirmations + 1) / math.log(self.suspicion_k + 1)
        return max(lo, math.floor(hi - (hi - lo) * frac))

    def completeness_bound(self) -> int:
        """Rounds within which every correct member declares a crashed member dead.

        Round-robin probing reaches every member within 2(size-1) periods of any
        instant (one pass plus the next, SWIM 4.3); the failed probe ends one
        period later; the member's own suspicion then expires within the largest
        suspicion timeout. Gossip only makes it sooner. Periods stretch by at most
        the largest local health multiplier.
        """
        periods = 2 * (self.size - 1) + 1
        return periods * self.period * self.max_multiplier + self.suspicion_max


def detector_config(p: Mapping[str, Any], size: int, owner: str) -> SwimConfig:
    """Check and resolve the detector parameters for ``size`` members."""
    if p["probe_timeout"] + 4 > p["period"]:
        raise ConfigError(
            f"{owner}: the period must leave 4 rounds after the probe timeout for the indirect "
            f"probe (ping-req, ping, ack, forwarded ack): need period >= probe_timeout + 4 "
            f"(got period={p['period']}, probe_timeout={p['probe_timeout']})"
        )
    lifeguard = p["lifeguard"]

    def option(name: str) -> bool:
        value = p.get(name)
        return lifeguard if value is None else bool(value)

    dynamic = option("dynamic_suspicion")
    base = math.ceil(p["suspicion_mult"] * max(1.0, math.log10(size)) * p["period"])
    base = max(base, 1)
    high = math.ceil(base * p["suspicion_max_mult"]) if dynamic else base
    k = p["suspicion_k"] if size - 2 >= p["suspicion_k"] else 0
    return SwimConfig(
        size=size,
        period=p["period"],
        probe_timeout=p["probe_timeout"],
        k=p["k"],
        random_targets=p["targets"] == "random",
        suspicion_min=base,
        suspicion_max=high,
        suspicion_k=k,
        retransmit_limit=p["retransmit_mult"] * math.ceil(math.log10(size + 1)),
        piggyback=p["piggyback"],
        local_health=option("local_health"),
        dynamic_suspicion=dynamic,
        buddy=option("buddy"),
        health_max=p["health_max"],
    )
