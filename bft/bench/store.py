"""Result storage in SQLite (standard library ``sqlite3``), checked on every read.

Theory of operation. One table, ``runs``, holds one row per finished run,
keyed by a hash of the run's resolved configuration, its seed and the code
version (see ``Cell.key``); the configuration itself is stored beside it as
JSON, so a database can be queried without bft. A run that raised is stored
too (``status = 'failed'``, with the exception's type, message and location
in ``error``): runs are pure functions of their key, so it would raise again.
Finished runs are committed at least every 0.2 s (``FLUSH_SECONDS`` in
``execute``), their stored form built by the worker that ran them; SIGINT
and SIGTERM commit what finished before the sweep stops, a SIGKILL loses at
most the last 0.2 s; a re-run asks the store which keys it already has and
runs only the others. The database uses
write-ahead logging: a reader (a notebook, ``sqlite3`` on the command line)
can look while a sweep writes.

Nothing in the file is trusted. Opening it reads the ``meta`` table before
writing anything: a file with other tables, another schema version (older
or newer) or ``runs``/``meta`` tables of another shape is refused with one
line and left as it was. Every row carries a SHA-256 checksum of all its
columns; a row whose checksum does not match, whose JSON does not parse or
whose values have the wrong shape is *damaged*: ``get`` reports it with its
key and the reason instead of returning it, and the sweep runs it again and
overwrites it. A file SQLite itself cannot read ("database disk image is
malformed") is refused with one line. Another connection holding a lock is
waited for ``LOCK_WAIT`` seconds at open (``WRITE_WAIT`` for a write during
the sweep), then reported, not hung on.

The code version is the package version plus a digest of the Python sources
of ``bft``, ``protocols`` and ``adversaries``: any change to the code that
runs makes earlier results stale (they stay in the file, under their old
version). Protocols from third-party packages are not in the digest; pass an
explicit version (``--code-version``) to key their results by your own
release.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

import bft
from bft.core.errors import ConfigError

SCHEMA_VERSION = 2
APPLICATION = "bft bench results"
LOCK_WAIT = 2.0  # seconds to wait for another connection's lock when opening
WRITE_WAIT = 10.0  # ... and when storing a run during a sweep
SQLITE_HEADER = b"SQLite format 3\x00"

RUN_COLUMNS = (
    "key",
    "scenario",
    "protocol",
    "seed",
    "code_version",
    "config",
    "status",
    "metrics",
    "properties",
    "series",
    "digest",
    "error",
    "seconds",
    "finished",
    "checksum",
)
META_COLUMNS = ("name", "value")
STATUSES = ("ok", "failed")

_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    key TEXT PRIMARY KEY,
    scenario TEXT NOT NULL,
    protocol TEXT NOT NULL,
    seed INTEGER NOT NULL,
    code_version TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    metrics TEXT NOT NULL,
    properties TEXT NOT NULL,
    series TEXT NOT NULL,
    digest TEXT NOT NULL,
    error TEXT NOT NULL,
    seconds REAL NOT NULL,
    finished TEXT NOT NULL,
    checksum TEXT NOT NULL
);
"""


