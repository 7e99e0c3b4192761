"""bft show: terminal and HTML space-time diagrams of full traces.

The diagrams must be readable by a student: idle rounds folded, arrows labelled
with their kind and key fields, tampered/forged/replayed/rejected messages
marked, each view's primary marked, a crashed node not called corrupted, the
page opening on the violation (checked in headless Chromium when installed),
and every terminal line within the width, 60 columns included."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bft.cli import main
from bft.core import registry
from bft.core.errors import ConfigError
from bft.run import runner, scenario
from bft.run.report import run_report, verdict_table
from bft.run.runner import RunResult
from bft.tools.diagram.html import IDLE_ROW
from bft.tools.diagram.view import plan
from bft.tools.show import (
    load,
    make_view,
    render_focus,
    render_html,
    render_text,
    violation,
    witness_focus,
)

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
    assert set(re.findall(r"https?://[^\"' ]+", page)) == {"http://www.w3.org/2000/svg"}  # xmlns
    assert not re.search(r"\bsrc\s*=", page)
    assert all(link.startswith("#") for link in re.findall(r'href="([^"]*)"', page))
    assert "<script>" in page and "VIOLATED" not in page and "holds" in page


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


# -- the HTML page ------------------------------------------------------------------------

TWO_FAULTS = Path(__file__).resolve().parent / "regressions" / "pbft-two-faults.toml"
OM_CRASHES = Path(__file__).resolve().parent / "regressions" / "om-two-traitors.toml"


def regression_trace(tmp_path: Path, path: Path) -> tuple[Path, RunResult]:
    out = tmp_path / (path.stem + ".jsonl")
    return out, runner.run(scenario.load(str(path)), trace_path=out)


def svg_height(page: str) -> int:
    return int(re.search(r'<svg xmlns="[^"]+" width="\d+" height="(\d+)"', page)[1])  # type: ignore[index]


def test_html_folds_idle_rounds_and_draws_each_busy_round_once(tmp_path: Path) -> None:
    if "pbft" not in registry.names("protocol"):
        pytest.skip("the pbft protocol is not installed in this checkout")
    path = tmp_path / "vc.jsonl"
    result = runner.run(scenario.load("pbft-view-change"), trace_path=path)
    diagram = load(path)
    page = render_html(diagram)
    rows = plan(diagram, make_view(diagram), counts=False)
    idle = [row for row in rows if not row.busy]
    busy = [row.first for row in rows if row.busy]
    assert idle and len(rows) < result.prepared.rounds
    for row in idle:  # nothing at all is drawn in a folded round
        for r in range(row.first, row.last + 1):
            assert r not in diagram.groups_by_round and r not in diagram.marks_by_round
        assert f'data-rounds="{row.first}-{row.last}"' in page
    assert re.findall(r'class="row" data-round="(\d+)"', page) == [str(r) for r in busy]
    # a folded row is one thin strip, however many rounds it holds
    assert page.count(f'height="{IDLE_ROW}" fill="#f7f7f7"') == len(idle)
    assert max(row.last - row.first + 1 for row in idle) >= 3


def test_html_honours_kind_and_labels_arrows_with_kind_and_key_field(tmp_path: Path) -> None:
    path, _ = pbft_view_change(tmp_path)
    diagram = load(path)
    page = render_html(diagram, make_view(diagram, kinds=["view-change,new-view"]))
    kinds = set(re.findall(r'<g data-kind="([^"]+)" class="msg', page))
    assert kinds == {"view-change", "new-view"}
    assert set(re.findall(r'data-kind-toggle="([^"]+)"', page)) == kinds
    labels = re.findall(
        r'class="lbl arrow-label" data-kind="[^"]+"[^>]*><title>[^<]*</title>([^<]*)<', page
    )
    assert "new-view view=1" in labels  # the new primary's NEW-VIEW, with its view
    assert labels.count("view-change view=1") == 3  # from the three honest backups
    assert "view-change" in labels  # the silent primary's, dropped: no content recorded


def test_html_puts_a_drops_x_at_its_destination_and_marks_the_primary(tmp_path: Path) -> None:
    path, _ = pbft_view_change(tmp_path)
    page = render_html(load(path))
    lifelines = dict(re.findall(r'class="lifeline" data-node="(\d+)" x1="(\d+)"', page))
    drops = re.findall(
        r'data-dst="(\d+)">(?:<title>[^<]*</title>)<line[^>]*/><text class="drop-x" x="([\d.]+)"',
        page,
    )
    assert drops
    for dst, x in drops:
        assert float(x) == float(lifelines[dst])
    # node 1 leads view 1 from its first NEW-VIEW (round 26 in this run) on
    primary = re.search(
        r'<g class="primary" data-node="(\d+)" data-view="(\d+)"><title>([^<]*)', page
    )
    assert primary is not None and primary[1] == "1" and primary[2] == "1"
    first = min(m.round for m in load(path).marks if m.label.startswith("new-view"))
    assert f"from round {first}" in primary[3]


def test_tampered_forged_and_replayed_messages_are_marked(tmp_path: Path) -> None:
    path, _ = traced(
        tmp_path,
        {
            "protocol": "om",
            "seed": 1,
            "params": {"n": 4, "m": 1},
            "adversary": [
                {
                    "name": "schedule",
                    "faults": 1,
                    "actions": [{"do": "mutate", "node": 3, "at": 1, "field": "value"}],
                }
            ],
        },
        "mut",
    )
    diagram = load(path)
    tampered = [g for g in diagram.groups if "tampered" in g.tags()]
    assert [(g.round, g.src, g.summary) for g in tampered] == [
        (1, 3, "OMMessage path=[0,3] value=0")  # the commander ordered 1; node 3 flipped it
    ]
    assert "3->1,2  TAMPERED  OMMessage path=[0,3] value=0" in render_text(diagram)
    assert 'class="msg sent tampered"' in render_html(diagram)
    for name, tag in (("forger", "forged"), ("replayer", "replayed")):
        if name not in registry.names("adversary") or "pbft" not in registry.names("protocol"):
            pytest.skip("pbft and its adversaries are not installed")
        path, result = traced(
            tmp_path,
            {"protocol": "pbft", "seed": 1, "rounds": 20, "adversary": [{"name": name}]},
            name,
        )
        diagram = load(path)
        tagged = [g for g in diagram.groups if tag in g.tags()]
        assert tagged, name
        assert {g.src for g in tagged} == set(result.record.corrupted)  # never an honest sender
        rejected = [c for g in diagram.groups for c in g.copies if "rejected" in c.tags]
        assert len(rejected) <= result.record.rejected and rejected
        page = render_html(diagram)
        assert f'class="msg sent {tag}' in page and tag.upper() in page


def test_a_node_a_schedule_crashed_is_called_crashed_not_corrupted(tmp_path: Path) -> None:
    path, result = regression_trace(tmp_path, OM_CRASHES)
    diagram = load(path)
    assert diagram.crashed == {1, 2} == set(result.record.crashed)
    assert result.record.corrupted == frozenset()  # a crash is not a Byzantine fault
    text = render_text(diagram)
    assert "corrupted" not in "\n".join(line for line in text.splitlines() if "n1 " in line)
    state = next(line for line in text.splitlines() if line.startswith("r0 "))
    assert state.split()[1:5] == ["|", "|", "|", "|"]
    assert not re.search(r"^r\d+ .*C", text, re.M)  # no round shows them as corrupt
    page = render_html(diagram)
    assert "(crashed)" in page and "(corrupted)" not in page
    report = run_report(result, width=100)
    assert "crashed nodes (faulty, not Byzantine): [1, 2]" in report
    assert "corrupted nodes:" not in report


# -- centred on the violation --------------------------------------------------------------


def test_witness_focus_names_the_last_round_and_every_node() -> None:
    assert witness_focus(
        "loyal commander 0 ordered 1, but loyal lieutenant 3 decided 0 in round 2"
    ) == (2, (0, 3))
    assert witness_focus(
        "client 4's request 4:0:15327 submitted in round 0 was answered only in round 53; "
        "the deadline was round 52"
    ) == (52, (4,))
    assert witness_focus("nodes 1, 2 and 5 decided differently") == (None, (1, 2, 5))


def test_render_focus_is_centred_on_the_violation_within_the_line_budget(tmp_path: Path) -> None:
    path, result = regression_trace(tmp_path, TWO_FAULTS)
    assert "liveness-after-gst" in result.violated
    diagram = load(path)
    old = render_text(diagram, make_view(diagram, "0-5"), 100).splitlines()[:70]
    assert not any("VIOLATED" in line for line in old)  # what the grader used to show
    text = render_focus(diagram, nodes=range(4), width=100, max_lines=70, trace_name="t.jsonl")
    lines = text.splitlines()
    assert len(lines) <= 70 and all(len(line) <= 100 for line in lines)
    assert lines[1] == ">>> liveness-after-gst violated in round 52, node 4; centred on round 52"
    assert re.search(r"^\s+n0\s+n1\s+n2\s+n3\s+n4\s*$", text, re.M)  # the witness's client added
    shown = [int(m) for m in re.findall(r"^r(\d+)\s", text, re.M)]
    assert 52 in shown and min(shown) > 30 and max(shown) <= 60
    at = next(i for i, line in enumerate(lines) if line.startswith("r52 "))
    assert any(">>> liveness-after-gst VIOLATED" in line for line in lines[at : at + 3])
    assert re.search(
        rf"\(rounds {min(shown)}-\d+ of 0..89 shown; all of them: bft show t.jsonl\)", lines[-1]
    )
    # an explicit round and a tight budget
    small = render_focus(diagram, round=10, nodes=[0, 1], width=60, max_lines=20).splitlines()
    assert len(small) <= 20 and all(len(line) <= 60 for line in small)
    spans = [
        (int(m[1]), int(m[2] or m[1]))
        for m in (re.match(r"^r(\d+)\s(?:.*\(rounds \d+-(\d+))?", line) for line in small)
        if m
    ]
    assert any(a <= 10 <= b for a, b in spans), small  # the row holding round 10 is shown


# -- 60 columns ----------------------------------------------------------------------------


def test_terminal_diagram_and_verdict_tables_stay_aligned_at_60_columns(tmp_path: Path) -> None:
    path, result = regression_trace(tmp_path, TWO_FAULTS)
    diagram = load(path)
    text = render_text(diagram, make_view(diagram, "0-5", "50:53"), 60)
    lines = text.splitlines()
    assert all(len(line) <= 60 for line in lines)
    heads = next(line for line in lines if line.strip().startswith("n0"))
    cols = [m.start() + 1 for m in re.finditer(r"n\d", heads)]
    for line in lines:
        if re.match(r"^r\d+\s", line):  # state cells sit under the node names
            assert [line[c] for c in cols] == ["|", "P", "|", "|", "|", "|"], line
    verdicts = lines[lines.index("") + 1 :]
    firsts = [line for line in verdicts if not line.startswith(" ")]
    for line in firsts:  # stacked: name, then the status in one column
        assert (
            line.split()[0] in result.verdicts
            or line.startswith("BEYOND")
            or line.startswith("the ")
        )
    statuses = {
        line.index(line.split()[1]) for line in firsts if line.split()[0] in result.verdicts
    }
    assert len(statuses) == 1
    rows = [
        (name, result.properties[name].kind, "holds" if v.holds else "VIOLATED", v.witness or "")
        for name, v in result.verdicts.items()
    ]
    for width in (60, 100):
        table = verdict_table(rows, width).splitlines()
        assert all(len(line) <= width for line in table), width
        starts = {line.index("safety") if "safety" in line else None for line in table} - {None}
        assert len(starts) <= 2  # header underline aside, the kind column is one column
    wide = verdict_table(rows, 100).splitlines()
    witness_col = wide[0].index("witness")
    for line in wide[2:]:
        if line.startswith(" "):  # a wrapped witness continues in its own column
            assert line[:witness_col].strip() == "" and line[witness_col] != " "


# -- headless Chromium -----------------------------------------------------------------------


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


MEASURE = """<script>
(function () {
  var v = document.getElementById('violation').getBoundingClientRect();
  var d = document.documentElement;
  d.setAttribute('data-violation', [v.top, v.bottom, v.left, v.right].join(','));
  d.setAttribute('data-viewport', [window.innerWidth, window.innerHeight].join(','));
})();
</script></body></html>"""


def run_chromium(
    browser: str, tmp_path: Path, url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,800",
            "--enable-logging=stderr",
            "--v=0",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_counterexample_page_opens_on_its_violation_in_headless_chromium(tmp_path: Path) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium installed (.ci/run installs Debian's chromium package)")
    path, result = regression_trace(tmp_path, TWO_FAULTS)
    page = render_html(load(path))
    assert svg_height(page) > 3 * 800  # the violation is far down the diagram
    measured = tmp_path / "measured.html"
    measured.write_text(page.replace("</body></html>", MEASURE), encoding="utf-8")
    done = run_chromium(browser, tmp_path, measured.as_uri(), "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert 'data-ready="yes"' in dom, "the page's script did not run to its end"
    errors = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert errors == [], errors
    width, height = map(float, re.search(r'data-viewport="([^"]+)"', dom)[1].split(","))  # type: ignore[index]
    top, bottom, left, right = map(float, re.search(r'data-violation="([^"]+)"', dom)[1].split(","))  # type: ignore[index]
    assert width == 1280 and 600 <= height <= 800  # headless chrome keeps some for itself
    assert 0 <= top < bottom <= height, (top, bottom)  # the whole violated round is on screen
    assert left < width
    for node in range(6):
        assert f'data-node="{node}"' in dom
    for name in result.verdicts:
        assert f'data-property="{name}"' in dom
    shot = tmp_path / "first-screen.png"
    done = run_chromium(browser, tmp_path, measured.as_uri(), f"--screenshot={shot}")
    assert done.returncode == 0 and shot.stat().st_size > 10_000  # a picture, not a blank page


def test_the_engines_word_on_a_send_event_and_a_structured_witness_win(tmp_path: Path) -> None:
    """Forward compatible: a send event's ``adv`` field and a verdict's ``round``/``nodes``
    (when the engine and runner write them) replace the guesses from notes and text."""
    signed = {"$type": "Signed", "signer": 0, "payload": {"$type": "Vote", "view": 3}}
    events = [
        {"format": "bft-trace", "version": 1, "level": "full", "protocol": "p", "rounds": 6},
        {
            "r": 1,
            "ev": "send",
            "src": 2,
            "dst": 1,
            "kind": "vote",
            "msg": signed,
            "adv": "replayed",
        },
        {"r": 1, "ev": "send", "src": 2, "dst": 0, "kind": "vote", "msg": signed, "adv": "forged"},
        {
            "r": 2,
            "ev": "send",
            "src": 1,
            "dst": 0,
            "kind": "vote",
            "msg": signed,
            "adv": "replaced",
        },
        {"r": 3, "ev": "send", "src": 2, "dst": 0, "kind": "vote", "msg": signed},  # untouched
        {
            "r": 6,
            "ev": "verdicts",
            "n": 3,
            "properties": {
                "agreement": {
                    "holds": False,
                    "witness": "in round 1 node 0",
                    "round": 4,
                    "nodes": [1, 2],
                }
            },
        },
    ]
    path = tmp_path / "hand.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    diagram = load(path)
    tags = [(g.round, g.src, c.dst, sorted(c.tags)) for g in diagram.groups for c in g.copies]
    assert tags == [
        (1, 2, 1, ["replayed"]),
        (1, 2, 0, ["forged"]),
        (2, 1, 0, ["tampered"]),
        (3, 2, 0, []),  # node 2 is not even corrupted here: only the engine's word counts
    ]
    focus = violation(diagram)
    assert focus is not None and (focus.round, focus.nodes) == (4, (1, 2))
