"""Generated bad input at volume: 10,000+ inputs over every command and file type.

Run: ``python benchmarks/bench_fuzz.py [N]`` (default 10,200; ``--quick``: 300).

Thirds of the inputs are command lines with odd flags and values, scenario and
counterexample files with broken fields (wrong types, deep nesting, huge
integers, unknown keys), and raw bytes given as files to run, replay, show,
check and bench (generators: ``tests/inputs.py``). Each runs in this process
under a 30 s watchdog. The figures: inputs, exit statuses, and the number of
problems (an exception that escaped, a traceback printed, a hang, a status
other than 0/1/2, or a status 2 without exactly one line on stderr). Target:
0 problems. The baseline column is the count of inputs; the ratio is the
share handled cleanly.
"""

from __future__ import annotations

import collections
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis.errors import NonInteractiveExampleWarning  # noqa: E402

from tests.inputs import (  # noqa: E402
    RAW_FILES,
    command_lines,
    invoke,
    mutated_documents,
    write_document,
)


def inputs(count: int, folder: Path):  # noqa: ANN201 - yields argv lists
    warnings.simplefilter("ignore", NonInteractiveExampleWarning)
    for i in range(count):
        kind = i % 3
        if kind == 0:
            yield command_lines().example()
        elif kind == 1:
            path = write_document(mutated_documents().example(), folder / f"doc{i}.toml")
            command = ("run", "replay", "check")[(i // 3) % 3]
            extra = {"run": ["--rounds", "40"], "check": ["--examples", "5", "--rounds", "40"]}
            yield [command, str(path), *extra.get(command, [])]
        else:
            command = ("run", "replay", "show", "bench", "check")[(i // 3) % 5]
            name = "raw.jsonl" if command == "show" else "raw.toml"
            path = write_document({}, folder / f"{i}-{name}", RAW_FILES.example())
            yield [command, str(path)]


def run(quick: bool = False, count: int | None = None) -> list[dict[str, object]]:
    count = count or (300 if quick else 10_200)
    codes: collections.Counter[int | None] = collections.Counter()
    problems: list[tuple[list[str], str]] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for argv in inputs(count, Path(folder)):
            outcome = invoke(argv)
            codes[outcome.code] += 1
            problem = outcome.problem()
            if problem is not None:
                problems.append((argv, problem))
    seconds = time.perf_counter() - start
    for argv, problem in problems[:20]:
        print(f"PROBLEM: bft {' '.join(argv)[:200]}: {problem}", file=sys.stderr)
    return [
        {
            "benchmark": "fuzz",
            "case": f"{count} generated inputs ({seconds:.0f} s; exit statuses "
            + ", ".join(f"{c}: {k}" for c, k in sorted(codes.items(), key=str))
            + ")",
            "value": count - len(problems),
            "unit": "handled cleanly",
            "baseline": count,
            "ratio": round((count - len(problems)) / count, 4),
        }
    ]


if __name__ == "__main__":
    from tabulate import tabulate

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    rows = run(quick="--quick" in sys.argv, count=int(args[0]) if args else None)
    print(tabulate(rows, headers="keys"))
