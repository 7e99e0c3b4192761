"""The search driver: find, shrink and record the schedule that breaks a protocol.

Theory of operation. A search takes a scenario (protocol, parameters, network,
seed and its own adversaries: storms, poison, load) and a fault model, by
default the one the protocol declares minus what the scenario's adversaries
already spend (``bft.search.schedule.declared_model``). Each *schedule* is one
more adversary, composed with the scenario's own, in one deterministic run
judged by every property of the protocol (and ``no-exceptions``). The
properties that count are those the protocol guarantees within its fault
bound, or those named; a run that left the declared model (a plug-in adversary
that corrupted one node too many) does not count, unless the user asked for a
model outside the declaration, which the report then says.

Finding. The work is split into *streams* of schedules, each with a seed
derived from the search seed and its index. A stream is a portfolio: phases of
uniformly random schedules under swarm masks (some kinds switched off per
schedule), phases that mutate the schedules that reached new coverage
(``bft.search.coverage``: outputs, values, message kinds per part of the run,
node events, exercised properties) as coverage-guided fuzzers do, and phases
where Hypothesis draws schedules steered by ``target`` toward new coverage
(one phase in nine: ``PHASES``).
Streams run serially, on local processes (``jobs``) or on a Dask cluster
(``scheduler``), and are consumed in stream order, so the answer (the first
violating schedule of the first stream that found one) depends only on the
seed, the budget and the job count, never on timing. A stream inherits the
interesting schedules of the streams finished before it.

Shrinking. The first violation is shrunk once, in this process
(``bft.search.shrink``: chunk removal, simplification toward 0, then single
removal until 1-minimal), its field indexes named where that keeps it failing,
and written as a counterexample: the scenario with its own adversaries, the
explicit schedule and a ``[replay]`` table recording the trace digest, which
``bft replay`` checks.

Searches run with the ideal signature functionality and no trace (same
behaviour, a fraction of the cost); the counterexample is run again with a
summary trace for its digest, which is the same with real signatures.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from bft.core.adversary import Adversary, TrafficControl
from bft.core.crypto import Signed
from bft.core.encoding import to_plain
from bft.core.errors import ConfigError
from bft.core.node import derive_seed
from bft.run import runner
from bft.run.runner import Prepared, RunResult
from bft.run.scenario import Scenario, from_mapping
from bft.search import parallel
from bft.search.coverage import applied_kinds, features
from bft.search.schedule import (
    FaultModel,
    RawAction,
    Schedule,
    declared_model,
    decode,
    random_raw,
    random_schedule,
    raw_bounds,
)
from bft.search.shrink import one_minimal, shrink

__all__ = [
    "Counterexample",
    "SearchOutcome",
    "Searcher",
    "applied_kinds",
    "divergence",
    "one_minimal",
    "random_search",
    "run_schedule",
    "search",
]

#: the longest search a budget in schedules alone may start (seconds; --seconds lifts it)
MAX_UNTIMED_SEARCH = 86_400.0
#: schedules per stream (a stream is one task for a worker)
STREAM = 100
#: schedules per phase of a stream's portfolio
PHASE = 25
#: with --jobs J > 1, the first stream runs in the calling process and the J - 1 workers
#: are started once it has run this long (seconds): a bug found sooner is found as soon as
#: serially, without paying for forking and reaping the workers (about 10 ms)
PARALLEL_AFTER = 0.05
#: the portfolio's rotation of phases, continued across streams. Hypothesis takes one
#: phase in nine: its engine costs about 1.5 ms a schedule on top of the run (4x a random
#: schedule of OM: at one phase in five the search ran at half its speed), and in the
#: time-to-first-bug measurements it found no bug sooner than the other phases
PHASES = (*("random", "mutate") * 4, "hypothesis")
_FIELD_NOTE = re.compile(r"^(?:mutate|equivocate|splice) #(\d+): .*\(\w+\.(\w+) .* -> .*\)$")
Progress = Callable[[int, float, str], None]
Draft = tuple[tuple[RawAction, ...], int]  # raw actions and swarm mask


@attrs.define
class KindStats:
    scheduled: int = 0
    applied: int = 0
    changed: int = 0


# -- outcomes --------------------------------------------------------------------------------


def _outcome(result: RunResult) -> dict[int, frozenset[Hashable]]:
    """Each node's observable events (outputs, protocol bugs), as comparable values."""
    record = result.record
    out: dict[int, set[Hashable]] = {}
    for o in record.outputs:
        out.setdefault(o.node, set()).add((o.round, o.name, repr(sorted(o.data.items()))))
    for e in record.bugs:
        if e.node is not None:
            out.setdefault(e.node, set()).add(("bug", e.round))
    return {node: frozenset(events) for node, events in out.items()}


def divergence(result: RunResult, baseline: Mapping[int, frozenset[Hashable]]) -> int:
    """How many observable events of this run's honest nodes differ from the baseline's."""
    outcome = _outcome(result)
    empty: frozenset[Hashable] = frozenset()
    return sum(
        len(outcome.get(node, empty) ^ baseline.get(node, empty))
        for node in sorted(result.record.honest)
    )


