"""The results database trusts nothing it reads: schema, versions, rows, locks, damage."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from bft import bench
from bft.bench import store as stores
from bft.bench.store import RUN_COLUMNS, Store, checksum
from bft.bench.sweep import parse_adversary, parse_protocol
from bft.cli import main
from bft.core.errors import ConfigError
from bft.run import scenario
from tests.test_bench_support import coin, coin_scenario  # noqa: F401 - fixture

ARGV = ["bench", "byzantine-generals", "--protocols", "om,om:n=3", "--adversaries",
        "none,crash:nodes=[1]", "--seeds", "3", "--code-version", "t"]  # fmt: skip


def om_sweep() -> bench.Sweep:
    return bench.build(
        scenario.load("byzantine-generals"),
        [parse_protocol("om"), parse_protocol("om:n=3")],
        [parse_adversary("none"), parse_adversary("crash:nodes=[1]")],
        range(3),
    )


@pytest.fixture
def filled(tmp_path) -> tuple[Path, bench.SweepResult]:
    """A database holding the 12 runs of ``om_sweep``, and the clean result."""
    db = tmp_path / "runs.sqlite"
    return db, bench.run_sweep(om_sweep(), db=str(db), version="t")


def rows_of(db: Path) -> dict[str, dict]:
    with sqlite3.connect(db) as conn:
        names = ", ".join(RUN_COLUMNS)
        return {
            values[0]: dict(zip(RUN_COLUMNS, values, strict=True))
            for values in conn.execute(f"SELECT {names} FROM runs")
        }


def rewrite(db: Path, key: str, column: str, value: object, *, reseal: bool) -> None:
    """Change one column of one row; ``reseal`` recomputes the checksum (a bug, not damage)."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(f"UPDATE runs SET {column} = ? WHERE key = ?", (value, key))
        if reseal:
            values = conn.execute(
                f"SELECT {', '.join(RUN_COLUMNS[:-1])} FROM runs WHERE key = ?", (key,)
            ).fetchone()
            conn.execute("UPDATE runs SET checksum = ? WHERE key = ?", (checksum(values), key))
    conn.close()


def om_key(result: bench.SweepResult, seed: int = 1) -> str:
    return next(r.key for r in result.rows if r.protocol == "om" and r.seed == seed)


# -- rows -------------------------------------------------------------------------------


def test_every_row_carries_a_checksum_of_all_its_columns(filled) -> None:
    db, _ = filled
    rows = rows_of(db)
    assert len(rows) == 12
    for row in rows.values():
        assert row["status"] == "ok" and json.loads(row["error"]) is None
        assert row["checksum"] == checksum([row[c] for c in RUN_COLUMNS[:-1]])
        assert len(row["checksum"]) == 64


def test_a_flipped_byte_in_a_stored_metric_is_a_damaged_row_not_a_result(filled, capsys) -> None:
    db, clean = filled
    # Flip one byte in the file itself: "messages":9 -> "messages":8 in the first row holding it.
    data = bytearray(db.read_bytes())
    at = data.index(b'"messages":9')
    data[at + len(b'"messages":')] = ord("8")
    db.write_bytes(bytes(data))
    flipped = [k for k, row in rows_of(db).items() if '"messages":8' in row["metrics"]]
    assert len(flipped) == 1
    key = flipped[0]
    with Store(db) as store:
        found, damaged = store.get(rows_of(db))
    assert key not in found and len(found) == 11
    assert [(d.key, d.reason) for d in damaged] == [
        (key, "checksum mismatch (the row changed after bft wrote it)")
    ]
    # A sweep names the row with its key, runs it again and reports the true value.
    rc = main([*ARGV, "--db", str(db), "--format", "json", "--rows"])
    out, err = capsys.readouterr()
    assert rc == 0
    payload = json.loads(out)
    assert payload["damaged_rows"] == [
        {"key": key, "reason": "checksum mismatch (the row changed after bft wrote it)"}
    ]
    assert payload["runs"] == {"total": 12, "stored": 11, "ran": 1}
    assert f"1 damaged row(s) ignored and run again: row {key[:16]}: checksum mismatch" in err
    assert [r["metrics"] for r in payload["rows"]] == [r.metrics for r in clean.rows]
    # ... and the file is whole again.
    again = bench.run_sweep(om_sweep(), db=str(db), version="t")
    assert (again.reused, again.ran, again.damaged) == (12, 0, [])
    assert again.rows == clean.rows


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("metrics", '{"messages": 9', "invalid JSON in column 'metrics'"),
        ("metrics", '{"messages": "nine"}', "'metrics' is not an object of numbers"),
        ("metrics", "[9]", "'metrics' is not an object of numbers"),
        ("properties", '{"validity": true}', "'properties' is not an object of {holds, exercised, kind} verdicts"),
        ("properties", '{"validity": {"holds": 1, "exercised": true, "kind": "safety"}}', "verdicts"),
        ("series", '{"served": [1, "x"]}', "'series' is not an object of number lists"),
        ("config", "3", "'config' is not a JSON object"),
        ("digest", "abc", "'digest' is not a SHA-256 hex digest"),
        ("status", "maybe", "unknown status 'maybe'"),
        ("status", "failed", "a failed run's 'error' is not {type, message, location}"),
        ("error", '{"type": "X"}', "a run stored as 'ok' carries an error"),
        ("seconds", -1.0, "'seconds' is -1.0"),
        ("seed", "one", "column 'seed' or 'seconds' holds a value of the wrong type"),
        ("metrics", b"{}", "column 'metrics' holds bytes, not text"),
    ],
)  # fmt: skip
def test_rows_of_the_wrong_shape_are_damaged_even_with_a_valid_checksum(
    filled, column: str, value: object, reason: str
) -> None:
    db, clean = filled
    key = om_key(clean)
    rewrite(db, key, column, value, reseal=not isinstance(value, bytes))
    result = bench.run_sweep(om_sweep(), db=str(db), version="t")
    assert len(result.damaged) == 1
    assert result.damaged[0].key == key and reason in result.damaged[0].reason
    assert (result.reused, result.ran) == (11, 1)
    assert result.rows == clean.rows and result.cells == clean.cells


