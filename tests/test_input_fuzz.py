"""Generated bad input over every command and file type: never a traceback, never a hang.

The contract (issue: "bad input never gets a traceback or a hang"): every
input ends with exit status 0, 1 or 2; a 2 comes with exactly one line on
stderr; no exception escapes ``bft``; nothing runs past the watchdog. The
generators live in ``tests/inputs.py``; the benchmark ``benchmarks/bench_fuzz.py``
runs 10,000+ of them, this file a CI budget.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bft.core.errors import ConfigError
from tests.inputs import (
    RAW_FILES,
    command_lines,
    invoke,
    mutated_documents,
    write_document,
)

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def assert_handled(argv: list[str]) -> None:
    outcome = invoke(argv)
    problem = outcome.problem()
    assert problem is None, f"bft {' '.join(argv)[:300]}: {problem}\n{outcome.err[-800:]}"


@FUZZ
@given(argv=command_lines())
def test_any_command_line_is_handled(argv: list[str]) -> None:
    assert_handled(argv)


@FUZZ
@given(doc=mutated_documents(), command=st.sampled_from(["run", "replay", "check"]))
def test_any_scenario_or_counterexample_file_is_handled(
    doc: dict, command: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = write_document(doc, tmp_path_factory.mktemp("doc") / "case.toml")
    extra = {"run": ["--rounds", "40"], "check": ["--examples", "5", "--rounds", "40"]}
    assert_handled([command, str(path), *extra.get(command, [])])


@FUZZ
@given(raw=RAW_FILES, command=st.sampled_from(["run", "replay", "show", "check", "bench"]))
def test_any_bytes_as_a_file_are_handled(
    raw: bytes, command: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    name = "case.jsonl" if command == "show" else "case.toml"
    path = write_document({}, tmp_path_factory.mktemp("raw") / name, raw)
    assert_handled([command, str(path)])


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "byzantine-generals", "--nodes", "1000000000"],
        ["run", "byzantine-generals", "--rounds", "9223372036854775807"],
        ["run", "byzantine-generals", "--seed", "99999999999999999999999"],
        ["run", "byzantine-generals", "--param", "n=" + "[" * 3000],
        ["run", "a" * 300],
        ["run", "pbft-normal", "--param", "clients=999999999999"],
        ["check", "byzantine-generals", "--seconds", "nan"],
        ["check", "byzantine-generals", "--out", "/nonexistent/dir/cex.toml"],
        ["show", "/dev/null"],
        ["show", "a\x00b", "--nodes", "0-3"],
        [
            "run",
            "dolev-strong",
            "--nodes",
            "6247",
            "--rounds",
            "40",
        ],  # bench_fuzz: 39 GB  # found by bench_fuzz: a NUL byte in a name
        ["replay", "a\x00b.toml"],
        ["run", "byzantine-generals", "--isolate", "a\x00b.py:Snoop"],
    ],
)
def test_the_audits_inputs_are_refused_with_one_line(argv: list[str]) -> None:
    outcome = invoke(argv)
    assert outcome.problem() is None, outcome
    assert outcome.code == 2, outcome


def test_a_deep_toml_value_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("protocol = 'om'\n[params]\nn = " + "[" * 500 + "]" * 500 + "\n")
    outcome = invoke(["run", str(path)])
    assert outcome.code == 2 and outcome.problem() is None, outcome


def test_a_schedule_without_a_replay_table_that_fails_is_one_line(tmp_path: Path) -> None:
    """Found by bench_fuzz: the 'no [replay] table' warning came before the error, so a bad
    file got two lines. The warning now follows a run that succeeded."""
    path = tmp_path / "truncated.toml"
    path.write_text(
        'protocol = "om"\n[params]\nn = 4\n[[adversary]]\nname = "schedule"\nfaults = 1\n'
        'actions = [{ do = "crash", node = 99, at = 1 }]\n'
    )
    outcome = invoke(["replay", str(path)])
    assert outcome.code == 2 and outcome.problem() is None, outcome
    path.write_text(path.read_text().replace("node = 99", "node = 1"))
    fine = invoke(["replay", str(path)])
    assert fine.code in (0, 1) and "without a digest" in fine.err, fine


@pytest.mark.parametrize("protocol", ["dolev-strong", "pbft", "hotstuff", "om"])
def test_all_to_all_protocols_are_sized_by_pairs_of_nodes(protocol: str) -> None:
    """Memory of an all-to-all protocol grows with n^2 (Dolev-Strong at n = 1,000 peaks at
    about 1 GB): a size that cannot fit is refused before the run, naming what fits; the
    same n for a protocol that is not all-to-all is only sized per node."""
    from bft.core import registry
    from bft.run import budget

    memory = budget.physical_memory()
    assert memory is not None
    fits = int((memory / budget.BYTES_PER_PAIR) ** 0.5)
    spec = registry.protocol(protocol)
    assert spec.all_to_all
    with pytest.raises(ConfigError, match=f"use at most {fits:,} nodes"):
        budget.check_size(protocol, fits + 10, 40, all_to_all=True)
    budget.check_size(protocol, fits - 10, 40, all_to_all=True)
    budget.check_size("swim", fits + 10, 40)  # per node only: accepted
