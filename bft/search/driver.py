"""The search driver: find, shrink and record the schedule that breaks a protocol.

Theory of operation. A search takes a scenario (protocol, parameters, network,
seed) and a fault model, replaces the scenario's adversaries by a ``schedule``
adversary, and asks Hypothesis for schedules (``bft.search.strategies``). Each
schedule is one deterministic run; every property of the protocol (and the
built-in ``no-exceptions``) is checked. The first run that violates a property
is shrunk by Hypothesis (deleting and simplifying actions), then reduced
greedily until it is *1-minimal*: removing any single remaining action makes
every property hold again. The minimal schedule becomes a counterexample file:
the scenario with the explicit schedule and a ``[replay]`` table recording the
trace digest, which ``bft replay`` checks.

Budgets: ``examples`` schedules and/or ``seconds`` of wall time. The search
runs Hypothesis in chunks of at most ``CHUNK`` examples, each with a seed
derived from the search seed, so a time budget can stop between chunks and the
whole search is reproducible for a given seed and example budget. Restarting
also helps: with 200 examples, chunks of 100 found two planted bugs in 19 of
20 seeds where one run of 200 found them in 13 (benchmarks/README.md). Searches run
with the ideal signature functionality (same behaviour, a fraction of the
cost; the trace digest does not depend on the signature mode).

Guidance and statistics: each run's observable outcome (outputs and protocol
bugs) is compared with the fault-free run's; the number of differing events is
given to Hypothesis's ``target`` and each action kind that took effect (the
schedule adversary leaves a note when one does) to ``event``. The same counts
are kept for the report: per kind, how often it was scheduled, took effect,
and took effect in a run whose outcome changed.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from hypothesis import HealthCheck, Phase, Verbosity, event, given, settings, target
from hypothesis import seed as hypothesis_seed

from bft.core.adversary import Adversary, TrafficControl
from bft.core.encoding import dumps, to_plain
from bft.core.engine import Engine, derive_seed
from bft.core.errors import ConfigError
from bft.run import runner
from bft.run.runner import Prepared, RunResult
from bft.run.scenario import Scenario, from_mapping
from bft.search.schedule import (
    GENERATED_KINDS,
    FaultModel,
    Schedule,
    decode,
    random_schedule,
)
from bft.search.strategies import raw_actions

CHUNK = 100
PHASES = (Phase.generate, Phase.target, Phase.shrink)
_FIELD_NOTE = re.compile(r"(?:^|: )(?:mutate|equivocate) #(\d+): .*\(\w+\.(\w+) .* -> .*\)$")
Progress = Callable[[int, float, str], None]


class _Violation(Exception):  # noqa: N818 - a signal to Hypothesis, caught by the driver
    def __init__(self, schedule: Schedule, result: RunResult) -> None:
        super().__init__(f"{result.violated} violated by {schedule}")
        self.schedule = schedule
        self.result = result


@attrs.define
class KindStats:
    scheduled: int = 0
    applied: int = 0
    changed: int = 0


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
            "fault_model": self.model.to_dict(),
            "examples": self.examples,
            "seconds": round(self.seconds, 3),
            "schedules_per_second": round(self.examples / self.seconds, 1)
            if self.seconds
            else None,
            "exercised": {k: attrs.asdict(v) for k, v in self.kinds.items()},
            "properties_exercised": self.exercised,
            "properties_checked": list(self.properties),
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


def _outcome(result: RunResult) -> dict[int, frozenset[str]]:
    """Each node's observable events (outputs, protocol bugs), canonically encoded."""
    record = result.record
    out: dict[int, set[str]] = {}
    for o in record.outputs:
        out.setdefault(o.node, set()).add(dumps([o.round, o.name, to_plain(dict(o.data))]))
    for e in record.bugs:
        if e.node is not None:
            out.setdefault(e.node, set()).add(dumps(["bug", e.round]))
    return {node: frozenset(events) for node, events in out.items()}


