"""Search quality: every planted bug is found within the CI budget, with a
1-minimal counterexample, and the correct protocol passes the same search.
(PBFT's planted bugs are in test_planted_pbft.py.)"""

from __future__ import annotations

import pytest

from tests.quality.checks import check_correct_survives, check_found_and_minimal
from tests.quality.planted import PLANTED, Planted, register_all

BUGS = [bug for bug in PLANTED if bug.correct != "pbft"]


@pytest.fixture(autouse=True, scope="module")
def _registered() -> None:
    register_all()


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_the_planted_bug_is_found_with_a_minimal_counterexample(bug: Planted) -> None:
    check_found_and_minimal(bug)


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_the_correct_protocol_survives_the_same_search(bug: Planted) -> None:
    check_correct_survives(bug)
