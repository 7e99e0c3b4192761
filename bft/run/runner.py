"""Run a scenario: resolve names, validate everything, run the engine, judge.

``prepare`` does all validation before anything runs (so bad input fails with
one clear line); ``execute`` runs the engine and evaluates every property and
metric; ``run`` does both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from bft.core import registry
from bft.core.adversary import Adversary
from bft.core.encoding import to_plain
from bft.core.engine import Engine
from bft.core.environment import Environment
from bft.core.errors import (
    BftError,
    ConfigError,
    Interrupted,
    PluginError,
    describe_exception,
    shorten,
)
from bft.core.network import Network
from bft.core.params import resolve
from bft.core.properties import NO_EXCEPTIONS, Property, Verdict, describe_nodes
from bft.core.protocol import Params, ProtocolSpec
from bft.core.record import RunRecord
from bft.core.trace import NullSink, TraceSink
from bft.run.budget import check_size
from bft.run.patience import watched
from bft.run.scenario import Scenario


@attrs.frozen
class Prepared:
    scenario: Scenario
    spec: ProtocolSpec
    params: dict[str, Any]
    n: int
    rounds: int
    network: Network
    environment: Environment
    adversary_configs: tuple[tuple[str, dict[str, Any]], ...]

    def make_adversaries(self) -> list[Adversary]:
        return [registry.adversary(name)(**params) for name, params in self.adversary_configs]


@attrs.frozen
class RunResult:
    prepared: Prepared
    record: RunRecord
    metrics: dict[str, float | None]
    verdicts: dict[str, Verdict]
    properties: dict[str, Property]
    digest: str
    beyond_bound: str | None

    @property
    def ok(self) -> bool:
        return all(v.holds for v in self.verdicts.values())

    @property
    def violated(self) -> list[str]:
        return [name for name, v in self.verdicts.items() if not v.holds]

    def to_json(self) -> dict[str, Any]:
        prepared = self.prepared
        return {
            "scenario": prepared.scenario.name,
            "protocol": prepared.spec.name,
            "params": to_plain(prepared.params),
            "adversaries": [
                {
                    "name": name,
                    "params": {k: to_plain(v) for k, v in params.items() if v is not None},
                }
                for name, params in prepared.adversary_configs
            ],
            "network": attrs.asdict(prepared.network),
            "seed": prepared.scenario.seed,
            "rounds": prepared.rounds,
            "signatures": prepared.scenario.signatures,
            "metrics": self.metrics,
            "properties": {
                name: {
                    "holds": verdict.holds,
                    "kind": self.properties[name].kind,
                    "witness": verdict.witness,
                    "exercised": verdict.exercised,
                }
                for name, verdict in self.verdicts.items()
            },
            "corrupted": sorted(self.record.corrupted),
            "crashed": sorted(self.record.crashed),
            "refused": [e.detail for e in self.record.refused],
            "adversary_errors": [e.detail for e in self.record.adversary_errors],
            "beyond_bound": self.beyond_bound,
            "digest": self.digest,
        }


def plugin_call(owner: str, what: str, call: Callable[[], Any]) -> Any:
    """``call()``, with any exception from plug-in code turned into one ``PluginError``
    line naming the plug-in (a ``BftError`` it raises on purpose passes through)."""
    try:
        return call()
    except (Interrupted, BftError):
        raise
    except Exception as exc:  # noqa: BLE001 - the plug-in's bug, named as such
        raise PluginError(
            f"{owner}: {what} raised {describe_exception(exc)} (a bug in the plug-in)"
        ) from None


def prepare(scenario: Scenario) -> Prepared:
    """Resolve and validate every part of ``scenario`` without running it."""
    spec_cls = registry.protocol(scenario.protocol)
    owner = f"protocol {scenario.protocol!r}"
    spec: ProtocolSpec = plugin_call(owner, "its constructor", spec_cls)
    declared = [p.name for p in spec.params]
    params = resolve(
        f"protocol {spec.name!r}", spec.params, scenario.params_for(spec.name, declared)
    )
    plugin_call(owner, "check()", lambda: spec.check(params))
    n = plugin_call(owner, "node_count()", lambda: spec.node_count(params))
    if type(n) is not int or n < 1:
        raise PluginError(f"{owner}: node_count() must return an integer >= 1 (got {n!r:.40})")
    if scenario.rounds is not None:
        rounds = scenario.rounds
    else:
        rounds = plugin_call(owner, "default_rounds()", lambda: spec.default_rounds(params))
    if type(rounds) is not int or rounds < 1:
        raise ConfigError(f"rounds must be at least 1 (got {rounds})")
    check_size(f"protocol {spec.name!r}", n, rounds, all_to_all=spec.all_to_all)
    network = Network.from_mapping(scenario.network)
    environment = Environment.from_mapping(
        {**spec.environment_defaults(params), **scenario.environment}
    )
    configs = []
    for config in scenario.adversaries:
        cls = registry.adversary(config.name)
        resolved = resolve(f"adversary {config.name!r}", cls.params, config.params)
        # constructing validates parameter combinations
        plugin_call(f"adversary {config.name!r}", "its constructor", lambda: cls(**resolved))  # noqa: B023
        configs.append((config.name, resolved))
    return Prepared(scenario, spec, params, n, rounds, network, environment, tuple(configs))


def execute(
    prepared: Prepared,
    trace_path: str | Path | None = None,
    level: str | None = None,
    *,
    metrics: bool = True,
    extra_adversaries: Sequence[Adversary] = (),
    patience: float | None = None,
) -> RunResult:
    """Run ``prepared`` and judge it. ``level="none"`` keeps no trace and no digest and
    ``metrics=False`` skips the protocol's metrics: what a search needs, and no more.
    ``patience``: stop with ``TooLong`` a run projected to take longer than that many
    seconds (``bft.run.patience``; the command line's runs)."""
    scenario = prepared.scenario
    level = level or ("full" if trace_path else scenario.trace)
    sink = NullSink() if level == "none" else TraceSink(level, trace_path)
    sink.header(
        scenario=scenario.name,
        protocol=prepared.spec.name,
        params=to_plain(prepared.params),
        adversaries=[[name, to_plain(params)] for name, params in prepared.adversary_configs],
        network=attrs.asdict(prepared.network),
        environment=to_plain(attrs.asdict(prepared.environment)),
        seed=scenario.seed,
        rounds=prepared.rounds,
        signatures=scenario.signatures,
    )
    engine = engine_for(prepared, sink, extra_adversaries)
    owner = f"scenario {scenario.name!r}"
    with watched(lambda: (engine.next_round, engine.rounds), owner, patience):
        engine.run()
    result = result_of(prepared, engine, metrics=metrics)
    if trace_path is not None:
        append_verdicts(trace_path, result)
    return result


def engine_for(prepared: Prepared, sink: TraceSink, extra: Sequence[Adversary] = ()) -> Engine:
    """The engine that runs ``prepared`` (not started)."""
    return Engine(
        prepared.spec,
        prepared.params,
        seed=prepared.scenario.seed,
        rounds=prepared.rounds,
        network=prepared.network,
        environment=prepared.environment,
        adversaries=[*prepared.make_adversaries(), *extra],
        signatures=prepared.scenario.signatures,
        sink=sink,
    )


def result_of(prepared: Prepared, engine: Engine, *, metrics: bool = True) -> RunResult:
    """Judge a finished run: every property, the metrics, and the fault model."""
    record = engine.record
    properties = {p.name: p for p in [*prepared.spec.properties(prepared.params), NO_EXCEPTIONS]}
    verdicts = {name: judge(prepared.spec, prop, record) for name, prop in properties.items()}
    values: dict[str, float | None] = {
        "messages": record.messages,
        "deliveries": record.delivered,
        "dropped": record.dropped,
        "delayed": record.delayed,
        "lost": record.lost,
        "rejected": record.rejected,
        "refused": len(record.refused),
        "signatures": engine.keys.signatures,
        "verifications": engine.keys.verifications,
    }
    if metrics:
        values.update(_plugin_metrics(prepared.spec, record, prepared.params))
    beyond = beyond_model(prepared.spec, prepared.params, record)
    return RunResult(prepared, record, values, verdicts, properties, engine.sink.digest, beyond)


def judge(spec: ProtocolSpec, prop: Property, record: RunRecord) -> Verdict:
    """``prop``'s verdict on ``record``; a property that raises or returns something
    else than a ``Verdict`` is a bug in the plug-in, reported as one clear line."""
    try:
        verdict = prop.check(record)
    except (Interrupted, BftError):
        raise
    except Exception as exc:  # noqa: BLE001 - the plug-in's bug, named as such
        raise PluginError(
            f"protocol {spec.name!r}: property {prop.name!r} raised {describe_exception(exc)} "
            "(a bug in the protocol plug-in's property, not a verdict)"
        ) from None
    if not isinstance(verdict, Verdict):
        raise PluginError(
            f"protocol {spec.name!r}: property {prop.name!r} returned {shorten(repr(verdict))} "
            "instead of a Verdict (use Verdict.ok(), Verdict.violated(witness) or "
            "Verdict.vacuous(why))"
        )
    return verdict


def _plugin_metrics(spec: ProtocolSpec, record: RunRecord, params: Params) -> dict[str, Any]:
    try:
        metrics = spec.metrics(record, params)
    except (Interrupted, BftError):
        raise
    except Exception as exc:  # noqa: BLE001
        raise PluginError(
            f"protocol {spec.name!r}: metrics() raised {describe_exception(exc)} (a bug in the plug-in)"
        ) from None
    if not isinstance(metrics, dict) or not all(isinstance(k, str) for k in metrics):
        raise PluginError(
            f"protocol {spec.name!r}: metrics() must return a dict of name -> number "
            f"(got {shorten(repr(metrics))})"
        )
    return metrics


def beyond_model(spec: ProtocolSpec, params: Params, record: RunRecord) -> str | None:
    """Why this run lies outside what the protocol claims to tolerate (None: inside).

    Outside means: the configuration itself is beyond the protocol's bound
    (``spec.beyond_bound``), or the adversaries made more nodes faulty than the
    protocol's ``Tolerance`` allows, made a node Byzantine where only crashes are
    tolerated, made faulty a node whose role may not be, or ran on a network model
    the claim does not cover.
    """
    reasons = []
    configured = spec.beyond_bound(params)
    if configured:
        reasons.append(configured)
    tolerance = spec.tolerance(params)
    if tolerance is not None:
        roles = record.roles
        counted = sorted(i for i in record.faulty if tolerance.counts(roles[i]))
        if len(counted) > tolerance.faults:
            reasons.append(
                f"{len(counted)} faulty nodes ({', '.join(map(str, counted))}) exceed the "
                f"{tolerance.faults} that {spec.name} tolerates ({tolerance.describe()})"
            )
        byzantine = sorted(i for i in record.corrupted if tolerance.counts(roles[i]))
        if tolerance.kind == "crash" and byzantine:
            reasons.append(
                f"{spec.name} tolerates crash faults only, but {describe_nodes(byzantine)} "
                f"{'was' if len(byzantine) == 1 else 'were'} corrupted (Byzantine)"
            )
        barred = sorted(i for i in record.faulty if not tolerance.allows_role(roles[i]))
        if barred:
            reasons.append(
                f"{describe_nodes(barred)} with role "
                f"{', '.join(sorted({roles[i] for i in barred}))} may not be faulty in "
                f"{spec.name}'s model ({tolerance.describe()})"
            )
        if record.network.model not in tolerance.networks:
            reasons.append(
                f"{spec.name} claims nothing for the {record.network.model} network model "
                f"(only {', '.join(tolerance.networks)})"
            )
    return "; ".join(reasons) or None


def append_verdicts(trace_path: str | Path, result: RunResult) -> None:
    """Append one final ``verdicts`` line to a trace file (for ``bft show``).

    Written after the trace is closed, so it is not part of the digest: the
    digest identifies what happened, this line records how it was judged.
    """
    from bft.core.encoding import dumps

    record = result.record
    line = {
        "r": result.prepared.rounds,
        "ev": "verdicts",
        "n": record.n,
        "roles": list(record.roles),
        "corrupted": sorted(record.corrupted),
        "crashed": sorted(record.crashed),
        "properties": {
            name: {
                "holds": v.holds,
                "kind": result.properties[name].kind,
                "witness": v.witness,
                "exercised": v.exercised,
                **({} if v.round is None else {"round": v.round}),
                **({"nodes": list(v.nodes)} if v.nodes else {}),
            }
            for name, v in result.verdicts.items()
        },
        "metrics": to_plain(result.metrics),
        "beyond_bound": result.beyond_bound,
        "digest": result.digest,
    }
    with open(trace_path, "a", encoding="utf-8") as handle:
        handle.write(dumps(line) + "\n")


def run(
    scenario: Scenario,
    trace_path: str | Path | None = None,
    level: str | None = None,
    *,
    patience: float | None = None,
) -> RunResult:
    return execute(prepare(scenario), trace_path, level, patience=patience)