class _Observer(Adversary):
    """Watches a run: which node sends in which rounds, and whether messages are signed."""

    name = "observer"
    summary = "records which nodes send in which rounds (used by the search)"
    intercepts = True

    def __init__(self) -> None:
        super().__init__()
        self.active: dict[int, set[int]] = {}
        self.signed = False

    def on_traffic(self, ctl: TrafficControl) -> None:
        for env in ctl.envelopes:
            self.active.setdefault(env.src, set()).add(ctl.round)
        if not self.signed:
            self.signed = any(isinstance(e.payload, Signed) for e in ctl.envelopes[:64])


# -- results ----------------------------------------------------------------------------------


@attrs.frozen
class Counterexample:
    schedule: Schedule
    scenario: Scenario  # the counterexample as a scenario (what the file holds)
    document: dict[str, Any]  # the file's contents, digest included
    result: RunResult  # the run of exactly that scenario
    property: str
    witness: str
    found_after: int  # schedules generated up to and including the first failing one
    seconds_to_first: float
    first_size: int  # actions in the first failing schedule, before shrinking
    shrink_runs: int

    def write(self, path: str | Path) -> None:
        import tomli_w

        try:
            Path(path).write_text(tomli_w.dumps(self.document), encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot write counterexample file {str(path)!r}: {exc.strerror}"
            ) from None


@attrs.frozen
class SearchOutcome:
    prepared: Prepared
    model: FaultModel
    examples: int
    seconds: float
    counterexample: Counterexample | None
    kinds: dict[str, KindStats]
    exercised: dict[str, int]  # property -> runs in which it was exercised (not vacuous)
    properties: tuple[str, ...] = ()  # the properties whose violation counted
    jobs: int = 1
    coverage: int = 0  # distinct coverage features reached
    baseline_violated: tuple[str, ...] = ()  # violated by the scenario alone (no schedule)
    replaced: tuple[str, ...] = ()  # the scenario's adversaries the search replaced
    scenario_violated: tuple[str, ...] = ()  # violated by the scenario as written

    @property
    def found(self) -> bool:
        return self.counterexample is not None

    def to_json(self) -> dict[str, Any]:
        cex = self.counterexample
        return {
            "scenario": self.prepared.scenario.name,
            "protocol": self.prepared.spec.name,
            "params": to_plain(self.prepared.params),
            "seed": self.prepared.scenario.seed,
            "scenario_adversaries": [name for name, _ in self.prepared.adversary_configs],
            "replaced_adversaries": list(self.replaced),
            "fault_model": self.model.to_dict(),
            "examples": self.examples,
            "seconds": round(self.seconds, 3),
            "jobs": self.jobs,
            "schedules_per_second": round(self.examples / self.seconds, 1)
            if self.seconds
            else None,
            "coverage_features": self.coverage,
            "exercised": {k: attrs.asdict(v) for k, v in self.kinds.items()},
            "properties_exercised": self.exercised,
            "properties_checked": list(self.properties),
            "violated_without_schedule": list(self.baseline_violated),
            "violated_as_written": list(self.scenario_violated),
            "violation": None
            if cex is None
            else {
                "property": cex.property,
                "kind": cex.result.properties[cex.property].kind,
                "witness": cex.witness,
                "actions": [a.to_dict() for a in cex.schedule.actions],
                "schedule": cex.schedule.describe(),
                "found_after": cex.found_after,
                "first_size": cex.first_size,
                "digest": cex.result.digest,
                "beyond_bound": cex.result.beyond_bound,
            },
        }


@attrs.frozen
class StreamTask:
    """One stream of the portfolio: what a worker needs to run it."""

    options: SearchOptions
    index: int
    seed: int
    budget: int
    deadline: float | None  # wall-clock time.time() after which to stop
    corpus: tuple[Draft, ...]  # interesting schedules inherited from earlier streams


@attrs.frozen
class StreamResult:
    index: int
    examples: int
    kinds: dict[str, tuple[int, int, int]]
    exercised: dict[str, int]
    features: frozenset[Hashable]
    corpus: tuple[Draft, ...]
    violation: Draft | None
    first_at: int  # examples in this stream up to and including the violation
    seconds: float


@attrs.frozen
class SearchOptions:
    """Everything that defines a search space, picklable for workers."""

    scenario: Scenario
    faults: int | None = None
    kinds: tuple[str, ...] | None = None
    max_actions: int = 6
    targets: tuple[int, ...] | None = None
    properties: tuple[str, ...] | None = None
    keep_adversaries: str = "auto"


@attrs.frozen
class _Found:
    """A violating draft, when it was found, and the searcher whose properties it breaks."""

    draft: Draft
    at: int  # schedules tried up to and including it
    seconds: float
    searcher: Searcher


@attrs.frozen
class _Effort:
    """How one search runs, shared by its phases: the seed, where streams run, what
    they sum into, whom to tell, and when it started."""

    seed: int
    jobs: int
    scheduler: str | None
    tally: _Tally
    progress: Progress | None
    start: float


