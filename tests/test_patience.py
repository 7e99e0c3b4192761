"""A command-line run projected to outlast the user's patience stops early, in one line."""

from __future__ import annotations

import signal
import time

import pytest

from bft.cli import main
from bft.core.errors import TooLong
from bft.run import patience


@pytest.fixture
def impatient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patience, "PATIENCE_SECONDS", 0.05)
    monkeypatch.setattr(patience, "FIRST_LOOK", 0.01)
    monkeypatch.setattr(patience, "LOOK_EVERY", 0.01)


def test_projection_scales_the_rounds_done_to_the_rounds_asked_for() -> None:
    assert patience.projection(10.0, 5, 40) == 80.0
    assert patience.projection(10.0, 0, 40) == 400.0  # no round done: the first is typical


def test_a_slow_block_is_stopped_with_its_projection(impatient: None) -> None:
    previous = signal.getsignal(signal.SIGVTALRM)
    with (
        pytest.raises(TooLong, match=r"1 of 1,000 rounds .*--long"),
        patience.watched(lambda: (1, 1000), "scenario 'x'", 0.05),
    ):
        _burn(2.0)
    assert signal.getsignal(signal.SIGVTALRM) == previous
    assert signal.getitimer(signal.ITIMER_VIRTUAL) == (0.0, 0.0)


def _burn(seconds: float) -> None:
    """Spend ``seconds`` of CPU time (the patience counts CPU time, not sleep)."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_watchdog_of_the_callers_own_is_left_alone(impatient: None) -> None:
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with patience.watched(lambda: (999, 1000), "scenario 'x'", 0.05):
            _burn(0.03)
        _burn(0.4)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert fired == [signal.SIGALRM]


def test_a_block_within_its_patience_goes_on(impatient: None) -> None:
    with patience.watched(lambda: (999, 1000), "scenario 'x'", 0.05):
        _burn(0.04)  # several looks, each projecting less than the patience


def test_bft_run_of_a_long_run_stops_with_one_line_and_exit_2(
    impatient: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "pbft-normal", "--rounds", "20000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "projected to take about" in err and "pass --long" in err


def test_long_lets_the_same_run_finish(impatient: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "pbft-normal", "--rounds", "20000", "--long"]) in (0, 1)
    assert "trace digest" in capsys.readouterr().out


def test_bft_check_stops_a_scenario_too_long_to_search(
    impatient: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "pbft-normal", "--rounds", "20000", "--examples", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pass --long" in err
