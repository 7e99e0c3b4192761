"""bft bench: sweeps, statistics, storage and resume, reports, and bad input."""

from __future__ import annotations

import csv
import hashlib
import inspect
import io
import json
import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bft import bench
from bft.bench import report
from bft.bench.progress import Progress
from bft.bench.stats import summarize, t975
from bft.bench.sweep import (
    ProtocolEntry,
    parse_adversary,
    parse_protocol,
    parse_seeds,
    split_specs,
)
from bft.cli import main
from bft.core.errors import ConfigError
from bft.run import scenario
from tests import test_bench_support as support
from tests.test_bench_support import coin, coin_scenario  # noqa: F401 - fixture

GENERALS = scenario.load("byzantine-generals")


def om_sweep(seeds: int = 3) -> bench.Sweep:
    return bench.build(
        GENERALS,
        [parse_protocol("om"), parse_protocol("om:n=3")],
        [parse_adversary(a) for a in ("none", "traitor:strategy=random", "crash:nodes=[1]")],
        range(seeds),
    )


# -- statistics ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("df", "quantile"),
    [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (19, 2.093), (30, 2.042),
     (40, 2.021), (60, 2.000), (120, 1.980), (1000, 1.962)],
)  # fmt: skip
def test_t_quantiles_match_the_printed_tables(df: int, quantile: float) -> None:
    assert round(t975(df), 3) == quantile


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=40))
def test_summary_is_mean_and_student_t_half_width(values: list[float]) -> None:
    s = summarize(values)
    assert s.n == len(values)
    assert s.mean == pytest.approx(statistics.fmean(values), abs=1e-6)
    expected = t975(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    assert s.ci95 == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_summary_skips_nulls_and_needs_two_values_for_an_interval() -> None:
    assert summarize([None, 3, None]) == bench.Summary(3.0, None, 1)
    assert summarize([]) == bench.Summary(None, None, 0)
    assert summarize([2, 2, 2]) == bench.Summary(2.0, 0.0, 3)
    assert summarize([0.9931] * 5) == bench.Summary(0.9931, 0.0, 5)  # no float noise
    # 1, 2, 3: mean 2, s = 1, half-width 4.303 / sqrt(3)
    assert summarize([1, 2, 3]).ci95 == pytest.approx(4.303 / math.sqrt(3))


# -- parsing and sweep definition ------------------------------------------------------


def test_spec_lists_split_on_commas_outside_brackets_and_parameters() -> None:
    assert split_specs("crash:nodes=[1,2],at=3,traitor") == ["crash:nodes=[1,2],at=3", "traitor"]
    assert split_specs("om,om:n=7,m=2,om:n=3") == ["om", "om:n=7,m=2", "om:n=3"]
    assert parse_protocol("om:n=7,m=2") == ProtocolEntry("om:n=7,m=2", "om", {"n": 7, "m": 2})
    composed = parse_adversary("crash:nodes=[1]+traitor")
    assert [c.name for c in composed.configs] == ["crash", "traitor"]
    assert parse_adversary("none").configs == ()
    assert parse_adversary("scenario").configs is None


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("3", (0, 1, 2)), ("2..4", (2, 3, 4)), ("7,1,9", (7, 1, 9)), ("0", ())],
)
def test_seed_syntax(text: str, seeds: tuple[int, ...]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["x", "1..y", "1,1"])
def test_bad_seeds_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="--seeds"):
        parse_seeds(text)


def test_cells_are_the_product_in_protocol_major_order() -> None:
    sweep = om_sweep()
    labels = [(c.protocol.label, c.adversary.label) for c in sweep.cells()]
    assert labels == [
        (p, a)
        for p in ("om", "om:n=3")
        for a in ("none", "traitor:strategy=random", "crash:nodes=[1]")
    ]
    assert sweep.runs == 18


