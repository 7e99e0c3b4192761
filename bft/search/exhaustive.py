"""Exhaustive small-scope checking: every schedule up to a bound, with a guarantee.

Theory of operation. A random or guided search says "no violation in K
schedules"; this one says "no violation in ANY schedule within this scope",
and finds a shortest counterexample first (small scopes find most bugs: the
published Zyzzyva and FaB counterexamples need four replicas and a few
actions). The scope is the search's fault model (the protocol's declared one
by default), the action kinds that can enumerate their choices, at most
``max_actions`` actions, the rounds of the run, and the parameter domains of
``Scope`` (when a crash ends, how late a lagging message arrives).

The explorer drives the engine round by round and forks it at every choice
(``Engine.fork``). Before round r it asks the ``before`` kinds (crash) for
their choices; after the nodes act it asks the ``traffic`` kinds for theirs,
which they list from the round's actual messages, so an action that would
change nothing (mutating a message nobody sent) is never generated. The
choices of one round are a set, not a sequence (actions in one round are
independent: the schedule adversary applies them in a fixed order whatever
order they were chosen in), so each set is tried once.

Sizes are explored in order, 0 actions, then 1, then 2, ... (iterative
deepening), so the first violation found is a shortest one, and the guarantee
of a finished size is "no schedule of that many actions violates a counted
property". Within a size, the nodes that Byzantine actions speak for are
chosen first (they are corrupted at setup), then the tree of rounds is walked
depth first.

Reductions (each sound, each counted in the report, and checked against the
unreduced enumeration on small scopes by the tests):

* **State deduplication.** After each round, the engine's state (every
  node's state, random streams, messages in flight, faults, the adversaries'
  state: ``Engine.state``) and a digest of the record so far are
  fingerprinted; a branch that reaches a fingerprint already explored at the
  same round with the same number of actions left is cut: its future, and so
  its verdicts, are those already explored. Only branches with actions left
  are fingerprinted: once a schedule's actions are spent its future is one
  run to the end, which costs about what fingerprinting it would (measured on
  Dolev-Strong, every 2-action schedule: 21.3 s with leaves fingerprinted,
  15.9 s without), and a cut there saves that one run at most.
* **Symmetry.** Where a protocol declares groups of interchangeable nodes
  (``ProtocolSpec.interchangeable``: OM's lieutenants, say), only one
  corrupted set per orbit is explored: the first members of each group.
* **No-op and order reduction**, as above (built into the enumeration).

Parallel runs (``jobs``, ``scheduler``) split the work by (size, corrupted
set), are consumed in that order and so give the same answer as a serial run.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

from bft.core.adversary import Adversary, RoundControl, SetupControl, TrafficControl
from bft.core.engine import Engine, running
from bft.core.errors import ConfigError
from bft.core.node import BROADCAST
from bft.core.snapshot import canonical
from bft.core.trace import NullSink
from bft.run import runner
from bft.search import parallel
from bft.search.actions import base as actions
from bft.search.actions.base import ActionRun, ChoiceView, History, Scope, Send
from bft.search.driver import Counterexample, Searcher, SearchOptions, worker_searcher
from bft.search.schedule import Action, FaultModel, Schedule


class _Explorer(Adversary):
    """The schedule adversary of an exhaustive search: its actions grow as the explorer
    chooses them, round by round; its nodes are corrupted at setup."""

    name = "schedule"
    summary = "the actions an exhaustive search chose (internal)"
    intercepts = True

    def __init__(self, corrupt: tuple[int, ...], history: bool) -> None:
        super().__init__()
        self.corrupt = corrupt
        self.runs: list[ActionRun] = []
        self.history = History() if history else None
        self.record_digest = ""  # a digest of the run's record so far (see _advance)
        self.marks = (0, 0, 0, 0)

    def add(self, chosen: Sequence[Action]) -> None:
        for action in chosen:
            run = ActionRun(len(self.runs), action, action.kind)
            run.history = self.history
            self.runs.append(run)

    def actions(self) -> tuple[Action, ...]:
        return tuple(run.action for run in self.runs)

    def snapshot(self) -> Any:
        """What decides this adversary's future: its corrupted nodes, the actions that can
        still act, what it holds, and the record so far (past actions only left traces)."""
        now = self._round
        pending = [
            run.action
            for run in self.runs
            if (end := run.kind.ends(run.action)) is None or end > now
        ]
        held = None
        if self.history is not None:
            held = [
                (r, kind, env._payload, env.src, env.dst) for r, kind, env in self.history.items
            ]
        return (self.corrupt, pending, held, self.record_digest)

    _round = 0

    def setup(self, ctl: SetupControl) -> None:
        if self.corrupt:
            ctl.corrupt(self.corrupt)

    def before_round(self, ctl: RoundControl) -> None:
        self._round = ctl.round
        for run in self.runs:
            run.kind.before_round(run, ctl)

    def on_traffic(self, ctl: TrafficControl) -> None:
        ordered = sorted(self.runs, key=lambda r: (r.kind.order, r.index))
        for run in ordered:
            run.kind.on_traffic(run, ctl)
        for run in ordered:
            run.kind.after_traffic(run, ctl)
        if self.history is not None:
            self.history.record(ctl)


def _advance(engine: Engine, explorer: _Explorer) -> None:
    """Fold what the round just added to the record into the explorer's record digest.

    Everything a property may judge goes in: outputs, node events, protocol bugs,
    per-round message counts, tallies and down nodes, and the counters (lost,
    dropped, delayed...). Two things stay out, because they describe the adversary,
    not the run: the notes an action leaves when it takes effect (two different
    actions with the same effect leave different notes) and refused actions. The
    one note properties read, ``trigger-end``, stays in.
    """
    record = engine.record
    m0, m1, m2, _ = explorer.marks
    new = (
        [(o.round, o.node, o.name, dict(o.data)) for o in record.outputs[m0:]],
        [
            (e.round, e.kind, e.node, e.detail)
            for e in record.events[m1:]
            if e.kind != "adversary" or e.detail.endswith(": trigger-end")
        ],
        [(e.round, e.node, e.detail) for e in record.bugs[m2:]],
        record.sent[-1] if record.sent else None,
        record.tallies[-1] if record.tallies else None,
        record.down[-1] if record.down else None,
        (record.rejected, record.lost, record.dropped, record.delayed, record.delivered),
    )
    explorer.marks = (
        len(record.outputs),
        len(record.events),
        len(record.bugs),
        len(record.refused),
    )
    text = explorer.record_digest + repr(canonical(new))
    explorer.record_digest = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


# -- results -----------------------------------------------------------------------------


@attrs.define
class Counts:
    schedules: int = 0  # complete runs judged (leaves)
    states: int = 0  # distinct (round, state, actions left) explored
    cut_by_states: int = 0  # branches cut by state deduplication
    cut_by_symmetry: int = 0  # corrupted sets skipped as symmetric to one explored
    forks: int = 0

    def add(self, other: Counts) -> None:
        for field in attrs.fields(Counts):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


@attrs.frozen
class Task:
    options: SearchOptions
    max_actions: int
    size: int
    corrupt: tuple[int, ...]
    dedup: bool
    scope: Scope
    deadline: float | None


@attrs.frozen
class TaskResult:
    size: int
    corrupt: tuple[int, ...]
    counts: Counts
    finished: bool  # the whole subtree was explored (not cut by the deadline)
    violation: tuple[Action, ...] | None


@attrs.frozen
class ExhaustiveOutcome:
    prepared: Any
    model: FaultModel
    max_actions: int
    complete: int  # every schedule with up to this many actions was explored (-1: none)
    counts: Counts
    seconds: float
    counterexample: Counterexample | None
    skipped_kinds: tuple[str, ...]  # kinds in the model that cannot enumerate choices
    kinds: tuple[str, ...]  # the kinds enumerated
    jobs: int = 1
    partial: str | None = None  # what of the next size was explored when time ran out

    @property
    def found(self) -> bool:
        return self.counterexample is not None

    def guarantee(self) -> str:
        if self.counterexample is not None:
            size = len(self.counterexample.schedule)
            return (
                f"a violation with {size} action(s), and none with fewer: every schedule with "
                f"up to {size - 1} action(s) was explored"
                if size
                else "the scenario itself violates a property"
            )
        if self.complete < 0:
            return "nothing was explored completely"
        model = self.model
        faulty = f"{model.faults} faulty node(s)" + (
            "" if model.byzantine else " (crash faults only)"
        )
        return (
            f"no schedule with up to {self.complete} action(s) of kinds "
            f"{', '.join(self.kinds) or '(none)'} in {model.rounds} rounds violates a searched "
            f"property, with up to {faulty} and network {model.network.describe()}"
        )

    def to_json(self) -> dict[str, Any]:
        cex = self.counterexample
        return {
            "scenario": self.prepared.scenario.name,
            "protocol": self.prepared.spec.name,
            "exhaustive": True,
            "fault_model": self.model.to_dict(),
            "max_actions": self.max_actions,
            "complete_up_to": self.complete,
            "rounds": self.model.rounds,
            "kinds": list(self.kinds),
            "not_enumerable": list(self.skipped_kinds),
            "schedules": self.counts.schedules,
            "distinct_states": self.counts.states,
            "cut_by_states": self.counts.cut_by_states,
            "cut_by_symmetry": self.counts.cut_by_symmetry,
            "seconds": round(self.seconds, 3),
            "jobs": self.jobs,
            "guarantee": self.guarantee(),
            "partial": self.partial,
            "violation": None
            if cex is None
            else {
                "property": cex.property,
                "witness": cex.witness,
                "actions": [a.to_dict() for a in cex.schedule.actions],
                "schedule": cex.schedule.describe(),
                "digest": cex.result.digest,
                "beyond_bound": cex.result.beyond_bound,
            },
        }


# -- the explorer ------------------------------------------------------------------------


class Exhaustive:
    """Explores every schedule of a searcher's fault model up to ``max_actions``."""

    def __init__(
        self,
        searcher: Searcher,
        max_actions: int,
        *,
        dedup: bool = True,
        symmetry: bool = True,
        scope: Scope | None = None,
    ) -> None:
        if max_actions < 0 or max_actions > 16:
            raise ConfigError(f"--max-actions must be between 0 and 16 (got {max_actions})")
        self.searcher = searcher
        self.model = searcher.model
        self.max_actions = max_actions
        self.dedup = dedup
        self.symmetry = symmetry
        self.scope = scope or Scope()
        table = actions.kinds()
        usable = self.model.usable_kinds()
        self.kinds = tuple(k for k in usable if table[k].enumerable)
        self.skipped = tuple(k for k in usable if not table[k].enumerable)
        self.history = any(table[k].needs_history for k in self.kinds)
        self._counts = Counts()

    # -- roots ----------------------------------------------------------------------------

    def corrupt_sets(self, size: int) -> Iterator[tuple[int, ...]]:
        """The corrupted sets a schedule of ``size`` actions may use, smallest first; one
        per symmetry orbit when the protocol declares interchangeable nodes."""
        model = self.model
        table = actions.kinds()
        if not any(table[k].fault == "byzantine" for k in self.kinds):
            yield ()
            return
        targets = list(model.target_nodes)
        groups = self._groups()
        budget = min(size, model.faults + sum(1 for t in targets if not model.counts(t)))
        spent = {n for n in model.spent if model.counts(n)}
        for count in range(0, budget + 1):
            for chosen in itertools.combinations(targets, count):
                counted = {n for n in chosen if model.counts(n)} | spent
                if len(counted) > model.faults:
                    continue
                if self.symmetry and not _first_of_orbits(chosen, groups):
                    self._counts.cut_by_symmetry += 1
                    continue
                yield chosen

    def _groups(self) -> tuple[tuple[int, ...], ...]:
        prepared = self.searcher.prepared
        declared = getattr(prepared.spec, "interchangeable", None)
        if declared is None:
            return ()
        return tuple(tuple(sorted(g)) for g in declared(prepared.params))

    # -- one subtree ----------------------------------------------------------------------

    def explore(self, size: int, corrupt: tuple[int, ...], deadline: float | None) -> TaskResult:
        """Every schedule of exactly ``size`` actions whose Byzantine actions speak for
        exactly ``corrupt``, depth first over the rounds."""
        counts = Counts()
        explorer = _Explorer(corrupt, self.history)
        engine = runner.engine_for(self.searcher.prepared, NullSink(), [explorer])
        seen: set[tuple[int, str, int]] = set()
        found: list[tuple[Action, ...]] = []
        finished = True
        with running():
            engine.start()
            try:
                self._walk(engine, size, corrupt, seen, counts, found, deadline)
            except _OutOfTime:
                finished = False
        counts.states = len(seen)
        return TaskResult(size, corrupt, counts, finished, found[0] if found else None)

    def _walk(
        self,
        engine: Engine,
        left: int,
        corrupt: tuple[int, ...],
        seen: set[tuple[int, str, int]],
        counts: Counts,
        found: list[tuple[Action, ...]],
        deadline: float | None,
    ) -> None:
        if found:
            return
        if deadline is not None and time.time() > deadline:
            raise _OutOfTime
        explorer = _explorer_of(engine)
        r = engine.next_round
        if self.dedup and r > 0 and left > 0:
            key = (r, _fingerprint(engine), left)
            if key in seen:
                counts.cut_by_states += 1
                return
            seen.add(key)
        if r >= engine.rounds or left == 0:
            if left == 0:  # every corrupted node has its action: see ``_viable``
                self._finish(engine, counts, found)
            return
        # before the round: crashes (and other 'before' kinds)
        view = self._view(engine, r, "before", corrupt)
        before = self._choices(view, "before")
        options = _viable(_sets(before, left), explorer.actions(), corrupt, left)
        for index, chosen in enumerate(options):
            branch = engine if index == len(options) - 1 else self._fork(engine, counts)
            _explorer_of(branch).add(chosen)
            branch.begin_round()
            branch.nodes_act(r)
            self._traffic(branch, r, left - len(chosen), corrupt, seen, counts, found, deadline)
            if found:
                return

    def _traffic(
        self,
        engine: Engine,
        r: int,
        left: int,
        corrupt: tuple[int, ...],
        seen: set[tuple[int, str, int]],
        counts: Counts,
        found: list[tuple[Action, ...]],
        deadline: float | None,
    ) -> None:
        view = self._view(engine, r, "traffic", corrupt)
        options = _sets(self._choices(view, "traffic") if left else [], left)
        options = _viable(options, _explorer_of(engine).actions(), corrupt, left)
        for index, chosen in enumerate(options):
            branch = engine if index == len(options) - 1 else self._fork(engine, counts)
            explorer = _explorer_of(branch)
            explorer.add(chosen)
            branch.end_round(r)
            _advance(branch, explorer)
            self._walk(branch, left - len(chosen), corrupt, seen, counts, found, deadline)
            if found:
                return

    def _fork(self, engine: Engine, counts: Counts) -> Engine:
        counts.forks += 1
        return engine.fork()

    def _finish(self, engine: Engine, counts: Counts, found: list[tuple[Action, ...]]) -> None:
        """Run the rest of the run (no more choices) and judge it."""
        explorer = _explorer_of(engine)
        while engine.next_round < engine.rounds:
            engine.step()
        engine.finish()
        counts.schedules += 1
        result = runner.result_of(self.searcher.prepared, engine, metrics=False)
        if self.searcher.violated(result):
            found.append(explorer.actions())

    def _view(self, engine: Engine, r: int, phase: str, corrupt: tuple[int, ...]) -> ChoiceView:
        sends: list[Send] = []
        if phase == "traffic":
            n = engine.n
            for src, dst, payload in engine.out:
                kind = engine.kind(payload)
                if dst == BROADCAST:
                    targets: Sequence[int] = [d for d in range(n) if d != src]
                elif type(dst) is tuple:
                    targets = dst
                else:
                    targets = (dst,)  # type: ignore[assignment]
                sends.extend(Send(src, d, kind, payload) for d in targets)
        explorer = _explorer_of(engine)
        return ChoiceView(
            self.model,
            r,
            phase,
            frozenset(corrupt),
            frozenset(engine.corrupted) | engine.crashed_so_far() | frozenset(self.model.spent),
            tuple(engine.up),
            tuple(sends),
            explorer.history,
            self.scope,
        )

    def _choices(self, view: ChoiceView, phase: str) -> list[Action]:
        table = actions.kinds()
        out: list[Action] = []
        for name in self.kinds:
            kind = table[name]
            if kind.phase == phase:
                out.extend(kind.choices(view))
        return out

    # -- the whole search -------------------------------------------------------------------

    def run(
        self,
        seconds: float | None = None,
        *,
        jobs: int = 1,
        scheduler: str | None = None,
    ) -> ExhaustiveOutcome:
        start = time.perf_counter()
        deadline = None if seconds is None else time.time() + seconds
        searcher = self.searcher
        counts = Counts()
        complete = -1
        partial = None
        violation: tuple[Action, ...] | None = None
        if searcher.scenario_violated or searcher.baseline_violated:
            violation = ()
        if jobs > 1 and not scheduler:  # forked workers use this explorer as it is
            _WORKERS.clear()
            _WORKERS[_worker_key(searcher.options, self.max_actions, self.dedup, self.scope)] = self
        for size in range(self.max_actions + 1):
            if violation is not None:
                break
            self._counts = Counts()
            roots = list(self.corrupt_sets(size))
            counts.cut_by_symmetry += self._counts.cut_by_symmetry
            tasks = [
                Task(searcher.options, self.max_actions, size, c, self.dedup, self.scope, deadline)
                for c in roots
            ]
            done = 0
            finished = True
            results = parallel.ordered(
                _run_task if (jobs > 1 or scheduler) else self._run,
                _nth(tasks),
                jobs=jobs,
                scheduler=scheduler,
            )
            try:
                for result in results:
                    counts.add(result.counts)
                    done += 1
                    if result.violation is not None:
                        violation = result.violation
                        break
                    if not result.finished:
                        finished = False
                        break
            finally:
                getattr(results, "close", lambda: None)()
            if violation is None and finished:
                complete = size
            elif violation is None:
                partial = (
                    f"{size} action(s): {done - 1} of {len(roots)} corrupted-node choices "
                    "explored completely when time ran out"
                )
                break
        counterexample = None
        if violation is not None:
            schedule = Schedule(violation, self.model)
            counterexample = searcher.counterexample(
                schedule,
                as_written=not violation and bool(searcher.scenario_violated),
                found_after=counts.schedules,
                seconds_to_first=time.perf_counter() - start,
                first_size=len(violation),
                shrink_runs=0,
            )
        return ExhaustiveOutcome(
            searcher.prepared,
            self.model,
            self.max_actions,
            complete,
            counts,
            time.perf_counter() - start,
            counterexample,
            self.skipped,
            self.kinds,
            jobs,
            partial,
        )

    def _run(self, task: Task) -> TaskResult:
        return self.explore(task.size, task.corrupt, task.deadline)


