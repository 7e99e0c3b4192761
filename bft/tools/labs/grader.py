"""The autograder: run a lab's checks on the student's hosted code and say what failed.

Theory of operation. ``grade`` hosts the student's file (``student.Session``:
nothing of it runs in this process), plugs it in as a protocol, an adversary
or a harness's functions, and judges it with the project's own property
checks, in this order:

1. *load*: the file loads in a worker and defines what the lab asks for;
2. the fixed ``[[check]]`` cases (a blind pair also compares the twin run's
   outputs; a spread check also compares the run spread over processes);
3. if they all pass, the ``[search]``: Hypothesis draws the search variables,
   looks for a failing case and shrinks it to a minimal one; then the
   project's schedule search (``[search.schedules]``) if the lab has one;
4. the written answers, against facts computed from runs (never stored);
5. *integrity*: nothing in the project's modules or files was changed by the
   student's code (any change fails the grade, with what changed).

A case that runs too long, a worker that dies or sends garbage, or the
grade's time budget ends the grade at once with that reason. Every failing
case can be rerun with a full trace (``rerun``: ``bft lab run``), including the
search's minimal case.
"""

from __future__ import annotations

import contextlib
import hashlib
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
from hypothesis import HealthCheck, find, settings
from hypothesis.errors import NoSuchExample

from bft.core import registry
from bft.core.encoding import dumps, to_plain
from bft.core.errors import BftError, ConfigError
from bft.run import runner, scenario
from bft.run.data import data_dir
from bft.run.runner import RunResult
from bft.tools.labs import cases, student
from bft.tools.labs.adversaries import REGISTRY as LAB_ADVERSARIES
from bft.tools.labs.adversaries import FormatError
from bft.tools.labs.config import AnswerSpec, Case, CheckSpec, Expectation, LabConfig
from bft.tools.labs.config import read as read_config
from bft.tools.sandbox import CodeRaised, HostedFailure, guarded_parent

DIAGRAM_WIDTH = 100


def labs_dir() -> Path:
    return data_dir("labs")


# ---------------------------------------------------------------------------- labs


@attrs.frozen
class Lab:
    number: int
    slug: str
    path: Path
    config: LabConfig

    @property
    def title(self) -> str:
        return self.config.title

    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def skeleton(self) -> Path:
        return self.path / self.config.skeleton

    @property
    def requires(self) -> list[str]:
        return list(self.config.requires)

    def missing(self) -> list[str]:
        """Protocols or adversaries this lab needs that are not installed."""
        out = []
        for item in self.config.requires:
            kind, _, name = item.partition(":")
            if name not in registry.names(kind):
                out.append(item)
        return out

    def files_read(self) -> list[str]:
        """The files the grader reads from the solution's directory."""
        out = [self.config.skeleton]
        if self.config.answers_file:
            out.append(self.config.answers_file)
        return out


def available(root: Path | None = None) -> list[Lab]:
    root = root or labs_dir()
    out = []
    for path in sorted(root.glob("[0-9][0-9]-*")):
        if (path / "lab.toml").is_file():
            out.append(Lab(int(path.name[:2]), path.name[3:], path, read_config(path)))
    return out


def get(number: int, root: Path | None = None) -> Lab:
    labs = available(root)
    for lab in labs:
        if lab.number == number:
            return lab
    listing = ", ".join(f"{lab.number} ({lab.slug})" for lab in labs) or "(none)"
    raise ConfigError(f"no lab number {number}; labs: {listing}")


# ---------------------------------------------------------------------------- results


@attrs.frozen
class Check:
    name: str
    passed: bool
    message: str = ""
    hint: str = ""
    reproduce: str = ""  # the scenario, as TOML
    diagram: str = ""
    rerun: str = ""  # the command that reruns the case with a full trace


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
            if check.rerun:
                lines.append("        rerun it with a full trace, then draw it:")
                lines.append(f"          {check.rerun}")
            if check.diagram:
                lines.append("        its diagram:")
                lines.append(check.diagram)
        passed = sum(c.passed for c in self.checks)
        verdict = "PASS" if self.passed else "FAIL"
        lines.append("")
        lines.append(f"grade: {verdict} ({passed} of {len(self.checks)} checks passed)")
        return "\n".join(lines)