def test_the_sweep_file_example_in_the_docs_runs(tmp_path) -> None:
    from bft.bench import sweep as sweeps

    doc = sweeps.__doc__ or ""
    block = doc[doc.index('    description = "OM(m)') : doc.index("Short forms")]
    path = tmp_path / "example.toml"
    path.write_text("\n".join(line[4:] for line in block.splitlines()))
    result = bench.run_sweep(sweeps.load(str(path)))
    commander, composed = result.cells
    assert (commander.runs, composed.runs) == (10, 10)
    assert commander.metrics["messages"].mean == 9 and commander.violating == 0
    assert composed.metrics["messages"].mean == 7  # lieutenant 1 crashed before relaying
    assert report.render(result).splitlines()[0].split()[3:5] == ["messages", "rejected"]


def test_unknown_names_fail_unless_the_sweep_skips_unavailable_entries() -> None:
    with pytest.raises(ConfigError, match="unknown protocol 'omm' \\(did you mean 'om'\\?\\)"):
        bench.build(GENERALS, [parse_protocol("omm")], None, [0])
    sweep = bench.build(
        GENERALS,
        [parse_protocol("om"), parse_protocol("no-such-protocol")],
        [parse_adversary("none"), parse_adversary("no-such-adversary")],
        [0],
        skip_unavailable=True,
    )
    assert [p.name for p in sweep.protocols] == ["om"]
    assert len(sweep.adversaries) == 1
    assert sweep.unavailable == (
        "protocol 'no-such-protocol': 'no-such-protocol' is not registered",
        "adversary 'no-such-adversary': 'no-such-adversary' not registered",
    )


def test_an_adversary_column_may_set_the_network_model(tmp_path) -> None:
    from bft.bench import sweep as sweeps

    path = tmp_path / "cut.toml"
    path.write_text(
        'scenario = "byzantine-generals"\nseeds = 2\nprotocols = ["om"]\n'
        '[[adversary]]\nlabel = "cut, synchronous"\nname = "partition"\nnodes = [0]\n'
        '[[adversary]]\nlabel = "cut, partial synchrony"\nname = "partition"\nnodes = [0]\n'
        'network = { model = "partial-synchrony", gst = 5 }\n'
    )
    result = bench.run_sweep(sweeps.load(str(path)))
    refused, allowed = result.cells
    # OM(1), n=4: the commander's 3 orders are refused in the synchronous model...
    assert refused.metrics["refused"].mean == 3 and allowed.metrics["refused"].mean == 0
    assert refused.metrics["messages"].mean == 9 and refused.violating == 0
    # ...and dropped before GST: nobody hears the commander, nobody relays, all retreat.
    assert allowed.metrics["dropped"].mean == 3 and allowed.metrics["messages"].mean == 3
    assert allowed.properties["validity"].violated == 2
    assert any("refused 3 adversary actions per run" in n for n in result.notes)


def test_run_keys_follow_configuration_seed_and_code_version() -> None:
    cells = om_sweep().cells()
    again = om_sweep().cells()
    assert cells[0].key(0, "v1") == again[0].key(0, "v1")
    assert cells[0].key(0, "v1") != cells[0].key(1, "v1")
    assert cells[0].key(0, "v1") != cells[0].key(0, "v2")
    assert len({c.key(0, "v1") for c in cells}) == len(cells)
    # The same run spelled differently (a default written out) has the same key.
    explicit = bench.build(
        GENERALS, [parse_protocol("om:m=1,commander=0")], [parse_adversary("none")], [0]
    )
    assert explicit.cells()[0].key(0, "v1") == cells[0].key(0, "v1")
    # The key is SHA-256 of the canonical JSON of configuration, seed and code version.
    canonical = json.dumps(
        {"config": cells[4].config, "seed": 7, "code": 'v"2'},
        sort_keys=True,
        separators=(",", ":"),
    )
    assert cells[4].key(7, 'v"2') == hashlib.sha256(canonical.encode()).hexdigest()


# -- running, aggregation and storage --------------------------------------------------


