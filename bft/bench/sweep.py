"""Sweep definitions: which runs a benchmark comparison makes.

Theory of operation. A sweep is a base scenario, a list of *protocol entries*
(a registered protocol under a label, with optional parameter and environment
overrides: "pbft monoculture" and "pbft diverse" are one protocol with two
``variants`` settings), a list of *adversary entries* (a label and zero or
more composed adversaries, or the base scenario's own ones) and a list of
seeds. Its *cells* are the cartesian product protocols x adversaries, in
that order; each cell runs once per seed, and each run is a pure function of
its resolved configuration and seed (docs/theory.md: everything replays). A run's storage
key hashes that resolved configuration (scenario name, protocol, every
parameter after defaults, network, environment, adversaries, rounds,
signatures), the seed and the code version, so a result is reused exactly
when re-running would reproduce it.

A sweep comes from a sweep file (TOML, recognised by its ``scenario`` field,
which scenario files never have) or from the command line (a base scenario
plus ``--protocols``/``--adversaries``/``--seeds``)::

    description = "OM(m) against the classic faults"
    scenario = "byzantine-generals"   # the base: network, rounds, parameters
    seeds = 10                        # seeds 0..9; or a list [1, 5, 9]
    metrics = ["messages", "rejected"]
    skip_unavailable = false          # true: drop unregistered names with a note
    rounds = 10                       # optional: override the scenario's rounds
    signatures = "ideal"              # optional: "real" (Ed25519) or "ideal"

    [params]                          # common (another protocol than the scenario's ignores unknown ones)
    value = 1
    [params.om]                       # parameters for one protocol only
    m = 1

    [[protocol]]
    label = "OM(1), n=4"
    name = "om"
    params = { n = 4, m = 1 }

    [[adversary]]
    label = "traitorous commander"
    name = "traitor"
    nodes = [0]

    [[adversary]]
    label = "crash + partition"
    compose = ["crash:nodes=[1]", "partition:nodes=[2],at=2,until=5"]
    network = { model = "partial-synchrony", gst = 5 }   # lets the partition drop messages

Short forms: ``protocols = ["om", "om:n=7,m=2"]`` and ``adversaries =
["none", "traitor:nodes=[0]", "crash+traitor"]`` (``+`` composes; ``none`` is
fault-free; ``scenario`` keeps the base scenario's adversaries).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from bft.core import registry
from bft.core.encoding import to_plain
from bft.core.errors import ConfigError, choices, unknown
from bft.core.params import parse_named, split_top
from bft.run import runner
from bft.run import scenario as scenarios
from bft.run.data import data_dir
from bft.run.scenario import AdversaryConfig, Scenario

SWEEP_DIR = data_dir("sweeps")
DEFAULT_SEEDS = 5
MAX_RUNS = 1_000_000
SWEEP_FIELDS = (
    "description",
    "scenario",
    "seeds",
    "metrics",
    "rounds",
    "signatures",
    "params",
    "skip_unavailable",
    "protocol",
    "protocols",
    "adversary",
    "adversaries",
)
KEEP = "scenario"  # adversary entry name: keep the base scenario's adversaries


@attrs.frozen
class ProtocolEntry:
    """A row of the matrix: a registered protocol (None: the scenario's) with overrides."""

    label: str
    name: str | None
    params: Mapping[str, Any] = attrs.Factory(dict)
    environment: Mapping[str, Any] = attrs.Factory(dict)


@attrs.frozen
class AdversaryEntry:
    """A column of the matrix: composed adversaries (None: the base scenario's own).

    ``network`` overrides the scenario's network model for this column: a
    partition needs a model that lets the adversary drop messages.
    """

    label: str
    configs: tuple[AdversaryConfig, ...] | None
    network: Mapping[str, Any] = attrs.Factory(dict)


@attrs.frozen
class Cell:
    """One protocol x adversary combination, resolved and validated (or why it cannot run)."""

    index: int
    protocol: ProtocolEntry
    adversary: AdversaryEntry
    scenario: Scenario
    protocol_name: str
    config: Mapping[str, Any] | None
    error: str | None = None
    # ``config`` as canonical JSON (sorted keys, no spaces): what is stored and hashed.
    config_text: str = attrs.field(default="null", eq=False, repr=False)

    def key(self, seed: int, code_version: str) -> str:
        """The storage key of this cell's run with ``seed`` under ``code_version``: SHA-256
        of the canonical JSON of ``{"code": ..., "config": ..., "seed": ...}`` (written out
        here, keys in sorted order, so that the configuration is encoded once per cell)."""
        blob = (
            f'{{"code":{json.dumps(code_version)},"config":{self.config_text},"seed":{int(seed)}}}'
        )
        return hashlib.sha256(blob.encode()).hexdigest()


@attrs.frozen
class Sweep:
    name: str
    scenario: Scenario
    protocols: tuple[ProtocolEntry, ...]
    adversaries: tuple[AdversaryEntry, ...]
    seeds: tuple[int, ...]
    description: str = ""
    metrics: tuple[str, ...] = ()
    unavailable: tuple[str, ...] = ()  # entries dropped because a name is not registered

    @property
    def runs(self) -> int:
        return len(self.protocols) * len(self.adversaries) * len(self.seeds)

    def cells(self) -> list[Cell]:
        """Every cell, each validated with ``bft.run.runner.prepare`` before anything runs."""
        out: list[Cell] = []
        for p in self.protocols:
            for a in self.adversaries:
                out.append(_make_cell(len(out), self.scenario, p, a))
        return out


def _make_cell(index: int, base: Scenario, p: ProtocolEntry, a: AdversaryEntry) -> Cell:
    sc = scenarios.with_overrides(
        base,
        protocol=p.name,
        params=dict(p.params) or None,
        adversaries=None if a.configs is None else list(a.configs),
    )
    if p.environment:
        sc = attrs.evolve(sc, environment={**sc.environment, **p.environment})
    if a.network:
        sc = attrs.evolve(sc, network={**sc.network, **a.network})
    try:
        prepared = runner.prepare(sc)
    except ConfigError as exc:
        return Cell(index, p, a, sc, sc.protocol, None, str(exc))
    config = {
        "scenario": sc.name,
        "protocol": prepared.spec.name,
        "params": to_plain(dict(prepared.params)),
        "rounds": prepared.rounds,
        "network": to_plain(attrs.asdict(prepared.network)),
        "environment": to_plain(attrs.asdict(prepared.environment)),
        "adversaries": [
            [name, to_plain(dict(params))] for name, params in prepared.adversary_configs
        ],
        "signatures": sc.signatures,
        "trace": sc.trace,
    }
    # Round-trip through JSON so the stored form and the hashed form are the same.
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return Cell(index, p, a, sc, prepared.spec.name, json.loads(text), None, text)


# -- parsing ------------------------------------------------------------------------


def split_specs(text: str) -> list[str]:
    """Split a comma-separated list of ``NAME[:k=v,...]`` specs.

    A part without ``:`` that contains ``=`` continues the previous spec, so
    ``"crash:nodes=[1,2],at=3,traitor"`` is two specs.
    """
    out: list[str] = []
    for part in split_top(text):
        if out and ":" not in part.split("=", 1)[0] and "=" in part and ":" in out[-1]:
            out[-1] = f"{out[-1]},{part}"
        else:
            out.append(part)
    return out


def parse_protocol(text: str) -> ProtocolEntry:
    """``NAME`` or ``NAME:param=value,...`` (protocol parameters)."""
    name, params = parse_named(text, "protocol", key="param")
    return ProtocolEntry(text.strip(), name, params)


def parse_adversary(text: str) -> AdversaryEntry:
    """``none``, ``scenario``, or specs ``NAME[:k=v,...]`` joined by ``+``."""
    text = text.strip()
    if text == KEEP:
        return AdversaryEntry(text, None)
    configs = [scenarios.parse_adversary(part) for part in text.split("+")]
    return AdversaryEntry(text, tuple(c for c in configs if c.name != "none"))


SEED_LIMIT = 2**63  # seeds are stored as SQLite's 64-bit signed integers
FASTEST_RUN = 0.001  # seconds: no run is faster, so a sweep of N runs takes at least N ms


def _duration(seconds: float) -> str:
    units = (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60))
    for unit, size in units:
        if seconds >= size:
            return f"{seconds / size:,.1f} {unit}"
    return f"{seconds:.1f} seconds"


