"""Scenario files: everything that determines a run, in TOML, validated up front.

```toml
description = "OM(1) with four generals and one traitorous lieutenant"
protocol = "om"
seed = 1
rounds = 3            # optional: the protocol's default otherwise
signatures = "real"   # or "ideal"

[params]              # the protocol's parameters
n = 4
m = 1

[network]             # synchronous | partial-synchrony | lossy
model = "synchronous"

[environment]         # capacity, overload and poison models

[[adversary]]         # zero or more, composed in order
name = "traitor"
nodes = [-1]          # negative ids count from the end
```

Protocol-specific parameters may sit in a sub-table ``[params.PROTOCOL]``;
they apply only when that protocol runs, so one scenario (a login storm, say)
can be run against several protocols with ``--protocol``. A counterexample
file is a scenario with an explicit schedule adversary and a ``[replay]``
table recording the trace digest.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from bft.core.errors import ConfigError, choices, shorten, unknown
from bft.core.params import MAX_INT
from bft.run import data as packaged

TOP_LEVEL = (
    "description",
    "protocol",
    "seed",
    "rounds",
    "signatures",
    "trace",
    "params",
    "network",
    "environment",
    "adversary",
    "replay",
)


@attrs.frozen
class AdversaryConfig:
    name: str
    params: Mapping[str, Any] = attrs.Factory(dict)

    def label(self) -> str:
        if not self.params:
            return self.name
        inner = ",".join(f"{k}={_fmt(v)}" for k, v in self.params.items())
        return f"{self.name}:{inner}"


def _fmt(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ",".join(_fmt(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@attrs.frozen
class Scenario:
    name: str
    protocol: str
    description: str = ""
    seed: int = 0
    rounds: int | None = None
    signatures: str = "real"
    trace: str = "summary"
    params: Mapping[str, Any] = attrs.Factory(dict)
    protocol_params: Mapping[str, Mapping[str, Any]] = attrs.Factory(dict)
    network: Mapping[str, Any] = attrs.Factory(dict)
    environment: Mapping[str, Any] = attrs.Factory(dict)
    adversaries: tuple[AdversaryConfig, ...] = ()
    replay: Mapping[str, Any] = attrs.Factory(dict)
    protocol_overridden: bool = False
    overrides: Mapping[str, Any] = attrs.Factory(dict)  # --param values: always applied

    def params_for(self, protocol: str, declared: Sequence[str]) -> dict[str, Any]:
        """Parameters for ``protocol``: common ones (filtered if the protocol was switched)
        overlaid with the protocol's own sub-table."""
        common = dict(self.params)
        if self.protocol_overridden:
            common = {k: v for k, v in common.items() if k in declared}
        common.update(self.protocol_params.get(protocol, {}))
        common.update(self.overrides)
        return common


def _expect(source: str, field: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) and kind is int or not isinstance(value, kind):
        raise ConfigError(f"{source}: field {field!r} must be {what} (got {value!r})")
    return value


def from_mapping(data: Mapping[str, Any], name: str, source: str | None = None) -> Scenario:
    """Validate a parsed scenario; every error names the file, the field and the fix."""
    source = source or name
    for key in data:
        if key not in TOP_LEVEL:
            raise ConfigError(
                f"{source}: unknown field {key!r}; valid fields: {choices(TOP_LEVEL)}"
            )
    if "protocol" not in data:
        raise ConfigError(
            f"{source}: missing field 'protocol' (the protocol to run; see 'bft list protocols')"
        )
    protocol = _expect(source, "protocol", data["protocol"], str, "a protocol name")
    seed = _expect(source, "seed", data.get("seed", 0), int, "an integer")
    rounds = data.get("rounds")
    if rounds is not None:
        _expect(source, "rounds", rounds, int, "an integer")
        if rounds < 1:
            raise ConfigError(f"{source}: field 'rounds' must be at least 1 (got {rounds})")
    signatures = _expect(
        source, "signatures", data.get("signatures", "real"), str, "'real' or 'ideal'"
    )
    if signatures not in ("real", "ideal"):
        raise ConfigError(
            f"{source}: field 'signatures' must be 'real' or 'ideal' (got {signatures!r})"
        )
    trace = data.get("trace", "summary")
    if trace not in ("summary", "full"):
        raise ConfigError(f"{source}: field 'trace' must be 'summary' or 'full' (got {trace!r})")
    params = dict(_expect(source, "params", data.get("params", {}), dict, "a table"))
    protocol_params = {k: dict(v) for k, v in params.items() if isinstance(v, dict)}
    params = {k: v for k, v in params.items() if not isinstance(v, dict)}
    network = dict(_expect(source, "network", data.get("network", {}), dict, "a table"))
    environment = dict(_expect(source, "environment", data.get("environment", {}), dict, "a table"))
    raw_adversaries = _expect(
        source, "adversary", data.get("adversary", []), list, "an array of tables ([[adversary]])"
    )
    adversaries = []
    for index, item in enumerate(raw_adversaries):
        if not isinstance(item, dict) or "name" not in item:
            raise ConfigError(
                f"{source}: adversary #{index + 1} needs a 'name' (see 'bft list adversaries')"
            )
        adversaries.append(
            AdversaryConfig(str(item["name"]), {k: v for k, v in item.items() if k != "name"})
        )
    replay = dict(_expect(source, "replay", data.get("replay", {}), dict, "a table"))
    return Scenario(
        name=name,
        protocol=protocol,
        description=str(data.get("description", "")),
        seed=seed,
        rounds=rounds,
        signatures=signatures,
        trace=trace,
        params=params,
        protocol_params=protocol_params,
        network=network,
        environment=environment,
        adversaries=tuple(adversaries),
        replay=replay,
    )