class _OutOfTime(Exception):  # noqa: N818 - a signal, caught by explore()
    pass


def _nth(tasks: list[Task]) -> Callable[[int], Task | None]:
    """``parallel.ordered``'s task maker: task ``i`` of ``tasks`` (None past the end)."""
    return lambda i: tasks[i] if i < len(tasks) else None


def _explorer_of(engine: Engine) -> _Explorer:
    explorer = engine.adversaries[-1]
    assert isinstance(explorer, _Explorer)
    return explorer


def _fingerprint(engine: Engine) -> str:
    return hashlib.blake2b(repr(engine.state()).encode(), digest_size=16).hexdigest()


def _sets(options: list[Action], left: int) -> list[tuple[Action, ...]]:
    """Every set of at most ``left`` of ``options``, each once: the largest sets first and
    the empty set last, so the depth-first walk spends a schedule's actions as early as it
    can and its first leaves are the schedules that act from round 0 (faults early in a
    run break the most; with the empty set first, the first thousands of leaves would
    all wait for the last rounds). The order within a size does not change what a
    finished size guarantees."""
    out: list[tuple[Action, ...]] = []
    for count in range(min(left, len(options)), 0, -1):
        out.extend(itertools.combinations(options, count))
    out.append(())
    return out


def _viable(
    options: list[tuple[Action, ...]],
    past: Sequence[Action],
    corrupt: tuple[int, ...],
    left: int,
) -> list[tuple[Action, ...]]:
    """The choices after which every corrupted node can still get its Byzantine action
    with the actions left. A branch that cannot is never forked: a schedule in which a
    corrupted node does nothing Byzantine is explored under the smaller corrupted set,
    so every leaf reached with no actions left speaks for all of ``corrupt``."""
    if not corrupt:
        return options
    speakers = {a.node for a in past if a.kind.fault == "byzantine"}
    silent = set(corrupt) - speakers
    out = []
    for chosen in options:
        still = silent - {a.node for a in chosen if a.kind.fault == "byzantine"}
        if len(still) <= left - len(chosen):
            out.append(chosen)
    return out


def _first_of_orbits(chosen: Sequence[int], groups: Sequence[tuple[int, ...]]) -> bool:
    """Whether ``chosen`` is its orbit's representative: in every group of interchangeable
    nodes, the chosen members are the group's first ones."""
    chosen_set = set(chosen)
    for group in groups:
        inside = [n for n in group if n in chosen_set]
        if inside != list(group[: len(inside)]):
            return False
    return True


_WORKERS: dict[str, Exhaustive] = {}


def _worker_key(options: Any, max_actions: int, dedup: bool, scope: Scope) -> str:
    return repr((options, max_actions, dedup, scope))


def _run_task(task: Task) -> TaskResult:
    """A worker explores one (size, corrupted set) subtree."""
    key = _worker_key(task.options, task.max_actions, task.dedup, task.scope)
    explorer = _WORKERS.get(key)
    if explorer is None:
        searcher = worker_searcher(task.options)
        explorer = Exhaustive(searcher, task.max_actions, dedup=task.dedup, scope=task.scope)
        _WORKERS.clear()
        _WORKERS[key] = explorer
    return explorer.explore(task.size, task.corrupt, task.deadline)
