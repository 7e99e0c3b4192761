"""bft show: terminal and HTML space-time diagrams of full traces."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bft.cli import main
from bft.core import registry
from bft.core.errors import ConfigError
from bft.run import runner, scenario
from bft.run.runner import RunResult
from bft.tools.show import load, make_view, render_html, render_text

WIDTH = 100


def traced(tmp_path: Path, data: dict, name: str = "t") -> tuple[Path, RunResult]:
    path = tmp_path / f"{name}.jsonl"
    result = runner.run(scenario.from_mapping(data, name), trace_path=path)
    return path, result


@pytest.fixture
def ds_trace(tmp_path: Path) -> tuple[Path, RunResult]:
    return traced(
        tmp_path,
        {
            "protocol": "dolev-strong",
            "seed": 1,
            "params": {"n": 4, "t": 2},
            "adversary": [{"name": "ds-byzantine", "nodes": [0, 1], "strategy": "random"}],
        },
        "ds",
    )


def pbft_view_change(tmp_path: Path) -> tuple[Path, RunResult]:
    if "pbft" not in registry.names("protocol"):
        pytest.skip("the pbft protocol is not installed in this checkout")
    return traced(
        tmp_path,
        {
            "protocol": "pbft",
            "seed": 1,
            "rounds": 30,
            "params": {"n": 4, "clients": 1, "requests": 2, "view_timeout": 6},
            "adversary": [{"name": "silent-primary"}],
        },
        "pbft",
    )


def test_text_diagram_marks_nodes_rounds_messages_drops_and_outputs(
    ds_trace: tuple[Path, RunResult],
) -> None:
    path, result = ds_trace
    text = render_text(load(path))
    lines = text.splitlines()
    assert all(len(line) <= WIDTH for line in lines)
    assert re.search(r"^\s+n0\s+n1\s+n2\s+n3\s*$", text, re.M)
    for r in range(result.prepared.rounds):
        assert re.search(rf"^r{r}\s", text, re.M), f"round {r} missing"
    state = next(line for line in lines if line.startswith("r0 "))
    assert state.split()[1:5] == ["C", "C", "|", "|"]  # nodes 0 and 1 are corrupted
    assert "x" in text  # the adversary drops the corrupted nodes' own relays
    decided = [o for o in result.record.outputs if o.name == "decide"]
    assert text.count("decide value=") == len(decided)
    for name, verdict in result.verdicts.items():
        assert re.search(rf"^{name}\s+holds", text, re.M), name
        assert verdict.holds


def test_pbft_view_change_fits_a_100_column_terminal(tmp_path: Path) -> None:
    path, result = pbft_view_change(tmp_path)
    diagram = load(path)
    full = render_text(diagram)
    assert all(len(line) <= WIDTH for line in full.splitlines())
    focus = render_text(diagram, make_view(diagram, "0-3", "18:24", ["view-change,new-view"]))
    lines = focus.splitlines()
    assert all(len(line) <= WIDTH for line in lines)
    assert len(lines) <= 40  # a screen
    assert re.search(r"^\s+n0\s+n1\s+n2\s+n3\s*$", focus, re.M)
    assert "n4" not in focus.splitlines()[2]  # the client column is filtered out
    assert re.search(r"1->0,2,3\s+NewView", focus)  # the new primary's NEW-VIEW
    assert sum("ViewChange" in line for line in lines) == 3  # from the three honest backups
    assert "0->1 dropped,2 dropped,3 dropped  view-change" in focus  # the silent primary's
    assert "r17" not in focus and "r25" not in focus


def test_filters_and_their_errors(ds_trace: tuple[Path, RunResult]) -> None:
    path, _ = ds_trace
    diagram = load(path)
    text = render_text(diagram, make_view(diagram, "2,3", "1:2"))
    assert re.search(r"^\s+n2\s+n3\s*$", text, re.M)
    assert not re.search(r"^r0\s", text, re.M) and not re.search(r"^r3\s", text, re.M)
    with pytest.raises(ConfigError, match="node 9 does not exist"):
        make_view(diagram, "0,9")
    with pytest.raises(ConfigError, match="no such message kind.*kinds: ds"):
        make_view(diagram, kinds=["prepare"])
    with pytest.raises(ConfigError, match="--rounds"):
        make_view(diagram, rounds="3:1")


def test_too_many_columns_name_the_filter_to_use(tmp_path: Path) -> None:
    path, _ = traced(tmp_path, {"protocol": "phase-king", "params": {"n": 30, "f": 1}, "rounds": 2})
    diagram = load(path)
    with pytest.raises(ConfigError, match="30 nodes do not fit in 100 columns.*--nodes"):
        render_text(diagram)
    assert all(
        len(x) <= WIDTH for x in render_text(diagram, make_view(diagram, "0-9")).splitlines()
    )


def test_delays_and_crashes_are_marked(tmp_path: Path) -> None:
    path, result = traced(
        tmp_path,
        {
            "protocol": "om",
            "params": {"n": 4, "m": 1},
            "network": {"model": "lossy", "delta": 2},
            "adversary": [
                {"name": "delay", "nodes": [1], "rate": 1.0, "rounds": 2},
                {"name": "crash", "nodes": [3], "at": 1},
            ],
        },
    )
    assert result.record.delayed > 0
    text = render_text(load(path))
    assert "~" in text and "delayed to r" in text
    assert re.search(r"^r1\s+\|\s+\|\s+\|\s+X", text, re.M)
    assert "n3 crash" in text


def test_cli_show_prints_writes_html_and_reports_bad_files(
    ds_trace: tuple[Path, RunResult], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = ds_trace
    assert main(["show", str(path), "--rounds", "0:1", "--kind", "ds"]) == 0
    out = capsys.readouterr().out
    assert "r0" in out and "r1" in out and "r2 " not in out
    page = tmp_path / "page.html"
    assert main(["show", str(path), "--html", str(page)]) == 0
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert main(["show", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read trace file" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("hello\n")
    assert main(["show", str(bad)]) == 2


def test_html_is_self_contained(ds_trace: tuple[Path, RunResult]) -> None:
    path, _ = ds_trace
    page = render_html(load(path))
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"]  # a namespace
    assert not re.search(r"\b(src|href)\s*=", page)
    assert "<script>" in page and "VIOLATED" not in page and "holds" in page


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium installed (.ci/run installs Debian's chromium package)")
    path, result = traced(
        tmp_path,
        {
            "protocol": "phase-king",
            "seed": 2,
            "params": {"n": 5, "f": 1, "inputs": [1, 1, 1, 1, 0]},
            "adversary": [{"name": "traitor", "nodes": [0], "strategy": "split"}],
        },
        "pk",
    )
    page = tmp_path / "page.html"
    page.write_text(render_html(load(path)), encoding="utf-8")
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert 'data-ready="yes"' in dom, "the page's script did not run to its end"
    errors = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert errors == [], errors
    for node in range(5):
        assert f'data-node="{node}"' in dom and f">n{node}</text>" in dom
    for r in range(result.prepared.rounds):
        assert f'data-round="{r}"' in dom and f">r{r}</text>" in dom
    for name in result.verdicts:
        assert f'data-property="{name}"' in dom


def test_the_verdicts_line_records_the_judgement_but_not_the_digest(
    ds_trace: tuple[Path, RunResult],
) -> None:
    path, result = ds_trace
    last = path.read_text().splitlines()[-1]
    assert '"ev":"verdicts"' in last
    diagram = load(path)
    assert diagram.verdicts is not None
    assert diagram.verdicts["digest"] == result.digest
    assert diagram.verdicts["corrupted"] == [0, 1]
    untraced = runner.run(result.prepared.scenario, level="full")
    assert untraced.digest == result.digest  # the appended line changes no digest
