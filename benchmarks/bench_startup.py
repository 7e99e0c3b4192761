"""Start-up: how long users wait for ``bft --help`` and a small ``bft run``, against bare Python.

Run: ``python benchmarks/bench_startup.py`` (``--quick``: fewer repeats).

Each measurement is a fresh process. The baseline, ``python -c pass``, is
measured in the same run, interleaved with the commands (A, B, C, A, B, C,
...), so a machine that slows down or speeds up affects every command alike;
the figure reported is the ratio of medians. Targets (from the performance
issue): ``bft --help`` at most 4x bare Python; ``bft run byzantine-generals``
at most 4x bare Python.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def command(name: str) -> list[str]:
    script = BIN / "bft"
    bft = [str(script)] if script.exists() else [shutil.which("bft") or "bft"]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "bft --help": [*bft, "--help"],
        "bft run byzantine-generals": [*bft, "run", "byzantine-generals"],
    }[name]


CASES = ("bft --help", "bft run byzantine-generals")


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def run(quick: bool = False) -> list[dict[str, object]]:
    repeats = 5 if quick else 21
    names = ("python -c pass", *CASES)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # warm the file cache once
        timed(command(name))
    for _ in range(repeats):
        for name in names:
            samples[name].append(timed(command(name)))
    base = statistics.median(samples["python -c pass"])
    rows = []
    for name in CASES:
        value = statistics.median(samples[name])
        rows.append(
            {
                "benchmark": "startup",
                "case": name,
                "value": round(value * 1000, 1),
                "unit": "ms (median)",
                "baseline": round(base * 1000, 1),
                "ratio": round(value / base, 2),
            }
        )
    return rows


if __name__ == "__main__":
    from tabulate import tabulate

    rows = run(quick="--quick" in sys.argv)
    print(tabulate(rows, headers="keys"))
