"""A run is a pure function of (scenario, seed): same digest in any process, any hash seed."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import digest_in_fresh_process, run_named

ARGS = [
    "run",
    "byzantine-generals",
    "--nodes",
    "7",
    "--param",
    "m=2",
    "--adversary",
    "traitor:nodes=[2,5],strategy=random",
    "--seed",
    "11",
    "--json",
]


def test_same_digest_in_separate_processes_with_different_hash_seeds(tmp_path: Path) -> None:
    summary = {digest_in_fresh_process(ARGS, seed) for seed in ("0", "1", "12345")}
    assert len(summary) == 1
    full = {
        digest_in_fresh_process([*ARGS, "--trace", str(tmp_path / f"t{seed}.jsonl")], seed)
        for seed in ("3", "99")
    }
    assert len(full) == 1
    assert (tmp_path / "t3.jsonl").read_bytes() == (tmp_path / "t99.jsonl").read_bytes()


@given(seed=st.integers(0, 2**32))
def test_the_seed_determines_the_run(seed: int) -> None:
    adversaries = ["traitor:nodes=[1],strategy=random"]
    first = run_named(
        "byzantine-generals", adversaries=adversaries, params={"n": 7, "m": 2}, seed=seed
    )
    again = run_named(
        "byzantine-generals", adversaries=adversaries, params={"n": 7, "m": 2}, seed=seed
    )
    assert first.digest == again.digest
    assert first.to_json() == again.to_json()


def test_different_seeds_give_different_runs_when_randomness_matters() -> None:
    adversaries = ["traitor:nodes=[1],strategy=random"]
    digests = {
        run_named(
            "byzantine-generals", adversaries=adversaries, params={"n": 7, "m": 2}, seed=s
        ).digest
        for s in range(5)
    }
    assert len(digests) > 1