def available() -> list[str]:
    """Names of the packaged scenarios and those plug-ins ship (``bft.scenarios``)."""
    return list(packaged.scenario_files())


def load(name_or_path: str) -> Scenario:
    """Load a scenario by name (packaged or from a plug-in) or by path to a TOML file."""
    path = Path(name_or_path)
    if name_or_path.endswith(".toml") or not packaged.is_name(name_or_path):
        try:
            exists = path.is_file()
        except (OSError, ValueError) as exc:  # a name too long, a NUL byte...
            raise ConfigError(
                f"scenario {shorten(name_or_path)!r} is neither a scenario name nor a readable "
                f"file ({type(exc).__name__}: {shorten(str(exc), 60)})"
            ) from None
        if not exists:
            raise ConfigError(f"scenario file {shorten(name_or_path)!r} does not exist")
    else:
        named = packaged.scenario_files()
        if name_or_path not in named:
            raise unknown("scenario", name_or_path, named)
        path = named[name_or_path]
    return from_mapping(read_toml(path), path.stem, str(path))


#: the largest scenario, sweep, lab or counterexample file read (a real one is a few KB)
MAX_FILE_BYTES = 4 * 1024 * 1024


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's contents, or one ``ConfigError`` line saying what is wrong with it:
    unreadable, too large, not UTF-8, malformed, nested too deeply, or holding an
    integer too large for any field."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                f"{path}: {size:,} bytes is too large for a bft file (at most {MAX_FILE_BYTES:,})"
            )
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a bft file") from None
    _check_shape(data, str(path))
    return data


def _check_shape(value: Any, where: str, depth: int = 0) -> None:
    """Refuse nesting deeper than any bft file needs and integers beyond 2**53."""
    if depth > 12:
        raise ConfigError(f"{where}: values nested more than 12 levels deep")
    if isinstance(value, dict):
        for item in value.values():
            _check_shape(item, where, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_shape(item, where, depth + 1)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise ConfigError(
            f"{where}: the integer {shorten(str(value), 30)} is too large (at most 2**53)"
        )


def with_overrides(
    scenario: Scenario,
    *,
    protocol: str | None = None,
    params: Mapping[str, Any] | None = None,
    adversaries: Sequence[AdversaryConfig] | None = None,
    seed: int | None = None,
    rounds: int | None = None,
    signatures: str | None = None,
) -> Scenario:
    """A copy of ``scenario`` with command-line overrides applied."""
    changes: dict[str, Any] = {}
    if protocol is not None and protocol != scenario.protocol:
        changes["protocol"] = protocol
        changes["protocol_overridden"] = True
    if params:
        changes["overrides"] = {**scenario.overrides, **params}
    if adversaries is not None:
        changes["adversaries"] = tuple(a for a in adversaries if a.name != "none")
    if seed is not None:
        if abs(seed) > MAX_INT:
            raise ConfigError(
                f"--seed must be between -2**53 and 2**53 (got {shorten(str(seed), 30)})"
            )
        changes["seed"] = seed
    if rounds is not None:
        if rounds < 1:
            raise ConfigError(f"--rounds must be at least 1 (got {rounds})")
        changes["rounds"] = rounds
    if signatures is not None:
        changes["signatures"] = signatures
    return attrs.evolve(scenario, **changes)


def parse_adversary(text: str) -> AdversaryConfig:
    """Parse ``NAME[:key=value,...]`` from the command line."""
    from bft.core.params import parse_named

    name, params = parse_named(text, "--adversary")
    return AdversaryConfig(name, params)
