"""Benchmark comparisons: protocol x adversary sweeps, stored, aggregated and reported.

``sweep`` defines what runs (cells = protocols x adversaries, each over
seeds), ``execute`` runs the missing ones serially, on local processes
(``workers``, which die with their parent) or on Dask and stores each in
SQLite (``store``, which checks schema and rows) as it finishes, ``stats``
gives means and 95% confidence intervals, ``report`` formats tables.
"""

from bft.bench.execute import (
    CellResult,
    FailedRun,
    Interrupted,
    RunRow,
    SweepResult,
    run_sweep,
)
from bft.bench.stats import Summary, summarize, t975
from bft.bench.store import Damaged, Store, code_version
from bft.bench.sweep import AdversaryEntry, ProtocolEntry, Sweep, build, load

__all__ = [
    "AdversaryEntry",
    "CellResult",
    "Damaged",
    "FailedRun",
    "Interrupted",
    "ProtocolEntry",
    "RunRow",
    "Store",
    "Summary",
    "Sweep",
    "SweepResult",
    "build",
    "code_version",
    "load",
    "run_sweep",
    "summarize",
    "t975",
]
