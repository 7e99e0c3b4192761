"""``bft lab``: list the teaching labs, copy one out, grade a solution, rerun a grader case.

    bft lab list
    bft lab start N [DIR]                       copy lab N's skeleton (and README) to DIR
    bft lab grade N [--solution PATH] [--examples K]
    bft lab run N [--solution PATH] --check NAME [--trace FILE] [--examples K] [--twin] [--json]

Without ``--solution``, ``grade`` and ``run`` use the lab's file in the current
directory if there is one (after ``bft lab start N .``), else the untouched
skeleton.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def lab_arguments(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="lab_command", metavar="VERB", parser_class=type(parser))
    verbs.required = True
    verbs.add_parser("list", help="list the labs, the file you edit in each, and their status")
    p_start = verbs.add_parser("start", help="copy a lab's skeleton and README to a directory")
    p_start.add_argument("number", type=int, help="the lab number (see 'bft lab list')")
    p_start.add_argument("dir", nargs="?", help="where to put them (default: ./labN-SLUG)")
    p_grade = verbs.add_parser("grade", help="grade a lab (your file, or --solution PATH)")
    p_grade.add_argument("number", type=int, help="the lab number (see 'bft lab list')")
    p_grade.add_argument("--solution", metavar="PATH", help="the file to grade")
    p_grade.add_argument(
        "--examples",
        type=int,
        metavar="K",
        help="cases for the property-based search (and at most 2K for a schedule search)",
    )
    p_run = verbs.add_parser("run", help="rerun one grader case with a full trace (for 'bft show')")
    p_run.add_argument("number", type=int, help="the lab number")
    p_run.add_argument("--solution", metavar="PATH", help="the file to run")
    p_run.add_argument(
        "--check",
        required=True,
        metavar="NAME",
        help="a check's name (or a unique part of it, or its number), 'search' or 'schedules'",
    )
    p_run.add_argument("--trace", metavar="FILE", help="write the full trace here")
    p_run.add_argument(
        "--examples", type=int, metavar="K", help="as given to 'grade' (search cases)"
    )
    p_run.add_argument(
        "--twin", action="store_true", help="for a blind pair: run the twin (second) run"
    )
    p_run.add_argument("--json", action="store_true", help="print one JSON object")


def _default_solution(number: int, given: str | None) -> str | None:
    if given is not None:
        return given
    from bft.tools import labs

    local = Path.cwd() / labs.get(number).skeleton.name
    return str(local) if local.is_file() else None


def cmd_lab(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from bft.cli.common import EXIT_OK, EXIT_VIOLATION
    from bft.core.errors import ConfigError
    from bft.tools import labs

    if args.lab_command == "list":
        rows = []
        for lab in labs.available():
            missing = lab.missing()
            status = "ready" if not missing else "needs " + ", ".join(missing)
            rows.append((lab.number, lab.title, lab.skeleton.name, status))
        print(tabulate(rows, headers=["lab", "title", "you edit", "status"]))
        print()
        print(f"labs are in {labs.labs_dir()}")
        print("start one with 'bft lab start N DIR', then 'bft lab grade N' in DIR")
        return EXIT_OK
    if args.lab_command == "start":
        lab = labs.get(args.number)
        target = Path(args.dir or f"lab{lab.number}-{lab.slug}")
        files = [lab.skeleton, lab.path / "README.md"]
        if lab.config.answers_file:
            files.append(lab.path / lab.config.answers_file)
        clash = [f.name for f in files if (target / f.name).exists()]
        if clash:
            raise ConfigError(f"{target}: {clash[0]} exists already; choose another directory")
        try:
            target.mkdir(parents=True, exist_ok=True)
            for source in files:
                shutil.copyfile(source, target / source.name)
        except OSError as exc:
            raise ConfigError(f"cannot write to {target}: {exc.strerror}") from None
        print(f"lab {lab.number}: {lab.title}")
        for source in files:
            print(f"  {target / source.name}")
        print(f"edit {target / lab.skeleton.name}, then: cd {target} && bft lab grade {lab.number}")
        return EXIT_OK
    if getattr(args, "examples", None) is not None and args.examples < 1:
        raise ConfigError(f"--examples must be at least 1 (got {args.examples})")
    solution = _default_solution(args.number, args.solution)
    if args.lab_command == "grade":
        result = labs.grade(args.number, solution, examples=args.examples)
        print(result.report())
        return EXIT_OK if result.passed else EXIT_VIOLATION
    outcome = labs.rerun(
        args.number, solution, args.check, args.trace, twin=args.twin, examples=args.examples
    )
    if args.json:
        data = {"check": outcome.name, "passed": outcome.passed, "message": outcome.message}
        if outcome.result is not None:
            data["run"] = outcome.result.to_json()
        print(json.dumps(data, indent=2))
    else:
        print(f"lab {args.number}, check: {outcome.name}")
        print(f"{'PASS' if outcome.passed else 'FAIL'}  {outcome.message}".rstrip())
        if outcome.result is not None:
            from bft.run.report import run_report

            print(run_report(outcome.result))
        if args.trace and outcome.result is not None:
            print(f"full trace: {args.trace} (draw it: bft show {args.trace})")
    return EXIT_OK if outcome.passed else EXIT_VIOLATION


COMMANDS = {"lab": (lab_arguments, cmd_lab)}