def divergence(result: RunResult, baseline: Mapping[int, frozenset[str]]) -> int:
    """How many observable events of this run's honest nodes differ from the baseline's."""
    outcome = _outcome(result)
    empty: frozenset[str] = frozenset()
    return sum(
        len(outcome.get(node, empty) ^ baseline.get(node, empty))
        for node in sorted(result.record.honest)
    )


def applied_kinds(result: RunResult) -> set[str]:
    """Action kinds of the schedule adversary that took effect in this run."""
    out = set()
    for note in result.record.notes("schedule"):
        what = note.detail.split(": ", 1)[-1]
        out.add(what.split(" ", 1)[0])
    return out


def one_minimal(schedule: Schedule, fails: Callable[[Schedule], bool]) -> Schedule:
    """Greedily delete single actions while ``fails`` stays true.

    Hypothesis's shrinker usually gets there on its own but does not promise it;
    this pass makes the promise: removing any one action of the result makes
    ``fails`` false.
    """
    changed = True
    while changed:
        changed = False
        for index in range(len(schedule)):
            smaller = schedule.without(index)
            if fails(smaller):
                schedule, changed = smaller, True
                break
    return schedule


class _Observer(Adversary):
    """Watches a fault-free run: which node sends in which rounds."""

    name = "observer"
    summary = "records which nodes send in which rounds (used by the search)"
    intercepts = True

    def __init__(self) -> None:
        super().__init__()
        self.active: dict[int, set[int]] = {}

    def on_traffic(self, ctl: TrafficControl) -> None:
        for env in ctl.envelopes:
            self.active.setdefault(env.src, set()).add(ctl.round)


def activity(prepared: Prepared) -> dict[int, tuple[int, ...]]:
    """Node -> the rounds in which it sends messages in the fault-free run."""
    observer = _Observer()
    scenario = prepared.scenario
    Engine(
        prepared.spec,
        prepared.params,
        seed=scenario.seed,
        rounds=prepared.rounds,
        network=prepared.network,
        environment=prepared.environment,
        adversaries=[observer],
        signatures="ideal",
    ).run()
    return {node: tuple(sorted(rounds)) for node, rounds in sorted(observer.active.items())}


def fault_model_for(
    prepared: Prepared,
    faults: int | None = None,
    *,
    active: Mapping[int, tuple[int, ...]] | None = None,
    kinds: Sequence[str] | None = None,
    max_actions: int = 6,
    targets: Sequence[int] | None = None,
) -> FaultModel:
    """The fault model for a prepared scenario: its network and rounds, and ``faults``
    faulty nodes (default: as many as the protocol claims to tolerate, else 1)."""
    if faults is None:
        tolerance = prepared.spec.tolerance(prepared.params)
        faults = 1 if tolerance is None else tolerance.faults
    if faults < 0:
        raise ConfigError(f"--faults must be >= 0 (got {faults})")
    if faults > prepared.n:
        raise ConfigError(f"--faults {faults} exceeds the number of nodes ({prepared.n})")
    return FaultModel(
        n=prepared.n,
        rounds=prepared.rounds,
        faults=faults,
        network=prepared.network,
        kinds=tuple(kinds) if kinds else GENERATED_KINDS,
        max_actions=max_actions,
        targets=None if targets is None else tuple(targets),
        protocol=prepared.spec.name,
        params=dict(prepared.params),
        active=dict(active or {}),
    )


