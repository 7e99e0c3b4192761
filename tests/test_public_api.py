"""The curated import place: ``bft.NAME`` is what ``__all__`` promises, in any import order."""

from __future__ import annotations

import subprocess
import sys

import bft


def test_run_and_search_stay_functions_whatever_was_imported_first() -> None:
    # bft/run and bft/search are subpackages too; importing one of their modules first
    # must not turn the public functions bft.run and bft.search into modules
    code = (
        "import bft\n"
        "bft.Scenario, bft.RunResult, bft.Action, bft.ActionKind\n"
        "import bft.run.runner, bft.search.schedule\n"
        "from bft.search import actions\n"
        "assert callable(bft.run) and callable(bft.search), (bft.run, bft.search)\n"
        "assert bft.run('phase-king').ok\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_public_name_resolves() -> None:
    for name in bft.__all__:
        assert getattr(bft, name) is not None, name
    assert callable(bft.run) and callable(bft.search)
