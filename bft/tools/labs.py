"""Teaching labs: numbered directories under ``labs/`` and the autograder that judges them.

Theory of operation. A lab is a directory ``labs/NN-slug/`` with a narrative
``README.md``, a skeleton file the student edits, and ``lab.toml``, the grader
configuration. The grader loads the student's file as a module (never
importing it as part of the package), plugs the class it names into the
testbed, and judges it with the same property checks the project uses on
itself:

* ``kind = "protocol"``: the student writes a ``Node`` class; it runs under a
  copy of the ``base`` protocol's spec (parameters, properties, metrics), with
  ``make_node`` returning ``Class(node_id, params)``.
* ``kind = "adversary"``: the student writes an ``Adversary`` class; it runs
  against the lab's ``target`` protocol, and the grade asks for a property to
  be *violated* by an attack that stays within the fault bound the protocol
  claims (a run whose corrupted nodes exceed it proves nothing).
* ``kind = "function"``: the student writes the ``functions`` the lab names (a
  policy, quorum rules, parameter choices); the lab's ``harness`` module turns
  the student's module into a protocol spec (``make_protocol(module)``).

Each ``[[check]]`` is one fixed scenario (parameters, adversaries, seed,
expected verdicts and exact metric values). ``[search]`` is a property-based
search: Hypothesis draws the variables it declares (seeds, node sets,
strategies, sizes), fills the scenario templates with them and looks for a
case that fails the expectation; ``hypothesis.find`` shrinks it to a minimal
one. ``[search.schedules]`` additionally runs the project's schedule search
(``bft.search.driver``) when it is installed. On the first failure the grade shows
the witness, a hint, the scenario to reproduce it and its space-time diagram.
``[[answer]]`` items check short written answers in ``answers.toml``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from bft.core import registry
from bft.core.errors import BftError, ConfigError
from bft.run import runner, scenario
from bft.run.data import data_dir
from bft.run.runner import RunResult

LABS_DIR = data_dir("labs")
KINDS = ("protocol", "adversary", "function")
EXPECT = ("hold", "violate")
DIAGRAM_WIDTH = 100


@attrs.frozen
class Lab:
    number: int
    slug: str
    path: Path
    config: Mapping[str, Any]

    @property
    def title(self) -> str:
        return str(self.config.get("title", self.slug))

    @property
    def kind(self) -> str:
        return str(self.config["kind"])

    @property
    def skeleton(self) -> Path:
        return self.path / str(self.config["skeleton"])

    @property
    def requires(self) -> list[str]:
        return list(self.config.get("requires", []))

    def missing(self) -> list[str]:
        """Protocols or adversaries this lab needs that are not installed yet."""
        out = []
        for item in self.requires:
            kind, _, name = item.partition(":")
            if name not in registry.names(kind):
                out.append(item)
        return out


def _load_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads((path / "lab.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"{path / 'lab.toml'}: cannot read the lab configuration: {exc}"
        ) from None
    for field in ("kind", "skeleton", "title"):
        if field not in data:
            raise ConfigError(f"{path / 'lab.toml'}: missing field {field!r}")
    if data["kind"] not in KINDS:
        raise ConfigError(
            f"{path / 'lab.toml'}: kind must be one of {', '.join(KINDS)} (got {data['kind']!r})"
        )
    return data


def available(root: Path | None = None) -> list[Lab]:
    root = root or LABS_DIR
    labs = []
    for path in sorted(root.glob("[0-9][0-9]-*")):
        if (path / "lab.toml").is_file():
            number = int(path.name[:2])
            labs.append(Lab(number, path.name[3:], path, _load_config(path)))
    return labs


def get(number: int, root: Path | None = None) -> Lab:
    labs = available(root)
    for lab in labs:
        if lab.number == number:
            return lab
    listing = ", ".join(f"{lab.number} ({lab.slug})" for lab in labs) or "(none)"
    raise ConfigError(f"no lab number {number}; labs: {listing}")


# -- results -------------------------------------------------------------------------------


@attrs.frozen
class Check:
    name: str
    passed: bool
    message: str = ""
    hint: str = ""
    reproduce: str = ""
    diagram: str = ""


@attrs.frozen
class Grade:
    lab: Lab
    solution: Path
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def report(self) -> str:
        lines = [f"Lab {self.lab.number}: {self.lab.title}", f"solution: {self.solution}", ""]
        shown = False
        for check in self.checks:
            lines.append(f"  {'PASS' if check.passed else 'FAIL'}  {check.name}")
            if check.passed:
                continue
            for text in (check.message, f"hint: {check.hint}" if check.hint else ""):
                for part in text.splitlines():
                    lines.append(f"        {part}")
            if shown:
                continue
            shown = True  # the details of the first failure only: fix that one first
            if check.reproduce:
                lines.append("        the scenario (its protocol or adversary is your code):")
                lines.extend(f"          {part}" for part in check.reproduce.splitlines())
            if check.diagram:
                lines.append("        its diagram:")
                lines.append(check.diagram)
        passed = sum(c.passed for c in self.checks)
        verdict = "PASS" if self.passed else "FAIL"
        lines.append("")
        lines.append(f"grade: {verdict} ({passed} of {len(self.checks)} checks passed)")
        return "\n".join(lines)


# -- loading the student's file ---------------------------------------------------------------


class SolutionError(BftError):
    """The student's file cannot be loaded or lacks what the lab asks for."""