@pytest.mark.usefixtures("coin")
def test_aggregates_are_computed_from_the_rows() -> None:
    base = coin_scenario()
    sweep = bench.build(
        base,
        [
            parse_protocol("coin:bias=0.5"),
            parse_protocol("coin:bias=1.0"),
            parse_protocol("coin:bias=0.0"),
        ],
        [parse_adversary("none")],
        range(8),
    )
    result = bench.run_sweep(sweep)
    half, always, never = result.cells
    rows = [r for r in result.rows if r.protocol == "coin:bias=0.5"]
    values = [r.metrics["availability"] for r in rows]
    assert len(set(values)) > 1  # the seed matters
    assert half.metrics["availability"].mean == pytest.approx(statistics.fmean(values))
    assert half.metrics["availability"].ci95 == pytest.approx(
        2.365 * statistics.stdev(values) / math.sqrt(8)
    )
    assert half.properties["majority-served"].violated == sum(
        not r.properties["majority-served"]["holds"] for r in rows
    )
    assert always.metrics["availability"] == bench.Summary(1.0, 0.0, 8)
    assert always.metrics["first_full_round"] == bench.Summary(0.0, 0.0, 8)
    assert never.metrics["first_full_round"] == bench.Summary(None, None, 0)
    assert never.properties["majority-served"].violated == 8
    assert never.violating == 8 and always.violating == 0


def test_om_matrix_counts_violations_below_the_bound() -> None:
    result = bench.run_sweep(om_sweep(seeds=4))
    cells = {(c.protocol, c.adversary): c for c in result.cells}
    # n=4: OM(1) tolerates the traitor; 9 messages fault-free (Lamport et al.).
    assert cells["om", "none"].metrics["messages"] == bench.Summary(9.0, 0.0, 4)
    assert all(cells["om", a].violating == 0 for a in ("none", "traitor:strategy=random"))
    # n=3 with a crashed lieutenant: the other one cannot form a majority and retreats.
    assert cells["om:n=3", "crash:nodes=[1]"].properties["validity"].violated == 4
    assert cells["om:n=3", "none"].violating == 0


def test_a_rerun_reuses_every_stored_run_and_extends_a_sweep(tmp_path) -> None:
    db = str(tmp_path / "runs.sqlite")
    first = bench.run_sweep(om_sweep(seeds=2), db=db, version="t")
    assert (first.reused, first.ran) == (0, 12)
    again = bench.run_sweep(om_sweep(seeds=2), db=db, version="t")
    assert (again.reused, again.ran) == (12, 0)
    assert again.rows == first.rows
    more = bench.run_sweep(om_sweep(seeds=3), db=db, version="t")
    assert (more.reused, more.ran) == (12, 6)
    other_code = bench.run_sweep(om_sweep(seeds=2), db=db, version="u")
    assert other_code.ran == 12
    with bench.Store(db) as store:
        assert store.count() == 30


def test_a_cell_that_cannot_run_is_reported_and_the_rest_run() -> None:
    sweep = bench.build(
        GENERALS,
        [parse_protocol("om"), parse_protocol("om:n=7,m=2")],
        [parse_adversary("crash:nodes=[5]")],
        [0, 1],
    )
    result = bench.run_sweep(sweep)
    small, large = result.cells
    assert small.error is not None and "node 5 does not exist" in small.error
    assert large.error is None and large.runs == 2
    assert any("n/a" in note for note in result.notes)
    with pytest.raises(ConfigError, match="no cell of the sweep can run"):
        bench.run_sweep(
            bench.build(GENERALS, [parse_protocol("om")], [parse_adversary("crash:nodes=[5]")], [0])
        )


