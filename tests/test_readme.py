"""The README's promises: its Python example works and its commands exist."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

from hypothesis import settings

from bft.cli import build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_the_python_example_in_the_readme_runs_and_passes(tmp_path: Path) -> None:
    (block,) = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    path = tmp_path / "readme_example.py"
    path.write_text(block)
    spec = importlib.util.spec_from_file_location("readme_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    settings(max_examples=5, database=None)(module.test_my_change_keeps_agreement)()


def test_every_bft_command_in_the_example_session_parses() -> None:
    parser, _ = build_parser()
    commands = re.findall(r"^\$ bft (.*?)(?:\s+#.*)?$", README, flags=re.M)
    assert len(commands) >= 10
    for command in commands:
        parser.parse_args(shlex.split(command))  # exits (fails the test) on a bad flag
