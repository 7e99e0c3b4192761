"""Crash faults: nodes stop (and maybe come back) at chosen rounds."""

from __future__ import annotations

from typing import Any, ClassVar

from bft.adversaries.generic import TARGET_PARAMS, pick_targets
from bft.core.adversary import Adversary, RoundControl, SetupControl
from bft.core.errors import ConfigError
from bft.core.params import Param


class Crash(Adversary):
    name = "crash"
    summary = "crash-stop: the chosen nodes stop at round 'at' and never return"
    params: ClassVar[tuple[Param, ...]] = (
        *TARGET_PARAMS,
        Param("at", int, default=0, doc="round at which the nodes crash", min=0),
    )

    def setup(self, ctl: SetupControl) -> None:
        self.targets = pick_targets(self, ctl)

    def before_round(self, ctl: RoundControl) -> None:
        if ctl.round == self.p["at"]:
            for node in self.targets:
                ctl.crash(node)


class CrashRecover(Crash):
    name = "crash-recover"
    summary = "crash-recover: the chosen nodes are down from round 'at' for 'duration' rounds, keeping state"
    params = (
        *Crash.params,
        Param("duration", int, default=5, doc="rounds the nodes stay down", min=1),
        Param(
            "every", int, default=0, doc="repeat the crash every this many rounds (0: once)", min=0
        ),
    )

    def __init__(self, **p: Any) -> None:
        super().__init__(**p)
        if p.get("every") and p["every"] <= p.get("duration", 5):
            raise ConfigError(
                f"crash-recover: 'every' must exceed 'duration' (got every={p['every']}, duration={p['duration']})"
            )

    def before_round(self, ctl: RoundControl) -> None:
        start, duration, every = self.p["at"], self.p["duration"], self.p["every"]
        if ctl.round < start:
            return
        phase = (ctl.round - start) % every if every else ctl.round - start
        if phase == 0:
            for node in self.targets:
                ctl.crash(node)
        elif phase == duration:
            for node in self.targets:
                if not ctl.is_up(node):
                    ctl.recover(node)
