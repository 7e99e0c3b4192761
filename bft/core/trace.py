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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeGuard

from bft.core.encoding import canonical_json, dumps
from bft.core.errors import ConfigError, shorten

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


# -- reading a trace back -------------------------------------------------------------------
#
# A trace may come from anywhere (a student's editor, a truncated download, a fuzzer), so
# reading is defensive: each line is decoded and validated on its own, and the first bad
# one is reported with its line number in one sentence. Every field a reader may use is
# checked for its JSON type here, so readers (``bft show``) can index records freely.
# Unknown event kinds are passed through (a newer bft may add some); known ones must
# have their fields.

MAX_LINE = 64 * 1024 * 1024  #: longest accepted line, in bytes (a 1 GB line is not a trace)
MAX_NODES = 1_000_000  #: node ids must be below this (a node id of 10**15 is not a run)
MAX_ROUNDS = 10**9  #: the header's round count must be below this


def printable(text: str) -> str:
    """``text`` with control characters and lone surrogates shown as ``?`` (safe on one line
    of any terminal)."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF else "?" for ch in text
    )


def _clip(value: Any, limit: int = 40) -> str:
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        text = repr(value)
    return shorten(text, limit)


def _is_int(value: Any) -> TypeGuard[int]:
    return type(value) is int


def _node(value: Any) -> bool:
    return _is_int(value) and 0 <= value < MAX_NODES


def _nodes(value: Any) -> bool:
    return type(value) is list and all(_node(v) for v in value)


def _counts(value: Any) -> bool:
    return type(value) is dict and all(_is_int(v) and v >= 0 for v in value.values())


def _str(value: Any) -> TypeGuard[str]:
    return type(value) is str


def _opt_node(value: Any) -> bool:
    return value is None or _node(value)


def _opt_str(value: Any) -> bool:
    return value is None or _str(value)


def _verdict(value: Any) -> bool:
    return (
        type(value) is dict
        and type(value.get("holds")) is bool
        and _opt_str(value.get("witness"))
        and _opt_str(value.get("kind"))
        and type(value.get("exercised", True)) is bool
        and (value.get("round") is None or (_is_int(value["round"]) and value["round"] >= 0))
        and (value.get("nodes") is None or _nodes(value["nodes"]))
    )


Check = tuple[Callable[[Any], bool], str]

_NODE_EVENT: dict[str, Check] = {
    "node": (_opt_node, "a node id or null"),
    "detail": (_str, "a string"),
}
_ENVELOPE: dict[str, Check] = {
    "src": (_node, "a node id"),
    "dst": (_node, "a node id"),
    "kind": (_str, "a string"),
}
#: event -> field -> (check, what it must be); fields not listed are not checked
EVENT_FIELDS: dict[str, dict[str, Check]] = {
    "send": {**_ENVELOPE, "adv": (_str, "a string")},
    "drop": _ENVELOPE,
    "deliver": _ENVELOPE,
    "lost": _ENVELOPE,
    "delay": {**_ENVELOPE, "until": (_is_int, "a round number")},
    "output": {
        "node": (_node, "a node id"),
        "name": (_str, "a string"),
        "data": (lambda v: type(v) is dict, "an object"),
    },
    "reject": {
        "node": (_node, "a node id"),
        "src": (_node, "a node id"),
        "kind": (_str, "a string"),
        "reason": (_str, "a string"),
    },
    **{
        name: _NODE_EVENT
        for name in (
            "corrupt",
            "crash",
            "overload",
            "freeze",
            "recover",
            "restart",
            "bug",
            "corrupt-node-error",
            "adversary",
        )
    },
    "refused": {"adversary": (_str, "a string"), "reason": (_str, "a string")},
    "round": {
        "sent": (_counts, "an object of message counts"),
        "down": (_nodes, "a list of node ids"),
    },
    "rounds": {
        "sent": (
            lambda v: type(v) is list and all(_counts(c) for c in v),
            "a list of objects of message counts",
        ),
        "down": (
            lambda v: type(v) is list and all(_nodes(d) for d in v),
            "a list of lists of node ids",
        ),
    },
    "verdicts": {
        "n": (lambda v: _is_int(v) and 1 <= v <= MAX_NODES, "a node count"),
        "roles": (lambda v: type(v) is list and all(_str(x) for x in v), "a list of strings"),
        "corrupted": (_nodes, "a list of node ids"),
        "properties": (
            lambda v: type(v) is dict and all(_verdict(x) for x in v.values()),
            "an object of verdicts (holds, witness, kind, exercised)",
        ),
        "metrics": (lambda v: type(v) is dict, "an object"),
        "beyond_bound": (_opt_str, "a string or null"),
        "digest": (_opt_str, "a string or null"),
    },
}
#: fields an event may leave out (everything else listed above is required)
OPTIONAL = {("send", "msg"), ("send", "adv"), ("round", "down"), ("rounds", "down")} | {
    ("verdicts", f) for f in ("roles", "corrupted", "metrics", "beyond_bound", "digest")
}

HEADER_FIELDS: dict[str, Check] = {
    "level": (lambda v: v in LEVELS, "'summary' or 'full'"),
    "rounds": (lambda v: _is_int(v) and 0 <= v < MAX_ROUNDS, "a round count"),
    "protocol": (_str, "a string"),
    "scenario": (_opt_str, "a string"),
    "seed": (lambda v: v is None or _is_int(v), "an integer"),
    "params": (lambda v: type(v) is dict, "an object"),
    "adversaries": (
        lambda v: type(v) is list and all(type(a) is list and a and _str(a[0]) for a in v),
        "a list of [name, parameters] pairs",
    ),
}


def validate_header(header: Any, where: str) -> dict[str, Any]:
    """``header`` if it is a bft trace header; a one-line ``ConfigError`` otherwise."""
    if type(header) is not dict or header.get("format") != FORMAT:
        raise ConfigError(f"{where}: not a bft trace (no '{FORMAT}' header)")
    if header.get("version") != VERSION:
        raise ConfigError(
            f"{where}: trace format version {_clip(header.get('version'))} is not supported "
            f"(expected {VERSION})"
        )
    for name, (check, what) in HEADER_FIELDS.items():
        if name in header and not check(header[name]):
            raise ConfigError(
                f"{where}: header field {name!r} must be {what} (got {_clip(header[name])})"
            )
    return header


def validate_event(record: Any, where: str) -> dict[str, Any]:
    """``record`` if it is a well-formed trace event; a one-line ``ConfigError`` otherwise."""
    if type(record) is not dict:
        raise ConfigError(f"{where}: an event must be a JSON object (got {_clip(record)})")
    rnd, ev = record.get("r"), record.get("ev")
    if not _is_int(rnd) or rnd < 0:
        raise ConfigError(f"{where}: an event needs a round number 'r' (got {_clip(rnd)})")
    if not _str(ev):
        raise ConfigError(f"{where}: an event needs a string 'ev' (got {_clip(ev)})")
    for name, (check, what) in EVENT_FIELDS.get(ev, {}).items():
        if name not in record:
            if (ev, name) in OPTIONAL:
                continue
            raise ConfigError(f"{where}: {_clip(ev)} event without its {name!r} field")
        if not check(record[name]):
            raise ConfigError(
                f"{where}: {_clip(ev)} event: {name!r} must be {what} (got {_clip(record[name])})"
            )
    return record


def _decode(raw: bytes, where: str) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
        ) from None
    try:
        return json.loads(text)
    except RecursionError:
        raise ConfigError(f"{where}: JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer with too many digits
        cut = "" if raw.endswith(b"\n") else " (the line is cut short: a truncated file?)"
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ConfigError(f"{where}: malformed JSON: {shorten(reason, 60)}{cut}") from None


def read_trace(path: str | Path) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """Open a trace file: its validated header and an iterator over its validated events.

    Every problem -- a missing file, bytes that are not UTF-8, a line that is not JSON,
    a record of the wrong JSON type, a missing or mistyped field -- is a ``ConfigError``
    naming the file and line. The events are validated as they are read."""
    name = printable(shorten(str(path), 80))
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the generator, or below
    except OSError as exc:
        raise ConfigError(f"cannot read trace file {name!r}: {exc.strerror}") from None
    except ValueError:  # a NUL byte in the name (possible from Python, not from a shell)
        raise ConfigError(f"cannot read trace file {name!r}: not a valid file name") from None

    def line(number: int) -> bytes:
        try:
            raw = handle.readline(MAX_LINE + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read trace file {name!r}: {exc.strerror}") from None
        if len(raw) > MAX_LINE:
            raise ConfigError(f"{name}:{number}: line longer than {MAX_LINE} bytes")
        return raw

    try:
        first = line(1)
        if not first.strip():
            raise ConfigError(f"{name}: empty file, not a bft trace")
        try:
            header = _decode(first, f"{name}:1")
        except ConfigError:
            raise ConfigError(f"{name}: not a bft trace (the first line is not JSON)") from None
        validate_header(header, name)
    except BaseException:
        handle.close()
        raise

    def events() -> Iterator[dict[str, Any]]:
        with handle:
            number = 1
            while True:
                number += 1
                raw = line(number)
                if not raw:
                    return
                if not raw.strip():
                    continue  # a blank line (an editor's trailing newline)
                where = f"{name}:{number}"
                yield validate_event(_decode(raw, where), where)

    return header, events()
