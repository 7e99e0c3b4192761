"""Lab 5's harness: the project's SWIM with the detector parameters the student chooses.

``make_protocol(module)`` returns a protocol spec, ``lab5-swim``: the SWIM of
``protocols/swim``, plus a parameter ``loss`` (the message loss rate the
scenario runs with, which the student's function is told). Every detector
setting comes from ``module.tune(n, loss)``: a dict of SWIM parameters
(``bft list protocols`` and ``protocols/swim/config.py`` list them); settings
it leaves out keep their defaults.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from bft.core.errors import BftError
from bft.core.params import Param, resolve
from bft.core.protocol import Params
from bft.protocols.swim import Swim
from bft.protocols.swim.config import DETECTOR_PARAMS, SwimConfig


def make_protocol(module: ModuleType) -> type[Swim]:
    class Lab5Swim(Swim):
        name = "lab5-swim"
        summary = "SWIM with the student's detector parameters"
        params = (
            *Swim.params,
            Param(
                "loss",
                float,
                default=0.0,
                doc="message loss rate of the scenario",
                min=0.0,
                max=1.0,
            ),
        )

        def config(self, p: Params) -> SwimConfig:
            chosen: Any = module.tune(int(p["n"]), float(p["loss"]))
            if not isinstance(chosen, dict):
                raise ValueError(f"tune() returned {chosen!r}; it must return a dict")
            try:
                settings = resolve("your tune()", DETECTOR_PARAMS, chosen)
            except BftError as exc:
                raise ValueError(str(exc)) from None
            return super().config({**p, **settings})

    return Lab5Swim
