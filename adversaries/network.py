"""Network faults: partitions, message loss and delay, within the network model.

These adversaries touch envelopes only; the engine refuses any drop or delay
the run's network model forbids (and records the refusal), so running
``partition`` on a synchronous network shows up as refused actions, not as a
silently stronger adversary.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bft.adversaries.generic import TARGET_PARAMS, pick_targets
from bft.core.adversary import Adversary, Envelope, SetupControl, TrafficControl
from bft.core.errors import ConfigError
from bft.core.params import Param

WINDOW = (
    Param("at", int, default=0, doc="first round the fault acts", min=0),
    Param(
        "until", int, default=None, doc="first round it no longer acts (none: the whole run)", min=0
    ),
)


class _Windowed(Adversary):
    intercepts = True

    def __init__(self, **p: Any) -> None:
        super().__init__(**p)
        if p.get("until") is not None and p["until"] <= p.get("at", 0):
            raise ConfigError(
                f"{self.name}: 'until' must be after 'at' (got at={p.get('at', 0)}, until={p['until']})"
            )

    def active(self, rnd: int) -> bool:
        until = self.p.get("until")
        return rnd >= self.p["at"] and (until is None or rnd < until)


class Partition(_Windowed):
    name = "partition"
    summary = "split the chosen nodes from the rest between rounds 'at' and 'until'"
    params = (
        *TARGET_PARAMS,
        *WINDOW,
        Param(
            "mode",
            str,
            default="drop",
            doc="what happens to messages across the cut",
            choices=("drop", "delay"),
        ),
    )

    def __init__(self, **p: Any) -> None:
        super().__init__(**p)
        if p.get("mode") == "delay" and p.get("until") is None:
            raise ConfigError("partition: mode='delay' needs 'until' (when the partition heals)")

    def setup(self, ctl: SetupControl) -> None:
        self.side = frozenset(pick_targets(self, ctl))

    def on_traffic(self, ctl: TrafficControl) -> None:
        if not self.active(ctl.round):
            return
        for env in ctl.envelopes:
            if (env.src in self.side) != (env.dst in self.side) and not env.dropped:
                if self.p["mode"] == "drop":
                    ctl.drop(env)
                else:
                    ctl.delay(env, self.p["until"] - ctl.round - 1 or 1)


class _Random(_Windowed):
    params: ClassVar[tuple[Param, ...]] = (
        *TARGET_PARAMS,
        *WINDOW,
        Param(
            "rate",
            float,
            default=0.1,
            doc="probability that each message is affected",
            min=0.0,
            max=1.0,
        ),
    )

    def setup(self, ctl: SetupControl) -> None:
        explicit = self.p.get("nodes") is not None or self.p.get("count") is not None
        self.nodes = frozenset(pick_targets(self, ctl)) if explicit else None

    def chosen(self, ctl: TrafficControl) -> list[Envelope]:
        if not self.active(ctl.round):
            return []
        rate, rng, nodes = self.p["rate"], ctl.rng, self.nodes
        return [
            env
            for env in ctl.envelopes
            if not env.dropped
            and (nodes is None or env.src in nodes or env.dst in nodes)
            and rng.random() < rate
        ]


class Drop(_Random):
    name = "drop"
    summary = "drop each message (to or from 'nodes', or any) with probability 'rate'"

    def on_traffic(self, ctl: TrafficControl) -> None:
        for env in self.chosen(ctl):
            ctl.drop(env)


class Delay(_Random):
    name = "delay"
    summary = "delay each message with probability 'rate' by 'rounds' extra rounds"
    params = (*_Random.params, Param("rounds", int, default=1, doc="extra rounds of delay", min=1))

    def on_traffic(self, ctl: TrafficControl) -> None:
        for env in self.chosen(ctl):
            ctl.delay(env, self.p["rounds"])
