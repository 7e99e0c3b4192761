"""The student's code, hosted: one sandbox worker per node (or per run), and the
protocol or adversary the grader plugs in.

Theory of operation. Nothing from the student's file runs in the grader's
process. A ``Session`` owns the workers of one grade (``bft.tools.sandbox``):

* a *protocol* lab registers a copy of the base protocol's spec whose
  ``make_node`` builds a ``HostedNode`` in a fresh worker per node, from the
  parameters that node may know (``spec.node_params``: the commander's order
  goes to the commander only); so two nodes never share memory;
* a *function* lab builds the lab's harness spec around a ``HostedModule``
  whose calls go to a worker of this run: one per node with
  ``isolation = "node"``, else one per run, or one per group of nodes for a
  *spread* check;
* an *adversary* lab registers a factory that builds a ``HostedAdversary`` in
  a fresh worker per run.

Every worker starts fresh, loads the student's file and is closed when its
run ends (``end_run``), after the grader asked it what the student's code
changed in the project's modules. A call that runs too long, a process that
ends, malformed data, or the grade's own time budget running out makes the
session *fatal*: every later call fails at once and the grade stops with that
reason.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from bft.core import registry
from bft.core.adversary import Adversary
from bft.core.errors import BftError, ConfigError
from bft.core.protocol import Params, ProtocolSpec
from bft.tools.hosted import (
    HostedModule,
    HostedNode,
    LazyHostedAdversary,
    RandomStreams,
    parent_codec,
)
from bft.tools.labs.config import LabConfig
from bft.tools.sandbox import CodeFailed, CodeRaised, Limits, SandboxError, Worker

SOLUTION_MODULE = "solution"
#: what a worker imports before the student's file (so changes to them are reported)
PRELOAD = (
    "bft",
    "bft.core.adversary",
    "bft.core.crypto",
    "bft.core.encoding",
    "bft.core.engine",
    "bft.core.environment",
    "bft.core.errors",
    "bft.core.network",
    "bft.core.node",
    "bft.core.params",
    "bft.core.properties",
    "bft.core.protocol",
    "bft.core.record",
    "bft.core.registry",
    "bft.run.runner",
    "bft.tools.hosted",
    "bft.tools.labs",  # students import it (to read it, or to patch it): once, in the zygote
)
MAX_LIVE_WORKERS = 64


class SolutionError(BftError):
    """The student's file cannot be loaded or lacks what the lab asks for."""


class Session:
    """The student's code for one grade (see the module docstring)."""

    def __init__(
        self,
        lab: LabConfig,
        solution: Path,
        *,
        limits: Limits | None = None,
        budget_seconds: float = 600.0,
    ) -> None:
        self.lab = lab
        self.solution = solution
        self.limits = limits or Limits(call_seconds=5.0, load_seconds=10.0, cpu_seconds=120)
        self.deadline = time.monotonic() + budget_seconds
        self.budget_seconds = budget_seconds
        self.fatal: str | None = None
        self.tampering: set[str] = set()
        self.live: deque[Worker] = deque()
        self.preload = tuple(PRELOAD) + self._lab_modules()

    def _lab_modules(self) -> tuple[str, ...]:
        out = []
        for name in (self.lab.base,):
            if name:
                cls = registry.protocol(name)
                out.append(cls.__module__)
        return tuple(m for m in out if m.startswith("bft."))

    # -- workers ---------------------------------------------------------------------
    def _failed(self, why: str) -> None:
        """The grade is over: remember why and stop every worker, so that the calls
        still to come in this run fail at once instead of each waiting its time out."""
        if self.fatal is None:
            self.fatal = why
        for worker in self.live:
            worker.close()

    def new_worker(self, codec_extra: Callable[[Any], Any] | None = None) -> Worker:
        """A fresh worker with the student's file loaded."""
        if self.fatal is not None:
            raise CodeFailed(self.fatal)
        if time.monotonic() > self.deadline:
            self._failed(f"the grade took longer than {self.budget_seconds:g} s")
            raise CodeFailed(self.fatal or "")
        while len(self.live) >= MAX_LIVE_WORKERS:
            self._retire(self.live.popleft())
        left = max(0.5, self.deadline - time.monotonic())
        limits = self.limits
        if left < limits.call_seconds:
            import attrs

            limits = attrs.evolve(limits, call_seconds=left, load_seconds=left)
        worker = Worker(limits, preload=self.preload, codec=parent_codec(codec_extra))
        self.live.append(worker)
        try:
            changes = worker.load(self.solution, SOLUTION_MODULE)
        except CodeRaised as exc:
            raise SolutionError(load_message(self.solution, exc)) from None
        except CodeFailed as exc:
            self._failed(f"your file, while loading: {exc.reason}")
            raise
        self.tampering.update(changes)
        original_die = worker._die

        def die(why: str) -> None:
            self._failed(f"your code: {why}")
            original_die(why)

        worker._die = die  # type: ignore[method-assign]
        return worker

    def _retire(self, worker: Worker) -> None:
        if worker.dead is None:
            with contextlib.suppress(CodeFailed, CodeRaised):
                self.tampering.update(worker.check())
        worker.close()

    def end_run(self) -> None:
        """Close every worker of the run that just ended (asking each what it changed)."""
        while self.live:
            self._retire(self.live.popleft())

    # -- what the student's file defines --------------------------------------------------
    def probe(self) -> None:
        """Load the file once and check it defines what the lab asks for."""
        worker = self.new_worker()
        names = [self.lab.class_name] if self.lab.class_name else list(self.lab.functions)
        try:
            found = worker.call(None, "", [names], driver="bft.tools.hosted:describe_names")
        except CodeRaised as exc:
            raise SolutionError(f"{self.solution.name}: {exc.describe()}") from None
        finally:
            self.end_run()
        wanted = {
            "protocol": ("Node subclass", "a Node subclass (class General(Node): ...)"),
            "adversary": ("Adversary subclass", "an Adversary subclass"),
        }
        for name in names:
            what = found.get(name, "missing")
            if what == "missing":
                raise SolutionError(
                    f"{self.solution.name}: defines no {name!r}; the lab grades the {name} it defines"
                )
            if self.lab.kind in wanted and what != wanted[self.lab.kind][0]:
                raise SolutionError(
                    f"{self.solution.name}: {name} must be {wanted[self.lab.kind][1]} (it is {what})"
                )
            if self.lab.kind == "function" and what != "function":
                raise SolutionError(
                    f"{self.solution.name}: {name} must be a function (it is {what})"
                )