@pytest.mark.usefixtures("coin")
def test_a_run_that_raises_marks_its_cell_and_exits_1(tmp_path, capsys) -> None:
    sweep = bench.build(
        coin_scenario(),
        [parse_protocol("coin"), parse_protocol("coin:explode=RuntimeError")],
        [parse_adversary("none")],
        [0, 1],
    )
    result = bench.run_sweep(sweep)
    fine, broken = result.cells
    assert fine.runs == 2 and fine.error is None
    line = next(  # where explode() raises: the location a failure reports
        i
        for i, text in enumerate(inspect.getsource(support).splitlines(), 1)
        if 'raise RuntimeError(f"metric bug' in text
    )
    assert broken.error == (
        "2 of 2 runs failed; first: run raised RuntimeError: metric bug in seed 0 "
        f"at tests.test_bench_support:{line} in explode (seed 0)"
    )
    assert result.crashed == 1 and len(result.rows) == 2
    assert [(f.seed, f.error["type"]) for f in result.failures] == [
        (0, "RuntimeError"),
        (1, "RuntimeError"),
    ]
    coin_file = tmp_path / "coin.toml"
    coin_file.write_text('protocol = "coin"\n[params]\nn = 4\n')
    rc = main(["bench", "--protocols", "coin,coin:explode=RuntimeError", "--seeds", "1",
               "--format", "json", str(coin_file)])  # fmt: skip
    captured = capsys.readouterr()
    assert rc == 1
    assert "coin:explode=RuntimeError x scenario: n/a: 1 of 1 runs failed" in captured.err
    failed = json.loads(captured.out)["failed_runs"]
    assert [(f["protocol"], f["seed"], f["error"]["message"]) for f in failed] == [
        ("coin:explode=RuntimeError", 0, "metric bug in seed 0")
    ]


# -- reports ---------------------------------------------------------------------------


def test_formats_carry_the_same_numbers() -> None:
    result = bench.run_sweep(om_sweep(seeds=2))
    table = report.render(result, "table", ["messages"])
    assert "om:n=3" in table and "validity 2/2" in table
    md = report.render(result, "markdown", ["messages"])
    assert md.splitlines()[0].startswith("| protocol")
    rows = list(csv.DictReader(io.StringIO(report.render(result, "csv"))))
    assert len(rows) == 6
    assert float(rows[0]["messages_mean"]) == 9.0
    assert rows[5]["validity_violated"] == "2"
    payload = json.loads(report.render(result, "json", rows=True))
    assert payload["runs"] == {"total": 12, "stored": 0, "ran": 12}
    assert payload["cells"][5]["properties"]["validity"]["violated"] == 2
    assert [r["seed"] for r in payload["rows"][:2]] == [0, 1]
    with pytest.raises(ConfigError, match="unknown metric 'nope'"):
        report.render(result, "table", ["nope"])


def test_progress_is_silent_off_a_terminal_and_shows_rate_and_time_left() -> None:
    quiet = io.StringIO()
    bar = Progress(10, stream=quiet)
    bar.advance(3)
    bar.close()
    assert quiet.getvalue() == ""
    loud = io.StringIO()
    bar = Progress(10, stream=loud, enabled=True)
    bar.start -= 2.0  # two seconds in, 5 of 10 done
    bar.advance(5)
    assert "5/10 runs" in loud.getvalue() and "2.5/s" in loud.getvalue()
    assert "0:02 left" in bar.line()


# -- the command line ------------------------------------------------------------------


def test_cli_progress_bar_when_asked(capsys) -> None:
    assert main(["bench", "generals", "--seeds", "2", "--progress", "always"]) == 0
    err = capsys.readouterr().err
    assert "\r[" in err and "30/30 runs" in err and "left" in err
    assert main(["bench", "generals", "--seeds", "2"]) == 0  # stderr is not a terminal
    assert "\r" not in capsys.readouterr().err