def too_many(what: str, count: int) -> ConfigError:
    """The error for a sweep of more than ``MAX_RUNS`` runs, saying how long it would take."""
    return ConfigError(
        f"{what}: {count:,} runs, more than the {MAX_RUNS:,} a sweep may have "
        f"(even at {FASTEST_RUN * 1000:g} ms a run that is {_duration(count * FASTEST_RUN)}); "
        "use fewer seeds or split the sweep"
    )


MAX_ROUNDS = 1_000_000
FASTEST_ROUNDS = 100_000  # rounds a second: no protocol runs faster on the engine


def check_rounds(rounds: int | None, source: str = "--rounds") -> None:
    """At most ``MAX_ROUNDS`` rounds a run (a bigger value is a typo or a run of days)."""
    if rounds is not None and rounds > MAX_ROUNDS:
        raise ConfigError(
            f"{source} {rounds:,}: more than the {MAX_ROUNDS:,} rounds a run may have "
            f"(even at {FASTEST_ROUNDS:,} rounds a second one run would take "
            f"{_duration(rounds / FASTEST_ROUNDS)})"
        )


def parse_seeds(value: Any, source: str = "--seeds") -> tuple[int, ...]:
    """An int N (seeds 0..N-1), ``"A..B"`` (inclusive), ``"1,5,9"`` or a list of ints.

    Sizes are checked before anything is built: at most ``MAX_RUNS`` seeds, each a
    64-bit signed integer.
    """
    bad = ConfigError(f"{source}: expected N, A..B or a list like 1,5,9 (got {value!r})")
    if isinstance(value, str):
        text = value.strip()
        if ".." in text:
            lo_text, _, hi_text = text.partition("..")
            try:
                lo, hi = int(lo_text), int(hi_text)
            except ValueError:
                raise bad from None
            if hi - lo + 1 > MAX_RUNS:
                raise too_many(f"{source} {text}", hi - lo + 1)
            seeds = tuple(range(lo, hi + 1))
        else:
            try:
                parts = [int(p) for p in text.split(",") if p.strip()]
            except ValueError:
                raise bad from None
            if len(parts) == 1 and "," not in text:
                return parse_seeds(parts[0], source)
            seeds = tuple(parts)
    elif isinstance(value, bool):
        raise ConfigError(f"{source}: expected a number of seeds or a list (got {value!r})")
    elif isinstance(value, int):
        if value < 0:
            raise ConfigError(f"{source}: the number of seeds must be >= 0 (got {value})")
        if value > MAX_RUNS:
            raise too_many(f"{source} {value}", value)
        seeds = tuple(range(value))
    elif isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        if len(value) > MAX_RUNS:
            raise too_many(source, len(value))
        seeds = tuple(value)
    else:
        raise ConfigError(f"{source}: expected a number of seeds or a list of ints (got {value!r})")
    outside = [s for s in seeds if not -SEED_LIMIT <= s < SEED_LIMIT]
    if outside:
        raise ConfigError(
            f"{source}: seed {outside[0]} is out of range (seeds are 64-bit signed integers, "
            f"{-SEED_LIMIT} to {SEED_LIMIT - 1})"
        )
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{source}: seeds repeat (got {value!r})")
    return seeds


