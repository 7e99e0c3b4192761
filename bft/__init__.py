"""bft: a deterministic lockstep testbed for Byzantine-fault-tolerant and failover protocols.

This module is the one import place for plug-in and test authors; everything
not listed in ``__all__`` is private and may change. Names load on first use,
so ``import bft`` (and the ``bft`` command's start-up) stays cheap.

Writing a protocol::

    from bft import Node, Param, ProtocolSpec, Property, Tolerance, Verdict

Writing an adversary::

    from bft import Adversary, SetupControl, RoundControl, TrafficControl

Contributing an action kind to ``bft check`` (entry-point group ``bft.actions``)::

    from bft import Action, ActionKind, ActionRun, Draw

Running and testing::

    import bft
    result = bft.run("byzantine-generals", params={"n": 3})
    assert not result.verdicts["validity"].holds

    harness = bft.NodeHarness(MyNode(0), n=4)   # drive one node by hand
    step = harness.step([(1, Ping(3))])

Searching (imports Hypothesis)::

    from bft import schedules, run_schedule, search
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_EXPORTS: dict[str, str] = {
    # errors
    "BftError": "bft.core.errors",
    "ConfigError": "bft.core.errors",
    # writing a protocol
    "Node": "bft.core.node",
    "Context": "bft.core.node",
    "Inbox": "bft.core.node",
    "BROADCAST": "bft.core.node",
    "ProtocolSpec": "bft.core.protocol",
    "Params": "bft.core.protocol",
    "Tolerance": "bft.core.protocol",
    "Param": "bft.core.params",
    "Nodes": "bft.core.params",
    "Property": "bft.core.properties",
    "Verdict": "bft.core.properties",
    "RunRecord": "bft.core.record",
    "Output": "bft.core.record",
    "Event": "bft.core.record",
    "Signed": "bft.core.crypto",
    "Operation": "bft.core.environment",
    "canonical_bytes": "bft.core.encoding",
    "UNENCODED": "bft.core.encoding",
    # writing an adversary
    "Adversary": "bft.core.adversary",
    "Envelope": "bft.core.adversary",
    "SetupControl": "bft.core.adversary",
    "RoundControl": "bft.core.adversary",
    "TrafficControl": "bft.core.adversary",
    # running and testing
    "run": "bft.run.api",
    "load_scenario": "bft.run.api",
    "Scenario": "bft.run.scenario",
    "RunResult": "bft.run.runner",
    "NodeHarness": "bft.core.harness",
    "register": "bft.core.registry",
    # contributing action kinds to the search (no Hypothesis import)
    "ActionKind": "bft.search.actions.base",
    "ActionRun": "bft.search.actions.base",
    "Draw": "bft.search.actions.base",
    # searching (Hypothesis)
    "search": "bft.search.driver",
    "run_schedule": "bft.search.driver",
    "schedules": "bft.search.strategies",
    "fault_model": "bft.search.schedule",
    "FaultModel": "bft.search.schedule",
    "Schedule": "bft.search.schedule",
    "Action": "bft.search.schedule",
}

__all__ = [
    "Action",
    "ActionKind",
    "ActionRun",
    "Adversary",
    "BROADCAST",
    "BftError",
    "ConfigError",
    "Context",
    "Draw",
    "Envelope",
    "Event",
    "FaultModel",
    "Inbox",
    "Node",
    "NodeHarness",
    "Nodes",
    "Operation",
    "Output",
    "Param",
    "Params",
    "Property",
    "ProtocolSpec",
    "RoundControl",
    "RunRecord",
    "RunResult",
    "Scenario",
    "Schedule",
    "SetupControl",
    "Signed",
    "Tolerance",
    "TrafficControl",
    "UNENCODED",
    "Verdict",
    "__version__",
    "canonical_bytes",
    "fault_model",
    "load_scenario",
    "register",
    "run",
    "run_schedule",
    "schedules",
    "search",
]

# ``run`` and ``search`` name both a public function and a subpackage (bft/run,
# bft/search). Python binds a subpackage to this module's attribute the first
# time the subpackage is imported, so ``bft.run`` would turn into a module as soon
# as anything imported ``bft.run.runner`` before ``bft.run`` was first used. Import
# the two (empty) packages now and drop those bindings: the names then always
# resolve through ``__getattr__`` to the functions.
for _package in ("run", "search"):
    importlib.import_module(f"bft.{_package}")
    globals().pop(_package, None)
del _package


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(
            f"module 'bft' has no attribute {name!r}; the public names are: {', '.join(__all__)}"
        )
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, imported eagerly
    from bft.core.adversary import (
        Adversary,
        Envelope,
        RoundControl,
        SetupControl,
        TrafficControl,
    )
    from bft.core.crypto import Signed
    from bft.core.encoding import UNENCODED, canonical_bytes
    from bft.core.environment import Operation
    from bft.core.errors import BftError, ConfigError
    from bft.core.harness import NodeHarness
    from bft.core.node import BROADCAST, Context, Inbox, Node
    from bft.core.params import Nodes, Param
    from bft.core.properties import Property, Verdict
    from bft.core.protocol import Params, ProtocolSpec, Tolerance
    from bft.core.record import Event, Output, RunRecord
    from bft.core.registry import register
    from bft.run.api import load_scenario, run
    from bft.run.runner import RunResult
    from bft.run.scenario import Scenario
    from bft.search.actions.base import ActionKind, ActionRun, Draw
    from bft.search.driver import run_schedule, search
    from bft.search.schedule import Action, FaultModel, Schedule, fault_model
    from bft.search.strategies import schedules
