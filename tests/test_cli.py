"""The command-line contract: listings, JSON fields, exit statuses, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bft.cli import main
from bft.core import registry

ROOT = Path(__file__).resolve().parent.parent


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``bft ARGS`` in-process; argparse's own errors exit via SystemExit."""
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_registered_protocols_and_adversaries(capsys) -> None:
    code, out, _ = run_cli(capsys, "list", "protocols")
    assert code == 0 and out.startswith("om ") or "\nom " in out
    code, out, _ = run_cli(capsys, "list", "adversaries")
    for name in ("none", "crash", "crash-recover", "partition", "drop", "delay", "traitor"):
        assert f"{name} " in out
    code, out, _ = run_cli(capsys, "list", "properties")
    assert "agreement" in out and "no-exceptions" in out


def test_builtins_come_from_entry_points() -> None:
    from importlib.metadata import entry_points

    assert "om" in {ep.name for ep in entry_points(group="bft.protocols")}
    assert "traitor" in {ep.name for ep in entry_points(group="bft.adversaries")}
    assert registry.protocol("om").name == "om"


def test_run_json_has_the_contract_fields(capsys) -> None:
    code, out, _ = run_cli(capsys, "run", "byzantine-generals", "--json")
    data = json.loads(out)
    assert code == 0
    for key in ("scenario", "protocol", "adversaries", "seed", "rounds", "metrics", "properties"):
        assert key in data
    assert data["metrics"]["messages"] == 9
    assert data["properties"]["agreement"] == {
        "holds": True,
        "kind": "safety",
        "witness": None,
        "exercised": True,
    }


def test_violation_exits_1(capsys) -> None:
    code, out, _ = run_cli(capsys, "run", "byzantine-generals", "--nodes", "3", "--json")
    assert code == 1
    assert json.loads(out)["properties"]["validity"]["holds"] is False


def test_fault_free_override_and_om2_message_count(capsys) -> None:
    code, out, _ = run_cli(
        capsys,
        "run",
        "byzantine-generals",
        "--nodes",
        "7",
        "--param",
        "m=2",
        "--adversary",
        "none",
        "--json",
    )
    data = json.loads(out)
    assert code == 0 and data["metrics"]["messages"] == 156 and data["adversaries"] == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "byzantine-generals", "--protocol", "pbtf"], "unknown protocol 'pbtf'"),
        (
            ["run", "byzantine-generals", "--adversary", "traiter"],
            "unknown adversary 'traiter' (did you mean 'traitor'?)",
        ),
        (["run", "no-such-scenario"], "unknown scenario 'no-such-scenario'"),
        (["run", "byzantine-generals", "--nodes", "1"], "parameter 'n' must be >= 2 (got 1)"),
        (["run", "byzantine-generals", "--rounds", "-1"], "--rounds must be at least 1 (got -1)"),
        (
            ["run", "byzantine-generals", "--param", "m=x"],
            "parameter 'm' must be an integer (got 'x')",
        ),
        (
            ["run", "byzantine-generals", "--param", "q=1"],
            "unknown parameter 'q'; valid parameters: 'commander', 'm', 'n', 'value'",
        ),
        (
            ["run", "byzantine-generals", "--adversary", "traitor:nodes=9"],
            "node 9 does not exist (n=4; nodes are 0..3)",
        ),
        (
            ["run", "byzantine-generals", "--adversary", "traitor:strategy=lie"],
            "must be one of 'flip', 'random', 'split'",
        ),
        (
            ["run", "byzantine-generals", "--adversary", "crash:bogus=1"],
            "unknown parameter 'bogus'",
        ),
        (
            ["run", "byzantine-generals", "--param", "commander=4"],
            "commander must be a general 0..3",
        ),
        (
            ["run", "byzantine-generals", "--nodes", "30", "--param", "m=5"],
            "choose a smaller n or m",
        ),
        (["run", "byzantine-generals", "--rounds"], "expected one argument"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, args: list[str], expected: str) -> None:
    code, _, err = run_cli(capsys, *args)
    assert code == 2
    assert expected in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('protocol = "om"\nsed = 3\n', "unknown field 'sed'; valid fields:"),
        ('protocol = "om"\nseed = "three"\n', "field 'seed' must be an integer (got 'three')"),
        ("seed = 3\n", "missing field 'protocol'"),
        ('protocol = "om"\n[[adversary]]\nnodes = [1]\n', "adversary #1 needs a 'name'"),
        (
            'protocol = "om"\n[network]\nmodel = "async"\n',
            "must be one of 'lossy', 'partial-synchrony', 'synchronous'",
        ),
        ('protocol = "om"\nrounds = 0\n', "field 'rounds' must be at least 1 (got 0)"),
        ('protocol = "om"\n[environment]\ncapacity = 0\n', "'capacity' must be > 0"),
        ("protocol = = 1\n", "malformed TOML"),
    ],
)
def test_bad_scenario_files_are_refused_with_the_field_named(
    capsys, tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    code, _, err = run_cli(capsys, "run", str(path))
    assert code == 2
    assert expected in err and "Traceback" not in err


def test_console_script_exit_status_and_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bft", "run", "byzantine-generals", "--adversary", "nope"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("bft: error: unknown adversary 'nope'")
    assert "Traceback" not in proc.stderr


def test_refused_adversary_actions_are_reported(capsys) -> None:
    code, out, _ = run_cli(capsys, "run", "byzantine-generals", "--adversary", "delay:rate=1.0")
    assert code == 0
    assert (
        "refused in round 0: delay: delay 0->1: the synchronous model forbids delaying messages"
        in out
    )


def test_replay_checks_the_recorded_digest(capsys, tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "run", "byzantine-generals", "--json")
    digest = json.loads(out)["digest"]
    source = (ROOT / "scenarios" / "byzantine-generals.toml").read_text()
    good = tmp_path / "good.toml"
    good.write_text(source + f'\n[replay]\ndigest = "{digest}"\n')
    assert run_cli(capsys, "replay", str(good))[0] == 0
    tampered = tmp_path / "tampered.toml"
    tampered.write_text(
        source.replace("value = 1", "value = 0") + f'\n[replay]\ndigest = "{digest}"\n'
    )
    code, _, err = run_cli(capsys, "replay", str(tampered))
    assert code == 2 and "replay produced trace digest" in err