@attrs.define
class _Tally:
    """What every stream of a search exercised, summed."""

    kinds: dict[str, KindStats]
    exercised: dict[str, int] = attrs.Factory(dict)
    features: set[Hashable] = attrs.Factory(set)
    examples: int = 0
    streams: int = 0

    def add(self, result: StreamResult) -> None:
        for name, (scheduled, applied, changed) in result.kinds.items():
            stats = self.kinds.setdefault(name, KindStats())
            stats.scheduled += scheduled
            stats.applied += applied
            stats.changed += changed
        for name, count in result.exercised.items():
            self.exercised[name] = self.exercised.get(name, 0) + count
        self.features.update(result.features)
        self.examples += result.examples
        self.streams += 1


# -- the searcher ----------------------------------------------------------------------------


class Searcher:
    """Runs schedules, composed with a scenario's own adversaries, and judges them."""

    def __init__(
        self,
        scenario: Scenario,
        model: FaultModel | None = None,
        *,
        properties: Sequence[str] | None = None,
        faults: int | None = None,
        kinds: Sequence[str] | None = None,
        max_actions: int = 6,
        targets: Sequence[int] | None = None,
        keep_adversaries: str = "auto",
        patience: float | None = None,
    ) -> None:
        #: the runs before the search (the scenario, its observation, the baseline) are
        #: stopped when projected to take longer than this (``bft.run.patience``)
        self.patience = patience
        if keep_adversaries not in ("auto", "all"):
            raise ConfigError(
                f"keep_adversaries must be 'auto' or 'all' (got {keep_adversaries!r})"
            )
        self.options = SearchOptions(
            scenario,
            faults,
            None if kinds is None else tuple(kinds),
            max_actions,
            None if targets is None else tuple(targets),
            None if properties is None else tuple(properties),
            keep_adversaries,
        )
        self.scenario = scenario
        self.prepared = runner.prepare(attrs.evolve(scenario, signatures="ideal"))
        self.original = self.prepared  # with every adversary of the scenario
        spec, params = self.prepared.spec, self.prepared.params
        declared = [p.name for p in spec.properties(params)]
        known = [*declared, "no-exceptions"]
        for name in properties or ():
            if name not in known:
                raise ConfigError(
                    f"unknown property {name!r} for protocol {spec.name!r}; "
                    f"available: {', '.join(known)}"
                )
        #: the properties whose violation counts: those named, or by default every
        #: property the protocol guarantees within its fault bound
        if not properties:
            properties = [p.name for p in spec.properties(params) if p.guaranteed]
            properties.append("no-exceptions")
        self.properties = tuple(properties)
        #: the scenario's adversaries the search replaces (see ``_keep``)
        self.replaced: tuple[str, ...] = ()
        #: properties the scenario violates as written, before any search
        self.scenario_violated: tuple[str, ...] = ()
        if self.prepared.adversary_configs:
            self._keep(keep_adversaries == "auto")
        self.runs = 0
        self._novelty = 0  # new coverage features of the last run (Hypothesis's target)
        observer = _Observer()
        observed = runner.execute(
            self.prepared,
            level="none",
            metrics=False,
            extra_adversaries=[observer],
            patience=patience,
        )
        active = {n: tuple(sorted(r)) for n, r in sorted(observer.active.items())}
        # the world the search explores already has these faults: nodes the scenario's own
        # adversaries made faulty, and nodes its environment froze for good (a poison)
        record = observed.record
        final = set(record.down[-1]) if record.down else set()
        frozen = {e.node for e in record.events_of("freeze") if e.node in final}
        spent = set(record.faulty) | frozen
        self.model = model or declared_model(
            spec,
            params,
            rounds=self.prepared.rounds,
            network=self.prepared.network,
            faults=faults,
            kinds=kinds,
            max_actions=max_actions,
            targets=targets,
            active=active,
            signed=observer.signed,
            spent=spent,
        )
        began = time.perf_counter()
        baseline = runner.execute(
            self.prepared_for(Schedule((), self.model)),
            level="none",
            metrics=False,
            patience=patience,
        )
        self.runs += 1
        self.run_seconds = time.perf_counter() - began  # what one schedule costs, roughly
        self.baseline = _outcome(baseline)
        self.baseline_beyond = baseline.beyond_bound
        self.baseline_violated = tuple(self.violated(baseline))

    def _keep(self, replace: bool) -> None:
        """Run the scenario as written first (a violation there needs no search). Then
        keep the adversaries that shape the world (storms, poison, load, network noise,
        faulty clients) and, when ``replace``, replace those that make nodes faulty within
        the protocol's fault budget (a traitor, a crashed replica): their faults are
        exactly what the search explores, so keeping them would leave it no budget."""
        prepared = self.prepared
        probe = runner.execute(prepared, level="none", metrics=False, patience=self.patience)
        counted = probe.beyond_bound is None or prepared.spec.beyond_bound(prepared.params)
        self.scenario_violated = tuple(
            name for name in probe.violated if name in self.properties and counted
        )
        if not replace:
            return
        tolerance = prepared.spec.tolerance(prepared.params)
        roles = prepared.spec.roles(prepared.params)
        kept: list[tuple[str, dict[str, Any]]] = []
        replaced: list[tuple[str, dict[str, Any]]] = []
        for config, nodes in zip(prepared.adversary_configs, probe.record.faulty_by, strict=True):
            budgeted = any(tolerance is None or tolerance.counts(roles[i]) for i in nodes)
            (replaced if budgeted else kept).append(config)
        self.prepared = attrs.evolve(prepared, adversary_configs=tuple(kept))
        self.replaced = tuple(name for name, _ in replaced)

    # -- runs --------------------------------------------------------------------------

    def prepared_for(self, schedule: Schedule) -> Prepared:
        configs = (*self.prepared.adversary_configs, ("schedule", schedule.adversary_params()))
        return attrs.evolve(self.prepared, adversary_configs=configs)

    def run(self, schedule: Schedule, level: str = "none") -> RunResult:
        self.runs += 1
        return runner.execute(self.prepared_for(schedule), level=level, metrics=level != "none")

    def violated(self, result: RunResult) -> list[str]:
        """The violated properties that count for this search: within the declared model
        (or the model the user chose, or the configuration the scenario itself is in)."""
        if (
            result.beyond_bound is not None
            and self.model.outside is None
            and result.beyond_bound != getattr(self, "baseline_beyond", None)
        ):
            return []
        return [name for name in result.violated if name in self.properties]

    def breaks(self, schedule: Schedule) -> bool:
        return bool(self.violated(self.run(schedule)))

    def minimize(self, schedule: Schedule) -> Schedule:
        """Delete actions one at a time while a property stays violated (1-minimal result)."""
        return one_minimal(schedule, self.breaks)

    def name_fields(self, schedule: Schedule) -> Schedule:
        """Replace field indexes by the field names they hit, where the schedule
        still fails that way (``field = "result"`` reads better than ``field = 34``)."""
        result = self.run(schedule)
        hit: dict[int, str] = {}
        for note in result.record.notes("schedule"):
            detail = note.detail.split(": ", 1)[-1]
            match = _FIELD_NOTE.match(detail)
            if match:
                hit.setdefault(int(match.group(1)) - 1, match.group(2))
        for index, action in enumerate(schedule.actions):
            if isinstance(action.field, int) and index in hit:
                named = attrs.evolve(action, field=hit[index])
                candidate = attrs.evolve(
                    schedule,
                    actions=schedule.actions[:index] + (named,) + schedule.actions[index + 1 :],
                )
                if self.breaks(candidate):
                    schedule = candidate
        return schedule

    # -- one stream ---------------------------------------------------------------------

    def stream(
        self, task: StreamTask, start_workers: Callable[[], None] | None = None
    ) -> StreamResult:
        """Run one stream of the portfolio (see the module docstring). ``start_workers``:
        called once, between two runs, when the stream has taken ``PARALLEL_AFTER``
        seconds (the first stream of a parallel search runs here; see
        ``parallel.ordered``)."""
        start = time.perf_counter()
        slow = [start_workers]
        model = self.model
        rng = random.Random(derive_seed("bft-search", task.seed, task.index))
        corpus: list[Draft] = list(task.corpus)
        busy: dict[Draft, tuple[int, ...]] = {}  # interesting draft -> rounds with traffic
        found_here: list[Draft] = []
        seen: set[Hashable] = set()
        kinds: dict[str, list[int]] = {k: [0, 0, 0] for k in model.usable_kinds()}
        exercised: dict[str, int] = {}
        state = {"examples": 0}
        usable = model.usable_kinds()

        def judge(draft: Draft) -> bool:
            """Run one schedule; True when it violates a counted property."""
            state["examples"] += 1
            schedule = decode(draft[0], model, draft[1])
            result = self.run(schedule)
            feats = features(result)
            novel = len(feats - seen)
            if novel:
                seen.update(feats)
                found_here.append(draft)
                corpus.append(draft)
                busy[draft] = tuple(r for r, counts in enumerate(result.record.sent) if counts)
            changed = divergence(result, self.baseline) > 0
            applied = applied_kinds(result)
            for kind in schedule.kinds():
                if kind in kinds:
                    kinds[kind][0] += 1
            for kind in applied:
                if kind in kinds:
                    kinds[kind][1] += 1
                    kinds[kind][2] += changed
            for name, verdict in result.verdicts.items():
                if verdict.exercised:
                    exercised[name] = exercised.get(name, 0) + 1
            self._novelty = novel
            if slow[0] is not None and time.perf_counter() - start > PARALLEL_AFTER:
                call, slow[0] = slow[0], None
                call()
            return bool(self.violated(result))

        def out_of_budget() -> bool:
            if state["examples"] >= task.budget:
                return True
            return task.deadline is not None and time.time() > task.deadline

        violation: Draft | None = None
        if usable and model.max_actions > 0:
            # the rotation goes on across streams (stream i starts where stream i-1 would
            # have gone on): a stream holds fewer phases than the portfolio has, and
            # starting each at phase 0 would never reach the last ones
            phase = task.index * -(-STREAM // PHASE)
            while violation is None and not out_of_budget():
                name = PHASES[phase % len(PHASES)]
                phase += 1
                left = min(PHASE, task.budget - state["examples"])
                if name == "hypothesis":
                    violation = self._hypothesis_phase(rng, left, judge, out_of_budget)
                    continue
                for _ in range(left):
                    if out_of_budget():
                        break
                    draft = (
                        self._random(rng)
                        if name == "random" or not corpus
                        else self._mutate(rng, corpus, busy)
                    )
                    if judge(draft):
                        violation = draft
                        break
        return StreamResult(
            task.index,
            state["examples"],
            {k: (v[0], v[1], v[2]) for k, v in kinds.items()},
            exercised,
            frozenset(seen),
            tuple(found_here[-64:]),
            violation,
            state["examples"],
            time.perf_counter() - start,
        )

    # -- generators ---------------------------------------------------------------------

    def _random(self, rng: random.Random) -> Draft:
        kinds = len(self.model.usable_kinds())
        disabled = rng.getrandbits(kinds) if rng.random() < 0.5 else 0
        return tuple(random_raw(self.model, rng)), disabled

    def _mutate(
        self, rng: random.Random, corpus: list[Draft], busy: Mapping[Draft, tuple[int, ...]]
    ) -> Draft:
        """A small random change to an interesting schedule (or two spliced together)."""
        recent = corpus[-16:]
        parent = rng.choice(recent) if rng.random() < 0.5 else rng.choice(corpus)
        raw, disabled = parent
        items = list(raw)
        bounds = (len(self.model.usable_kinds()) - 1, *raw_bounds(self.model))
        rounds = self.model.rounds
        for _ in range(1 + rng.randrange(3)):
            op = rng.randrange(8)
            if op == 7 and items and busy.get(parent):  # aim at a round busy in that run
                i = rng.randrange(len(items))
                changed = list(items[i])
                changed[2] = rounds + rng.choice(busy[parent])
                items[i] = tuple(changed)  # type: ignore[assignment]
                continue
            if op == 0 or not items:  # insert a random action
                if len(items) < self.model.max_actions:
                    items.insert(rng.randint(0, len(items)), random_raw(self.model, rng, 1)[0])
            elif op == 1 and len(items) > 1:  # delete one
                del items[rng.randrange(len(items))]
            elif op in (2, 3):  # one component to a random value, or one step up or down
                i, c = rng.randrange(len(items)), rng.randrange(6)
                changed = list(items[i])
                if op == 2:
                    changed[c] = rng.randint(0, bounds[c])
                else:
                    changed[c] = max(0, min(bounds[c], changed[c] + rng.choice((-1, 1))))
                items[i] = tuple(changed)  # type: ignore[assignment]
            elif op == 4 and len(items) < self.model.max_actions:  # duplicate, then vary
                i = rng.randrange(len(items))
                copy = list(items[i])
                c = rng.randrange(1, 6)
                copy[c] = rng.randint(0, bounds[c])
                items.insert(i + 1, tuple(copy))  # type: ignore[arg-type]
            elif op == 5:  # splice with another interesting schedule
                other = rng.choice(corpus)[0]
                cut = rng.randint(0, len(items))
                items = (items[:cut] + list(other[rng.randint(0, len(other)) :]))[
                    : self.model.max_actions
                ]
            else:  # switch one kind on or off for this schedule
                disabled ^= 1 << rng.randrange(max(1, len(self.model.usable_kinds())))
        return tuple(items) if items else tuple(random_raw(self.model, rng, 1)), disabled

    def _hypothesis_phase(
        self,
        rng: random.Random,
        budget: int,
        judge: Callable[[Draft], bool],
        out_of_budget: Callable[[], bool],
    ) -> Draft | None:
        """Hypothesis draws schedules, steered by ``target`` toward new coverage."""
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings, target
        from hypothesis import seed as hypothesis_seed

        from bft.search.strategies import raw_actions

        found: list[Draft] = []

        class _Found(Exception):  # noqa: N818 - a signal to stop Hypothesis
            pass

        def body(raw: tuple[int, list[RawAction]]) -> None:
            if found:  # Hypothesis replays the failing example to report it: fail again
                raise _Found
            if out_of_budget():
                return
            draft = (tuple(raw[1]), raw[0])
            if judge(draft):
                found.append(draft)
                raise _Found
            target(float(self._novelty), label="new coverage")

        test = settings(
            max_examples=max(1, budget),
            database=None,
            deadline=None,
            derandomize=False,
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            phases=(Phase.generate, Phase.target),
        )(hypothesis_seed(rng.getrandbits(64))(given(raw_actions(self.model))(body)))
        try:
            test()
        except _Found:
            pass
        except BaseExceptionGroup as group:  # Hypothesis may report a failure as a group
            if not found or group.split(_Found)[1] is not None:
                raise
        return found[0] if found else None

    # -- the search ------------------------------------------------------------------------

    def search(
        self,
        examples: int | None = 200,
        seconds: float | None = None,
        seed: int = 0,
        progress: Progress | None = None,
        *,
        jobs: int = 1,
        scheduler: str | None = None,
        shrink_seconds: float | None = None,
    ) -> SearchOutcome:
        if examples is None and seconds is None:
            examples = 200
        if examples is not None and examples < 1:
            raise ConfigError(f"--examples must be at least 1 (got {examples})")
        if examples is not None and examples > 100_000_000:
            raise ConfigError(f"--examples must be at most 100,000,000 (got {examples})")
        if seconds is not None and not (0 < seconds <= 7 * 86400 and math.isfinite(seconds)):
            raise ConfigError(
                f"--seconds must be a positive number of seconds, at most a week (got {seconds})"
            )
        if jobs < 1:
            raise ConfigError(f"--jobs must be at least 1 (got {jobs})")
        if seconds is None and examples is not None:
            self._check_duration(examples, jobs)
        start = time.perf_counter()
        wall_deadline = None if seconds is None else time.time() + seconds
        model = self.model
        tally = _Tally({k: KindStats() for k in model.usable_kinds()})
        effort = _Effort(seed, jobs, scheduler, tally, progress, start)
        found: _Found | None = None
        if self.scenario_violated or self.baseline_violated:
            # the scenario's own adversaries already break a property: no schedule needed
            found = _Found(((), 0), 0, 0.0, self)
        else:
            found = self._phase(self, examples, wall_deadline, effort)
            found = self._safety_first(found, examples, seconds, wall_deadline, effort)
        total = tally.examples
        counterexample: Counterexample | None = None
        if found is not None and self.scenario_violated:  # the scenario as written
            counterexample = self.counterexample(
                Schedule((), model),
                as_written=True,
                found_after=0,
                seconds_to_first=0.0,
                first_size=0,
                shrink_runs=0,
            )
        elif found is not None:
            (raw, disabled), first_at, first_time = found.draft, found.at, found.seconds
            judge = found.searcher  # shrinks while what it counts stays violated
            if progress is not None:
                progress(total, time.perf_counter() - start, "shrink")
            before = judge.runs
            budget = shrink_seconds if shrink_seconds is not None else max(10.0, (seconds or 0) / 2)
            minimal = shrink(
                raw, disabled, model, judge.breaks, deadline=time.perf_counter() + budget
            )
            minimal = judge.name_fields(minimal)
            counterexample = judge.counterexample(
                minimal,
                found_after=first_at,
                seconds_to_first=first_time,
                first_size=len(decode(raw, model, disabled)),
                shrink_runs=judge.runs - before,
            )
        return SearchOutcome(
            self.prepared,
            model,
            total,
            time.perf_counter() - start,
            counterexample,
            tally.kinds,
            tally.exercised,
            self.properties,
            jobs,
            len(tally.features),
            self.baseline_violated,
            self.replaced,
            self.scenario_violated,
        )

    def _phase(
        self,
        judge: Searcher,
        examples: int | None,
        deadline: float | None,
        effort: _Effort,
        corpus: tuple[Draft, ...] = (),
    ) -> _Found | None:
        """Run streams of the portfolio, judged by ``judge`` (this searcher, or one that
        counts fewer properties), until one finds a violation or the budget is spent."""
        seed, jobs, scheduler, tally = effort.seed, effort.jobs, effort.scheduler, effort.tally
        progress, start = effort.progress, effort.start
        results: list[StreamResult] = []
        behind = parallel.window(jobs)
        first_index = tally.streams
        base = tally.examples
        found: _Found | None = None

        def make_task(offset: int) -> StreamTask | None:
            if found is not None:
                return None
            planned = STREAM * offset
            if examples is not None and planned >= examples:
                return None
            if deadline is not None and time.time() > deadline:
                return None
            budget = STREAM if examples is None else min(STREAM, examples - planned)
            inherited = list(corpus)
            for earlier in results[: max(0, offset - behind)]:
                inherited.extend(earlier.corpus)
            return StreamTask(
                judge.options, first_index + offset, seed, budget, deadline, tuple(inherited[-256:])
            )

        if jobs > 1 and not scheduler:
            share_with_workers(judge)
        streams = parallel.ordered(
            _run_stream if jobs > 1 or scheduler else judge.stream,
            make_task,
            jobs=jobs,
            scheduler=scheduler,
            first_here=judge.stream,
        )
        try:
            for result in streams:
                results.append(result)
                tally.add(result)
                if result.violation is not None:
                    at = base + sum(r.examples for r in results[:-1]) + result.first_at
                    found = _Found(result.violation, at, time.perf_counter() - start, judge)
                if progress is not None:
                    progress(tally.examples, time.perf_counter() - start, "search")
                if found is not None:
                    break
        finally:
            close = getattr(streams, "close", None)
            if close is not None:
                close()
        return found

    def _check_duration(self, examples: int, jobs: int) -> None:
        """A budget in schedules with no time limit: refuse one that would run for more
        than a day here (a typo in --examples should not start a month-long search)."""
        per_run = max(self.run_seconds, 1e-6)
        if examples * per_run / jobs > 60:  # long enough to be worth a closer look
            # schedules with faults cost more than the fault-free run: time two of them
            rng = random.Random(derive_seed("bft-search-duration", examples))
            for _ in range(2):
                began = time.perf_counter()
                self.run(random_schedule(self.model, rng))
                per_run = max(per_run, time.perf_counter() - began)
        estimate = examples * per_run / jobs
        if estimate > MAX_UNTIMED_SEARCH:
            fits = int(MAX_UNTIMED_SEARCH * jobs / per_run)
            raise ConfigError(
                f"--examples {examples:,} would take about {estimate / 86400:,.1f} days here "
                f"({per_run * 1000:,.1f} ms a run, {jobs} job(s)); give --seconds T to bound "
                f"the time, or at most {fits:,} examples"
            )

    def _safety_first(
        self,
        found: _Found | None,
        examples: int | None,
        seconds: float | None,
        deadline: float | None,
        effort: _Effort,
    ) -> _Found | None:
        """A run that breaks only liveness may be the symptom of a safety bug (a primary
        that loses a quorum stalls before it forks). Before reporting it, search on for a
        violation of a safety property, around that run, for as long again as finding it
        took (at least 10 s and a third of a time budget, or 200 schedules), within the
        budget; report the liveness violation only if none turns up."""
        if found is None:
            return None
        safety = self.safety_properties()
        if not safety or set(safety) == set(self.properties):
            return found
        judge = worker_searcher(attrs.evolve(self.options, properties=safety))
        violated = self.violated(self.run(decode(found.draft[0], self.model, found.draft[1])))
        if any(name in safety for name in violated):
            # shrink it keeping a safety violation (else the shrinker may keep only the
            # liveness symptom)
            return attrs.evolve(found, searcher=judge)
        more: int | None
        if examples is not None:  # a budget in schedules: as many again, within it
            tried = effort.tally.examples
            more = min(max(200, tried), examples - tried)
            if more <= 0:
                return found
            phase_deadline = deadline
        else:  # a budget in time: as long again, within it
            more = None
            spent = time.perf_counter() - effort.start
            phase_deadline = time.time() + max(10.0, spent, (seconds or 0.0) / 3)
            if deadline is not None:
                phase_deadline = min(phase_deadline, deadline)
            if phase_deadline <= time.time():
                return found
        stronger = self._phase(judge, more, phase_deadline, effort, corpus=(found.draft,))
        return stronger or found

    def safety_properties(self) -> tuple[str, ...]:
        """The counted properties whose violation is definite evidence of a bug: safety
        properties and ``no-exceptions``."""
        spec, params = self.prepared.spec, self.prepared.params
        kinds = {p.name: p.kind for p in spec.properties(params)}
        return tuple(
            name
            for name in self.properties
            if name == "no-exceptions" or kinds.get(name) == "safety"
        )

    # -- counterexamples ---------------------------------------------------------------

    def document(self, schedule: Schedule, as_written: bool = False) -> dict[str, Any]:
        """The counterexample file's contents (without the [replay] table): the scenario
        with the adversaries the search kept (all of them, ``as_written``) and the schedule."""
        prepared = self.original if as_written else self.prepared
        original = self.scenario
        params = {k: to_plain(v) for k, v in prepared.params.items() if v is not None}
        network: dict[str, Any] = {"model": prepared.network.model}
        if prepared.network.model != "synchronous":
            network.update(gst=prepared.network.gst, delta=prepared.network.delta)
        adversaries = [
            {"name": name, **{k: to_plain(v) for k, v in cfg.items() if v is not None}}
            for name, cfg in prepared.adversary_configs
        ]
        if len(schedule):
            adversaries.append(
                {
                    "name": "schedule",
                    "faults": self.model.faults,
                    "actions": [a.to_dict() for a in schedule.actions],
                }
            )
        outside = (
            f"; outside the declared model: {self.model.outside}" if self.model.outside else ""
        )
        doc: dict[str, Any] = {
            "description": (
                f"counterexample found by 'bft check {original.name}': "
                f"{len(schedule)} action(s) under {self.model.describe()}{outside}"
            ),
            "protocol": prepared.spec.name,
            "seed": original.seed,
            "rounds": prepared.rounds,
            "signatures": original.signatures,
            "params": params,
            "network": network,
        }
        if original.environment:
            doc["environment"] = to_plain(dict(original.environment))
        doc["adversary"] = adversaries
        return doc

    def counterexample(
        self, schedule: Schedule, as_written: bool = False, **found: Any
    ) -> Counterexample:
        doc = self.document(schedule, as_written)
        cex_scenario = from_mapping(doc, f"{self.scenario.name}-counterexample")
        result = runner.run(cex_scenario, level="summary")
        violated = [name for name in result.violated if name in self.properties]
        if not violated:  # cannot happen for a deterministic run; say so loudly if it does
            raise RuntimeError(f"counterexample no longer fails when replayed: {schedule}")
        # a safety violation is the stronger finding: name it first
        definite = [name for name in violated if name in self.safety_properties()]
        name = (definite or violated)[0]
        witness = result.verdicts[name].witness or ""
        doc["replay"] = {
            "digest": result.digest,
            "level": "summary",
            "property": name,
            "witness": witness,
        }
        return Counterexample(schedule, cex_scenario, doc, result, name, witness, **found)


# -- workers ---------------------------------------------------------------------------------

_WORKER_SEARCHERS: dict[str, Searcher] = {}


def worker_searcher(options: SearchOptions) -> Searcher:
    """The searcher a worker process uses for ``options`` (built once per process)."""
    key = repr(options)  # options hold tables (unhashable); their repr names them exactly
    searcher = _WORKER_SEARCHERS.get(key)
    if searcher is None:
        o = options
        searcher = Searcher(
            o.scenario,
            properties=o.properties,
            faults=o.faults,
            kinds=o.kinds,
            max_actions=o.max_actions,
            targets=o.targets,
            keep_adversaries=o.keep_adversaries,
        )
        _WORKER_SEARCHERS.clear()
        _WORKER_SEARCHERS[key] = searcher
    return searcher


def share_with_workers(searcher: Searcher) -> None:
    """Let local workers, forked from this process, use ``searcher`` as it is instead of
    building their own (which runs the scenario three times first). Its state between
    streams is what a fresh one's would be: a stream reads the model and the baseline
    and leaves only scratch behind, so the answer does not change."""
    _WORKER_SEARCHERS.clear()
    _WORKER_SEARCHERS[repr(searcher.options)] = searcher


def _run_stream(task: StreamTask) -> StreamResult:
    """A worker runs one stream."""
    return worker_searcher(task.options).stream(task)


def search(
    scenario: Scenario,
    *,
    examples: int | None = 200,
    seconds: float | None = None,
    seed: int = 0,
    faults: int | None = None,
    kinds: Sequence[str] | None = None,
    max_actions: int = 6,
    targets: Sequence[int] | None = None,
    properties: Sequence[str] | None = None,
    progress: Progress | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    keep_adversaries: str = "auto",
) -> SearchOutcome:
    """Search ``scenario`` for a schedule within the fault model that violates a property
    (one of ``properties``, if given)."""
    searcher = Searcher(
        scenario,
        faults=faults,
        kinds=kinds,
        max_actions=max_actions,
        targets=targets,
        properties=properties,
        keep_adversaries=keep_adversaries,
    )
    return searcher.search(
        examples=examples,
        seconds=seconds,
        seed=seed,
        progress=progress,
        jobs=jobs,
        scheduler=scheduler,
    )


@attrs.frozen
class RandomOutcome:
    examples: int
    seconds: float
    schedule: Schedule | None  # the first failing schedule, unshrunk
    result: RunResult | None


def random_search(
    searcher: Searcher, examples: int, seed: int = 0, seconds: float | None = None
) -> RandomOutcome:
    """The baseline: uniformly random schedules in the same fault model, no shrinking
    (random network and process faults, as ByzzFuzz injects them)."""
    rng = random.Random(derive_seed("bft-random-search", seed))
    start = time.perf_counter()
    for index in range(examples):
        if seconds is not None and time.perf_counter() - start > seconds:
            return RandomOutcome(index, time.perf_counter() - start, None, None)
        schedule = random_schedule(searcher.model, rng)
        result = searcher.run(schedule)
        if searcher.violated(result):
            return RandomOutcome(index + 1, time.perf_counter() - start, schedule, result)
    return RandomOutcome(examples, time.perf_counter() - start, None, None)


def run_schedule(
    schedule: Schedule,
    scenario: Scenario | None = None,
    *,
    protocol: str | None = None,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> RunResult:
    """Run one schedule: on top of ``scenario`` (and its own adversaries), or against the
    protocol and parameters of the schedule's fault model (as ``bft.schedules`` makes them)."""
    model = schedule.model
    if scenario is None:
        name = protocol or model.protocol
        if name is None:
            raise ConfigError("run_schedule(): give a scenario or a protocol name")
        network: dict[str, Any] = {"model": model.network.model}
        if model.network.model != "synchronous":
            network.update(gst=model.network.gst, delta=model.network.delta)
        scenario = Scenario(
            name=f"{name}-schedule",
            protocol=name,
            seed=seed,
            rounds=model.rounds,
            signatures="ideal",
            params={k: v for k, v in (params or model.params).items() if v is not None},
            network=network,
        )
    scenario = attrs.evolve(
        scenario, rounds=scenario.rounds if scenario.rounds is not None else model.rounds
    )
    prepared = runner.prepare(scenario)
    configs = (*prepared.adversary_configs, ("schedule", schedule.adversary_params()))
    return runner.execute(attrs.evolve(prepared, adversary_configs=configs))