class Searcher:
    """Runs schedules against one prepared scenario."""

    def __init__(
        self,
        scenario: Scenario,
        model: FaultModel | None = None,
        *,
        properties: Sequence[str] | None = None,
        **model_options: Any,
    ) -> None:
        base = attrs.evolve(scenario, adversaries=(), signatures="ideal")
        self.scenario = scenario
        self.prepared = runner.prepare(base)
        declared = self.prepared.spec.properties(self.prepared.params)
        known = [p.name for p in declared]
        known.append("no-exceptions")
        for name in properties or ():
            if name not in known:
                raise ConfigError(
                    f"unknown property {name!r} for protocol {self.prepared.spec.name!r}; "
                    f"available: {', '.join(known)}"
                )
        #: the properties whose violation counts: those named, or by default every
        #: property the protocol guarantees within its fault bound
        if not properties:
            properties = [p.name for p in declared if p.guaranteed] + ["no-exceptions"]
        self.properties = tuple(properties)
        self.model = model or fault_model_for(
            self.prepared, active=activity(self.prepared), **model_options
        )
        self.runs = 0
        self.baseline = _outcome(self.run(Schedule((), self.model)))

    def run(self, schedule: Schedule) -> RunResult:
        self.runs += 1
        prepared = attrs.evolve(
            self.prepared, adversary_configs=(("schedule", schedule.adversary_params()),)
        )
        return runner.execute(prepared, level="summary")

    def violated(self, result: RunResult) -> list[str]:
        """The violated properties that count for this search."""
        return [name for name in result.violated if name in self.properties]

    def breaks(self, schedule: Schedule) -> bool:
        return bool(self.violated(self.run(schedule)))

    # -- minimality ------------------------------------------------------------------------

    def minimize(self, schedule: Schedule) -> Schedule:
        """Delete actions one at a time while a property stays violated (1-minimal result)."""
        return one_minimal(schedule, self.breaks)

    def name_fields(self, schedule: Schedule) -> Schedule:
        """Replace field indexes by the field names they hit, where the schedule
        still fails that way (``field = "result"`` reads better than ``field = 34``)."""
        result = self.run(schedule)
        hit: dict[int, str] = {}
        for note in result.record.notes("schedule"):
            match = _FIELD_NOTE.search(note.detail)
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

    # -- the search ------------------------------------------------------------------------

    def search(
        self,
        examples: int | None = 200,
        seconds: float | None = None,
        seed: int = 0,
        progress: Progress | None = None,
    ) -> SearchOutcome:
        if examples is None and seconds is None:
            examples = 200
        if examples is not None and examples < 1:
            raise ConfigError(f"--examples must be at least 1 (got {examples})")
        if seconds is not None and not (seconds > 0 and math.isfinite(seconds)):
            raise ConfigError(f"--seconds must be a positive number (got {seconds})")
        model = self.model
        kinds = {k: KindStats() for k in model.usable_kinds()}
        exercised: dict[str, int] = {}
        start = time.perf_counter()
        stop_at = None if seconds is None else start + seconds
        state: dict[str, Any] = {"examples": 0, "first": None, "shrink_runs": 0}
        strategy = raw_actions(model)

        def body(raw: tuple[int, list[tuple[int, int, int, int, int, int]]]) -> None:
            schedule = decode(raw[1], model, raw[0])
            generating = state["first"] is None
            if generating:
                if stop_at is not None and time.perf_counter() > stop_at:
                    return
                if examples is not None and state["examples"] >= examples:
                    return
                state["examples"] += 1
            else:
                state["shrink_runs"] += 1
            result = self.run(schedule)
            changed = divergence(result, self.baseline)
            applied = applied_kinds(result)
            target(float(changed), label="outcome events changed")
            for kind in sorted(applied):
                event(f"{kind} took effect")
            if generating:
                for kind in schedule.kinds():
                    if kind in kinds:
                        kinds[kind].scheduled += 1
                for kind in applied:
                    if kind in kinds:
                        kinds[kind].applied += 1
                        kinds[kind].changed += changed > 0
                for name, verdict in result.verdicts.items():
                    if verdict.exercised:
                        exercised[name] = exercised.get(name, 0) + 1
                if progress is not None:
                    progress(state["examples"], time.perf_counter() - start, "search")
            elif progress is not None:
                progress(state["examples"], time.perf_counter() - start, "shrink")
            if self.violated(result):
                if state["first"] is None:
                    state["first"] = (state["examples"], time.perf_counter() - start, len(schedule))
                raise _Violation(schedule, result)

        found: _Violation | None = None
        chunk_index = 0
        while found is None:
            left = None if examples is None else examples - state["examples"]
            if left is not None and left <= 0:
                break
            if stop_at is not None and time.perf_counter() > stop_at:
                break
            size = CHUNK if left is None else min(CHUNK, left)
            before = state["examples"]
            test = settings(
                max_examples=size,
                database=None,
                deadline=None,
                derandomize=False,
                suppress_health_check=list(HealthCheck),
                report_multiple_bugs=False,
                verbosity=Verbosity.quiet,
                phases=PHASES,
            )(hypothesis_seed(derive_seed("bft-search", seed, chunk_index))(given(strategy)(body)))
            chunk_index += 1
            try:
                test()
            except _Violation as exc:
                found = exc
            if state["examples"] == before and found is None:
                break  # the strategy has nothing new to offer (e.g. no usable kinds)
        counterexample = None
        if found is not None:
            minimal = self.name_fields(self.minimize(found.schedule))
            first_at, first_time, first_size = state["first"]
            counterexample = self.counterexample(
                minimal,
                found_after=first_at,
                seconds_to_first=first_time,
                first_size=first_size,
                shrink_runs=state["shrink_runs"],
            )
        return SearchOutcome(
            self.prepared,
            model,
            state["examples"],
            time.perf_counter() - start,
            counterexample,
            kinds,
            exercised,
            self.properties,
        )

    # -- counterexamples ---------------------------------------------------------------

    def document(self, schedule: Schedule) -> dict[str, Any]:
        """The counterexample file's contents (without the [replay] table)."""
        prepared = self.prepared
        original = self.scenario
        params = {k: to_plain(v) for k, v in prepared.params.items() if v is not None}
        network = {"model": prepared.network.model}
        if prepared.network.model != "synchronous":
            network.update(gst=prepared.network.gst, delta=prepared.network.delta)
        adversary: dict[str, Any] = {"name": "schedule", "faults": self.model.faults}
        adversary["actions"] = [a.to_dict() for a in schedule.actions]
        doc: dict[str, Any] = {
            "description": (
                f"counterexample found by 'bft check {original.name}': "
                f"{len(schedule)} action(s) under {self.model.describe()}"
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
        doc["adversary"] = [adversary]
        return doc

    def counterexample(self, schedule: Schedule, **found: Any) -> Counterexample:
        doc = self.document(schedule)
        cex_scenario = from_mapping(doc, f"{self.scenario.name}-counterexample")
        result = runner.run(cex_scenario, level="summary")
        violated = self.violated(result)
        if not violated:  # cannot happen for a deterministic run; say so loudly if it does
            raise RuntimeError(f"counterexample no longer fails when replayed: {schedule}")
        name = violated[0]
        witness = result.verdicts[name].witness or ""
        doc["replay"] = {
            "digest": result.digest,
            "level": "summary",
            "property": name,
            "witness": witness,
        }
        return Counterexample(schedule, cex_scenario, doc, result, name, witness, **found)


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
    )
    return searcher.search(examples=examples, seconds=seconds, seed=seed, progress=progress)


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
    """Run one schedule: against ``scenario``, or against the protocol and parameters
    of the schedule's fault model (as ``bft.search.strategies.schedules`` makes them)."""
    model = schedule.model
    if scenario is None:
        name = protocol or model.protocol
        if name is None:
            raise ConfigError("run_schedule(): give a scenario or a protocol name")
        network = {"model": model.network.model}
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
        scenario,
        adversaries=(),
        rounds=scenario.rounds if scenario.rounds is not None else model.rounds,
    )
    prepared = runner.prepare(scenario)
    prepared = attrs.evolve(
        prepared, adversary_configs=(("schedule", schedule.adversary_params()),)
    )
    return runner.execute(prepared)
