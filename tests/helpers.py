"""Small helpers shared by the tests."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from bft.run import scenario
from bft.run.runner import RunResult, run

ROOT = Path(__file__).resolve().parent.parent


def run_named(name: str, *, adversaries: list[str] | None = None, **overrides: Any) -> RunResult:
    """Run a shipped scenario with command-line style overrides."""
    base = scenario.load(name)
    advs = None if adversaries is None else [scenario.parse_adversary(a) for a in adversaries]
    params = overrides.pop("params", None)
    return run(scenario.with_overrides(base, adversaries=advs, params=params, **overrides))


def digest_in_fresh_process(args: Sequence[str], hash_seed: str) -> str:
    """The digest ``python -m bft ARGS`` prints in a fresh process under ``PYTHONHASHSEED``.

    ARGS must ask for ``--json``; the process must exit 0 (asserted, showing its stderr).
    """
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    proc = subprocess.run(
        [sys.executable, "-m", "bft", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["digest"]


def load_file(path: Path) -> ModuleType:
    """Import a Python file that is not part of a package (a lab's reference solution)."""
    name = f"tests_file_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def local_dask_cluster(workers: int) -> Iterator[str]:
    """A Dask LocalCluster of ``workers`` single-thread workers in this process, by its
    scheduler address; skips the test where the optional extra bft[dask] is missing."""
    import pytest

    distributed = pytest.importorskip("distributed", reason="Dask is the optional extra bft[dask]")
    with distributed.LocalCluster(
        n_workers=workers,
        processes=False,
        threads_per_worker=1,
        protocol="tcp",
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address
