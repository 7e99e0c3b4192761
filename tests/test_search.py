"""The search driver and `bft check` on OM: nothing within the bound, a minimal
counterexample beyond it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bft.cli import main
from bft.run import scenario
from bft.search.driver import Searcher, search
from bft.search.schedule import Schedule

CI_BUDGET = 200
BASE = scenario.load("byzantine-generals")  # OM(1), n=4, lieutenant 3 a traitor
QUIET = scenario.with_overrides(BASE, adversaries=[])  # the same, without the traitor


def assert_one_minimal(searcher: Searcher, schedule: Schedule) -> None:
    """The schedule breaks a property; removing any single action makes all hold."""
    assert not searcher.run(schedule).ok
    for index in range(len(schedule)):
        smaller = schedule.without(index)
        assert not searcher.breaks(smaller), f"still fails without action {index + 1}: {smaller}"


def test_om_within_its_bound_survives_every_schedule_of_the_ci_budget() -> None:
    # the scenario's traitor spends the fault budget (m = 1) the search explores, so the
    # search replaces it: any one general may be faulty
    outcome = search(BASE, examples=CI_BUDGET, seed=0)
    assert outcome.replaced == ("traitor",) and outcome.model.faults == 1
    assert outcome.counterexample is None
    assert outcome.examples == CI_BUDGET
    # the faults really were exercised: some took effect and some changed decisions
    assert sum(s.applied for s in outcome.kinds.values()) > 0
    assert outcome.kinds["equivocate"].applied > 0 and outcome.kinds["mutate"].applied > 0
    assert outcome.exercised["agreement"] > 0 and outcome.exercised["validity"] > 0


def test_three_generals_fall_to_the_scenarios_own_traitor() -> None:
    # the impossibility story: with n = 3 the scenario's lying lieutenant alone is enough,
    # and a check runs the scenario as written before it searches
    outcome = search(scenario.with_overrides(BASE, params={"n": 3}), examples=CI_BUDGET)
    cex = outcome.counterexample
    assert cex is not None and len(cex.schedule) == 0
    assert outcome.scenario_violated and cex.property in ("agreement", "validity")
    assert [a["name"] for a in cex.document["adversary"]] == ["traitor"]
    assert cex.result.beyond_bound is not None and "3m+1" in cex.result.beyond_bound


def test_three_generals_without_a_traitor_fall_to_one_searched_fault() -> None:
    searcher = Searcher(scenario.with_overrides(QUIET, params={"n": 3}))
    outcome = searcher.search(examples=CI_BUDGET, seed=0)
    cex = outcome.counterexample
    assert cex is not None
    assert len(cex.schedule) == 1  # OM(1) with n=3: one fault is enough (n < 3m+1)
    assert cex.property in ("agreement", "validity")
    assert cex.result.beyond_bound is not None and "3m+1" in cex.result.beyond_bound
    assert_one_minimal(searcher, cex.schedule)


def test_two_faults_among_four_generals_give_a_minimal_counterexample() -> None:
    searcher = Searcher(QUIET, faults=2)
    outcome = searcher.search(examples=CI_BUDGET, seed=0)
    assert outcome.model.outside is not None and "tolerates 1" in outcome.model.outside
    cex = outcome.counterexample
    assert cex is not None
    assert len(cex.schedule.faulty) == 2  # one fault is provably not enough
    assert cex.found_after <= CI_BUDGET and cex.first_size >= len(cex.schedule)
    assert_one_minimal(searcher, cex.schedule)
    # the file holds the scenario, the explicit schedule and the digest of this run
    doc = cex.document
    assert doc["adversary"][0]["name"] == "schedule"
    assert doc["replay"]["digest"] == cex.result.digest
    assert doc["replay"]["property"] == cex.property


def test_a_search_is_reproducible_from_its_seed() -> None:
    first = search(QUIET, faults=2, examples=100, seed=7).counterexample
    again = search(QUIET, faults=2, examples=100, seed=7).counterexample
    assert first is not None and again is not None
    assert first.schedule == again.schedule and first.result.digest == again.result.digest


def test_a_time_budget_alone_ends_the_search() -> None:
    outcome = search(BASE, examples=None, seconds=0.5, seed=0)
    assert outcome.counterexample is None and outcome.examples >= 1


def test_check_reports_no_violation_and_what_was_exercised(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "byzantine-generals", "--examples", "60"]) == 0
    out = capsys.readouterr().out
    assert "no violation in 60 schedules" in out
    assert "took effect" in out and "equivocate" in out


def test_check_writes_a_minimal_counterexample_and_says_how_to_replay_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "cex.toml"
    code = main(
        [
            "check",
            "byzantine-generals",
            "--adversary",
            "none",
            "--faults",
            "2",
            "--out",
            str(out_file),
        ]
    )
    assert code == 1
    out = capsys.readouterr().out
    assert "VIOLATION of" in out and "witness:" in out
    assert f"bft replay {out_file}" in out
    assert out_file.is_file() and "[replay]" in out_file.read_text()
    assert main(["replay", str(out_file)]) == 1


def test_check_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "cex.toml"
    code = main(
        ["check", "byzantine-generals", "--adversary", "none", "--nodes", "3", "--json",
         "--out", str(out_file)]
    )  # fmt: skip
    assert code == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["protocol"] == "om" and payload["fault_model"]["faults"] == 1
    violation = payload["violation"]
    assert violation["file"] == str(out_file) and len(violation["actions"]) == 1
    assert violation["replay"] == f"bft replay {out_file}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--faults", "-1"], "--faults must be >= 0"),
        (["--faults", "9"], "exceeds the number of nodes"),
        (["--kinds", "crash,meteor"], "unknown action kind 'meteor'"),
        (["--examples", "0"], "--examples must be at least 1"),
        (["--seconds", "-2"], "--seconds must be a positive number"),
        (["--max-actions", "0"], "--max-actions must be between 1 and 64"),
        (["--protocol", "pfbt"], "unknown protocol 'pfbt'"),
        (["--jobs", "0"], "--jobs must be between 1"),
        (["--out", "/nonexistent/dir/cex.toml"], "does not exist"),
    ],
)
def test_check_refuses_bad_input_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "byzantine-generals", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_check_can_count_only_some_properties_and_fault_some_roles(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["check", "byzantine-generals", "--adversary", "none", "--nodes", "3"]
    assert main([*argv, "--property", "integrity"]) == 0
    assert "no violation in 200 schedules" in capsys.readouterr().out
    code = main([*argv, "--role", "commander", "--examples", "50"])
    assert code == 0  # a traitorous commander alone cannot break OM(1), even with n=3
    assert "among nodes [0]" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--property", "liveness"], "unknown property 'liveness' for protocol 'om'"),
        (["--role", "general"], "no node has role 'general'"),
    ],
)
def test_check_refuses_unknown_properties_and_roles(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "byzantine-generals", *argv]) == 2
    assert message in capsys.readouterr().err


def test_the_pytest_plugin_gives_profiles_and_fixtures(
    bft_run: Callable[..., Any], bft_search: Callable[..., Any], bft_search_budget: int
) -> None:
    from hypothesis import settings

    from bft.pytest_plugin import SEARCH_BUDGET, current_profile

    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.database is None
    assert settings.get_profile("thorough").max_examples > settings.get_profile("dev").max_examples
    assert bft_search_budget == SEARCH_BUDGET[current_profile()]
    assert "validity" in bft_run("byzantine-generals", params={"n": 3}).violated
    outcome = bft_search("byzantine-generals", params={"n": 3}, examples=50)
    assert outcome.found and outcome.counterexample.property in ("agreement", "validity")


def test_twins_run_a_second_copy_of_the_node_and_change_outcomes() -> None:
    # A twin (Twins, Bano et al.) runs the protocol's own node code under a corrupted
    # identity; in PBFT a twin primary's second pre-prepare must be tolerated (f=1).
    outcome = search(scenario.load("pbft-normal"), examples=20, seed=0, kinds=["twin"])
    assert outcome.counterexample is None
    assert outcome.kinds["twin"].applied > 0
    assert outcome.kinds["twin"].changed > 0


def test_a_budget_in_schedules_that_would_run_for_days_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by bench_fuzz: `--examples 6778290` on a 64-member SWIM scenario started a
    search of more than a day. Without --seconds, a search estimated (from timed runs) to
    take more than a day is refused in one line that says what fits."""
    out = str(tmp_path / "cex.toml")
    code = main(["check", "pbft-normal", "--examples", "100000000", "--out", out])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "would take about" in err and "give --seconds T" in err and "at most" in err
    fits = int(err.split("at most ")[1].split(" examples")[0].replace(",", ""))
    assert 1_000 < fits < 100_000_000


def test_every_phase_of_the_portfolio_takes_its_turn_across_streams(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bft.search import driver

    ran: list[str] = []
    for name in ("_random", "_mutate", "_hypothesis_phase"):
        original = getattr(driver.Searcher, name)

        def spy(self: Any, *args: Any, _name: str = name, _f: Any = original) -> Any:
            ran.append(_name)
            return _f(self, *args)

        monkeypatch.setattr(driver.Searcher, name, spy)
    Searcher(BASE).search(examples=3 * driver.STREAM, seed=0)
    assert {"_random", "_mutate", "_hypothesis_phase"} <= set(ran)


def test_the_hypothesis_phase_alone_finds_and_returns_a_violation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bft.search import driver

    monkeypatch.setattr(driver, "PHASES", ("hypothesis",))
    searcher = Searcher(scenario.with_overrides(QUIET, params={"n": 3}))
    cex = searcher.search(examples=CI_BUDGET, seed=0).counterexample
    assert cex is not None and cex.property in ("agreement", "validity")
    assert_one_minimal(searcher, cex.schedule)
