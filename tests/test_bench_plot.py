"""Plots of sweep results: the heat map's numbers and the per-round series."""

from __future__ import annotations

import math
import statistics

import pytest

from bft import bench
from bft.bench.sweep import parse_adversary, parse_protocol
from bft.cli import main
from bft.core.errors import ConfigError
from bft.run import scenario
from bft.tools import plot
from tests.test_bench_support import coin, coin_scenario  # noqa: F401 - fixture

PNG = b"\x89PNG\r\n\x1a\n"


def om_result() -> bench.SweepResult:
    sweep = bench.build(
        scenario.load("byzantine-generals"),
        [parse_protocol("om"), parse_protocol("om:n=3")],
        [parse_adversary(a) for a in ("none", "traitor:strategy=random", "crash:nodes=[5]")],
        range(6),
    )
    return bench.run_sweep(sweep)


def test_the_matrix_holds_each_cells_mean_and_nan_where_a_cell_cannot_run() -> None:
    result = om_result()
    rows, cols, grid = plot.matrix(result, "messages")
    assert rows == ["om", "om:n=3"]
    assert cols == ["none", "traitor:strategy=random", "crash:nodes=[5]"]
    assert grid[0][:2] == [9.0, 9.0] and grid[1][:2] == [4.0, 4.0]
    assert math.isnan(grid[0][2]) and math.isnan(grid[1][2])  # node 5 does not exist
    _, _, shares = plot.matrix(result, plot.VIOLATIONS)
    random_liar = next(
        c for c in result.cells if c.protocol == "om:n=3" and "random" in c.adversary
    )
    assert shares[1][1] == random_liar.violating / 6
    assert shares[0][0] == 0.0


@pytest.mark.usefixtures("coin")
def test_series_is_the_per_round_mean_over_seeds() -> None:
    sweep = bench.build(
        coin_scenario(), [parse_protocol("coin")], [parse_adversary("none")], range(5)
    )
    result = bench.run_sweep(sweep)
    assert plot.series_names(result) == ["served", "availability"]
    mean = plot.mean_series(result, "coin", "none", "served")
    assert len(mean) == 10
    assert mean[3] == pytest.approx(statistics.fmean(r.series["served"][3] for r in result.rows))


def test_availability_is_derived_from_served_and_unserved() -> None:
    derived = plot._derived({"served": [3, 0, 1], "unserved": [1, 0, 3]})
    assert derived["availability"][0] == 0.75 and math.isnan(derived["availability"][1])
    assert derived["availability"][2] == 0.25
    # A fault-free run never tallies 'unserved': everyone served is full availability.
    assert plot._derived({"served": [2, 5]})["availability"] == [1.0, 1.0]
    assert "availability" not in plot._derived({"accepted": [1]})


@pytest.mark.usefixtures("coin")
def test_series_cells_are_chosen_by_label_patterns(tmp_path) -> None:
    sweep = bench.build(
        coin_scenario(),
        [parse_protocol("coin"), parse_protocol("coin:bias=0.9")],
        [parse_adversary("none"), parse_adversary("crash:nodes=[0]")],
        range(2),
    )
    result = bench.run_sweep(sweep)
    assert plot.choose_cells(result, [("*", "crash*")]) == [
        ("coin", "crash:nodes=[0]"),
        ("coin:bias=0.9", "crash:nodes=[0]"),
    ]
    assert plot.choose_cells(result, [("coin:*", "none"), ("coin", "none")]) == [
        ("coin", "none"),
        ("coin:bias=0.9", "none"),
    ]
    assert len(plot.choose_cells(result, None)) == 4
    with pytest.raises(ConfigError, match="no cell coin/partition"):
        plot.series(result, "served", tmp_path / "b.png", [("coin", "partition")])


@pytest.mark.usefixtures("coin")
def test_files_are_written(tmp_path) -> None:
    pytest.importorskip("matplotlib", reason="plots are the optional extra bft[plot]")
    heat = plot.heatmap(om_result(), "messages", tmp_path / "matrix.png")
    assert heat.read_bytes().startswith(PNG)
    sweep = bench.build(
        coin_scenario(), [parse_protocol("coin")], [parse_adversary("none")], range(3)
    )
    line = plot.series(bench.run_sweep(sweep), None, tmp_path / "series.svg")
    assert b"<svg" in line.read_bytes()[:500]
    with pytest.raises(ConfigError, match="unknown metric 'nope'"):
        plot.heatmap(om_result(), "nope", tmp_path / "x.png")
    with pytest.raises(ConfigError, match="no cell coin/crash"):
        plot.series(bench.run_sweep(sweep), "served", tmp_path / "y.png", [("coin", "crash")])


def test_cli_plots(tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib", reason="plots are the optional extra bft[plot]")
    target = tmp_path / "generals.png"
    rc = main(
        ["bench", "generals", "--seeds", "2", "--plot", str(target), "--plot-metric", "violations"]
    )
    assert rc == 0 and target.read_bytes().startswith(PNG)
    assert f"wrote {target}" in capsys.readouterr().err
    # OM keeps no per-round tallies: a clear error, not an empty picture.
    rc = main(["bench", "generals", "--seeds", "1", "--plot-series", str(tmp_path / "s.png")])
    assert rc == 2
    assert "no per-round tallies" in capsys.readouterr().err
