"""Result storage in SQLite (standard library ``sqlite3``).

Theory of operation. One table, ``runs``, holds one row per finished run,
keyed by a hash of the run's resolved configuration, its seed and the code
version (see ``Cell.key``); the configuration itself is stored beside it as
JSON, so a database can be queried without bft. Each run is written in its
own transaction as soon as it finishes, so an interrupt or a crash loses no
finished run, and a re-run asks the store which keys it already has and
runs only the others. The database uses write-ahead logging: a reader (a
notebook, ``sqlite3`` on the command line) can look while a sweep writes.

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
import os
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bft
from bft.core.errors import ConfigError

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    scenario TEXT NOT NULL,
    protocol TEXT NOT NULL,
    seed INTEGER NOT NULL,
    code_version TEXT NOT NULL,
    config TEXT NOT NULL,
    metrics TEXT NOT NULL,
    properties TEXT NOT NULL,
    series TEXT NOT NULL,
    digest TEXT NOT NULL,
    seconds REAL NOT NULL,
    finished TEXT NOT NULL
);
"""


@functools.cache
def source_digest() -> str:
    """A digest of the Python sources that determine a run's result (the ``bft`` package,
    built-in protocols and adversaries included; in a checkout they are reached through
    links, which ``os.walk`` follows)."""
    h = hashlib.sha256()
    root = Path(bft.__file__).parent
    files = []
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


class Store:
    """Finished runs in SQLite; ``path=":memory:"`` keeps them for this process only."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:" and Path(self.path).is_dir():
            raise ConfigError(f"--db {self.path!r} is a directory; give a file name")
        try:
            self.conn = sqlite3.connect(self.path, timeout=30)
            if self.path != ":memory:":
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
            with self.conn:
                self.conn.executescript(_SCHEMA)
                self.conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,)
                )
        except sqlite3.Error as exc:
            raise ConfigError(
                f"cannot use results database {self.path!r}: {exc} "
                "(check that the directory exists and is writable, and that the file is a bft database)"
            ) from None
        found = self.conn.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
        if found and found[0] != SCHEMA_VERSION:
            raise ConfigError(
                f"results database {self.path!r} has schema {found[0]}, this bft writes "
                f"{SCHEMA_VERSION}; use a new file"
            )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Stored rows for those of ``keys`` that are present."""
        keys = list(keys)
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, metrics, properties, series, digest, seconds in self.conn.execute(
                f"SELECT key, metrics, properties, series, digest, seconds FROM runs "
                f"WHERE key IN ({marks})",
                chunk,
            ):
                out[key] = {
                    "metrics": json.loads(metrics),
                    "properties": json.loads(properties),
                    "series": json.loads(series),
                    "digest": digest,
                    "seconds": seconds,
                }
        return out

    def put(
        self,
        key: str,
        *,
        scenario: str,
        protocol: str,
        seed: int,
        code_version: str,
        config: Mapping[str, Any],
        row: Mapping[str, Any],
    ) -> None:
        """Store one finished run, in its own transaction."""
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    key,
                    scenario,
                    protocol,
                    seed,
                    code_version,
                    json.dumps(config, sort_keys=True),
                    json.dumps(row["metrics"], sort_keys=True),
                    json.dumps(row["properties"], sort_keys=True),
                    json.dumps(row["series"], sort_keys=True),
                    row["digest"],
                    row["seconds"],
                    datetime.now(UTC).isoformat(timespec="seconds"),
                ),
            )

    def count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
