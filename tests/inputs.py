"""Generated bad input for every command and file type, and a judge of what bft did with it.

Shared by ``tests/test_input_fuzz.py`` (a small CI budget) and
``benchmarks/bench_fuzz.py`` (10,000+ inputs). The contract being checked:
whatever the input, ``bft`` returns an exit status (0, 1 or 2), never lets an
exception escape, never hangs, and a status of 2 comes with exactly one line
on stderr.
"""

from __future__ import annotations

import contextlib
import io
import math
import signal
import tempfile
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import tomli_w
from hypothesis import strategies as st

from bft.cli import main
from bft.core.errors import Interrupted

ROOT = Path(__file__).resolve().parent.parent
#: small, fast scenarios whose files the generators mutate
SCENARIOS = ("byzantine-generals", "dolev-strong", "phase-king", "pbft-normal", "swim-crash")
REGRESSIONS = ("om-three-generals", "om-two-traitors", "pbft-first-reply")
LIMIT_SECONDS = 30  # an input that takes longer is a hang


class Hang(Interrupted):
    """Raised by the watchdog: the command ran past the time limit."""


@attrs.frozen
class Outcome:
    argv: tuple[str, ...]
    code: int | None
    out: str
    err: str
    error: str | None  # an exception that escaped, or "hang"

    def problem(self) -> str | None:
        """What is wrong with how bft handled this input (None: nothing)."""
        if self.error is not None:
            return self.error
        if self.code not in (0, 1, 2):
            return f"exit status {self.code}"
        if "Traceback (most recent call last)" in self.out + self.err:
            return "a traceback was printed"
        if self.code == 2:
            lines = self.err.strip().splitlines()
            if len(lines) != 1:
                return f"exit 2 with {len(lines)} lines on stderr"
        return None


def _alarm(signum: int, frame: Any) -> None:
    raise Hang()


def invoke(argv: Sequence[str], limit: float = LIMIT_SECONDS) -> Outcome:
    """Run ``bft ARGV`` in this process, capturing its output, under a watchdog, in a
    scratch folder (a found counterexample is written there, not in the checkout)."""
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
        return _invoke(argv, limit)


def _invoke(argv: Sequence[str], limit: float) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    error = None
    code: int | None = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse's usage errors and --help
                code = exc.code if isinstance(exc.code, int) else 2
    except Hang:
        error = "hang"
    except BaseException as exc:  # noqa: BLE001 - exactly what must never happen
        error = f"{type(exc).__name__} escaped: {str(exc)[:200]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if code == 130 and error is None and "interrupted" in err.getvalue():
        error = "hang"  # the watchdog fired inside the engine, which reports Ctrl-C as 130
    return Outcome(tuple(argv), code, out.getvalue(), err.getvalue(), error)


# -- values -------------------------------------------------------------------------------

WEIRD_STRINGS = st.sampled_from(
    ["", " ", "-1", "nan", "inf", "1e309", "0x10", "[", "]", "[[1]", "a:b=c", "=", "../..", "\x00",
     "é", "\u202e", "a" * 300, "true", "None", "{}", "1,2", "--json"]
)  # fmt: skip
NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**53 + 1, 2**63, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(NUMBERS, st.booleans(), WEIRD_STRINGS, st.text(max_size=12))


def values(depth: int = 3) -> st.SearchStrategy[Any]:
    """TOML-shaped values: scalars, lists and tables, sometimes deeply nested."""
    return st.recursive(
        SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(
                st.sampled_from(["n", "name", "at", "x", "do", "nodes"]), inner, max_size=3
            ),
        ),
        max_leaves=8,
    )


def deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


# -- command lines -------------------------------------------------------------------------

FLAGS: dict[str, list[str]] = {
    "run": ["--protocol", "--param", "--nodes", "--adversary", "--rounds", "--seed",
            "--signatures", "--trace", "--json"],
    "check": ["--protocol", "--param", "--nodes", "--adversary", "--rounds", "--seed",
              "--examples", "--seconds", "--faults", "--kinds", "--property", "--role",
              "--max-actions", "--jobs", "--out", "--json"],
    "replay": ["--json", "--trace"],
    "show": ["--nodes", "--rounds", "--kind", "--width", "--html"],
    "list": [],
    "lab": [],
}  # fmt: skip
FLAG_VALUES = st.one_of(
    WEIRD_STRINGS,
    NUMBERS.map(str),
    st.sampled_from(
        ["n=3", "n=" + "[" * 40, "m=99999999999999999999", "crash:nodes=[0,1,2]", "traitor",
         "none", "pfbt", "ideal", "0:1000000000000", "0-3", "crash,meteor", "agreement"]
    ),
)  # fmt: skip