def _protocol_from_table(source: str, index: int, item: Any) -> ProtocolEntry:
    if isinstance(item, str):
        return parse_protocol(item)
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise ConfigError(
            f"{source}: protocol #{index + 1} needs a 'name' (see 'bft list protocols')"
        )
    extra = set(item) - {"name", "label", "params", "environment"}
    if extra:
        raise ConfigError(
            f"{source}: protocol #{index + 1} has unknown field(s) {choices(extra)}; "
            f"valid: 'name', 'label', 'params', 'environment'"
        )
    for field in ("params", "environment"):
        if not isinstance(item.get(field, {}), dict):
            raise ConfigError(f"{source}: protocol #{index + 1} field {field!r} must be a table")
    return ProtocolEntry(
        str(item.get("label", item["name"])),
        item["name"],
        dict(item.get("params", {})),
        dict(item.get("environment", {})),
    )


def _adversary_from_table(source: str, index: int, item: Any) -> AdversaryEntry:
    if isinstance(item, str):
        return parse_adversary(item)
    if not isinstance(item, dict):
        raise ConfigError(f"{source}: adversary #{index + 1} must be a table or a string")
    network = item.get("network", {})
    if not isinstance(network, dict):
        raise ConfigError(
            f"{source}: adversary #{index + 1} field 'network' must be a table, "
            'e.g. { model = "partial-synchrony", gst = 100 }'
        )
    item = {k: v for k, v in item.items() if k != "network"}
    if "compose" in item:
        parts = item["compose"]
        if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
            raise ConfigError(
                f"{source}: adversary #{index + 1} 'compose' must be a list of 'NAME:k=v' strings"
            )
        configs = [scenarios.parse_adversary(p) for p in parts]
        label = str(item.get("label", "+".join(parts)))
        return AdversaryEntry(label, tuple(c for c in configs if c.name != "none"), network)
    if not isinstance(item.get("name"), str):
        raise ConfigError(
            f"{source}: adversary #{index + 1} needs a 'name' or 'compose' (see 'bft list adversaries')"
        )
    name = item["name"]
    label = str(item.get("label", name))
    if name == KEEP:
        return AdversaryEntry(label, None, network)
    params = {k: v for k, v in item.items() if k not in ("name", "label")}
    if name == "none":
        return AdversaryEntry(label, (), network)
    return AdversaryEntry(label, (AdversaryConfig(name, params),), network)