class _Fatal(Exception):  # noqa: N818 - ends the grade
    pass


# ---------------------------------------------------------------------------- judging one run


def _faulty(result: RunResult) -> frozenset[int]:
    record = result.record
    faulty = getattr(record, "faulty", None)
    if faulty is not None:
        return frozenset(faulty)
    crashed = {e.node for e in record.events if e.kind == "crash" and e.node is not None}
    return frozenset(record.corrupted) | frozenset(crashed)


def judge(lab: LabConfig, expectation: Expectation, result: RunResult) -> tuple[bool, str]:
    """Does ``result`` meet ``expectation``? (passed, why)."""
    wanted = list(expectation.properties or lab.properties or result.verdicts)
    for name in wanted:
        if name not in result.verdicts:
            raise ConfigError(f"{lab.path / 'lab.toml'}: no property {name!r} in this protocol")
    bugs = result.record.bugs
    if bugs and (expectation.expect == "hold" or "no-exceptions" in wanted):
        first = bugs[0]
        if "NotImplementedError" in first.detail:
            return False, (
                f"your code is not written yet: node {first.node} raised in round {first.round}: "
                f"{first.detail}"
            )
        return (
            False,
            f"node {first.node} raised an exception in round {first.round}: {first.detail}",
        )
    if expectation.expect == "violate":
        if lab.kind == "adversary" and bugs:
            first = bugs[0]
            return False, (
                f"honest node {first.node} raised in round {first.round} ({first.detail}): "
                "crashing honest nodes through a bug is not the flaw this lab is about; "
                "break agreement or validity among the nodes that keep running"
            )
        if lab.kind == "adversary":
            tolerance = result.prepared.spec.tolerance(result.prepared.params)
            faulty = _faulty(result)
            if result.beyond_bound or (tolerance is not None and len(faulty) > tolerance.faults):
                why = result.beyond_bound or (
                    f"{len(faulty)} faulty nodes {sorted(faulty)} exceed the {tolerance.faults} "  # type: ignore[union-attr]
                    "it tolerates"
                )
                return False, (
                    f"the attack goes beyond the bound the protocol claims, so it proves "
                    f"nothing: {why}"
                )
        broken = [p for p in wanted if not result.verdicts[p].holds]
        if not broken:
            return False, (
                f"the protocol survived: {', '.join(wanted)} all hold (corrupted nodes: "
                f"{sorted(result.record.corrupted) or 'none'})"
            )
        return True, f"{broken[0]} violated: {result.verdicts[broken[0]].witness}"
    for name in wanted:
        verdict = result.verdicts[name]
        if not verdict.holds:
            return False, f"{name} violated: {verdict.witness}"
    for name, expected in expectation.metrics.items():
        got = result.metrics.get(name)
        if isinstance(expected, list):
            lo, hi = expected
            if got is None or not lo <= got <= hi:
                return False, f"metric {name} is {_num(got)}; expected between {lo} and {hi}"
        elif got != expected:
            return False, f"metric {name} is {_num(got)}; expected exactly {expected}"
    return True, ""


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _outputs(result: RunResult, node: int) -> list[str]:
    return [
        f"{o.name}({', '.join(f'{k}={dumps(to_plain(v))}' for k, v in sorted(o.data.items()))}) "
        f"in round {o.round}"
        for o in result.record.outputs
        if o.node == node
    ]


def blind_difference(first: RunResult, second: RunResult) -> str | None:
    """The first node honest in both runs whose outputs differ, described; None if none."""
    for node in sorted(first.record.correct & second.record.correct):
        a, b = _outputs(first, node), _outputs(second, node)
        if a != b:
            return (
                f"node {node} receives exactly the same messages in both runs of this pair "
                f"(in the second, the corrupted nodes secretly hold another value and every "
                f"message they send hides it), yet it output {'; '.join(a) or 'nothing'} in the "
                f"first and {'; '.join(b) or 'nothing'} in the second: it acts on something no "
                "message told it (the sender's value, state shared with another node, files, "
                "or randomness other than ctx.rng)"
            )
    return None