@st.composite
def command_lines(draw: Callable[..., Any], files: Sequence[str] = ()) -> list[str]:
    """A command line: a command, a target and some flags with odd values."""
    command = draw(st.sampled_from(sorted(FLAGS)))
    argv = [command]
    if command in ("run", "check"):
        argv.append(
            draw(
                st.one_of(
                    st.sampled_from(SCENARIOS),
                    WEIRD_STRINGS,
                    st.sampled_from(list(files) or ["x.toml"]),
                )
            )
        )
    elif command in ("replay", "show"):
        argv.append(draw(st.one_of(st.sampled_from(list(files) or ["x.toml"]), WEIRD_STRINGS)))
    elif command == "list":
        argv.append(
            draw(
                st.sampled_from(
                    ["protocols", "adversaries", "scenarios", "properties", "actions", "meteors"]
                )
            )
        )
    else:
        argv += draw(st.sampled_from([["list"], ["grade", "99"], ["grade", "x"], ["nope"]]))
    for flag in draw(st.lists(st.sampled_from(FLAGS[command] or ["--json"]), max_size=4)):
        argv.append(flag)
        if flag not in ("--json",):
            argv.append(draw(FLAG_VALUES))
    if command == "check" and "--examples" not in argv:
        argv += ["--examples", "5"]  # keep a valid search short
    if command in ("run", "check") and "--rounds" not in argv:
        argv += ["--rounds", "40"]
    return argv


# -- files ---------------------------------------------------------------------------------


def shipped(name: str) -> dict[str, Any]:
    return tomllib.loads((ROOT / "scenarios" / f"{name}.toml").read_text())


def regression(name: str) -> dict[str, Any]:
    return tomllib.loads((ROOT / "tests" / "regressions" / f"{name}.toml").read_text())


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {**doc, head: _set(doc.get(head), rest, value)}
    if isinstance(doc, list) and isinstance(head, int) and head < len(doc):
        return [*doc[:head], _set(doc[head], rest, value), *doc[head + 1 :]]
    return doc


@st.composite
def mutated_documents(draw: Callable[..., Any]) -> dict[str, Any]:
    """A shipped scenario or saved counterexample with a few fields broken."""
    base = draw(
        st.one_of(
            st.sampled_from(SCENARIOS).map(shipped), st.sampled_from(REGRESSIONS).map(regression)
        )
    )
    doc: Any = base
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths[1:] or paths))
        change = draw(st.sampled_from(["value", "delete", "add", "deep"]))
        if change == "value":
            doc = _set(doc, path, draw(values()))
        elif change == "deep":
            doc = _set(doc, path, deep(draw(st.sampled_from([20, 200, 600]))))
        elif change == "delete" and len(path) >= 1:
            parent = path[:-1]
            holder: Any = doc
            for key in parent:
                holder = holder[key]
            if isinstance(holder, dict):
                doc = _set(doc, parent, {k: v for k, v in holder.items() if k != path[-1]})
        else:
            doc = _set(
                doc,
                (*path[:-1], draw(st.sampled_from(["when", "x", "replay", "do"]))),
                draw(values()),
            )
    return doc if isinstance(doc, dict) else {"protocol": doc}


def _clean(value: Any, depth: int = 0) -> Any:
    """What TOML can hold: no None (tomli_w refuses some values); deep values cut at 900."""
    if depth > 900:
        return 1
    if isinstance(value, dict):
        return {str(k): _clean(v, depth + 1) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value if v is not None]
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def write_document(doc: dict[str, Any], path: Path, raw: bytes | None = None) -> Path:
    """Write ``doc`` as TOML (or ``raw`` bytes as they are) to ``path``."""
    if raw is not None:
        path.write_bytes(raw)
        return path
    try:
        text = tomli_w.dumps(_clean(doc))
    except (TypeError, ValueError, RecursionError):
        text = "protocol = " + "[" * 700 + "]" * 700 + "\n"  # what TOML cannot nest
    path.write_text(text, encoding="utf-8")
    return path


RAW_FILES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [b"\xff\xfe\x00", b"protocol = 'om'\n[params]\nn = " + b"9" * 40, b"[[adversary]]\n" * 3,
         b"protocol = 'om'\nrounds = 9223372036854775807", b"a = [" * 600, b"protocol = 'om'\n\x00"]
    ),
)  # fmt: skip