def _check_names(
    protocols: list[ProtocolEntry],
    adversaries: list[AdversaryEntry],
    skip_unavailable: bool,
) -> tuple[list[ProtocolEntry], list[AdversaryEntry], list[str]]:
    known_p = registry.names("protocol")
    known_a = registry.names("adversary")
    notes: list[str] = []
    kept_p = []
    for p in protocols:
        if p.name is not None and p.name not in known_p:
            if not skip_unavailable:
                raise unknown("protocol", p.name, known_p)
            notes.append(f"protocol {p.label!r}: {p.name!r} is not registered")
            continue
        kept_p.append(p)
    kept_a = []
    for a in adversaries:
        missing = [c.name for c in a.configs or () if c.name not in known_a]
        if missing:
            if not skip_unavailable:
                raise unknown("adversary", missing[0], known_a)
            notes.append(
                f"adversary {a.label!r}: {', '.join(repr(m) for m in missing)} not registered"
            )
            continue
        kept_a.append(a)
    return kept_p, kept_a, notes


def _dedupe_labels(kind: str, labels: Sequence[str]) -> None:
    seen = set()
    for label in labels:
        if label in seen:
            raise ConfigError(f"two {kind} entries have the label {label!r}; give each its own")
        seen.add(label)


def build(
    base: Scenario,
    protocols: Sequence[ProtocolEntry] | None = None,
    adversaries: Sequence[AdversaryEntry] | None = None,
    seeds: Sequence[int] | None = None,
    *,
    name: str = "",
    description: str = "",
    metrics: Sequence[str] = (),
    skip_unavailable: bool = False,
    unavailable: Sequence[str] = (),
) -> Sweep:
    """A validated sweep. Defaults: the scenario's protocol and adversaries, 5 seeds."""
    plist = list(protocols) if protocols is not None else [ProtocolEntry(base.protocol, None)]
    alist = list(adversaries) if adversaries is not None else [AdversaryEntry(KEEP, None)]
    plist, alist, notes = _check_names(plist, alist, skip_unavailable)
    notes = [*unavailable, *notes]
    seeds = tuple(seeds) if seeds is not None else tuple(range(DEFAULT_SEEDS))
    _dedupe_labels("protocol", [p.label for p in plist])
    _dedupe_labels("adversary", [a.label for a in alist])
    if not plist or not alist or not seeds:
        empty = [
            what
            for what, items in (("protocols", plist), ("adversaries", alist), ("seeds", seeds))
            if not items
        ]
        why = f"; unavailable: {'; '.join(notes)}" if notes else ""
        raise ConfigError(f"empty sweep: no {' and no '.join(empty)} to run{why}")
    total = len(plist) * len(alist) * len(seeds)
    if total > MAX_RUNS:
        raise too_many(
            f"the sweep ({len(plist)} protocols x {len(alist)} adversaries x {len(seeds)} seeds)",
            total,
        )
    return Sweep(
        name or base.name,
        base,
        tuple(plist),
        tuple(alist),
        seeds,
        description,
        tuple(metrics),
        tuple(notes),
    )