@functools.cache
def source_digest() -> str:
    """A digest of the Python sources that determine a run's result (the ``bft`` package,
    built-in protocols and adversaries included; in a checkout they are reached through
    links, which ``os.walk`` follows)."""
    h = hashlib.sha256()
    root = Path(bft.__file__).parent
    files: list[Path] = []
    for folder, dirs, names in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        files.extend(Path(folder) / name for name in names if name.endswith(".py"))
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        h.update(path.relative_to(root.parent).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def code_version() -> str:
    return f"{bft.__version__}+{source_digest()}"


def checksum(values: Sequence[Any]) -> str:
    """The checksum of a row: SHA-256 over every other column, in ``RUN_COLUMNS`` order.

    ``seconds`` enters as ``repr`` of the float SQLite gives back, which round-trips exactly.
    """
    parts = [repr(v) if isinstance(v, float) else v for v in values]
    blob = json.dumps(parts, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()


@attrs.frozen
class Damaged:
    """A stored row that cannot be trusted: its key and why."""

    key: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.key[:16]}: {self.reason}"


def dumps(value: Any) -> str:
    """The JSON text bft stores (and hashes): sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@attrs.frozen
class Where:
    """What a stored run was: the columns that do not come from running it."""

    scenario: str
    protocol: str
    seed: int
    code_version: str
    config: str  # ``dumps`` of the resolved configuration


def head(key: str, where: Where) -> tuple[Any, ...]:
    """The columns of a run that are known before it runs (``RUN_COLUMNS[:HEAD]``)."""
    return (key, where.scenario, where.protocol, int(where.seed), where.code_version, where.config)


HEAD = 6


def tail(key: str, where: Where, row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The columns that running gives (``RUN_COLUMNS[HEAD:]``, checksum last) of a finished
    run (status ``ok`` or ``failed``), JSON-encoded where it ran: a worker sends only these,
    and the parent inserts ``head + tail`` (see ``record``)."""
    failed = row["status"] == "failed"
    values = (
        row["status"],
        "{}" if failed else dumps(row["metrics"]),
        "{}" if failed else dumps(row["properties"]),
        "{}" if failed else dumps(row["series"]),
        "" if failed else row["digest"],
        dumps(row["error"] if failed else None),
        float(row["seconds"]),
        datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return (*values, checksum((*head(key, where), *values)))


def record(key: str, where: Where, row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The stored form of a finished run: one value per column of ``RUN_COLUMNS``."""
    return (*head(key, where), *tail(key, where, row))


def parse_tail(values: Sequence[Any]) -> dict[str, Any]:
    """A run's row (status, metrics, properties, series, digest, error, seconds) from the
    columns ``tail`` gives: what a fresh run and a stored one both become."""
    status, metrics, properties, series, digest, error, seconds = values[:7]
    return {
        "status": status,
        "metrics": json.loads(metrics),
        "properties": json.loads(properties),
        "series": json.loads(series),
        "digest": digest,
        "error": json.loads(error),
        "seconds": seconds,
    }


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)  # bool is an int: a metric may be a flag


def _check_shape(status: str, row: dict[str, Any]) -> str | None:
    """Why a parsed row does not have the shape bft writes (None: it does)."""
    metrics, properties, series, error = (
        row["metrics"],
        row["properties"],
        row["series"],
        row["error"],
    )
    if not isinstance(row["config"], dict):
        return "'config' is not a JSON object"
    if not isinstance(metrics, dict) or not all(
        v is None or _is_number(v) for v in metrics.values()
    ):
        return "'metrics' is not an object of numbers"
    if not isinstance(properties, dict) or not all(
        isinstance(v, dict)
        and isinstance(v.get("holds"), bool)
        and isinstance(v.get("exercised"), bool)
        and isinstance(v.get("kind"), str)
        for v in properties.values()
    ):
        return "'properties' is not an object of {holds, exercised, kind} verdicts"
    if not isinstance(series, dict) or not all(
        isinstance(v, list) and all(x is None or _is_number(x) for x in v) for v in series.values()
    ):
        return "'series' is not an object of number lists"
    if status == "ok":
        if error is not None:
            return "a run stored as 'ok' carries an error"
        digest = row["digest"]
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            return "'digest' is not a SHA-256 hex digest"
    elif not (
        isinstance(error, dict)
        and set(error) == {"type", "message", "location"}
        and all(isinstance(v, str) for v in error.values())
    ):
        return "a failed run's 'error' is not {type, message, location}"
    seconds = row["seconds"]
    if not math.isfinite(seconds) or seconds < 0:
        return f"'seconds' is {seconds!r}"
    return None


class Store:
    """Finished runs in SQLite; ``path=":memory:"`` keeps them for this process only."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self.conn: sqlite3.Connection | None = None
        self.fresh = self.path == ":memory:"  # an empty database: nothing to check
        if self.path != ":memory:":
            self._check_file()
        try:
            self.conn = sqlite3.connect(self.path, timeout=LOCK_WAIT, isolation_level=None)
            self._open()
        except sqlite3.Error as exc:
            self.close()
            raise self._error(exc, LOCK_WAIT) from None
        except ConfigError:
            self.close()
            raise

    # -- opening ------------------------------------------------------------------------

    def _check_file(self) -> None:
        path = Path(self.path)
        if path.is_dir():
            raise ConfigError(f"--db {self.path!r} is a directory; give a file name")
        if not path.parent.is_dir():
            raise ConfigError(
                f"cannot use results database {self.path!r}: directory "
                f"{str(path.parent)!r} does not exist"
            )
        try:
            with path.open("rb") as f:
                head = f.read(len(SQLITE_HEADER))
        except FileNotFoundError:
            self.fresh = True
            return
        except OSError as exc:
            raise ConfigError(f"cannot read results database {self.path!r}: {exc}") from None
        self.fresh = not head
        if head and head != SQLITE_HEADER:
            raise ConfigError(
                f"results database {self.path!r} is not an SQLite file; "
                "give a new file name or a database bft wrote"
            )

    def _open(self) -> None:
        """Check (or create) the schema in one write transaction, before changing anything."""
        conn = self.conn
        assert conn is not None
        if self.fresh and self.path != ":memory:":  # WAL from the start: one sync fewer
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")  # waits at most LOCK_WAIT for another writer
        try:
            tables = {
                name
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            }
            if not tables:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [
                        ("application", APPLICATION),
                        ("schema", str(SCHEMA_VERSION)),
                        ("created", datetime.now(UTC).isoformat(timespec="seconds")),
                        ("created_by", f"bft {bft.__version__}"),
                    ],
                )
            else:
                self._check_schema(tables)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(WRITE_WAIT * 1000)}")

    def _columns(self, table: str) -> tuple[str, ...]:
        assert self.conn is not None
        return tuple(row[1] for row in self.conn.execute(f"PRAGMA table_info({table})"))

    def _check_schema(self, tables: set[str]) -> None:
        assert self.conn is not None
        where = f"results database {self.path!r}"
        if "meta" not in tables or self._columns("meta") != META_COLUMNS:
            listed = ", ".join(sorted(tables))
            raise ConfigError(
                f"{where} was not written by bft bench (it holds table(s) {listed}); "
                "give a new file name"
            )
        meta: dict[str, Any] = {}
        for name, value in self.conn.execute("SELECT name, value FROM meta"):
            meta[name] = value
        schema = meta.get("schema")
        if meta.get("application", APPLICATION) != APPLICATION or schema is None:
            raise ConfigError(
                f"{where} was not written by bft bench (its 'meta' table names no bft schema); "
                "give a new file name"
            )
        try:
            version = int(schema)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{where} has an unreadable schema version {schema!r}; give a new file name"
            ) from None
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"{where} has schema {version}, written by a newer bft; this bft reads schema "
                f"{SCHEMA_VERSION}: upgrade bft or give a new file name (the file is unchanged)"
            )
        if version < SCHEMA_VERSION:
            raise ConfigError(
                f"{where} has schema {version}, written by an older bft (rows without "
                f"checksums); this bft reads schema {SCHEMA_VERSION}: give a new file name "
                "(the file is unchanged)"
            )
        found = self._columns("runs") if "runs" in tables else ()
        if found != RUN_COLUMNS:
            raise ConfigError(
                f"{where}: table 'runs' does not have the columns bft writes "
                f"(found {', '.join(found) or 'no table'}); the file is damaged or another "
                "program changed it: give a new file name"
            )

    def _error(self, exc: sqlite3.Error, waited: float) -> ConfigError:
        text = str(exc)
        where = f"results database {self.path!r}"
        if "locked" in text or "busy" in text:
            return ConfigError(
                f"{where} is locked by another connection (waited {waited:g} s); "
                "finish the other program's transaction or give another file name"
            )
        if "malformed" in text or "not a database" in text or "corrupt" in text:
            return ConfigError(
                f"{where} is damaged ({text}); move it aside and give a new file name"
            )
        return ConfigError(
            f"cannot use {where}: {text} (check that the directory is writable and "
            "the file is a bft database)"
        )

    # -- use ----------------------------------------------------------------------------

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, keys: Iterable[str]) -> tuple[dict[str, dict[str, Any]], list[Damaged]]:
        """Stored rows for those of ``keys`` that are present, and the damaged ones.

        A row is ``{"status", "metrics", "properties", "series", "digest", "error",
        "seconds", "seed", "config", "code_version"}``; a damaged row is left out of the
        first mapping and named, with the reason, in the list.
        """
        assert self.conn is not None
        keys = list(keys)
        out: dict[str, dict[str, Any]] = {}
        damaged: list[Damaged] = []
        columns = ", ".join(RUN_COLUMNS)
        try:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                cursor = self.conn.execute(
                    f"SELECT {columns} FROM runs WHERE key IN ({marks})", chunk
                )
                for values in cursor:
                    row, why = self._parse(values)
                    if row is None:
                        damaged.append(Damaged(str(values[0]), why or "unreadable"))
                    else:
                        out[values[0]] = row
        except sqlite3.Error as exc:
            raise self._error(exc, WRITE_WAIT) from None
        damaged.sort(key=lambda d: keys.index(d.key) if d.key in keys else len(keys))
        return out, damaged

    @staticmethod
    def _parse(values: Sequence[Any]) -> tuple[dict[str, Any] | None, str | None]:
        named = dict(zip(RUN_COLUMNS, values, strict=True))
        text_columns = [c for c in RUN_COLUMNS if c not in ("seed", "seconds")]
        for column in text_columns:
            if not isinstance(named[column], str):
                return None, f"column {column!r} holds {type(named[column]).__name__}, not text"
        if not isinstance(named["seed"], int) or not isinstance(named["seconds"], float):
            return None, "column 'seed' or 'seconds' holds a value of the wrong type"
        if checksum(values[:-1]) != named["checksum"]:
            return None, "checksum mismatch (the row changed after bft wrote it)"
        if named["status"] not in STATUSES:
            return None, f"unknown status {named['status']!r}"
        try:
            row = parse_tail(values[HEAD:])
            row["config"] = json.loads(named["config"])
        except ValueError:
            bad = next(
                c
                for c in ("config", "metrics", "properties", "series", "error")
                if not _parses(named[c])
            )
            return None, f"invalid JSON in column {bad!r}"
        row["seed"] = named["seed"]
        row["code_version"] = named["code_version"]
        why = _check_shape(row["status"], row)
        return (None, why) if why else (row, None)

    def insert(self, records: Sequence[Sequence[Any]]) -> None:
        """Store finished runs (``record`` tuples) in one transaction."""
        assert self.conn is not None
        if not records:
            return
        try:
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.executemany(
                    f"INSERT OR REPLACE INTO runs VALUES ({','.join('?' * len(RUN_COLUMNS))})",
                    records,
                )
        except sqlite3.Error as exc:
            raise self._error(exc, WRITE_WAIT) from None

    def put(self, key: str, where: Where, row: Mapping[str, Any]) -> None:
        """Store one finished run (as ``run_one`` gives it), in its own transaction."""
        self.insert([record(key, where, row)])

    def count(self) -> int:
        assert self.conn is not None
        try:
            return self.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        except sqlite3.Error as exc:
            raise self._error(exc, WRITE_WAIT) from None
