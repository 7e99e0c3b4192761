"""The ``schedule`` adversary: executes an explicit list of actions.

Theory of operation. This is how a searched schedule, and so a counterexample,
lives inside an ordinary scenario file::

    [[adversary]]
    name = "schedule"
    faults = 1
    actions = [
      { do = "mutate", node = 2, at = 1, dst = 1, field = 0, how = "flip" },
      { do = "crash", node = 3, at = 0, until = 2 },
    ]

Each action's *kind* (``bft.search.actions``: crash, drop, delay, partition,
omit, lag, mutate, equivocate, replay, splice, wrap, unwrap, twin, adversary,
and any kind a plug-in contributes) defines what it does; this adversary only
dispatches to the kinds' hooks, in a fixed order (kinds by their ``order``,
then actions in file order), through its own controls, so every power check
of the engine applies to every kind. A node with a Byzantine action is
corrupted for the whole run (the adversary holds its key); a crashed node
becomes faulty when it crashes. The engine counts both against the protocol's
tolerance. Each action that takes effect leaves one note in the trace, which
is how a search tells which faults actually bit.
"""

from __future__ import annotations

from typing import Any, cast

from bft.core.adversary import Adversary, RoundControl, SetupControl, TrafficControl
from bft.core.errors import ConfigError
from bft.core.params import Param
from bft.search.actions import ActionRun, History
from bft.search.schedule import Action

TRIGGER_END = "trigger-end"  # the same marker the storms and poisons leave


class ScheduleAdversary(Adversary):
    name = "schedule"
    summary = "executes an explicit list of actions (how searched counterexamples are stored)"
    params = (
        Param(
            "actions",
            list,
            default=(),
            doc="the actions: a list of tables, see 'bft.adversaries.schedule'",
        ),
        Param(
            "faults",
            int,
            default=None,
            doc="the fault budget the search had (a record: the engine judges every run's "
            "faulty nodes against the protocol's declared model)",
            min=0,
        ),
    )

    def __init__(self, **p: Any) -> None:
        super().__init__(**p)
        raw = p.get("actions") or ()
        if not isinstance(raw, list | tuple):
            raise ConfigError(
                f"schedule: 'actions' must be a list of action tables (got {raw!r:.60})"
            )
        if len(raw) > 10_000:
            raise ConfigError(f"schedule: {len(raw)} actions is too many (at most 10,000)")
        self.actions = [
            a if isinstance(a, Action) else Action.from_dict(a, f"schedule: action #{i + 1}")
            for i, a in enumerate(raw)
        ]
        runs = [ActionRun(i, a, a.kind) for i, a in enumerate(self.actions)]
        self.runs = sorted(runs, key=lambda r: (r.kind.order, r.index))
        self.intercepts = any(r.kind.intercepts for r in runs)
        self.history = History() if any(r.kind.needs_history for r in runs) else None
        #: history is needed up to the last round an action that reads it acts in
        self._history_until = max(
            (r.action.at + 1 for r in runs if r.kind.needs_history), default=0
        )
        for run in runs:
            run.history = self.history
        #: the round after which the schedule's faults are over (None: some never end),
        #: noted as 'trigger-end' so that recovery properties are judged after it
        ends = [run.kind.ends(run.action) for run in runs]
        self.trigger_end = None if not ends or None in ends else max(cast(list[int], ends))

    def setup(self, ctl: SetupControl) -> None:
        for run in sorted(self.runs, key=lambda r: r.index):
            action = run.action
            ids = [action.node, *(action.nodes or ())]
            if action.dst is not None:
                ids.append(action.dst)
            for node in ids:
                if not 0 <= node < ctl.n:
                    raise ConfigError(
                        f"schedule: action #{run.index + 1} ({action.do}) names node {node}, "
                        f"which does not exist (n={ctl.n}; nodes are 0..{ctl.n - 1})"
                    )
        corrupt = sorted(
            {
                r.action.node
                for r in self.runs
                if r.kind.fault == "byzantine" and r.action.do != "adversary"
            }
        )
        if corrupt:
            ctl.corrupt(corrupt)
        for run in self.runs:
            run.kind.setup(run, ctl)

    def before_round(self, ctl: RoundControl) -> None:
        for run in self.runs:
            run.kind.before_round(run, ctl)
        if ctl.round == self.trigger_end:
            ctl.note(TRIGGER_END)

    def wants_traffic(self, round: int) -> bool:
        if self.history is not None and round < self._history_until:
            return True
        return any(run.kind.acts_in(run.action, round) for run in self.runs)

    def on_traffic(self, ctl: TrafficControl) -> None:
        for run in self.runs:
            run.kind.on_traffic(run, ctl)
        for run in self.runs:
            run.kind.after_traffic(run, ctl)
        if self.history is not None:
            self.history.record(ctl)
