"""The checks every planted bug gets (shared by the quality test files)."""

from __future__ import annotations

from tests.quality.planted import Planted, searcher_for

CI_BUDGET = 200  # schedules per search: the CI budget every planted bug must fit


def check_found_and_minimal(bug: Planted) -> None:
    searcher = searcher_for(bug, bug.name)
    outcome = searcher.search(examples=CI_BUDGET, seed=0)
    cex = outcome.counterexample
    assert cex is not None, f"{bug.name} ({bug.bug}) not found in {CI_BUDGET} schedules"
    assert cex.property in bug.breaks, (cex.property, cex.witness)
    assert len(cex.schedule.faulty) <= bug.faults  # found within the protocol's bound
    assert cex.result.beyond_bound is None
    # 1-minimal: without any one of its actions, every counted property holds again
    for index in range(len(cex.schedule)):
        smaller = cex.schedule.without(index)
        assert not searcher.breaks(smaller), f"still fails without action {index + 1}: {smaller}"


def check_correct_survives(bug: Planted) -> None:
    outcome = searcher_for(bug, bug.correct).search(examples=CI_BUDGET, seed=0)
    cex = outcome.counterexample
    assert cex is None, f"{bug.correct}: {cex.property} violated by {cex.schedule}: {cex.witness}"
    assert outcome.examples == CI_BUDGET