def load_module(path: Path, label: str) -> ModuleType:
    if not path.is_file():
        raise ConfigError(f"solution file {str(path)!r} does not exist")
    name = f"bft_lab_solution_{label}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise SolutionError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:  # noqa: BLE001 - the student's code, reported, not raised
        raise SolutionError(f"{path}: raised {type(exc).__name__} while loading: {exc}") from None
    return module


def _attr(module: ModuleType, name: str, path: Path) -> Any:
    if not hasattr(module, name):
        raise SolutionError(f"{path}: defines no {name!r}; the lab grades the {name} it defines")
    return getattr(module, name)


# -- building scenarios ------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fill(value: Any, env: Mapping[str, Any]) -> Any:
    """Substitute ``{var}`` in strings (a whole-string placeholder keeps the value's type)."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in env:
            return env[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: _text(env.get(m.group(1), m.group(0))), value)
    if isinstance(value, list):
        return [_fill(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, env) for k, v in value.items()}
    return value


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ",".join(_text(v) for v in value) + "]"
    return str(value)


@attrs.frozen
class Setup:
    """What the grader plugged in: the protocol to run and the names to fill in."""

    protocol: str
    env: Mapping[str, Any]


def build_scenario(
    lab: Lab, item: Mapping[str, Any], setup: Setup, label: str
) -> scenario.Scenario:
    env = setup.env
    data: dict[str, Any] = {
        "protocol": setup.protocol,
        "description": str(item.get("name", label)),
        "seed": int(_fill(item.get("seed", 0), env)),
        "signatures": str(item.get("signatures", lab.config.get("signatures", "ideal"))),
        "params": {**lab.config.get("params", {}), **_fill(dict(item.get("params", {})), env)},
        "network": dict(item.get("network", lab.config.get("network", {}))),
        "environment": dict(item.get("environment", lab.config.get("environment", {}))),
    }
    if "rounds" in item:
        data["rounds"] = int(_fill(item["rounds"], env))
    adversaries = []
    for text in _fill(list(item.get("adversaries", [])), env):
        config = scenario.parse_adversary(str(text))
        if config.name != "none":
            adversaries.append({"name": config.name, **config.params})
    data["adversary"] = adversaries
    return scenario.from_mapping(data, f"lab{lab.number}-{label}")


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
    """The scenario as a TOML file a person can read (and run, once the protocol exists)."""
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


# -- judging one run ---------------------------------------------------------------------------


def judge(lab: Lab, item: Mapping[str, Any], result: RunResult) -> tuple[bool, str]:
    """Does ``result`` meet the item's expectation? (passed, explanation)"""
    expect = item.get("expect", "hold")
    wanted = list(item.get("properties", lab.config.get("properties", [])) or result.verdicts)
    bugs = result.record.bugs
    if bugs:
        first = bugs[0]
        if "NotImplementedError" in first.detail:
            return False, (
                f"your code is not written yet: node {first.node} raised in round {first.round}: "
                f"{first.detail}"
            )
        if expect == "hold" or "no-exceptions" in wanted:
            return False, (
                f"node {first.node} raised an exception in round {first.round}: {first.detail}"
            )
    if expect == "violate":
        within = item.get("within_bound", lab.config.get("within_bound", lab.kind == "adversary"))
        if result.beyond_bound and within:
            return False, (
                "the attack goes beyond the bound the protocol claims, so it proves nothing: "
                f"{result.beyond_bound}"
            )
        broken = [p for p in wanted if p in result.verdicts and not result.verdicts[p].holds]
        if not broken:
            return False, (
                f"the protocol survived: {', '.join(wanted)} all hold (corrupted nodes: "
                f"{sorted(result.record.corrupted) or 'none'})"
            )
        return True, f"{broken[0]} violated: {result.verdicts[broken[0]].witness}"
    for name in wanted:
        verdict = result.verdicts.get(name)
        if verdict is None:
            raise ConfigError(f"{lab.path / 'lab.toml'}: no property {name!r} in this protocol")
        if not verdict.holds:
            return False, f"{name} violated: {verdict.witness}"
    for name, expected in dict(item.get("metrics", {})).items():
        got = result.metrics.get(name)
        if isinstance(expected, list):
            lo, hi = expected
            if got is None or not lo <= got <= hi:
                return False, f"metric {name} is {got}; expected between {lo} and {hi}"
        elif got != expected:
            return False, f"metric {name} is {got}; expected exactly {expected}"
    return True, ""