def test_a_row_stored_under_a_key_that_is_not_its_own_is_damaged(filled) -> None:
    db, clean = filled
    key = om_key(clean, seed=1)
    rewrite(db, key, "seed", 2, reseal=True)  # seed 2's result filed under seed 1's key
    result = bench.run_sweep(om_sweep(), db=str(db), version="t")
    assert [(d.key, d.reason) for d in result.damaged] == [
        (key, "its configuration, seed or code version is not the one its key names")
    ]
    assert result.rows == clean.rows


# -- the file ---------------------------------------------------------------------------


def test_a_foreign_runs_table_is_refused_and_the_file_left_alone(tmp_path, capsys) -> None:
    db = tmp_path / "theirs.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, result TEXT)")
        conn.execute("INSERT INTO runs VALUES (1, 'mine')")
    conn.close()
    before = db.read_bytes()
    assert main([*ARGV, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"bft: error: results database {str(db)!r} was not written by bft bench "
        "(it holds table(s) runs); give a new file name\n"
    )
    assert db.read_bytes() == before


def test_a_runs_table_of_another_shape_under_a_bft_meta_is_refused(filled) -> None:
    db, _ = filled
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE runs ADD COLUMN extra TEXT")
    conn.close()
    with pytest.raises(ConfigError, match="table 'runs' does not have the columns bft writes"):
        Store(db)


@pytest.mark.parametrize(
    ("version", "message"),
    [("3", "has schema 3, written by a newer bft"), ("1", "has schema 1, written by an older bft")],
)
def test_another_schema_version_is_refused_without_being_overwritten(
    filled, version: str, message: str
) -> None:
    db, _ = filled
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE name = 'schema'", (version,))
    conn.close()
    before = db.read_bytes()
    with pytest.raises(ConfigError, match=message):
        bench.run_sweep(om_sweep(), db=str(db), version="t")
    assert db.read_bytes() == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone() == (version,)
    conn.close()


def test_a_file_sqlite_cannot_read_is_reported_as_damaged(filled, capsys) -> None:
    db, _ = filled
    data = bytearray(db.read_bytes())
    data[4096 : 4096 + 16] = b"\xff" * 16  # the header of the second page
    db.write_bytes(bytes(data))
    assert main([*ARGV, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bft: error: results database {str(db)!r} is damaged (")
    assert "move it aside" in err and err.count("\n") == 1


def test_a_locked_database_is_reported_quickly(filled, capsys) -> None:
    db, _ = filled
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        start = time.monotonic()
        rc = main([*ARGV, "--db", str(db)])
        waited = time.monotonic() - start
    finally:
        other.execute("ROLLBACK")
        other.close()
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err == (
        f"bft: error: results database {str(db)!r} is locked by another connection "
        f"(waited {stores.LOCK_WAIT:g} s); finish the other program's transaction or give "
        "another file name\n"
    )
    assert stores.LOCK_WAIT <= waited < stores.LOCK_WAIT + 5


def test_a_lock_released_while_waiting_is_no_error(filled) -> None:
    db, clean = filled
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(stores.LOCK_WAIT / 4, lambda: other.execute("ROLLBACK"))
    release.start()
    try:
        result = bench.run_sweep(om_sweep(), db=str(db), version="t")
    finally:
        release.join()
        other.close()
    assert (result.reused, result.ran) == (12, 0)
    assert result.rows == clean.rows


# -- failed runs ------------------------------------------------------------------------


@pytest.mark.usefixtures("coin")
def test_a_failed_run_is_stored_with_its_exception_and_reused(tmp_path) -> None:
    db = str(tmp_path / "coin.sqlite")
    sweep = bench.build(
        coin_scenario(),
        [parse_protocol("coin"), parse_protocol("coin:explode=SystemExit,explode_seeds=[1]")],
        [parse_adversary("none")],
        range(3),
    )
    first = bench.run_sweep(sweep, db=db, version="t")
    assert (first.reused, first.ran, first.crashed) == (0, 6, 1)
    [failed] = first.failures
    assert (failed.protocol, failed.seed) == ("coin:explode=SystemExit,explode_seeds=[1]", 1)
    assert failed.error["type"] == "SystemExit" and failed.error["message"] == "0"
    assert failed.error["location"].startswith("tests.test_bench_support:")
    stored = [r for r in rows_of(Path(db)).values() if r["status"] == "failed"]
    assert len(stored) == 1 and json.loads(stored[0]["error"]) == failed.error
    assert stored[0]["seed"] == 1 and stored[0]["metrics"] == "{}"
    again = bench.run_sweep(sweep, db=db, version="t")
    assert (again.reused, again.ran) == (6, 0)
    assert again.failures == first.failures and again.cells == first.cells
    assert "1 of 3 runs failed; first: run raised SystemExit: 0 at" in again.cells[1].error
