"""The search split over processes and over a Dask cluster gives answers a user can rely on.

`--jobs J` and `--scheduler ADDRESS` only change where schedules run: for one seed and
job count the search is deterministic, and the exhaustive explorer covers the same
scope (the same counts, the same shortest counterexample) however it is split.
"""

from __future__ import annotations

import pytest

from bft.run import scenario
from bft.search.driver import Searcher
from bft.search.exhaustive import Exhaustive
from tests.helpers import local_dask_cluster

GENERALS = scenario.load("byzantine-generals")  # OM(1) with n = 4
THREE = scenario.with_overrides(GENERALS, adversaries=[], params={"n": 3})  # beyond the bound


def _answer(outcome) -> tuple:
    cex = outcome.counterexample
    assert cex is not None, "the search should find OM's n = 3 impossibility"
    return (cex.property, cex.schedule, cex.found_after)


def test_two_jobs_give_the_same_counterexample_every_time() -> None:
    searcher = Searcher(THREE, faults=1)
    first = searcher.search(examples=400, seed=5, jobs=2, shrink_seconds=20)
    again = Searcher(THREE, faults=1).search(examples=400, seed=5, jobs=2, shrink_seconds=20)
    assert _answer(first) == _answer(again)
    assert first.counterexample.property in ("agreement", "validity")
    assert len(first.counterexample.schedule) == 1  # one traitor is enough at n = 3


@pytest.fixture(scope="module")
def cluster():
    with local_dask_cluster(2) as address:
        yield address


def test_a_search_on_a_local_dask_cluster_finds_and_shrinks_the_violation(cluster) -> None:
    outcome = Searcher(THREE, faults=1).search(
        examples=400, seed=5, scheduler=cluster, shrink_seconds=20
    )
    cex = outcome.counterexample
    assert cex is not None and cex.property in ("agreement", "validity")
    assert len(cex.schedule) == 1
    # the counterexample replays to the same violation in this process
    replayed = Searcher(THREE, faults=1).run(cex.schedule)
    assert not replayed.verdicts[cex.property].holds


def test_the_exhaustive_explorer_covers_the_same_scope_on_dask(cluster) -> None:
    searcher = Searcher(THREE, faults=1, max_actions=2)
    serial = Exhaustive(searcher, 2).run()
    on_dask = Exhaustive(searcher, 2).run(scheduler=cluster)
    assert serial.counts == on_dask.counts
    assert serial.counterexample is not None
    assert serial.counterexample.schedule == on_dask.counterexample.schedule  # type: ignore[union-attr]


def test_a_find_in_the_first_stream_is_the_serial_one_with_two_jobs() -> None:
    """The first stream runs in the calling process while the workers start: a violation
    it finds is the one (and at the schedule) a serial search finds."""
    serial = Searcher(THREE, faults=1).search(examples=400, seed=5, shrink_seconds=20)
    pooled = Searcher(THREE, faults=1).search(examples=400, seed=5, jobs=2, shrink_seconds=20)
    assert serial.counterexample is not None and serial.counterexample.found_after <= 100
    assert _answer(pooled) == _answer(serial)