# ---------------------------------------------------------------------------- the grader


def _project_files() -> dict[str, str]:
    import bft

    base = Path(bft.__file__).parent
    roots = [base, *(p for p in sorted(base.iterdir()) if p.is_symlink())]
    out: dict[str, str] = {}
    for root in roots:
        for path in sorted(root.resolve().rglob("*")):
            if path.suffix in (".py", ".toml") and "__pycache__" not in path.parts:
                with contextlib.suppress(OSError):
                    out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


class Grader:
    """One grade of one lab with one solution file."""

    def __init__(self, lab: Lab, solution: Path, examples: int | None = None) -> None:
        self.lab = lab
        self.config = lab.config
        self.solution = solution
        self.examples = examples
        self.session = student.Session(lab.config, solution)
        self.protocol = ""
        self.env: dict[str, Any] = {}
        self._spread_specs: dict[int, type] = {}
        self._detailed = False  # whether a failing check got its diagram already
        self.last_search: scenario.Scenario | None = None
        self.last_schedule: scenario.Scenario | None = None

    # -- plugging in ---------------------------------------------------------------------
    @contextlib.contextmanager
    def plugged_in(self) -> Iterator[None]:
        config, number, added = self.config, self.lab.number, []
        try:
            for name, cls in LAB_ADVERSARIES.items():
                registry.register("adversary", name, cls)
                added.append(("adversary", name))
            if config.kind == "protocol":
                spec = student.student_protocol(config, number, self.session)
                self.protocol = spec.name
            elif config.kind == "adversary":
                attack, factory = student.student_adversary(config, number, self.session)
                registry.register("adversary", attack, factory)
                added.append(("adversary", attack))
                spec = student.target_protocol(config, number)
                self.protocol = spec.name
                self.env = {"attack": attack}
            else:
                spec = student.student_functions(config, number, self.session)
                self.protocol = spec.name
            registry.register("protocol", self.protocol, spec)
            added.append(("protocol", self.protocol))
            yield
        finally:
            for kind, name in added:
                registry.unregister(kind, name)

    # -- runs ------------------------------------------------------------------------------
    def scenario_for(
        self, case: Case, label: str, env: Mapping[str, Any] | None = None
    ) -> scenario.Scenario:
        return cases.build(self.config, case, self.protocol, {**self.env, **(env or {})}, label)

    def run(self, scn: scenario.Scenario, trace: Path | None = None) -> RunResult:
        """Run ``scn``; a failure of the student's code is a ``_Fatal`` or a ``HostedFailure``."""
        try:
            return runner.run(scn, trace_path=trace)
        finally:
            self.session.end_run()
            if self.session.fatal is not None:
                raise _Fatal(self.session.fatal)

    def run_spread(self, scn: scenario.Scenario, spread: int) -> RunResult:
        spec = self._spread_specs.get(spread)
        if spec is None:
            spec = student.student_functions(
                self.config, self.lab.number, self.session, spread=spread
            )
            self._spread_specs[spread] = spec
        normal = registry.protocol(self.protocol)
        registry.register("protocol", self.protocol, spec)
        try:
            return self.run(scn)
        finally:
            registry.register("protocol", self.protocol, normal)

    def _failure(self, exc: BaseException) -> str:
        if isinstance(exc, CodeRaised):
            return f"your code raised {exc.describe()}"
        if isinstance(exc, FormatError):
            return str(exc)
        if isinstance(exc, HostedFailure):
            return f"your code: {exc}"
        if isinstance(exc, BftError):
            return f"the run was refused: {exc}"
        return f"the run raised {type(exc).__name__}: {exc}"

    def rerun_command(self, name: str) -> str:
        examples = (
            f" --examples {self.examples}"
            if self.examples is not None and name in ("search", "schedules")
            else ""
        )
        return (
            f"bft lab run {self.lab.number} --solution {shlex.quote(str(self.solution))} "
            f"--check {shlex.quote(name)}{examples} --trace t.jsonl && bft show t.jsonl"
        )

    def _failed(
        self,
        name: str,
        why: str,
        hint: str,
        scn: scenario.Scenario | None,
        result: RunResult | None = None,
        rerun: str | None = None,
    ) -> Check:
        """A failing check; the first one also gets its scenario and diagram (the report
        shows the details of the first failure only). ``rerun`` names the case for
        ``bft lab run`` (default: the check's name)."""
        command = self.rerun_command(rerun or name)
        if scn is None or self._detailed:
            return Check(name, False, why, hint, rerun=command)
        self._detailed = True
        return Check(
            name,
            False,
            why,
            hint,
            cases.scenario_toml(scn),
            self.diagram(scn, result),
            command,
        )

    # -- fixed checks ------------------------------------------------------------------------
    def check(self, spec: CheckSpec) -> Check:
        scn = self.scenario_for(spec.case, spec.name)
        try:
            result = self.run(scn)
        except _Fatal:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the student's code made the run raise
            return self._failed(spec.name, self._failure(exc), spec.hint, scn)
        passed, why = judge(self.config, spec.expectation, result)
        if not passed:
            return self._failed(spec.name, why, spec.hint, scn, result)
        if spec.twin is not None:
            twin = self.scenario_for(cases.merge(spec.case, spec.twin), spec.name + " (twin)")
            try:
                second = self.run(twin)
            except _Fatal:
                raise
            except Exception as exc:  # noqa: BLE001
                return self._failed(spec.name, self._failure(exc), spec.hint, twin)
            passed, why = judge(self.config, spec.expectation, second)
            if not passed:
                return self._failed(spec.name, f"in the twin run: {why}", spec.hint, twin)
            different = blind_difference(result, second)
            if different:
                return self._failed(spec.name, different, spec.hint, twin)
        if spec.spread:
            spread = self.run_spread(scn, spec.spread)
            if spread.digest != result.digest:
                return self._failed(
                    spec.name,
                    f"your functions give different results when the nodes that call them run in "
                    f"{spec.spread} processes instead of one: they keep state shared between "
                    "nodes (a global variable, a cache keyed by something other than the "
                    "arguments) or use randomness other than the rng they are given; each "
                    "node is a separate machine and knows only its own calls",
                    spec.hint,
                    scn,
                )
        return Check(spec.name, True, why)

    # -- the search ---------------------------------------------------------------------------
    def search(self) -> Check:
        spec = self.config.search
        if spec is None:
            return Check("property-based search", True, "no search configured")
        count = self.examples if self.examples is not None else spec.examples
        name = f"{spec.name} ({count} cases)"
        budget = spec.max_runs if spec.max_runs is not None else count + 60
        failures: dict[str, tuple[str, scenario.Scenario]] = {}
        runs = [0]
        fatal: list[str] = []

        def fails(drawn: dict[str, Any]) -> bool:
            key = repr(drawn)
            if key in failures:
                return True
            if runs[0] >= budget or fatal:
                return False
            runs[0] += 1
            scn = self.scenario_for(spec.case, "search", drawn)
            try:
                result = self.run(scn)
            except _Fatal as exc:
                fatal.append(str(exc))
                failures[key] = (str(exc), scn)
                return True
            except Exception as exc:  # noqa: BLE001
                failures[key] = (self._failure(exc), scn)
                return True
            passed, why = judge(self.config, spec.expectation, result)
            if not passed:
                failures[key] = (why, scn)
            return not passed

        try:
            minimal = find(
                cases.variables(spec.variables),
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
        if fatal:
            raise _Fatal(fatal[0])
        why, scn = failures[repr(minimal)]
        shown = ", ".join(f"{k}={cases.text(v)}" for k, v in minimal.items())
        self.last_search = scn
        return self._failed(
            name, f"minimal counterexample: {shown}\n{why}", spec.hint, scn, rerun="search"
        )

    def schedules(self) -> Check | None:
        spec = self.config.schedules
        if spec is None:
            return None
        from bft.search import driver

        count = spec.examples if self.examples is None else min(spec.examples, 2 * self.examples)
        name = f"schedule search ({count} adversary schedules)"
        scn = self.scenario_for(spec.case, "schedules")
        try:
            outcome = driver.search(
                scn,
                examples=count,
                seed=spec.seed,
                faults=spec.faults,
                kinds=spec.kinds,
                max_actions=spec.max_actions,
                properties=spec.properties,
            )
        except _Fatal:
            raise
        except Exception as exc:  # noqa: BLE001
            return self._failed(name, self._failure(exc), spec.hint, None, rerun="schedules")
        finally:
            self.session.end_run()
            if self.session.fatal is not None:
                raise _Fatal(self.session.fatal)
        cex = outcome.counterexample
        if cex is None:
            return Check(name, True, "no violating schedule found")
        self.last_schedule = cex.scenario
        return self._failed(
            name,
            f"minimal schedule: {cex.schedule.describe()}\n{cex.property} violated: {cex.witness}",
            spec.hint,
            cex.scenario,
            rerun="schedules",
        )

    # -- answers ---------------------------------------------------------------------------
    def answers(self) -> list[Check]:
        items = self.config.answers
        if not items:
            return []
        path = self.solution.parent / str(self.config.answers_file)
        try:
            text = path.read_bytes().decode("utf-8")
            given = tomllib.loads(text)
        except FileNotFoundError:
            given = {}
        except UnicodeDecodeError:
            return [Check("written answers", False, f"{path}: not UTF-8 text")]
        except (tomllib.TOMLDecodeError, RecursionError, ValueError) as exc:
            why = (
                "nested too deeply" if isinstance(exc, RecursionError) else f"malformed TOML: {exc}"
            )
            return [Check("written answers", False, f"{path}: {why}")]
        except OSError as exc:
            return [Check("written answers", False, f"{path}: cannot read it: {exc.strerror}")]
        return [self._answer(item, given, path) for item in items]

    def _fact(self, item: AnswerSpec) -> Any:
        spec = self.config.check_named(item.check)
        assert spec is not None
        protocol = str(self.config.base) if item.reference and self.config.base else self.protocol
        scn = cases.build(self.config, spec.case, protocol, self.env, f"answer-{item.key}")
        result = runner.run(scn) if protocol != self.protocol else self.run(scn)
        if item.fact == "violated-property":
            wanted = list(spec.expectation.properties or self.config.properties or result.verdicts)
            return next((p for p in wanted if not result.verdicts[p].holds), "none")
        decided = [o for o in result.record.outputs_named("decide") if o.node == item.node]
        if not decided:
            return None
        return decided[0].round if item.fact == "decision-round" else decided[0].data.get("value")

    def _answer(self, item: AnswerSpec, given: Mapping[str, Any], path: Path) -> Check:
        name = f"answer: {item.key}"
        got = given.get(item.key)
        if got in (None, "", -1):
            return Check(
                name, False, f"{path.name}: answer {item.key!r}: {item.question}", item.hint
            )
        if not isinstance(got, str | int) or isinstance(got, bool):
            return Check(name, False, f"{path.name}: {item.key} must be a string or a whole number")
        expected = self._fact(item)
        if isinstance(expected, int) and not isinstance(expected, bool):
            ok = str(got).strip() == str(expected)
        else:
            ok = str(got).strip().lower() == str(expected).lower()
        if ok:
            return Check(name, True)
        return Check(
            name,
            False,
            f"{path.name}: {item.key} = {got!r} is not right yet ({item.question})",
            item.hint,
        )

    # -- diagrams ----------------------------------------------------------------------------
    def diagram(self, scn: scenario.Scenario, result: RunResult | None = None) -> str:
        """The failing run drawn as ``bft show`` draws it (or, for ``style = "series"``,
        a table of availability per round, read from the run itself), cut to
        ``max_lines``."""
        import tempfile

        from bft.tools.show import load, make_view, parse_nodes, render_text

        config = dict(self.config.diagram)
        limit = int(config.get("max_lines", 80))
        if config.get("style") == "series" and result is not None:
            return _series_of(result, int(config.get("every", 5)))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "trace.jsonl"
            try:
                self.run(scn, trace=path)
            except _Fatal:
                raise
            except Exception as exc:  # noqa: BLE001 - a diagram is a courtesy
                return f"        (no diagram: the run raised {type(exc).__name__}: {exc})"
            if config.get("style") == "series":
                text = _series(path, int(config.get("every", 5)))
            else:
                drawn = load(path)
                wanted = config.get("nodes", "0-15")
                nodes = [i for i in parse_nodes(str(wanted), 10**9) if i < drawn.n]
                try:
                    view = make_view(drawn, nodes, config.get("rounds"), config.get("kinds"))
                    text = render_text(drawn, view, DIAGRAM_WIDTH)
                except ConfigError as exc:
                    text = f"        (no diagram: {exc})"
        lines = text.splitlines()
        if len(lines) > limit:
            lines = [*lines[: limit - 1], f"... ({len(lines) - limit + 1} more lines: rerun it)"]
        return "\n".join(lines)

    # -- the whole grade ------------------------------------------------------------------------
    def grade(self) -> Grade:
        checks: list[Check] = []
        before = _project_files()
        with guarded_parent(), self.plugged_in():
            try:
                self._grade(checks)
            except _Fatal as exc:
                checks.append(Check("your code runs within its limits", False, str(exc)))
            except student.SolutionError as exc:
                checks.append(Check("load your solution", False, str(exc)))
            finally:
                self.session.end_run()
        if self.session.tampering:
            changed = sorted(self.session.tampering)
            listed = "; ".join(changed[:4]) + (
                f"; and {len(changed) - 4} more" if len(changed) > 4 else ""
            )
            checks.append(
                Check(
                    "your code leaves the testbed alone",
                    False,
                    f"your code changes the project's own code: {listed}. The grader runs the "
                    "testbed in its own process, so this changed nothing it judged, and the grade "
                    "fails: only your code is graded, by the testbed as it is.",
                )
            )
        after = _project_files()
        if after != before:
            touched = sorted(
                set(before) ^ set(after) | {k for k in before if before.get(k) != after.get(k)}
            )
            checks.append(
                Check(
                    "your code leaves the testbed alone",
                    False,
                    f"files of the testbed changed while your code ran: {', '.join(touched[:3])}",
                )
            )
        return Grade(self.lab, self.solution, tuple(checks))

    def _grade(self, checks: list[Check]) -> None:
        self.session.probe()
        if self.session.tampering:
            pass  # reported at the end, with everything the runs add
        for spec in self.config.checks:
            checks.append(self.check(spec))
        if all(c.passed for c in checks):
            checks.append(self.search())
            if checks[-1].passed:
                extra = self.schedules()
                if extra is not None:
                    checks.append(extra)
        elif self.config.search is not None:
            checks.append(
                Check(
                    "property-based search",
                    False,
                    "skipped until every fixed case above passes",
                )
            )
        checks.extend(self.answers())


def _series_rows(rows: list[dict[str, Any]], every: int) -> str:
    from tabulate import tabulate

    table = [
        (
            r["round"],
            "-" if r["availability"] is None else f"{r['availability']:.2f}",
            r["servers_down"],
            r["served"],
            r["unserved"],
        )
        for r in rows
        if r["round"] % every == 0
    ]
    return tabulate(table, headers=["round", "availability", "servers down", "served", "waiting"])


def _series_of(result: RunResult, every: int) -> str:
    """The per-round availability table of a service run, from its record."""
    record = result.record
    servers = int(record.params.get("n", 0))
    rows = []
    for rnd, tallies in enumerate(record.tallies):
        served, unserved = tallies.get("served", 0), tallies.get("unserved", 0)
        total = served + unserved
        rows.append(
            {
                "round": rnd,
                "served": served,
                "unserved": unserved,
                "availability": served / total if total else None,
                "servers_down": sum(1 for node in record.down[rnd] if node < servers),
            }
        )
    return _series_rows(rows, every)


def _series(path: Path, every: int) -> str:
    from bft.protocols.service import series_from_trace

    return _series_rows(series_from_trace(path), every)


# ---------------------------------------------------------------------------- entry points


def _solution_path(lab: Lab, solution: str | Path | None) -> Path:
    path = Path(solution) if solution is not None else lab.skeleton
    if not path.is_file():
        raise ConfigError(f"solution file {str(path)!r} does not exist")
    return path.resolve()


def _ready(number: int) -> Lab:
    lab = get(number)
    missing = lab.missing()
    if missing:
        raise ConfigError(
            f"lab {number} needs {', '.join(missing)}, which this installation does not have"
        )
    return lab


def grade(number: int, solution: str | Path | None = None, *, examples: int | None = None) -> Grade:
    """Grade lab ``number`` with the student's file (the lab's skeleton by default)."""
    lab = _ready(number)
    if examples is not None and examples < 1:
        raise ConfigError(f"--examples must be at least 1 (got {examples})")
    return Grader(lab, _solution_path(lab, solution), examples).grade()


@attrs.frozen
class Rerun:
    """One grader case rerun: the check it belongs to, its scenario and run, and whether it
    meets its expectation."""

    name: str
    passed: bool
    message: str
    scenario: scenario.Scenario | None
    result: RunResult | None


def _match(lab: Lab, name: str) -> str:
    names = [c.name for c in lab.config.checks]
    extra = ["search", "schedules"]
    if name.isdigit() and 1 <= int(name) <= len(names):
        return names[int(name) - 1]
    if name in names or name in extra:
        return name
    hits = [n for n in names if name.lower() in n.lower()]
    if len(hits) == 1:
        return hits[0]
    listing = "; ".join(f"{i + 1}: {n}" for i, n in enumerate(names)) + "; search; schedules"
    if hits:
        raise ConfigError(f"--check {name!r} matches several checks: {'; '.join(hits)}")
    raise ConfigError(f"no check {name!r} in lab {lab.number}; checks: {listing}")


def rerun(
    number: int,
    solution: str | Path | None,
    check: str,
    trace: str | Path | None = None,
    *,
    twin: bool = False,
    examples: int | None = None,
) -> Rerun:
    """Rerun one case of lab ``number``'s grader with the student's file, with a full trace
    when ``trace`` is given. ``check`` names a fixed check (its name, a unique part of it,
    or its number), ``search`` (the search's minimal failing case) or ``schedules``."""
    lab = _ready(number)
    name = _match(lab, check)
    if name == "schedules" and lab.config.schedules is None:
        raise ConfigError(f"lab {number} has no schedule search")
    if name == "search" and lab.config.search is None:
        raise ConfigError(f"lab {number} has no search")
    if examples is not None and examples < 1:
        raise ConfigError(f"--examples must be at least 1 (got {examples})")
    grader = Grader(lab, _solution_path(lab, solution), examples)
    grader._detailed = True  # no diagrams: the trace is what this is for
    trace_path = Path(trace) if trace is not None else None
    with guarded_parent(), grader.plugged_in():
        try:
            grader.session.probe()
            if name in ("search", "schedules"):
                found = grader.search() if name == "search" else grader.schedules()
                assert found is not None
                scn = getattr(grader, "last_search" if name == "search" else "last_schedule", None)
                if found.passed or scn is None:
                    return Rerun(name, True, f"{found.name}: {found.message}", None, None)
                result = grader.run(scn, trace=trace_path)
                return Rerun(name, False, found.message, scn, result)
            spec = lab.config.check_named(name)
            assert spec is not None
            case = cases.merge(spec.case, spec.twin) if twin and spec.twin else spec.case
            scn = grader.scenario_for(case, name)
            result = grader.run(scn, trace=trace_path)
            passed, why = judge(lab.config, spec.expectation, result)
            return Rerun(name, passed, why, scn, result)
        except _Fatal as exc:
            return Rerun(name, False, str(exc), None, None)
        except student.SolutionError as exc:
            return Rerun(name, False, str(exc), None, None)
        except Exception as exc:  # noqa: BLE001 - whatever the student's code made the run raise
            return Rerun(name, False, grader._failure(exc), None, None)
        finally:
            grader.session.end_run()
