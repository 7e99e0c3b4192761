"""Counterexample files replay exactly, in a fresh process; tampered or malformed
files are refused with one line and exit status 2; saved counterexamples in
tests/regressions/ still fail the way they were recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from bft.cli import main
from bft.run import scenario
from bft.run.runner import run
from tests.quality.planted import register_all

ROOT = Path(__file__).resolve().parent.parent
# Saved counterexamples record the violation they reproduce in a [replay] table; a file
# without one is checked by its protocol's tests (a hand-written published bug, or a
# fixed bug's schedule that must now pass)
REGRESSIONS = sorted(
    path
    for path in (ROOT / "tests" / "regressions").glob("*.toml")
    if "replay" in tomllib.loads(path.read_text(encoding="utf-8"))
)
TWO_TRAITORS = ROOT / "tests" / "regressions" / "om-two-traitors.toml"


def test_replay_reproduces_the_digest_in_a_fresh_process() -> None:
    data = tomllib.loads(TWO_TRAITORS.read_text())
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    proc = subprocess.run(
        [sys.executable, "-m", "bft", "replay", str(TWO_TRAITORS), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr  # the recorded violation reproduces
    payload = json.loads(proc.stdout)
    assert payload["digest"] == data["replay"]["digest"]
    assert payload["replayed_digest_matches"] is True
    assert payload["properties"][data["replay"]["property"]]["holds"] is False


@pytest.mark.parametrize("path", REGRESSIONS, ids=lambda p: p.stem)
def test_saved_counterexamples_still_fail_as_recorded(path: Path) -> None:
    register_all()  # some regressions are planted-bug variants
    loaded = scenario.load(str(path))
    result = run(loaded, level=loaded.replay["level"])
    assert result.digest == loaded.replay["digest"]
    assert loaded.replay["property"] in result.violated
    assert result.verdicts[loaded.replay["property"]].witness == loaded.replay["witness"]


def tampered(tmp_path: Path, change: object) -> Path:
    data = tomllib.loads(TWO_TRAITORS.read_text())
    change(data)  # type: ignore[operator]
    path = tmp_path / "tampered.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def _set(path: list[object], value: object) -> object:
    def apply(data: dict) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]  # type: ignore[index]
        target[path[-1]] = value  # type: ignore[index]

    return apply


TAMPERINGS = {
    "an action moved to another round": (
        lambda d: d["adversary"][0]["actions"][0].update(
            at=d["adversary"][0]["actions"][0]["at"] - 1
        ),
        "the file was edited or the code changed",
    ),
    "a different seed": (_set(["seed"], 99), "the file was edited or the code changed"),
    "a forged digest": (_set(["replay", "digest"], "0" * 64), "replay produced trace digest"),
    "a digest that is not hex": (_set(["replay", "digest"], "xyz"), "64 lowercase hex digits"),
    "no digest": (lambda d: d["replay"].pop("digest"), "records no 'digest'"),
    "an unknown replay field": (_set(["replay", "verdict"], "ok"), "unknown field 'verdict'"),
    "a bad trace level": (
        _set(["replay", "level"], "verbose"),
        "level must be 'summary' or 'full'",
    ),
    "an unknown action": (_set(["adversary", 0, "actions", 0, "do"], "meteor"), "must be one of"),
    "a node that does not exist": (
        _set(["adversary", 0, "actions", 0, "node"], 9),
        "names node 9, which does not exist",
    ),
    "actions that are not a list": (_set(["adversary", 0, "actions"], "crash"), "must be a list"),
    "an action that is not a table": (_set(["adversary", 0, "actions", 0], 3), "must be a table"),
    "a schedule naming a node that does not exist": (
        _set(["adversary", 0, "actions", 0, "node"], 9),
        "names node 9, which does not exist",
    ),
    "a recorded property that no longer fails": (
        _set(["replay", "property"], "integrity"),
        "records a violation of 'integrity', but the replay violates validity",
    ),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_a_tampered_or_malformed_file_is_refused_with_one_line(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change, message = TAMPERINGS[name]
    path = tampered(tmp_path, change)
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("protocol = 'om'\n[replay\n", "malformed TOML"),
        ("seed = 1\n", "missing field 'protocol'"),
        ("protocol = 'om'\nreplay = 3\n", "field 'replay' must be a table"),
    ],
)
def test_a_file_that_is_not_a_scenario_is_refused(
    text: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_binary_file_is_refused_in_a_fresh_process(tmp_path: Path) -> None:
    path = tmp_path / "garbage.toml"
    path.write_bytes(bytes(range(256)))
    proc = subprocess.run(
        [sys.executable, "-m", "bft", "replay", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_replay_trace_is_full_and_text_mode_says_the_digest_matched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tomllib.loads(TWO_TRAITORS.read_text())
    assert data["replay"]["level"] == "summary"  # the digest is a summary digest
    trace = tmp_path / "full.jsonl"
    assert main(["replay", str(TWO_TRAITORS), "--trace", str(trace)]) == 1
    out = capsys.readouterr().out
    assert (
        f"replay: the trace digest matches the one {TWO_TRAITORS} records "
        f"({data['replay']['digest'][:16]}..., summary trace)" in out
    )
    assert f"full trace written to {trace}" in out
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    assert lines[0]["level"] == "full"
    assert any(line.get("ev") == "send" for line in lines)  # every message, not just counts
    assert not any(line.get("ev") == "rounds" for line in lines)  # no summary series
    full = run(scenario.load(str(TWO_TRAITORS)), level="full")
    assert lines[-1]["ev"] == "verdicts" and lines[-1]["digest"] == full.digest
    assert main(["show", str(trace)]) == 0
    assert "validity      VIOLATED" in capsys.readouterr().out


def test_a_file_without_a_digest_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tomllib.loads(TWO_TRAITORS.read_text())
    del data["replay"]
    path = tmp_path / "plain.toml"
    path.write_text(tomli_w.dumps(data))
    assert main(["replay", str(path)]) == 1
    assert "records no digest, so there was nothing to compare" in capsys.readouterr().out


def test_an_unwritable_replay_trace_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for target, needle in [
        (tmp_path, "it is a directory"),
        (tmp_path / "missing" / "t.jsonl", "no directory"),
    ]:
        assert main(["replay", str(tmp_path / "absent.toml"), "--trace", str(target)]) == 2
        err = capsys.readouterr().err
        assert f"--trace: cannot write {str(target)!r}: {needle}" in err and err.count("\n") == 1
