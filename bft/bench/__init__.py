"""Benchmark comparisons: protocol x adversary sweeps, stored, aggregated and reported.

``sweep`` defines what runs (cells = protocols x adversaries, each over
seeds), ``execute`` runs the missing ones serially, on local processes or on
Dask and stores each in SQLite (``store``) as it finishes, ``stats`` gives
means and 95% confidence intervals, ``report`` formats tables.
"""

from bft.bench.execute import CellResult, RunRow, SweepResult, run_sweep
from bft.bench.stats import Summary, summarize, t975
from bft.bench.store import Store, code_version
from bft.bench.sweep import AdversaryEntry, ProtocolEntry, Sweep, build, load

__all__ = [
    "AdversaryEntry",
    "CellResult",
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