def test_cli_table_and_json(capsys) -> None:
    rc = main(["bench", "byzantine-generals", "--protocols", "om,om:n=3", "--adversaries",
               "none,crash:nodes=[1]", "--seeds", "2", "--format", "json"])  # fmt: skip
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    assert [(c["protocol"], c["adversary"]) for c in payload["cells"]] == [
        ("om", "none"), ("om", "crash:nodes=[1]"), ("om:n=3", "none"), ("om:n=3", "crash:nodes=[1]"),
    ]  # fmt: skip
    assert main(["bench", "generals", "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert "OM(1) n=3 (below bound)" in out and "15 cells" in out


def test_the_headline_sweep_holds_only_registered_names_and_lists_the_rest() -> None:
    import tomllib

    from bft.bench import sweep as sweeps
    from bft.core import registry

    data = tomllib.loads((sweeps.SWEEP_DIR / "headline.toml").read_text())
    assert data["skip_unavailable"] is True
    wanted_p = [p["name"] for p in data["protocol"]]
    assert {"naive-reconnect", "backoff-reconnect", "gossip-health", "pbft"} <= set(wanted_p)
    try:
        loaded = sweeps.load("headline")
    except ConfigError as exc:  # nothing of it registered yet: says what is missing
        assert "nothing to run" in str(exc)
        return
    registered = registry.names("protocol")
    assert all(p.name in registered for p in loaded.protocols)
    missing = {p["label"] for p in data["protocol"] if p["name"] not in registered}
    assert {n.split("'")[1] for n in loaded.unavailable if n.startswith("protocol")} == missing


def test_unavailable_entries_are_named_on_stderr(tmp_path, capsys) -> None:
    path = tmp_path / "partial.toml"
    path.write_text(
        'scenario = "byzantine-generals"\nseeds = 1\nskip_unavailable = true\n'
        'protocols = ["om", "not-yet-written"]\nadversaries = ["none", "not-an-attack"]\n'
    )
    assert main(["bench", str(path), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2  # header and the one runnable cell
    assert "unavailable: protocol 'not-yet-written'" in captured.err
    assert "unavailable: adversary 'not-an-attack'" in captured.err
    path.write_text(path.read_text().replace('"om", ', "").replace('"none", ', ""))
    assert main(["bench", str(path)]) == 2
    err = capsys.readouterr().err
    assert "empty sweep: no protocols and no adversaries to run; unavailable:" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["byzantine-generals", "--protocols", "omm"], "unknown protocol 'omm' (did you mean 'om'?)"),
        (["byzantine-generals", "--adversaries", "traitr"], "unknown adversary 'traitr'"),
        (["no-such-sweep"], "unknown sweep or scenario 'no-such-sweep'"),
        (["byzantine-generals", "--seeds", "0"], "empty sweep: no seeds to run"),
        (["byzantine-generals", "--protocols", ""], "--protocols is empty"),
        (["byzantine-generals", "--protocols", "om,om"], "two protocol entries have the label 'om'"),
        (["byzantine-generals", "--protocols", "om:n=1"], "no cell of the sweep can run"),
        (["byzantine-generals", "--seeds", "1", "--db", "{tmp}/missing/runs.sqlite"], "cannot use results database"),
        (["byzantine-generals", "--seeds", "1", "--db", "{tmp}"], "is a directory"),
        (["byzantine-generals", "--seeds", "1", "--db", "{tmp}/notdb.sqlite"], "is not an SQLite file"),
        (["byzantine-generals", "--jobs", "0"], "--jobs must be at least 1"),
        (["byzantine-generals", "--seeds", "1", "--plot", "{tmp}/x.gif"], "use a .png, .svg or .pdf"),
        (["byzantine-generals", "--seeds", "1", "--metrics", "nope"], "unknown metric 'nope'"),
        (["{tmp}/bad-sweep.toml"], "unknown field 'protocolz'"),
        (["byzantine-generals", "--scheduler", "nonsense"], "expected tcp://HOST:PORT"),
        (["byzantine-generals", "--scheduler", "http://h:1"], "unknown scheme 'http'"),
        # Sizes without an upper bound: refused before anything is built, saying why.
        (["byzantine-generals", "--seeds", "0..100000000000"],
         "--seeds 0..100000000000: 100,000,000,001 runs, more than the 1,000,000 a sweep may "
         "have (even at 1 ms a run that is 3.2 years)"),
        (["byzantine-generals", "--seeds", "100000000000"], "more than the 1,000,000"),
        (["byzantine-generals", "--seeds", "1,99999999999999999999"], "seed 99999999999999999999 is out of range"),
        (["byzantine-generals", "--protocols", "om,om:n=7,m=2", "--adversaries", "none,traitor",
          "--seeds", "300000"], "the sweep (2 protocols x 2 adversaries x 300000 seeds): 1,200,000 runs"),
        (["byzantine-generals", "--rounds", "100000000000"],
         "--rounds 100,000,000,000: more than the 1,000,000 rounds a run may have"),
        # An option that does nothing without another names the missing one.
        (["byzantine-generals", "--cells", "om/none"], "--cells does nothing without --plot-series FILE"),
        (["byzantine-generals", "--series", "served"], "--series does nothing without --plot-series FILE"),
        (["byzantine-generals", "--plot-metric", "messages"], "--plot-metric does nothing without --plot FILE"),
        (["byzantine-generals", "--scheduler-timeout", "5"], "--scheduler-timeout does nothing without --scheduler"),
        (["byzantine-generals", "--metrics", "messages", "--format", "csv"], "--metrics does nothing with --format csv"),
        (["byzantine-generals", "--scheduler", "tcp://h:1", "--scheduler-timeout", "nan"], "--scheduler-timeout 'nan': expected a number"),
        (["byzantine-generals", "--scheduler", "tcp://h:1", "--scheduler-timeout", "inf"], "--scheduler-timeout 'inf': expected a number"),
        (["byzantine-generals", "--scheduler", "tcp://h:1", "--scheduler-timeout", "0"], "above 0 and at most 3600"),
        (["byzantine-generals", "--scheduler", "tcp://h:1", "--scheduler-timeout", "soon"], "expected seconds"),
        (["byzantine-generals", "--db", ""], "--db is empty: give a file name"),
        (["byzantine-generals", "--code-version", " "], "--code-version is empty"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv: list[str], message: str) -> None:
    (tmp_path / "notdb.sqlite").write_text("this is not a database\n" * 100)
    (tmp_path / "bad-sweep.toml").write_text(
        'scenario = "byzantine-generals"\nprotocolz = ["om"]\n'
    )
    rc = main(["bench", *(a.replace("{tmp}", str(tmp_path)) for a in argv)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("bft: error: ") and err.count("\n") == 1, err
    assert message in err


# -- benchmarks/run_all.py -------------------------------------------------------------


def test_run_all_gathers_rows_and_reports_a_broken_benchmark(tmp_path) -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "run_all.py"
    spec = importlib.util.spec_from_file_location("run_all_under_test", path)
    assert spec and spec.loader
    run_all = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_all)
    (tmp_path / "bench_good.py").write_text(
        "def run(quick=False):\n"
        "    return [{'benchmark': 'good', 'case': 'q' if quick else 'full', 'value': 2.0,\n"
        "             'unit': 'x/s', 'baseline': 1.0, 'ratio': 2.0, 'extra': 1}]\n"
    )
    (tmp_path / "bench_raises.py").write_text(
        "def run(quick=False):\n    raise RuntimeError('boom')\n"
    )
    (tmp_path / "bench_shape.py").write_text("def run(quick=False):\n    return [{'case': 'x'}]\n")
    (tmp_path / "helper.py").write_text("raise SystemExit('not a benchmark')\n")
    rows, failures = run_all.run_all(True, directory=tmp_path)
    assert failures == 2
    assert rows[0] == {"benchmark": "good", "case": "q", "value": 2.0, "unit": "x/s",
                       "baseline": 1.0, "ratio": 2.0}  # fmt: skip
    assert rows[1]["benchmark"] == "raises" and "RuntimeError: boom" in rows[1]["case"]
    assert rows[2]["benchmark"] == "shape" and "lacks the key(s) benchmark" in rows[2]["case"]
    only, _ = run_all.run_all(False, ["good"], directory=tmp_path)
    assert [r["case"] for r in only] == ["full"]


def test_sweep_file_parameters_are_common_or_per_protocol(tmp_path) -> None:
    from bft.bench import sweep as sweeps

    path = tmp_path / "s.toml"
    text = (
        'scenario = "byzantine-generals"\nseeds = [3, 4]\nprotocols = ["om"]\n'
        'adversaries = ["none"]\n[params]\nn = 7\n[params.om]\nm = 2\n'
        "[params.other-protocol]\nm = 5\n"
    )
    path.write_text(text)
    loaded = sweeps.load(str(path))
    assert loaded.seeds == (3, 4)
    cell = loaded.cells()[0]
    assert cell.error is None
    assert (cell.config["params"]["n"], cell.config["params"]["m"]) == (7, 2)
    path.write_text(text.replace("n = 7", "n = 7\nnot_an_om_param = 1"))
    cell = sweeps.load(str(path)).cells()[0]
    assert "not_an_om_param" in cell.error


def test_batches_grow_to_the_target_duration_from_measured_run_times() -> None:
    from bft.bench.execute import MAX_BATCH, _Batcher

    tasks = [(i, GENERALS) for i in range(5000)]
    batcher = _Batcher(tasks, target=0.2, workers=2)
    first = batcher.next()
    assert [t for t, _ in first] == [0]  # nothing measured yet: one run
    batcher.observe([(0, {"seconds": 0.01}), (1, {"error": "n/a"})])
    assert len(batcher.next()) == 20  # 0.2 s of 0.01 s runs
    batcher.observe([(i, {"seconds": 1e-7}) for i in range(100)])
    assert len(batcher.next()) == MAX_BATCH
    sizes, rest = [], []
    while batcher:
        batch = batcher.next()
        sizes.append(len(batch))
        rest += batch
    assert [t for t, _ in rest] == list(range(21 + MAX_BATCH, 5000))
    # The tail shrinks: each batch is at most a quarter of what was left (2 workers).
    left = 5000 - 21 - MAX_BATCH
    for size in sizes:
        assert size <= max(1, -(-left // 4))
        left -= size
    assert sizes[-3:] == [1, 1, 1]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("seeds = 100000000000", "field 'seeds' 100000000000: 100,000,000,000 runs, more than"),
        ('seeds = "0..2000000"', "field 'seeds' 0..2000000: 2,000,001 runs, more than"),
        ("rounds = 100000000000", "field 'rounds' 100,000,000,000: more than the 1,000,000 rounds"),
    ],
)
def test_sizes_in_a_sweep_file_are_bounded_too(tmp_path, capsys, field: str, message: str) -> None:
    path = tmp_path / "huge.toml"
    path.write_text(f'scenario = "byzantine-generals"\nprotocols = ["om"]\n{field}\n')
    assert main(["bench", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bft: error: ") and err.count("\n") == 1
    assert message in err


def test_batches_grow_with_the_run_times_workers_report() -> None:
    """The rows workers send (a run's stored columns) carry its time, so batches grow."""
    from bft.bench.execute import _Batcher, run_task
    from bft.bench.store import Where

    cell = om_sweep().cells()[0]
    where = Where(cell.scenario.name, cell.protocol_name, 0, "t", cell.config_text)
    row = run_task(bench.execute.Task(0, cell.scenario, cell.key(0, "t"), where))
    assert set(row) == {"status", "stored", "seconds"} and row["seconds"] > 0
    batcher = _Batcher(range(1000), target=100.5 * row["seconds"], workers=1)
    batcher.next()
    batcher.observe([(0, row)])
    assert len(batcher.next()) == 100