def _diagram(lab: Lab, scn: scenario.Scenario) -> str:
    """The failing run drawn as ``bft show`` draws it (or, for ``style = "series"``, the
    per-round availability table of a service run), cut to ``max_lines``."""
    from bft.tools.show import load, make_view, parse_nodes, render_text

    config = dict(lab.config.get("diagram", {}))
    limit = int(config.get("max_lines", 80))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.jsonl"
        try:
            runner.run(scn, trace_path=path)
        except Exception as exc:  # noqa: BLE001 - a diagram is a courtesy
            return f"        (no diagram: the run raised {type(exc).__name__}: {exc})"
        if config.get("style") == "series":
            text = _series(path, int(config.get("every", 5)))
        else:
            diagram = load(path)
            wanted = config.get("nodes", "0-15")
            nodes = [i for i in parse_nodes(str(wanted), 10**9) if i < diagram.n]
            try:
                view = make_view(diagram, nodes, config.get("rounds"), config.get("kinds"))
                text = render_text(diagram, view, DIAGRAM_WIDTH)
            except ConfigError as exc:
                text = f"        (no diagram: {exc})"
    lines = text.splitlines()
    if len(lines) > limit:
        lines = [
            *lines[: limit - 1],
            f"... ({len(lines) - limit + 1} more lines: run it with "
            "'bft run FILE --trace t.jsonl' and 'bft show t.jsonl')",
        ]
    return "\n".join(lines)


def _series(path: Path, every: int) -> str:
    from tabulate import tabulate

    from bft.protocols.service import series_from_trace

    rows = [
        (
            r["round"],
            "-" if r["availability"] is None else f"{r['availability']:.2f}",
            r["servers_down"],
            r["served"],
            r["unserved"],
        )
        for r in series_from_trace(path)
        if r["round"] % every == 0
    ]
    return tabulate(rows, headers=["round", "availability", "servers down", "served", "waiting"])


def _run(scn: scenario.Scenario) -> RunResult:
    try:
        return runner.run(scn)
    except BftError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. a student's adversary that raises
        raise SolutionError(f"the run raised {type(exc).__name__}: {exc}") from exc


def run_check(lab: Lab, item: Mapping[str, Any], setup: Setup, label: str) -> Check:
    name = str(item.get("name", label))
    scn = build_scenario(lab, item, setup, label)
    try:
        result = _run(scn)
    except SolutionError as exc:
        return Check(name, False, str(exc), str(item.get("hint", "")), scenario_toml(scn))
    passed, why = judge(lab, item, result)
    if passed:
        return Check(name, True, why)
    return Check(
        name, False, why, str(item.get("hint", "")), scenario_toml(scn), _diagram(lab, scn)
    )


