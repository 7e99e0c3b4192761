"""PBFT bugs found from outside, kept as schedules that must now pass.

``tests/regressions/pbft-starvation.toml`` (found by an outside search): within
f = 1, the primary (replica 0) corrupts the sequence number of its round-1
pre-prepares, so the backups reject client 4's first request; the primary's
honest code then believes it assigned a later request of client 4 a number
the backups already hold for another batch, and it never proposes that request
again. Client 5's requests keep executing every five rounds.

Before the fix (the replica up to the commit that added this file kept the
paper's single view-change timer, restarted whenever any request executed
while others waited), ``bft run`` on this file reported liveness-after-gst
violated ("client 4's request 4:11:65263 submitted in round 11 was never
answered; the deadline was round 63") and throughput-floor violated (59
requests in 300 rounds), with no view change: client 5's executions kept
restarting the backups' timer, so the primary that ignored client 4 was
never replaced. The fix gives every held request its own timer
(``requests.Pending``, ``viewchange``): client 4's request times out, the
backups change view, and the next primary orders it.

The second test keeps that "before" honest: the paper's single timer is one
override of the fixed code (restart every held request's timer whenever a
batch executes; the earliest of them is then exactly the single timer), and
with it the same schedule starves client 4 again, trace event for event as the
old replica did (checked once by diffing the two full traces: only the header's
protocol name, and so the digest, differ).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from bft.core import registry
from bft.core.node import Context
from bft.protocols.pbft import PBFT
from bft.protocols.pbft.viewchange import ViewChanges
from bft.run import scenario
from bft.run.runner import RunResult, run

STARVATION = Path(__file__).parent / "regressions" / "pbft-starvation.toml"


class SingleTimer(ViewChanges):
    """The paper's rule: any execution restarts the timer while requests still wait."""

    def executed(self, ctx: Context) -> None:
        super().executed(ctx)
        r = self.replica
        if r.normal and not r.is_primary():
            r.pending.restart_timers(ctx.round + self.timeout)


class PBFTSingleTimer(PBFT):
    name = "pbft-single-timer"
    summary = "PBFT with the paper's single view-change timer (starves a client within f)"
    view_changes = SingleTimer


def accepted_by(result: RunResult, client: int) -> int:
    return sum(1 for o in result.record.outputs_named("accept") if o.node == client)


def test_a_primary_that_ignores_one_client_is_replaced() -> None:
    result = run(scenario.load(str(STARVATION)))
    assert result.violated == [], {k: result.verdicts[k].witness for k in result.violated}
    assert result.record.corrupted == frozenset({0})
    new_views = [o for o in result.record.outputs_named("new-view") if o.node != 0]
    assert {o.data["view"] for o in new_views} == {1}  # replica 1 took over, once
    assert new_views[0].round < 63  # before client 4's request missed its deadline
    assert accepted_by(result, 4) > 40 and accepted_by(result, 5) > 40
    assert result.verdicts["liveness-after-gst"].exercised


@pytest.fixture
def single_timer() -> Iterator[None]:
    registry.register("protocol", PBFTSingleTimer.name, PBFTSingleTimer)
    yield
    registry.unregister("protocol", PBFTSingleTimer.name)


def test_with_the_papers_single_timer_the_same_schedule_starves_client_4(
    single_timer: None,
) -> None:
    result = run(attrs.evolve(scenario.load(str(STARVATION)), protocol=PBFTSingleTimer.name))
    assert result.violated == ["recovers", "liveness-after-gst", "throughput-floor"]
    assert result.verdicts["liveness-after-gst"].witness == (
        "client 4's request 4:11:65263 submitted in round 11 was never answered; "
        "the deadline was round 63 (52 rounds after max(submission, GST=0))"
    )
    assert result.metrics["view_changes"] == 0
    assert accepted_by(result, 4) == 1 and accepted_by(result, 5) == 58


REPLY_AFTER_TRANSFER = (
    Path(__file__).parent / "regressions" / "pbft-reply-after-state-transfer.toml"
)


def test_a_replica_that_caught_up_by_state_transfer_answers_retransmissions() -> None:
    """Found by the search (a twin primary, one altered commit): replica 1 never commits
    sequence numbers 9 and 10 itself and installs them from f+1 checkpoints. The client
    then needs a second matching reply; replica 1 must answer its retransmission from
    the installed client table (a state transfer installs results, not the replies)."""
    result = run(scenario.load(str(REPLY_AFTER_TRANSFER)))
    transfers = [o for o in result.record.outputs_named("state-transfer") if o.node == 1]
    assert transfers, "the schedule no longer makes replica 1 catch up by state transfer"
    assert result.verdicts["liveness-after-gst"].holds, result.verdicts["liveness-after-gst"]
    answered = [o for o in result.record.outputs_named("accept") if o.node == 4]
    assert any(o.data["req"] == "4:20:29216" for o in answered)
    replies = [
        e for e in result.record.outputs if e.name == "accept" and e.data["req"] == "4:20:29216"
    ]
    assert replies and replies[0].data["replies"] >= 2
