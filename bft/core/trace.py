"""Traces: what happened in a run, as JSON Lines, with a digest.

Theory of operation. The engine reports every event to a ``TraceSink``. Each
event becomes one canonical JSON line (sorted keys, no spaces, messages encoded
by ``bft.core.encoding``), the line is fed to a running SHA-256, and, when a file is
given, written out at once: the trace streams, so memory does not grow with the
run. The digest therefore identifies the run exactly; two runs agree on it only
if they agree on every recorded event, in order.

Two levels:

* ``full``: every send, deliver, drop, delay and lost message, plus the node
  events below. For diagrams, replays and debugging; about 5 us per message.
* ``summary``: node events (outputs, crashes, recoveries, corruptions,
  overloads, freezes, rejected messages, refused adversary actions, protocol
  bugs) and one line per round with message counts by kind. For long runs and
  searches: the per-message work is a counter increment.

The first line is a header: format name and version, the scenario and
everything that determines the run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from bft.core.encoding import canonical_json, dumps
from bft.core.errors import ConfigError

FORMAT = "bft-trace"
VERSION = 1
LEVELS = ("summary", "full")
UNHASHED = ("scenario", "signatures")


class TraceSink:
    """Receives events, hashes them, and streams them to a file if asked."""

    def __init__(self, level: str = "summary", path: str | Path | None = None) -> None:
        if level not in LEVELS:
            raise ConfigError(f"unknown trace level {level!r}; available: 'full', 'summary'")
        self.level = level
        self.full = level == "full"
        self._hash = hashlib.sha256()
        self._file: IO[str] | None = None
        if path is not None:
            try:
                self._file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise ConfigError(
                    f"cannot write trace file {str(path)!r}: {exc.strerror}"
                ) from None
        self.lines = 0

    def write(
        self, record: dict[str, Any], hashed: dict[str, Any] | None = None, *, ordered: bool = False
    ) -> None:
        """Hash (and maybe write) one line. ``ordered``: the caller guarantees a
        deterministic key order already, so the (slower) key sort is skipped."""
        line = json.dumps(record, separators=(",", ":")) if ordered else dumps(record)
        self._line(line, None if hashed is None else dumps(hashed))

    def _line(self, line: str, digest_line: str | None = None) -> None:
        self._hash.update((line if digest_line is None else digest_line).encode())
        self._hash.update(b"\n")
        self.lines += 1
        if self._file is not None:
            self._file.write(line)
            self._file.write("\n")

    def header(self, **fields: Any) -> None:
        """Write the header. The digest leaves out what does not change behaviour:
        the scenario's name and the signature mode (real and ideal runs must match)."""
        record = {"format": FORMAT, "version": VERSION, "level": self.level, **fields}
        hashed = {k: v for k, v in record.items() if k not in UNHASHED}
        self.write(record, hashed)

    def event(self, rnd: int, ev: str, **fields: Any) -> None:
        self._line(canonical_json({"r": rnd, "ev": ev, **fields}))

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class NullSink(TraceSink):
    """Records and hashes nothing: for the many runs of a search, whose traces nobody
    reads (a counterexample is run again with a real sink to get its digest)."""

    def __init__(self) -> None:
        self.level = "none"
        self.full = False
        self.lines = 0
        self._file = None

    def write(
        self, record: dict[str, Any], hashed: dict[str, Any] | None = None, *, ordered: bool = False
    ) -> None:
        pass

    def header(self, **fields: Any) -> None:
        pass

    def event(self, rnd: int, ev: str, **fields: Any) -> None:
        pass

    @property
    def digest(self) -> str:
        return ""


def read_trace(path: str | Path) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """Open a trace file: its header and an iterator over its events."""
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed by the generator
    except OSError as exc:
        raise ConfigError(f"cannot read trace file {str(path)!r}: {exc.strerror}") from None
    first = handle.readline()
    try:
        header = json.loads(first)
    except json.JSONDecodeError:
        handle.close()
        raise ConfigError(f"{path}: not a bft trace (first line is not JSON)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        handle.close()
        raise ConfigError(f"{path}: not a bft trace (no '{FORMAT}' header)")
    if header.get("version") != VERSION:
        handle.close()
        raise ConfigError(
            f"{path}: trace format version {header.get('version')!r} is not supported (expected {VERSION})"
        )

    def events() -> Iterator[dict[str, Any]]:
        with handle:
            for number, line in enumerate(handle, start=2):
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    raise ConfigError(f"{path}:{number}: malformed trace line") from None

    return header, events()
