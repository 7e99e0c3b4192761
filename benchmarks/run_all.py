"""Run every benchmark in benchmarks/ and print one table.

Imports each ``benchmarks/bench_*.py``, calls its ``run(quick)`` (a list of
dicts with the keys benchmark, case, value, unit, baseline, ratio) and prints
all rows together. A benchmark that fails to import or raises is reported in
the table (and makes the exit status 1) without stopping the others.

    python benchmarks/run_all.py                 # full figures, several minutes
    python benchmarks/run_all.py --quick         # a quick pass
    python benchmarks/run_all.py --only sweep,engine --format markdown
    python benchmarks/run_all.py --json          # the rows as JSON
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KEYS = ("benchmark", "case", "value", "unit", "baseline", "ratio")


def discover(directory: Path = HERE) -> list[Path]:
    return sorted(directory.glob("bench_*.py"))


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"benchmarks_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # so that worker processes can unpickle its functions
    spec.loader.exec_module(module)
    if not callable(getattr(module, "run", None)):
        raise ImportError(f"{path.name} has no run(quick) function")
    return module


def _checked(topic: str, rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise TypeError(f"run() must return a list of dicts (got {type(rows).__name__})")
    for row in rows:
        missing = [k for k in KEYS if k not in row]
        if missing:
            raise TypeError(f"a row lacks the key(s) {', '.join(missing)}: {row}")
    return [{k: row[k] for k in KEYS} for row in rows]


def run_all(
    quick: bool, only: list[str] | None = None, directory: Path = HERE
) -> tuple[list[dict[str, Any]], int]:
    """Every benchmark's rows, and how many benchmarks failed."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    rows: list[dict[str, Any]] = []
    failures = 0
    for path in discover(directory):
        topic = path.stem.removeprefix("bench_")
        if only and topic not in only:
            continue
        start = time.perf_counter()
        try:
            found = _checked(topic, load(path).run(quick))
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
            failures += 1
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            found = [dict.fromkeys(KEYS) | {"benchmark": topic, "case": f"FAILED: {detail}"}]
        print(
            f"# {topic}: {len(found)} rows in {time.perf_counter() - start:.1f} s", file=sys.stderr
        )
        rows += found
    return rows, failures


def _cell(value: Any, key: str) -> Any:
    if value is None:
        return ""
    if key == "ratio" and isinstance(value, int | float):
        return f"{value:.2f}x"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small budgets, a quick pass")
    parser.add_argument("--only", help="comma-separated topics, e.g. sweep,engine")
    parser.add_argument("--format", choices=("table", "markdown"), default="table")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    topics = [p.stem.removeprefix("bench_") for p in discover()]
    only = [t.strip() for t in args.only.split(",")] if args.only else None
    unknown = [t for t in only or [] if t not in topics]
    if unknown:
        print(
            f"run_all: unknown benchmark {unknown[0]!r}; available: {', '.join(topics)}",
            file=sys.stderr,
        )
        return 2
    rows, failures = run_all(args.quick, only)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        from tabulate import tabulate

        table = [[_cell(row[k], k) for k in KEYS] for row in rows]
        fmt = "github" if args.format == "markdown" else "simple"
        print(tabulate(table, headers=list(KEYS), tablefmt=fmt, disable_numparse=True))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
