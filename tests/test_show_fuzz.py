"""``bft show`` on malformed traces and arguments: exit 2, one line on stderr, no
traceback, no hang.

Hypothesis starts from a real full trace and breaks it in one way that always
makes it invalid (bytes that are not UTF-8, a line cut short, a record of the
wrong JSON type, a missing field, a field of the wrong type, a node or round
out of range); the command must refuse it with one line naming the file (and,
for a bad line, its number). Filters and widths are drawn too, huge ones
included: they are clamped or refused, never looped over.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bft.cli import main
from bft.core.trace import EVENT_FIELDS, OPTIONAL
from bft.run import runner, scenario

ROOT = Path(__file__).resolve().parent.parent
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def good_trace(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small full trace with sends, drops, outputs, node events and verdicts."""
    path = tmp_path_factory.mktemp("fuzz") / "good.jsonl"
    data = {
        "protocol": "om",
        "seed": 1,
        "rounds": 3,
        "params": {"n": 4, "m": 1},
        "adversary": [{"name": "crash", "nodes": [3], "at": 1}],
    }
    runner.run(scenario.from_mapping(data, "fuzz"), trace_path=path)
    return path.read_bytes()


def show(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, *args: str
) -> tuple[int, str, str]:
    path = tmp_path / "t.jsonl"
    path.write_bytes(content)
    code = main(["show", str(path), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_refused(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("bft: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


# -- values of the wrong JSON type ------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
NOT_AN_OBJECT = JSON.filter(lambda v: not isinstance(v, dict))
BASE_CHECKS = {
    "r": lambda v: type(v) is int and v >= 0,
    "ev": lambda v: type(v) is str,
}


def lines_of(content: bytes) -> list[bytes]:
    return content.splitlines(keepends=True)


def event_lines(content: bytes, ev: str | None = None) -> list[int]:
    """Indexes of lines that are events (of kind ``ev``), header and verdicts excluded."""
    out = []
    for i, raw in enumerate(lines_of(content)):
        if i == 0:
            continue
        record = json.loads(raw)
        if record["ev"] != "verdicts" and (ev is None or record["ev"] == ev):
            out.append(i)
    return out


def replace_line(content: bytes, index: int, record: Any) -> bytes:
    lines = lines_of(content)
    lines[index] = json.dumps(record).encode() + b"\n"
    return b"".join(lines)


# -- the properties ---------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_bytes_that_are_not_utf8_are_refused_with_their_line(
    good_trace: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    lines = lines_of(good_trace)
    index = data.draw(st.integers(1, len(lines) - 1), label="line")
    raw = lines[index]
    at = data.draw(st.integers(0, len(raw) - 2), label="offset")
    bad = data.draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x80\x80", b"\xf8"]))
    lines[index] = raw[:at] + bad + raw[at:]
    code, _, err = show(capsys, tmp_path, b"".join(lines))
    assert_refused(code, err, f":{index + 1}:", "not UTF-8")


@FUZZ
@given(data=st.data())
def test_a_line_cut_short_is_refused(
    good_trace: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    lines = lines_of(good_trace)
    index = data.draw(st.integers(1, len(lines) - 1), label="line")
    cut = data.draw(st.integers(1, len(lines[index].rstrip()) - 1), label="cut")
    content = b"".join(lines[:index]) + lines[index][:cut]
    code, _, err = show(capsys, tmp_path, content)
    assert_refused(code, err, f":{index + 1}:")


@FUZZ
@given(data=st.data(), value=NOT_AN_OBJECT)
def test_a_record_of_the_wrong_json_type_is_refused(
    good_trace: bytes,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    data: st.DataObject,
    value: Any,
) -> None:
    index = data.draw(st.sampled_from(event_lines(good_trace)), label="line")
    code, _, err = show(capsys, tmp_path, replace_line(good_trace, index, value))
    assert_refused(code, err, f":{index + 1}:", "must be a JSON object")


@FUZZ
@given(data=st.data())
def test_a_missing_or_mistyped_field_is_refused(
    good_trace: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    index = data.draw(st.sampled_from(event_lines(good_trace)), label="line")
    record = json.loads(lines_of(good_trace)[index])
    ev = record["ev"]
    required = ["r", "ev"] + [
        f for f in EVENT_FIELDS.get(ev, {}) if f in record and (ev, f) not in OPTIONAL
    ]
    field = data.draw(st.sampled_from(required), label="field")
    if data.draw(st.booleans(), label="delete"):
        del record[field]
    else:
        check = BASE_CHECKS.get(field) or EVENT_FIELDS[ev][field][0]
        record[field] = data.draw(JSON.filter(lambda v: not check(v)), label="value")
    code, _, err = show(capsys, tmp_path, replace_line(good_trace, index, record))
    assert_refused(code, err, f":{index + 1}:")


@FUZZ
@given(
    data=st.data(),
    huge=st.integers(10**6, 10**18) | st.integers(max_value=-1),
)
def test_nodes_and_rounds_out_of_range_are_refused(
    good_trace: bytes,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    data: st.DataObject,
    huge: int,
) -> None:
    index = data.draw(st.sampled_from(event_lines(good_trace, "send")), label="line")
    record = json.loads(lines_of(good_trace)[index])
    field = data.draw(st.sampled_from(["src", "dst", "r"]), label="field")
    record[field] = huge if field != "r" else abs(huge) + 100
    code, _, err = show(capsys, tmp_path, replace_line(good_trace, index, record))
    assert_refused(code, err, "t.jsonl")


@FUZZ
@given(
    rounds=st.one_of(
        st.tuples(st.integers(-5, 10**13), st.integers(-5, 10**13)).map(lambda t: f"{t[0]}:{t[1]}"),
        st.text(max_size=12),
    ),
    nodes=st.one_of(
        st.none(),
        st.tuples(st.integers(-3, 10**13), st.integers(-3, 10**13)).map(lambda t: f"{t[0]}-{t[1]}"),
        st.text(max_size=12),
    ),
    width=st.integers(-10, 10**7),
)
def test_filters_and_widths_are_clamped_or_refused(
    good_trace: bytes,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    rounds: str,
    nodes: str | None,
    width: int,
) -> None:
    args = [f"--rounds={rounds}", f"--width={width}"]
    if nodes is not None:
        args.append(f"--nodes={nodes}")
    code, out, err = show(capsys, tmp_path, good_trace, *args)
    if code == 0:
        assert err == ""
        assert all(len(line) <= width for line in out.splitlines())
    else:
        assert_refused(code, err)


def test_a_huge_round_range_is_clamped_at_once(
    good_trace: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = show(capsys, tmp_path, good_trace, "--rounds", "0:1000000000000")
    assert code == 0, err
    assert "(the run has rounds 0..2)" in out
    code, _, err = show(capsys, tmp_path, good_trace, "--nodes", "0-1000000000000")
    assert_refused(code, err, "does not exist")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty file"),
        (b"\xff\xfe\x00{", "not a bft trace"),
        (b'{"format": "bft-trace", "version": 1, "rounds": "ten"}\n', "'rounds' must be"),
        (b'{"format": "bft-trace", "version": 1, "rounds": 1000000000000}\n', "'rounds' must"),
        (b'{"format": "bft-trace", "version": 1, "params": [1]}\n', "'params' must be"),
        (b'{"format": "bft-trace", "version": 1, "adversaries": [[1]]}\n', "'adversaries'"),
        (b'{"format": "bft-trace", "version": 2}\n', "version 2 is not supported"),
        (b"[" * 100000 + b"\n", "not a bft trace"),
        (
            b'{"format": "bft-trace", "version": 1, "rounds": 2}\n' + b"[" * 100000 + b"\n",
            "t.jsonl:2: JSON nested too deeply",
        ),
        (
            b'{"format": "bft-trace", "version": 1, "rounds": 2}\n{"r": 0, "ev": "x", "y": '
            + b"9" * 5000
            + b"}\n",
            "t.jsonl:2: malformed JSON",
        ),
        (
            b'{"format": "bft-trace", "version": 1, "rounds": 2}\n{"r": NaN, "ev": "send"}\n',
            "t.jsonl:2: an event needs a round number",
        ),
        (
            b'{"format": "bft-trace", "version": 1, "rounds": 2}\n'
            b'{"r": 0, "ev": "verdicts", "n": 2, "properties": {"p": {"holds": "no"}}}\n',
            "'properties' must be",
        ),
        (
            b'{"format": "bft-trace", "version": 1, "rounds": 2}\n'
            b'{"r": 0, "ev": "send", "src": 0, "dst": 5, "kind": "k"}\n'
            b'{"r": 2, "ev": "verdicts", "n": 2, "properties": {}}\n',
            "node 5 appears, but the verdicts line says the run has 2 nodes",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_hand_made_bad_traces(
    content: bytes, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = show(capsys, tmp_path, content)
    assert_refused(code, err, needle)


def test_strings_in_messages_are_cut_and_kept_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kind = "k\n" + "x" * 5000
    content = (
        b'{"format": "bft-trace", "version": 1, "rounds": 2}\n'
        + json.dumps({"r": 0, "ev": "send", "src": 0, "dst": 1, "kind": 5, "msg": kind}).encode()
        + b"\n"
    )
    code, _, err = show(capsys, tmp_path, content)
    assert_refused(code, err, "'kind' must be a string")
    good = (
        b'{"format": "bft-trace", "version": 1, "rounds": 2}\n'
        + json.dumps({"r": 0, "ev": "send", "src": 0, "dst": 1, "kind": kind}).encode()
        + b"\n"
    )
    code, out, err = show(capsys, tmp_path, good, "--kind", "nope" * 1000)
    assert_refused(code, err, "no such message kind")
    assert len(err) < 400
    code, out, err = show(capsys, tmp_path, good, "--width", "60")
    assert code == 0 and all(len(line) <= 60 for line in out.splitlines())
    assert "k?xxx" in out  # the newline shown as '?', the line cut at the width


def test_output_paths_are_checked_before_the_trace_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.jsonl"  # the trace is never opened
    for target, needle in [
        (tmp_path, "it is a directory"),
        (tmp_path / "no" / "such" / "dir.html", "no directory"),
        (Path(""), "empty file name"),
    ]:
        assert (
            main(["show", str(missing), "--html", str(target) if str(target) != "." else ""]) == 2
        )
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1, err


def test_a_fresh_process_refuses_a_binary_trace_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(
        b'{"format":"bft-trace","version":1,"rounds":3}\n{"r":0,"ev":"send"\xff\xfe}\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bft", "show", str(path), "--rounds", "0:1000000000000"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "garbage.jsonl:2: not UTF-8 text (byte 0xff" in proc.stderr