def load_message(path: Path, exc: CodeRaised) -> str:
    if exc.type_name == "SyntaxError":
        line = exc.where.rpartition(":")[2]
        return f"{path}:{line}: syntax error: {exc.message}"
    at = f" (at {exc.where})" if exc.where else ""
    return f"{path}: raised {exc.type_name} while loading: {exc.message}{at}"


# ---------------------------------------------------------------------------- plugging in


def load_trusted(path: Path, name: str) -> ModuleType:
    """A lab's own module (harness, target): project code, loaded in this process."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    writing, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # never into the labs
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writing
    return module


def protocol_name(lab_number: int) -> str:
    return f"lab{lab_number}-solution"


def student_protocol(lab: LabConfig, number: int, session: Session) -> type[ProtocolSpec]:
    """A protocol-kind lab: the base spec, with nodes hosted one per worker."""
    base = registry.protocol(str(lab.base))
    class_name = str(lab.class_name)

    def make_node(self: ProtocolSpec, node_id: int, p: Params) -> HostedNode:
        known_to = getattr(self, "node_params", None)
        known = known_to(node_id, p) if callable(known_to) else dict(p)
        return HostedNode(
            session.new_worker(), class_name, [node_id, known], base="bft.core.node:Node"
        )

    return type(
        f"Lab{number}Protocol",
        (base,),
        {"name": protocol_name(number), "make_node": make_node, "__module__": __name__},
    )


class _RunProxies:
    """The function lab's modules for one run: one worker per group, made on first call."""

    def __init__(self, session: Session, lab: LabConfig, groups: int | None) -> None:
        self.session = session
        self.lab = lab
        self.groups = groups  # None: one group per node
        self.workers: dict[Any, Worker] = {}
        self.streams = RandomStreams()

    def group_of(self, node_id: int | None) -> Any:
        if node_id is None:
            return "spec"
        if self.groups is None:
            return node_id
        return node_id % self.groups if self.groups > 1 else 0

    def module(self, group: Any) -> HostedModule:
        def worker() -> Worker:
            found = self.workers.get(group)
            if found is None or found.dead == "it was closed":
                found = self.workers[group] = self.session.new_worker(
                    self.streams.encoder(hash(str(group)))
                )
            return found

        return HostedModule(worker, self.lab.functions, SOLUTION_MODULE)


def student_functions(
    lab: LabConfig, number: int, session: Session, *, spread: int | None = None
) -> type[ProtocolSpec]:
    """A function-kind lab: the harness's spec built per run around hosted functions."""
    harness = load_trusted(lab.path / str(lab.harness), f"bft_lab{number}_harness")
    per_node = lab.isolation == "node" and spread is None
    groups = None if per_node else (spread or 1)
    template = harness.make_protocol(_RunProxies(session, lab, 1).module("spec"))

    class Launcher(template):  # type: ignore[misc, valid-type]
        """Registered under the lab's name; each instantiation (one per run) builds the
        harness's spec around this run's own workers."""

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            proxies = _RunProxies(session, lab, groups)
            spec_cls = harness.make_protocol(proxies.module("spec"))
            by_group: dict[Any, ProtocolSpec] = {}

            def make_node(self: ProtocolSpec, node_id: int, p: Params) -> Any:
                group = proxies.group_of(node_id)
                spec = by_group.get(group)
                if spec is None:
                    spec = by_group[group] = harness.make_protocol(proxies.module(group))()
                return spec.make_node(node_id, p)

            run_cls = type(spec_cls.__name__, (spec_cls,), {"make_node": make_node})
            return run_cls()

    Launcher.__name__ = template.__name__
    return Launcher


class _AttackFactory(Adversary):
    """Registered under the lab's attack name; each instance is hosted in a fresh worker
    of the session, taken when its run starts."""

    session: Session
    class_name: str
    label: str

    def __new__(cls, **params: Any) -> Any:
        return LazyHostedAdversary(cls.session.new_worker, cls.class_name, cls.label, params)


def student_adversary(lab: LabConfig, number: int, session: Session) -> tuple[str, type]:
    name = f"lab{number}-attack"
    factory = type(
        "LabAttack",
        (_AttackFactory,),
        {
            "name": name,
            "summary": "the student's attack",
            "session": session,
            "class_name": str(lab.class_name),
            "label": name,
            "params": (),
        },
    )
    return name, factory


def target_protocol(lab: LabConfig, number: int) -> type[ProtocolSpec]:
    if lab.target is None:  # an installed protocol is the target (``base``)
        return registry.protocol(str(lab.base))
    module = load_trusted(lab.path / str(lab.target), f"bft_lab{number}_target")
    target = getattr(module, str(lab.target_class), None)
    if target is None:
        raise ConfigError(f"{lab.path / str(lab.target)}: defines no {lab.target_class!r}")
    return target


__all__ = ["Session", "SolutionError", "SandboxError"]
