"""``--isolate FILE.py:CLASS``: an untrusted adversary runs in a sandbox process of its own.

Loaded in the CLI's process, an adversary could reach past the control interface
(the garbage collector finds the engine). Isolated, the file never runs here: the
same tricks find nothing, the run is the one an honest adversary with the same
actions gives (equal digests), and bad ``--isolate`` values are one line, exit 2.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bft import Adversary, Param
from bft.cli import main
from bft.core import registry

EVIL = textwrap.dedent(
    """
    import gc
    from bft import Adversary, Param


    class Snoop(Adversary):
        name = "snoop"
        summary = "reaches for the engine through the garbage collector, then mutes node 0"
        intercepts = True
        params = (Param("at", int, default=0, min=0, doc="first round"),)

        def setup(self, ctl):
            for obj in gc.get_objects():
                if type(obj).__name__ == "Engine":
                    obj.nodes.clear()  # in the CLI's process this would wreck the run
            ctl.corrupt([0])

        def on_traffic(self, ctl):
            for env in ctl.envelopes:
                if env.src == 0 and ctl.round >= self.p["at"]:
                    ctl.drop(env)
    """
)


class HonestMuter(Adversary):
    """What Snoop does through the controls, and nothing else."""

    name = "snoop"  # the same name: the trace records which adversary acted
    summary = "mutes node 0"
    intercepts = True
    params = (Param("at", int, default=0, min=0, doc="first round"),)

    def setup(self, ctl):  # type: ignore[no-untyped-def]
        ctl.corrupt([0])

    def on_traffic(self, ctl):  # type: ignore[no-untyped-def]
        for env in ctl.envelopes:
            if env.src == 0 and ctl.round >= self.p["at"]:
                ctl.drop(env)


@pytest.fixture
def evil(tmp_path: Path):
    path = tmp_path / "evil.py"
    path.write_text(EVIL)
    yield path
    registry.unregister("adversary", "snoop")


def _run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_an_isolated_adversary_cannot_reach_the_engine(evil: Path, capsys) -> None:
    base = ["run", "byzantine-generals", "--json"]
    code, isolated = _run_json(
        [*base, "--isolate", f"{evil}:Snoop", "--adversary", "snoop"], capsys
    )
    assert code == 0
    registry.unregister("adversary", "snoop")
    registry.register("adversary", "snoop", HonestMuter)
    _, honest = _run_json([*base, "--adversary", "snoop"], capsys)
    assert isolated["digest"] == honest["digest"]
    assert isolated["corrupted"] == [0]
    assert all(v["holds"] for v in isolated["properties"].values())
    assert isolated["adversary_errors"] == [] and isolated["refused"] == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nothere.py:Snoop", "no such file"),
        ("{evil}", "expected FILE.py:CLASS"),
        ("{evil}:not-a-name", "expected FILE.py:CLASS"),
        ("{evil}:Missing", "has no attribute 'Missing'"),
        ("{evil}:gc", "must be an Adversary subclass"),
    ],
)
def test_bad_isolate_values_are_one_line_and_exit_2(evil: Path, capsys, value, message) -> None:
    code = main(["run", "byzantine-generals", "--isolate", value.format(evil=evil)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err and err.count("\n") == 1