# -- the property-based search -----------------------------------------------------------------


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
    """A strategy for the search variables, drawn in order (later bounds may name earlier ones)."""

    @st.composite
    def draw(data: Callable[..., Any]) -> dict[str, Any]:
        drawn: dict[str, Any] = {}
        for name, item in spec.items():
            if isinstance(item, dict) and "range" in item:
                lo, hi = (_bound(v, drawn) for v in item["range"])
                drawn[name] = data(st.integers(lo, max(lo, hi)))
            elif isinstance(item, list):
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


def run_search(lab: Lab, setup: Setup, examples: int | None = None) -> Check:
    config = lab.config.get("search")
    if not config:
        return Check("property-based search", True, "no search configured")
    count = int(examples if examples is not None else config.get("examples", 30))
    name = str(config.get("name", "property-based search"))
    name = f"{name} ({count} cases)"
    strategy = variables(dict(config.get("vars", {})))
    failures: dict[str, tuple[str, scenario.Scenario]] = {}

    # Shrinking re-runs the scenario many times; past this many runs, new candidates
    # count as passing, so Hypothesis keeps the smallest failure found so far.
    budget = int(config.get("max_runs", count + 60))
    runs = [0]

    def fails(drawn: dict[str, Any]) -> bool:
        if repr(drawn) in failures:
            return True
        if runs[0] >= budget:
            return False
        runs[0] += 1
        env = {**setup.env, **drawn}
        scn = build_scenario(lab, config, Setup(setup.protocol, env), "search")
        try:
            result = _run(scn)
        except SolutionError as exc:
            failures[repr(drawn)] = (str(exc), scn)
            return True
        passed, why = judge(lab, config, result)
        if not passed:
            failures[repr(drawn)] = (why, scn)
        return not passed

    try:
        minimal = find(
            strategy,
            fails,
            settings=settings(
                max_examples=count,
                database=None,
                derandomize=True,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    except NoSuchExample:
        return Check(name, True, "no failing case found")
    why, scn = failures[repr(minimal)]
    shown = ", ".join(f"{k}={_text(v)}" for k, v in minimal.items())
    return Check(
        name,
        False,
        f"minimal counterexample: {shown}\n{why}",
        str(config.get("hint", "")),
        scenario_toml(scn),
        _diagram(lab, scn),
    )


def run_schedule_search(lab: Lab, setup: Setup) -> Check | None:
    config = (lab.config.get("search") or {}).get("schedules")
    if not config:
        return None
    try:
        from bft.search import driver as schedule_search
    except ImportError:
        return None
    name = f"schedule search ({config.get('examples', 30)} adversary schedules)"
    scn = build_scenario(lab, config, setup, "schedules")
    try:
        outcome = schedule_search.search(
            scn,
            examples=int(config.get("examples", 30)),
            seed=int(config.get("seed", 0)),
            faults=config.get("faults"),
            kinds=config.get("kinds"),
            max_actions=int(config.get("max_actions", 4)),
        )
    except BftError:
        raise
    except Exception as exc:  # noqa: BLE001 - the student's code under a schedule
        return Check(name, False, f"the run raised {type(exc).__name__}: {exc}")
    cex = outcome.counterexample
    if cex is None:
        return Check(name, True, "no violating schedule found")
    return Check(
        name,
        False,
        f"minimal schedule: {cex.schedule.describe()}\n{cex.property} violated: {cex.witness}",
        str(config.get("hint", "")),
        scenario_toml(cex.scenario),
        _diagram(lab, cex.scenario),
    )


# -- answers -----------------------------------------------------------------------------------


def check_answers(lab: Lab, solution: Path) -> list[Check]:
    items = list(lab.config.get("answer", []))
    if not items:
        return []
    path = solution.parent / "answers.toml"
    try:
        given = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        given = {}
    except tomllib.TOMLDecodeError as exc:
        return [Check("written answers", False, f"{path}: malformed TOML: {exc}")]
    checks = []
    for item in items:
        key = item["key"]
        got = given.get(key)
        expected = item["expected"]
        ok = (
            str(got).strip().lower() == str(expected).lower()
            if isinstance(expected, str)
            else got == expected
        )
        message = (
            ""
            if ok
            else (
                f"{path.name}: {key} = {got!r} is not right yet ({item.get('question', '')})"
                if got not in (None, "", -1)
                else f"{path.name}: answer {key!r}: {item.get('question', '')}"
            )
        )
        checks.append(Check(f"answer: {key}", ok, message, str(item.get("hint", ""))))
    return checks


# -- grading -----------------------------------------------------------------------------------


@contextlib.contextmanager
def plugged_in(lab: Lab, module: ModuleType, solution: Path) -> Iterator[Setup]:
    """Register the student's code (and the lab's own modules) for the duration of a grade."""
    number = lab.number
    added: list[tuple[str, str]] = []
    try:
        if lab.kind == "protocol":
            cls = _attr(module, str(lab.config["class"]), solution)
            from bft.core.node import Node

            if not (isinstance(cls, type) and issubclass(cls, Node)):
                raise SolutionError(f"{solution}: {lab.config['class']} must be a Node subclass")
            base = registry.protocol(str(lab.config["base"]))
            name = f"lab{number}-solution"
            spec = type(
                f"Lab{number}Protocol",
                (base,),
                {"name": name, "make_node": lambda self, i, p, _c=cls: _c(i, p)},
            )
            registry.register("protocol", name, spec)
            added.append(("protocol", name))
            yield Setup(name, {})
        elif lab.kind == "adversary":
            cls = _attr(module, str(lab.config["class"]), solution)
            from bft.core.adversary import Adversary

            if not (isinstance(cls, type) and issubclass(cls, Adversary)):
                raise SolutionError(
                    f"{solution}: {lab.config['class']} must be an Adversary subclass"
                )
            target_module = load_module(lab.path / str(lab.config["target"]), f"lab{number}target")
            target = _attr(target_module, str(lab.config["target_class"]), lab.path)
            attack = f"lab{number}-attack"
            registry.register("adversary", attack, cls)
            registry.register("protocol", target.name, target)
            added += [("adversary", attack), ("protocol", target.name)]
            yield Setup(target.name, {"attack": attack})
        else:
            for fname in lab.config["functions"]:
                if not callable(_attr(module, str(fname), solution)):
                    raise SolutionError(f"{solution}: {fname} must be a function")
            harness = load_module(lab.path / str(lab.config["harness"]), f"lab{number}harness")
            spec = harness.make_protocol(module)
            registry.register("protocol", spec.name, spec)
            added.append(("protocol", spec.name))
            yield Setup(spec.name, {})
    finally:
        for kind, name in added:
            registry.unregister(kind, name)


def grade(number: int, solution: str | Path | None = None, *, examples: int | None = None) -> Grade:
    """Grade lab ``number`` with the student's file (the lab's skeleton by default)."""
    lab = get(number)
    missing = lab.missing()
    if missing:
        raise ConfigError(
            f"lab {number} needs {', '.join(missing)}, which this installation does not have yet"
        )
    path = Path(solution) if solution is not None else lab.skeleton
    checks: list[Check] = []
    try:
        module = load_module(path, f"lab{number}")
        with plugged_in(lab, module, path) as setup:
            for index, item in enumerate(lab.config.get("check", [])):
                checks.append(run_check(lab, item, setup, f"check{index + 1}"))
            if all(c.passed for c in checks):
                checks.append(run_search(lab, setup, examples))
                extra = run_schedule_search(lab, setup) if checks[-1].passed else None
                if extra is not None:
                    checks.append(extra)
            else:
                checks.append(
                    Check(
                        "property-based search",
                        False,
                        "skipped until every fixed scenario above passes",
                    )
                )
    except SolutionError as exc:
        checks.append(Check("load your solution", False, str(exc)))
    checks.extend(check_answers(lab, path))
    return Grade(lab, path, tuple(checks))
