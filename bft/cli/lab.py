"""``bft lab list`` and ``bft lab grade N [--solution PATH]``: the teaching labs' autograder."""

from __future__ import annotations

import argparse


def lab_arguments(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="lab_command", metavar="VERB", parser_class=type(parser))
    verbs.required = True
    verbs.add_parser("list", help="list the labs, their directories and what they need")
    p_grade = verbs.add_parser("grade", help="grade a lab (the skeleton, or --solution PATH)")
    p_grade.add_argument("number", type=int, help="the lab number (see 'bft lab list')")
    p_grade.add_argument(
        "--solution", metavar="PATH", help="the file to grade (default: the lab's skeleton)"
    )
    p_grade.add_argument(
        "--examples", type=int, metavar="K", help="cases for the property-based search"
    )


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
            rows.append(
                (lab.number, lab.title, f"labs/{lab.path.name}/{lab.skeleton.name}", status)
            )
        print(tabulate(rows, headers=["lab", "title", "you edit", "status"]))
        return EXIT_OK
    if args.examples is not None and args.examples < 1:
        raise ConfigError(f"--examples must be at least 1 (got {args.examples})")
    result = labs.grade(args.number, args.solution, examples=args.examples)
    print(result.report())
    return EXIT_OK if result.passed else EXIT_VIOLATION


COMMANDS = {"lab": (lab_arguments, cmd_lab)}
