"""Exhaustive small-scope checking: every schedule up to a bound, shortest first.

What the guarantee rests on is tested directly: a shortest counterexample is
found first (sizes in order); state deduplication is sound (two branches with
equal fingerprints have equal futures, on sampled continuations); each
reduction gives the same answer as the unreduced enumeration on small scopes;
a parallel run gives the serial run's answer.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bft.cli import main
from bft.core.snapshot import canonical
from bft.run import scenario
from bft.search.driver import Searcher
from bft.search.exhaustive import Exhaustive, _explorer_of, _fingerprint, _sets, _viable
from tests.quality.planted import PLANTED, register_all, scenario_for
from tests.quality.planted_families import FAMILY_PLANTED
from tests.quality.planted_families import register_all as register_families

GENERALS = scenario.load("byzantine-generals")  # OM(1), n=4, a traitorous lieutenant
QUIET = scenario.with_overrides(GENERALS, adversaries=[])


def explore(base: scenario.Scenario, size: int, **kw: object) -> object:
    faults = kw.pop("faults", None)
    searcher = Searcher(base, faults=faults, max_actions=size)  # type: ignore[arg-type]
    return Exhaustive(searcher, size, **kw).run()  # type: ignore[arg-type]


def test_om_within_its_bound_is_clean_for_every_schedule_of_two_actions() -> None:
    outcome = explore(GENERALS, 2)
    assert outcome.counterexample is None and outcome.complete == 2  # type: ignore[attr-defined]
    assert outcome.counts.schedules > 500  # type: ignore[attr-defined]
    assert "no schedule with up to 2 action(s)" in outcome.guarantee()  # type: ignore[attr-defined]


def test_beyond_the_bound_a_shortest_counterexample_comes_first() -> None:
    # two faults among four generals: no single fault breaks OM(1), some pair does
    outcome = explore(QUIET, 3, faults=2)
    cex = outcome.counterexample  # type: ignore[attr-defined]
    assert cex is not None and len(cex.schedule) == 2
    assert outcome.complete == 1  # type: ignore[attr-defined]
    assert "none with fewer" in outcome.guarantee()  # type: ignore[attr-defined]
    assert cex.result.beyond_bound is not None
    # three generals: one fault is enough
    three = explore(scenario.with_overrides(QUIET, params={"n": 3}), 2)
    assert len(three.counterexample.schedule) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["om-bad-tiebreak", "ds-outer-signature", "ds-early-relay-cutoff"])
def test_planted_bugs_that_fit_the_scope_are_found_with_the_shortest_schedule(name: str) -> None:
    register_all()
    register_families()
    planted = next((b for b in PLANTED if b.name == name), None)
    if planted is not None:
        chosen = scenario_for(planted, planted.name)
    else:
        bug = next(b for b in FAMILY_PLANTED if b.name == name)
        chosen = scenario.with_overrides(scenario.load(bug.scenario), protocol=bug.name)
    searcher = Searcher(chosen, max_actions=3)
    outcome = Exhaustive(searcher, 3).run()
    cex = outcome.counterexample
    assert cex is not None, name
    size = len(cex.schedule)
    assert outcome.complete == size - 1  # no shorter schedule breaks a searched property
    for index in range(size):  # and so none of its actions can go
        assert not searcher.breaks(cex.schedule.without(index))


def test_reductions_give_the_unreduced_answer() -> None:
    for base, faults, size in ((GENERALS, None, 2), (QUIET, 2, 2)):
        answers = []
        for dedup in (True, False):
            for symmetry in (True, False):
                outcome = explore(base, size, faults=faults, dedup=dedup, symmetry=symmetry)
                cex = outcome.counterexample  # type: ignore[attr-defined]
                answers.append(
                    (
                        outcome.complete,  # type: ignore[attr-defined]
                        None if cex is None else (len(cex.schedule), cex.property),
                    )
                )
        assert len(set(answers)) == 1, answers
    # and the reductions do reduce
    full = explore(GENERALS, 2, dedup=False, symmetry=False)
    reduced = explore(GENERALS, 2)
    assert reduced.counts.schedules < full.counts.schedules  # type: ignore[attr-defined]
    assert reduced.counts.cut_by_symmetry > 0  # type: ignore[attr-defined]


def test_a_parallel_run_gives_the_serial_answer() -> None:
    searcher = Searcher(QUIET, faults=2, max_actions=2)
    serial = Exhaustive(searcher, 2).run()
    split = Exhaustive(searcher, 2).run(jobs=2)
    assert serial.counts == split.counts
    assert serial.counterexample.schedule == split.counterexample.schedule  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "rounds", "depth"),
    [("byzantine-generals", None, 2), ("dolev-strong", None, 2), ("pbft-normal", 8, 2)],
)
def test_equal_fingerprints_mean_equal_futures(name: str, rounds: int | None, depth: int) -> None:
    """Branches that reach one fingerprint go on identically: the same continuation (one
    random later action, then no more faults) gives the same record and verdicts."""
    base = scenario.with_overrides(scenario.load(name), rounds=rounds)
    searcher = Searcher(base, max_actions=2)
    explorer = Exhaustive(searcher, 2)
    rng = random.Random(7)
    checked = 0
    for corrupt in explorer.corrupt_sets(2):
        groups: dict[str, list[object]] = {}
        for engine in _branches(explorer, corrupt, depth, 2):
            groups.setdefault(_fingerprint(engine), []).append(engine)
        for twins in groups.values():
            if len(twins) < 2 or checked >= 40:
                continue
            plan = rng.random()
            outcomes = [_continue(explorer, e.fork(), plan, corrupt) for e in twins[:3]]  # type: ignore[attr-defined]
            assert all(o == outcomes[0] for o in outcomes), name
            checked += 1
    assert checked > 0, f"{name}: no two branches met (the test checked nothing)"


def _branches(
    explorer: Exhaustive, corrupt: tuple[int, ...], depth: int, budget: int
) -> list[object]:
    """Every branch (at most ``budget`` actions) at the start of round ``depth``."""
    from bft.core.trace import NullSink
    from bft.run import runner
    from bft.search.exhaustive import _advance, _Explorer

    adversary = _Explorer(corrupt, explorer.history)
    engine = runner.engine_for(explorer.searcher.prepared, NullSink(), [adversary])
    engine.start()
    frontier = [(engine, budget)]
    for r in range(depth):
        nxt = []
        for current, left in frontier:
            current.begin_round()
            current.nodes_act(r)
            view = explorer._view(current, r, "traffic", corrupt)
            for chosen in _sets(explorer._choices(view, "traffic"), left):
                branch = current.fork()
                _explorer_of(branch).add(chosen)
                branch.end_round(r)
                _advance(branch, _explorer_of(branch))
                nxt.append((branch, left - len(chosen)))
        frontier = nxt
    return [engine for engine, _ in frontier]


def _continue(
    explorer: Exhaustive, engine: object, plan: float, corrupt: tuple[int, ...]
) -> object:
    """Run on with one action chosen by ``plan`` in a later round, then judge."""
    from bft.run import runner
    from bft.search.exhaustive import _advance

    target = 1 + int(plan * 3)
    while engine.next_round < engine.rounds:  # type: ignore[attr-defined]
        r = engine.begin_round()  # type: ignore[attr-defined]
        engine.nodes_act(r)  # type: ignore[attr-defined]
        if r == target:
            choices = explorer._choices(explorer._view(engine, r, "traffic", corrupt), "traffic")  # type: ignore[arg-type]
            if choices:
                _explorer_of(engine).add([choices[int(plan * 1000) % len(choices)]])  # type: ignore[arg-type]
        engine.end_round(r)  # type: ignore[attr-defined]
        _advance(engine, _explorer_of(engine))  # type: ignore[arg-type]
    engine.finish()  # type: ignore[attr-defined]
    result = runner.result_of(explorer.searcher.prepared, engine, metrics=False)  # type: ignore[arg-type]
    record = result.record
    return canonical(
        (
            [(o.round, o.node, o.name, dict(o.data)) for o in record.outputs],
            {name: (v.holds, v.witness) for name, v in result.verdicts.items()},
            record.sent,
            record.down,
        )
    )


def test_check_exhaustive_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cex.toml"
    argv = ["check", "byzantine-generals", "--exhaustive", "--adversary", "none"]
    assert main([*argv, "--nodes", "3", "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert "none with fewer" in text and "explored" in text
    assert main(["replay", str(out)]) == 1
    assert main(["check", "byzantine-generals", "--exhaustive", "--max-actions", "1"]) == 0
    assert "guarantee: no schedule with up to 1 action(s)" in capsys.readouterr().out
    assert main(["check", "byzantine-generals", "--exhaustive", "--examples", "5"]) == 2
    assert "--examples does not apply" in capsys.readouterr().err


def test_choices_of_a_round_are_largest_first_each_set_once_and_the_empty_set_last() -> None:
    options = list("abc")
    sets = _sets(options, 2)  # type: ignore[arg-type]
    assert sets == [("a", "b"), ("a", "c"), ("b", "c"), ("a",), ("b",), ("c",), ()]
    assert _sets([], 2) == [()]


def test_branches_that_cannot_give_every_corrupted_node_an_action_are_not_forked() -> None:
    from bft.search.actions.base import kinds
    from bft.search.schedule import Action

    table = kinds()
    crash = Action(do="crash", node=1, at=0)
    byz = next(name for name, kind in table.items() if kind.fault == "byzantine")
    by0, by2 = Action(do=byz, node=0, at=0), Action(do=byz, node=2, at=0)
    options = [(by0, by2), (by0, crash), (by0,), (crash,), ()]
    # two corrupted nodes, two actions left: a branch may leave node 2 for later, but
    # not spend its last action elsewhere, nor both on others
    assert _viable(options, (), (0, 2), 2) == [(by0, by2), (by0,), ()]  # type: ignore[arg-type]
    # node 0 has spoken already: the one action left must be node 2's (now or later)
    assert _viable([(by2,), (crash,), ()], (by0,), (0, 2), 1) == [(by2,), ()]  # type: ignore[arg-type]
    assert _viable(options, (), (), 1) == options  # type: ignore[arg-type]
