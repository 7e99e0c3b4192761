"""The labs: untouched skeletons fail with a helpful message, correct solutions pass.

Reference solutions live here (tests/lab_solutions/), never in the skeletons;
the ``*_project`` solutions grade the project's own implementations through
the same grader.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bft.cli import main
from bft.tools import labs

SOLUTIONS = Path(__file__).parent / "lab_solutions"


def available() -> set[int]:
    return {lab.number for lab in labs.available() if not lab.missing()}


def needs(number: int) -> None:
    if number not in available():
        pytest.skip(f"lab {number} needs protocols this checkout does not have")


#: lab -> (what the untouched skeleton's grade must say, reference solutions)
CASES = {
    1: ("metric availability_final is 0.0", ["lab1/policy.py"]),
    2: ("your code is not written yet", ["lab2/om1.py", "lab2_project/om1.py"]),
    3: ("your code is not written yet", ["lab3_project/broadcast.py"]),
    4: ("your code is not written yet", ["lab4/quorums.py"]),
    5: ("metric false_positive_rate is 0.1", ["lab5/tune.py"]),
    6: ("the protocol survived", ["lab6/attack.py"]),
}


def test_lab_list_shows_every_lab(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "list"]) == 0
    out = capsys.readouterr().out
    for lab in labs.available():
        assert re.search(rf"^\s*{lab.number}\s", out, re.M)
        assert lab.skeleton.name in out
    assert {1, 2, 3, 4, 5, 6} <= {lab.number for lab in labs.available()}


@pytest.mark.parametrize("number", sorted(CASES))
def test_each_lab_has_a_narrative_and_a_skeleton_without_the_answer(number: int) -> None:
    lab = labs.get(number)
    readme = (lab.path / "README.md").read_text()
    for section in ("## Read", "## Do", "## Observe"):
        assert section in readme
    skeleton = lab.skeleton.read_text()
    assert "TODO" in skeleton
    assert "bft lab grade" in skeleton
    for solution in CASES[number][1]:
        assert (SOLUTIONS / solution).read_text() != skeleton


@pytest.mark.parametrize("number", sorted(CASES))
def test_untouched_skeleton_fails_with_a_helpful_message(number: int) -> None:
    needs(number)
    grade = labs.grade(number)
    assert not grade.passed
    report = grade.report()
    first = next(c for c in grade.checks if not c.passed)
    assert CASES[number][0] in first.message
    assert first.hint or number == 6  # a hint for the first failing check
    assert "its diagram:" in report  # the failing run, drawn (or its availability table)
    assert "bft show:" in report or "availability" in report
    assert "grade: FAIL" in report
    assert all(len(line) <= 100 for line in first.diagram.splitlines())


@pytest.mark.parametrize(
    ("number", "solution"),
    [
        (number, solution)
        for number, (_, solutions) in sorted(CASES.items())
        for solution in solutions
    ],
)
def test_correct_solution_passes(number: int, solution: str) -> None:
    needs(number)
    grade = labs.grade(number, SOLUTIONS / solution)
    assert grade.passed, grade.report()
    names = [c.name for c in grade.checks]
    assert any("cases)" in name for name in names)  # the property-based search ran


def test_cli_grade_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "grade", "2", "--solution", str(SOLUTIONS / "lab2/om1.py")]) == 0
    assert "grade: PASS" in capsys.readouterr().out
    assert main(["lab", "grade", "2"]) == 1
    assert main(["lab", "grade", "99"]) == 2
    assert "no lab number 99" in capsys.readouterr().err
    assert main(["lab", "grade", "2", "--solution", "/nonexistent/om1.py"]) == 2


def test_search_finds_and_shrinks_a_bug_the_fixed_checks_miss(tmp_path: Path) -> None:
    # A lieutenant that gets n=5 wrong: every fixed check uses n=4 or n=7.
    source = (SOLUTIONS / "lab2/om1.py").read_text()
    buggy = source.replace(
        "        if ctx.round == 2:\n",
        "        if ctx.round == 2 and self.n == 5:\n"
        "            ctx.output('decide', value=1 - self.order)\n"
        "            return\n"
        "        if ctx.round == 2:\n",
    )
    assert buggy != source
    path = tmp_path / "om1.py"
    path.write_text(buggy)
    (tmp_path / "answers.toml").write_text((SOLUTIONS / "lab2/answers.toml").read_text())
    grade = labs.grade(2, path)
    fixed = [c for c in grade.checks if not c.name.startswith(("search", "answer"))]
    assert all(c.passed for c in fixed), grade.report()
    search = next(c for c in grade.checks if c.name.startswith("search"))
    assert not search.passed
    # shrunk: the only failing size, the first strategy, the smallest seed, and the
    # smallest traitor that makes validity bite (with traitor 0 it is vacuous)
    assert "minimal counterexample: n=5, traitor=[1], strategy=split, seed=0" in search.message
    assert "n = 5" in search.reproduce and "bft show:" in search.diagram


def test_deciding_one_round_early_fails_lab3(tmp_path: Path) -> None:
    path = tmp_path / "broadcast.py"
    path.write_text(
        "from bft.protocols.dolev_strong import DolevStrongNode\n\n\n"
        "class Broadcaster(DolevStrongNode):\n"
        "    def decision_round(self) -> int:\n"
        "        return max(self.t, 1)\n"
    )
    grade = labs.grade(3, path)
    assert not grade.passed
    failed = {c.name: c.message for c in grade.checks if not c.passed}
    assert (
        "metric messages is 3; expected exactly 9"
        in failed[  # with t=1 nobody relays
            "four honest nodes, t=1: 9 messages, decisions in round t+1 = 2"
        ]
    )
    # and the seeded late-reveal scenario breaks it outright
    assert "agreement violated" in failed["corrupted sender and relays reveal chains late"]


def test_an_attack_beyond_the_claimed_bound_does_not_count(tmp_path: Path) -> None:
    source = (SOLUTIONS / "lab6/attack.py").read_text()
    path = tmp_path / "attack.py"
    path.write_text(source.replace("others[: self.t - 1]", "others[: self.t]"))
    grade = labs.grade(6, path)
    assert not grade.passed
    assert "beyond the bound the protocol claims" in grade.checks[0].message


def test_a_broken_solution_file_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "om1.py"
    path.write_text("class General(:\n")
    grade = labs.grade(2, path)
    assert not grade.passed
    assert "syntax error" in grade.checks[0].message and ":1:" in grade.checks[0].message
    path.write_text("General = 3\n")
    assert "must be a Node subclass" in labs.grade(2, path).checks[0].message


@pytest.mark.parametrize(
    ("prepare", "commit", "failing", "why"),
    [
        # f+1 prepares and commits: two correct replicas commit different requests
        (
            "f + 1",
            "f + 1",
            "seven replicas, a primary that equivocates with an accomplice",
            "agreement",
        ),
        # 3f prepares: waits for every backup, so after a view change it never prepares
        ("3 * f", "2 * f + 1", "part 2: a silent primary (four replicas)", "liveness-after-gst"),
    ],
)
def test_lab4_catches_quorums_too_small_and_too_large(
    tmp_path: Path, prepare: str, commit: str, failing: str, why: str
) -> None:
    needs(4)
    source = (SOLUTIONS / "lab4/quorums.py").read_text()
    wrong = source.replace("len(matching) >= 2 * f\n", f"len(matching) >= {prepare}\n")
    wrong = wrong.replace("len(matching) >= 2 * f + 1\n", f"len(matching) >= {commit}\n")
    assert wrong != source
    path = tmp_path / "quorums.py"
    path.write_text(wrong)
    grade = labs.grade(4, path)
    failed = {c.name: c.message for c in grade.checks if not c.passed}
    assert failing in failed, grade.report()
    assert failed[failing].startswith(f"{why} violated")
