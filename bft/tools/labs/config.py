"""A lab's configuration (``lab.toml``), read into frozen values and validated up front.

A lab is a directory ``labs/NN-slug/`` with a ``README.md``, the skeleton the
student copies and edits, and ``lab.toml``::

    title = "..."
    kind = "protocol" | "adversary" | "function"
    skeleton = "om1.py"            # the file the student edits
    answers = "answers.toml"       # optional: written answers, next to the solution
    requires = ["protocol:om"]     # what must be installed
    properties = [...]             # the properties checks judge (default: all)
    signatures = "ideal"
    class = "General"              # protocol / adversary: the class the student writes
    base = "om"                    # protocol: whose spec (parameters, properties) it runs under
    target = "target.py"           # adversary: the protocol under attack
    target_class = "..."           # (or no target, and base = an installed protocol's name)
    functions = ["f", "g"]         # function: what the student writes
    harness = "harness.py"         # function: make_protocol(module) -> a protocol spec
    isolation = "node"             # function: one process per node ("node") or per run
    [params] / [network] / [environment] / [diagram]   # defaults for every case

    [[check]]                      # one fixed case: a scenario and what must hold
    name = "..."                   # also how `bft lab run N --check NAME` names it
    params = {...}; adversaries = ["traitor:nodes=[3]"]; seed = 1; rounds = 9
    protocol = "..."               # adversary labs: run this installed protocol instead
    expect = "hold" | "violate"; properties = [...]; metrics = { m = 9, r = [0, 1] }
    twin = { params = {...}, adversaries = [...] }   # a blind pair: see below
    spread = 3                     # function labs: see below
    hint = "..."

    [search]                       # a property-based search over [search.vars]
    [search.schedules]             # the project's schedule search (bft check)
    [[answer]]                     # a written answer, computed from a run

A *blind pair* (``twin``) runs the case twice, the second time with the twin's
changes (the sender secretly holds another value, disguised): every node that
is honest in both runs receives exactly the same messages in both, so it must
output exactly the same; otherwise it knows something it was not told. A
*spread* check runs a function lab's case with the student's functions in one
process and again spread over ``spread`` processes (by node): a function that
keeps state shared between nodes gives a different trace.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from bft.core.errors import ConfigError

KINDS = ("protocol", "adversary", "function")
EXPECT = ("hold", "violate")
ISOLATION = ("node", "run")
FACTS = ("violated-property", "decision-round", "decision")


def _err(path: Path, what: str) -> ConfigError:
    return ConfigError(f"{path}: {what}")


def _only(path: Path, table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    extra = sorted(set(table) - set(allowed))
    if extra:
        raise _err(path, f"{where}: unknown key {extra[0]!r}; allowed: {', '.join(allowed)}")


def _str_list(path: Path, value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _err(path, f"{where} must be a list of strings")
    return tuple(value)


@attrs.frozen
class Case:
    """A scenario template: values may hold ``{var}`` placeholders a search fills in."""

    params: Mapping[str, Any] = attrs.Factory(dict)
    adversaries: tuple[str, ...] = ()
    seed: Any = 0
    rounds: Any = None
    signatures: str | None = None
    network: Mapping[str, Any] | None = None
    environment: Mapping[str, Any] | None = None
    protocol: str | None = None  # adversary labs: an installed protocol instead of the target

    KEYS = (
        "params",
        "adversaries",
        "seed",
        "rounds",
        "signatures",
        "network",
        "environment",
        "protocol",
    )

    @classmethod
    def read(cls, path: Path, table: Mapping[str, Any], where: str) -> Case:
        adversaries = _str_list(path, table.get("adversaries", []), f"{where}: adversaries")
        for key in ("params", "network", "environment"):
            if key in table and not isinstance(table[key], dict):
                raise _err(path, f"{where}: {key} must be a table")
        signatures = table.get("signatures")
        if signatures is not None and signatures not in ("real", "ideal"):
            raise _err(path, f"{where}: signatures must be 'real' or 'ideal'")
        protocol = table.get("protocol")
        if protocol is not None and not isinstance(protocol, str):
            raise _err(path, f"{where}: protocol must be a protocol's name")
        return cls(
            dict(table.get("params", {})),
            adversaries,
            table.get("seed", 0),
            table.get("rounds"),
            signatures,
            table.get("network"),
            table.get("environment"),
            protocol,
        )


@attrs.frozen
class Expectation:
    """What a case's run must show: properties that hold (or one that is violated)
    and metric values (exact, or ``[lo, hi]``)."""

    expect: str = "hold"
    properties: tuple[str, ...] | None = None
    metrics: Mapping[str, Any] = attrs.Factory(dict)

    KEYS = ("expect", "properties", "metrics")

    @classmethod
    def read(cls, path: Path, table: Mapping[str, Any], where: str) -> Expectation:
        expect = table.get("expect", "hold")
        if expect not in EXPECT:
            raise _err(path, f"{where}: expect must be 'hold' or 'violate' (got {expect!r})")
        props = table.get("properties")
        metrics = table.get("metrics", {})
        if not isinstance(metrics, dict):
            raise _err(path, f"{where}: metrics must be a table")
        for name, value in metrics.items():
            if isinstance(value, list) and len(value) != 2:
                raise _err(path, f"{where}: metric {name} must be a value or [lo, hi]")
        return cls(
            expect,
            None if props is None else _str_list(path, props, f"{where}: properties"),
            dict(metrics),
        )


@attrs.frozen
class CheckSpec:
    name: str
    case: Case
    expectation: Expectation
    hint: str = ""
    twin: Case | None = None
    spread: int = 0

    KEYS = ("name", "hint", "twin", "spread", *Case.KEYS, *Expectation.KEYS)


@attrs.frozen
class SearchSpec:
    name: str
    case: Case
    expectation: Expectation
    variables: Mapping[str, Any]
    examples: int = 30
    max_runs: int | None = None
    hint: str = ""

    KEYS = (
        "name",
        "hint",
        "vars",
        "examples",
        "max_runs",
        "schedules",
        *Case.KEYS,
        *Expectation.KEYS,
    )


@attrs.frozen
class ScheduleSpec:
    case: Case
    examples: int = 30
    seed: int = 0
    faults: int | None = None
    kinds: tuple[str, ...] | None = None
    max_actions: int = 4
    properties: tuple[str, ...] | None = None
    hint: str = ""

    KEYS = ("examples", "seed", "faults", "kinds", "max_actions", "properties", "hint", *Case.KEYS)


@attrs.frozen
class AnswerSpec:
    """A written answer, checked against a fact computed from a run (never stored)."""

    key: str
    question: str
    check: str  # the check whose scenario answers it
    fact: str  # one of FACTS
    node: int | None = None
    hint: str = ""
    reference: bool = True  # computed from the base protocol's own run

    KEYS = ("key", "question", "check", "fact", "node", "hint", "reference")


@attrs.frozen
class LabConfig:
    path: Path
    title: str
    kind: str
    skeleton: str
    requires: tuple[str, ...] = ()
    properties: tuple[str, ...] | None = None
    signatures: str = "ideal"
    class_name: str | None = None
    base: str | None = None
    target: str | None = None
    target_class: str | None = None
    functions: tuple[str, ...] = ()
    harness: str | None = None
    isolation: str = "run"
    answers_file: str | None = None
    params: Mapping[str, Any] = attrs.Factory(dict)
    network: Mapping[str, Any] = attrs.Factory(dict)
    environment: Mapping[str, Any] = attrs.Factory(dict)
    diagram: Mapping[str, Any] = attrs.Factory(dict)
    checks: tuple[CheckSpec, ...] = ()
    search: SearchSpec | None = None
    schedules: ScheduleSpec | None = None
    answers: tuple[AnswerSpec, ...] = ()

    TOP = (
        "title",
        "kind",
        "skeleton",
        "answers",
        "requires",
        "properties",
        "signatures",
        "class",
        "base",
        "target",
        "target_class",
        "functions",
        "harness",
        "isolation",
        "params",
        "network",
        "environment",
        "diagram",
        "check",
        "search",
        "answer",
    )

    def check_named(self, name: str) -> CheckSpec | None:
        return next((c for c in self.checks if c.name == name), None)


def _case_and_expectation(
    path: Path, table: Mapping[str, Any], where: str
) -> tuple[Case, Expectation]:
    return Case.read(path, table, where), Expectation.read(path, table, where)


def _positive(path: Path, value: Any, where: str, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _err(path, f"{where} must be a whole number >= {minimum} (got {value!r})")
    return value


def read(lab_dir: Path) -> LabConfig:
    """Read and validate ``lab_dir/lab.toml``; a ``ConfigError`` names the first problem."""
    path = lab_dir / "lab.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        raise _err(path, f"cannot read the lab configuration: {exc}") from None
    _only(path, data, LabConfig.TOP, "lab.toml")
    for field in ("title", "kind", "skeleton"):
        if not isinstance(data.get(field), str):
            raise _err(path, f"missing field {field!r}")
    kind = data["kind"]
    if kind not in KINDS:
        raise _err(path, f"kind must be one of {', '.join(KINDS)} (got {kind!r})")
    needed = {
        "protocol": ("class", "base"),
        "adversary": ("class", "target", "target_class") if "base" not in data else ("class",),
        "function": ("functions", "harness"),
    }[kind]
    for field in needed:
        if field not in data:
            raise _err(path, f"a {kind} lab needs {field!r}")
    if kind == "adversary" and "base" in data and ("target" in data or "target_class" in data):
        raise _err(path, "an adversary lab attacks either a target file or a base protocol")
    isolation = data.get("isolation", "run")
    if isolation not in ISOLATION:
        raise _err(path, f"isolation must be 'node' or 'run' (got {isolation!r})")

    checks = []
    for index, item in enumerate(data.get("check", [])):
        where = f"check #{index + 1}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _err(path, f"{where}: needs a name")
        _only(path, item, CheckSpec.KEYS, where)
        case, expectation = _case_and_expectation(path, item, where)
        twin = None
        if "twin" in item:
            if not isinstance(item["twin"], dict):
                raise _err(path, f"{where}: twin must be a table")
            _only(path, item["twin"], Case.KEYS, f"{where}: twin")
            twin = Case.read(path, item["twin"], f"{where}: twin")
        spread = item.get("spread", 0)
        if spread:
            _positive(path, spread, f"{where}: spread", 2)
        checks.append(
            CheckSpec(item["name"], case, expectation, str(item.get("hint", "")), twin, spread)
        )
    names = [c.name for c in checks]
    if len(set(names)) != len(names):
        raise _err(path, "two checks have the same name")

    search = schedules = None
    if "search" in data:
        table = data["search"]
        _only(path, table, SearchSpec.KEYS, "[search]")
        case, expectation = _case_and_expectation(path, table, "[search]")
        if not isinstance(table.get("vars", {}), dict):
            raise _err(path, "[search.vars] must be a table")
        search = SearchSpec(
            str(table.get("name", "property-based search")),
            case,
            expectation,
            dict(table.get("vars", {})),
            _positive(path, table.get("examples", 30), "[search] examples"),
            table.get("max_runs"),
            str(table.get("hint", "")),
        )
        if "schedules" in table:
            sched = table["schedules"]
            _only(path, sched, ScheduleSpec.KEYS, "[search.schedules]")
            schedules = ScheduleSpec(
                Case.read(path, sched, "[search.schedules]"),
                _positive(path, sched.get("examples", 30), "[search.schedules] examples"),
                int(sched.get("seed", 0)),
                sched.get("faults"),
                None if "kinds" not in sched else _str_list(path, sched["kinds"], "kinds"),
                _positive(path, sched.get("max_actions", 4), "[search.schedules] max_actions"),
                None
                if "properties" not in sched
                else _str_list(path, sched["properties"], "properties"),
                str(sched.get("hint", "")),
            )

    answers = []
    for index, item in enumerate(data.get("answer", [])):
        where = f"answer #{index + 1}"
        _only(path, item, AnswerSpec.KEYS, where)
        for field in ("key", "question", "check", "fact"):
            if not isinstance(item.get(field), str):
                raise _err(path, f"{where}: needs {field!r}")
        if item["fact"] not in FACTS:
            raise _err(path, f"{where}: fact must be one of {', '.join(FACTS)}")
        if item["check"] not in names:
            raise _err(path, f"{where}: no check named {item['check']!r}")
        answers.append(
            AnswerSpec(
                item["key"],
                item["question"],
                item["check"],
                item["fact"],
                item.get("node"),
                str(item.get("hint", "")),
                bool(item.get("reference", True)),
            )
        )
    if answers and "answers" not in data:
        raise _err(path, "a lab with [[answer]] items needs answers = FILE")

    return LabConfig(
        path=lab_dir,
        title=data["title"],
        kind=kind,
        skeleton=data["skeleton"],
        requires=_str_list(path, data.get("requires", []), "requires"),
        properties=None
        if "properties" not in data
        else _str_list(path, data["properties"], "properties"),
        signatures=str(data.get("signatures", "ideal")),
        class_name=data.get("class"),
        base=data.get("base"),
        target=data.get("target"),
        target_class=data.get("target_class"),
        functions=_str_list(path, data.get("functions", []), "functions"),
        harness=data.get("harness"),
        isolation=isolation,
        answers_file=data.get("answers"),
        params=dict(data.get("params", {})),
        network=dict(data.get("network", {})),
        environment=dict(data.get("environment", {})),
        diagram=dict(data.get("diagram", {})),
        checks=tuple(checks),
        search=search,
        schedules=schedules,
        answers=tuple(answers),
    )
