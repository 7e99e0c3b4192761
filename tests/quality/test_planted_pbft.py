"""Search quality for PBFT: each planted bug (2f-1 prepares counted as a quorum, a
view change that drops prepared certificates, a client that accepts the first
reply) is found within the CI budget with a 1-minimal counterexample, while
correct PBFT survives the same search (safety and liveness-after-gst, f=1,
partial synchrony; for the client bug the fault model is one replica that
alters or equivocates its messages). Slow: each search runs 200 PBFT schedules."""

from __future__ import annotations

import pytest

from tests.quality.checks import check_correct_survives, check_found_and_minimal
from tests.quality.planted import PLANTED, Planted, register_all

BUGS = [bug for bug in PLANTED if bug.correct == "pbft"]


@pytest.fixture(autouse=True, scope="module")
def _registered() -> None:
    register_all()


@pytest.mark.slow
@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_the_planted_bug_is_found_with_a_minimal_counterexample(bug: Planted) -> None:
    check_found_and_minimal(bug)


@pytest.mark.slow
@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_correct_pbft_survives_the_same_search(bug: Planted) -> None:
    check_correct_survives(bug)


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_without_faults_the_planted_variant_commits_what_pbft_commits(bug: Planted) -> None:
    # the variants copy or wrap PBFT code; fault-free they must agree with it
    from bft.run.runner import run
    from tests.quality.planted import scenario_for

    def log(protocol: str) -> list[tuple[int, int, str, str]]:
        result = run(scenario_for(bug, protocol))
        assert not [p for p in result.violated if p in (bug.properties or ())], result.violated
        out = []
        for o in result.record.outputs_named("commit"):
            client, _ts, arg = o.data["req"].split(":")  # ts: the round it was issued in
            out.append((o.node, o.data["seq"], client, arg))
        return sorted(out)

    assert log(bug.name) == log(bug.correct)
