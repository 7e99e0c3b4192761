"""Teaching labs: numbered directories under ``labs/`` and the autograder that judges them.

A lab is a directory ``labs/NN-slug/`` with a narrative ``README.md``, a
skeleton the student copies (``bft lab start N DIR``) and edits, and
``lab.toml``, the grader's configuration (``config``). The grader
(``grader``) hosts the student's file in sandbox worker processes
(``student``, on ``bft.tools.sandbox``), so that it is judged by the project's
own property checks without any chance to touch them, and tries the lab's
whole threat model against it (``adversaries``).

    grade(n, path)             -> Grade (checks, report(), passed)
    rerun(n, path, check, trace) -> Rerun (one case, with a full trace)
"""

from __future__ import annotations

from bft.tools.labs.grader import (
    Check,
    Grade,
    Lab,
    Rerun,
    available,
    get,
    grade,
    judge,
    labs_dir,
    rerun,
)
from bft.tools.labs.student import SolutionError

__all__ = [
    "Check",
    "Grade",
    "Lab",
    "Rerun",
    "SolutionError",
    "available",
    "get",
    "grade",
    "judge",
    "labs_dir",
    "rerun",
]