def available() -> list[str]:
    """Names of the sweep files shipped in ``benchmarks/sweeps/``."""
    if not SWEEP_DIR.is_dir():
        return []
    return sorted(p.stem for p in SWEEP_DIR.glob("*.toml"))


def is_sweep_file(data: Mapping[str, Any]) -> bool:
    return "scenario" in data


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None


def from_mapping(data: Mapping[str, Any], name: str, source: str) -> Sweep:
    """Validate a parsed sweep file."""
    for key in data:
        if key not in SWEEP_FIELDS:
            raise ConfigError(
                f"{source}: unknown field {key!r}; valid fields: {choices(SWEEP_FIELDS)}"
            )
    base_name = data["scenario"]
    if not isinstance(base_name, str):
        raise ConfigError(f"{source}: field 'scenario' must be a scenario name or path")
    skip = data.get("skip_unavailable", False)
    if not isinstance(skip, bool):
        raise ConfigError(f"{source}: field 'skip_unavailable' must be true or false")
    raw_p = [*data.get("protocols", []), *data.get("protocol", [])]
    raw_a = [*data.get("adversaries", []), *data.get("adversary", [])]
    protocols = [_protocol_from_table(source, i, item) for i, item in enumerate(raw_p)] or None
    adversaries = [_adversary_from_table(source, i, item) for i, item in enumerate(raw_a)] or None
    try:
        base = scenarios.load(base_name)
    except ConfigError as exc:
        if not skip:
            raise ConfigError(f"{source}: {exc}") from None
        _, _, notes = _check_names(protocols or [], adversaries or [], True)
        missing = "; ".join([f"scenario {base_name!r} not found", *notes])
        others = [n for n in available() if n != name]
        hint = f"; other sweeps: {', '.join(others)}" if others else ""
        raise ConfigError(f"{source}: nothing to run: {missing}{hint}") from None
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError(f"{source}: field 'params' must be a table")
    rounds = data.get("rounds")
    signatures = data.get("signatures")
    if rounds is not None and (not isinstance(rounds, int) or isinstance(rounds, bool)):
        raise ConfigError(f"{source}: field 'rounds' must be an integer (got {rounds!r})")
    check_rounds(rounds, f"{source}: field 'rounds'")
    if signatures is not None and signatures not in ("real", "ideal"):
        raise ConfigError(f"{source}: field 'signatures' must be 'real' or 'ideal'")
    # Sweep-level parameters are common ones: a protocol that does not declare one ignores it.
    # A sub-table [params.PROTOCOL] applies to that protocol only, as in scenario files.
    common = {k: v for k, v in params.items() if not isinstance(v, dict)}
    own = dict(base.protocol_params)
    for proto, table in params.items():
        if isinstance(table, dict):
            own[proto] = {**own.get(proto, {}), **table}
    base = attrs.evolve(base, params={**base.params, **common}, protocol_params=own)
    base = scenarios.with_overrides(base, rounds=rounds, signatures=signatures)
    metrics = data.get("metrics", [])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise ConfigError(f"{source}: field 'metrics' must be a list of metric names")
    seeds = parse_seeds(data["seeds"], f"{source}: field 'seeds'") if "seeds" in data else None
    description = data.get("description", "")
    return build(
        base,
        protocols,
        adversaries,
        seeds,
        name=name,
        description=str(description),
        metrics=metrics,
        skip_unavailable=skip,
    )


def load(name_or_path: str) -> Sweep | Scenario:
    """A sweep (a sweep file, by name or path) or a scenario to use as the base of one."""
    path = Path(name_or_path)
    if name_or_path.endswith(".toml") or path.is_file():
        if not path.is_file():
            raise ConfigError(f"file {name_or_path!r} does not exist")
        data = _read_toml(path)
        if is_sweep_file(data):
            return from_mapping(data, path.stem, str(path))
        return scenarios.from_mapping(data, path.stem, str(path))
    sweep_path = SWEEP_DIR / f"{name_or_path}.toml"
    if sweep_path.is_file():
        return from_mapping(_read_toml(sweep_path), name_or_path, str(sweep_path))
    if name_or_path in scenarios.available():
        return scenarios.load(name_or_path)
    raise unknown("sweep or scenario", name_or_path, [*available(), *scenarios.available()])
