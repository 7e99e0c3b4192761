"""Turning a lab's case templates into scenarios, and the search's variables.

A case's values may hold ``{var}`` placeholders: a whole-string placeholder
keeps the variable's type (``seed = "{seed}"`` is an int), others are filled
into the text (``"traitor:nodes={traitor}"``). The grader fills ``{attack}``
(the student's adversary) and the search fills the variables it draws.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

from bft.core.errors import ConfigError
from bft.run import scenario
from bft.tools.labs.config import Case, LabConfig

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(value: Any, env: Mapping[str, Any]) -> Any:
    """Substitute ``{var}`` in strings, lists and tables."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in env:
            return env[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: text(env.get(m.group(1), m.group(0))), value)
    if isinstance(value, list | tuple):
        return [fill(v, env) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, env) for k, v in value.items()}
    return value


def text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ",".join(text(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def merge(case: Case, over: Case) -> Case:
    """``case`` with the twin's changes: its params merged in, its other fields replacing."""
    return Case(
        {**case.params, **over.params},
        over.adversaries if over.adversaries else case.adversaries,
        over.seed if over.seed != 0 else case.seed,
        over.rounds if over.rounds is not None else case.rounds,
        over.signatures or case.signatures,
        over.network if over.network is not None else case.network,
        over.environment if over.environment is not None else case.environment,
        over.protocol or case.protocol,
    )


def build(
    lab: LabConfig, case: Case, protocol: str, env: Mapping[str, Any], label: str
) -> scenario.Scenario:
    """The scenario for ``case`` under ``protocol`` (or the protocol the case names: an
    adversary lab's check may run the attack on another installed protocol), with the
    lab's defaults."""
    if case.protocol is not None and lab.kind != "adversary":
        raise ConfigError(
            f"{lab.path / 'lab.toml'}: {label}: only an adversary lab's case may name a protocol"
        )
    data: dict[str, Any] = {
        "protocol": case.protocol or protocol,
        "description": label,
        "seed": fill(case.seed, env),
        "signatures": case.signatures or lab.signatures,
        "params": {**lab.params, **fill(dict(case.params), env)},
        "network": dict(case.network if case.network is not None else lab.network),
        "environment": dict(case.environment if case.environment is not None else lab.environment),
    }
    if not isinstance(data["seed"], int):
        raise ConfigError(f"{lab.path / 'lab.toml'}: {label}: seed must be an int")
    if case.rounds is not None:
        data["rounds"] = fill(case.rounds, env)
    adversaries = []
    for item in fill(list(case.adversaries), env):
        config = scenario.parse_adversary(str(item))
        if config.name != "none":
            adversaries.append({"name": config.name, **config.params})
    data["adversary"] = adversaries
    return scenario.from_mapping(data, f"{lab.path.name}: {label}")


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))


def scenario_toml(scn: scenario.Scenario) -> str:
    """The scenario as TOML a person can read: one line per value, arrays and tables
    inline (``tomli_w``, which writes counterexample files, puts every array element on
    a line of its own, which reads badly in a grader's report)."""
    lines = [f"protocol = {_toml(scn.protocol)}", f"seed = {scn.seed}"]
    if scn.rounds is not None:
        lines.append(f"rounds = {scn.rounds}")
    for table in ("params", "network", "environment"):
        values = {k: v for k, v in dict(getattr(scn, table)).items() if v is not None}
        if values:
            lines.append(f"[{table}]")
            lines.extend(f"{k} = {_toml(v)}" for k, v in values.items())
    for adversary in scn.adversaries:
        lines.append("[[adversary]]")
        lines.append(f"name = {_toml(adversary.name)}")
        lines.extend(f"{k} = {_toml(v)}" for k, v in adversary.params.items() if v is not None)
    return "\n".join(lines)


def _bound(value: Any, drawn: Mapping[str, Any]) -> int:
    """An int, a variable name, or 'var-k' / 'var+k'."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\w+)\s*(?:([+-])\s*(\d+))?\s*", str(value))
    if not match or match.group(1) not in drawn:
        raise ConfigError(f"search bound {value!r}: expected an int, a variable or 'var-k'")
    base = int(drawn[match.group(1)])
    if match.group(2):
        base += int(match.group(3)) * (1 if match.group(2) == "+" else -1)
    return base


def variables(spec: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A strategy for the search variables, drawn in order (later bounds may name earlier
    ones): ``{range = [lo, hi]}``, a list of choices, or ``{subset_of = N, min, max}``."""

    @st.composite
    def draw(data: Callable[..., Any]) -> dict[str, Any]:
        drawn: dict[str, Any] = {}
        for name, item in spec.items():
            if isinstance(item, dict) and "range" in item:
                lo, hi = (_bound(v, drawn) for v in item["range"])
                drawn[name] = data(st.integers(lo, max(lo, hi)))
            elif isinstance(item, list) and item:
                drawn[name] = data(st.sampled_from(item))
            elif isinstance(item, dict) and "subset_of" in item:
                size = _bound(item["subset_of"], drawn)
                lo = _bound(item.get("min", 0), drawn)
                hi = _bound(item.get("max", size), drawn)
                drawn[name] = sorted(
                    data(
                        st.lists(
                            st.integers(0, size - 1), min_size=lo, max_size=max(lo, hi), unique=True
                        )
                    )
                )
            else:
                raise ConfigError(
                    f"search variable {name!r}: expected {{range = [lo, hi]}}, a list of "
                    "choices, or {subset_of = ..., min = ..., max = ...}"
                )
        return drawn

    return draw()
