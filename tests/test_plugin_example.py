"""The example plug-in package (examples/bft-bracha), exercised by the main test suite.

Nothing is installed: the package is imported from its source folder and its
protocol, adversary and action kind are registered in-process for this module
(its scenarios are read by path; shipping them by name needs the entry point,
which the CI wheel job checks with a real install). The package's own tests
run in CI against that install; here the main suite makes sure a change to
bft's public surface does not break the example people copy, and that the
code in docs/plugins.md is the package's code.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import bft
from bft.core import registry
from bft.search import actions

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "bft-bracha"
GUIDE = ROOT / "docs" / "plugins.md"


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Import bft_bracha from source and register it; yields its scenario folder."""
    # a folder holding only a link to the package: build metadata an editable install
    # may have left next to it (egg-info) must not register the package a second time
    where = tmp_path_factory.mktemp("bracha-source")
    (where / "bft_bracha").symlink_to(EXAMPLE / "bft_bracha", target_is_directory=True)
    sys.path.insert(0, str(where))
    from bft_bracha.actions import SelectiveReady
    from bft_bracha.adversary import SplitBrain
    from bft_bracha.protocol import Bracha

    added: list[tuple[str, str]] = []
    for kind, name, cls in (
        ("protocol", "bracha", Bracha),
        ("adversary", "bracha-split", SplitBrain),
    ):
        if name not in registry.names(kind):  # an installed copy registers itself
            bft.register(kind, name, cls)
            added.append((kind, name))
    kind_added = "bracha-ready" not in actions.kinds()
    if kind_added:
        actions.register(SelectiveReady())
    try:
        yield EXAMPLE / "bft_bracha" / "scenarios"
    finally:
        for kind, name in added:
            registry.unregister(kind, name)
        if kind_added:
            actions.unregister("bracha-ready")
        sys.path.remove(str(where))


def test_the_scenarios_run_and_every_property_holds(scenarios: Path) -> None:
    normal = bft.run(bft.load_scenario(str(scenarios / "bracha-normal.toml")))
    assert normal.ok and normal.metrics["delivery_round"] == 3
    assert normal.metrics["messages"] == 3 + 2 * 4 * 3  # n-1 SENDs, n(n-1) ECHOs and READYs
    split = bft.run(str(scenarios / "bracha-split.toml"))
    assert split.ok and split.verdicts["agreement"].exercised
    assert sorted(split.record.corrupted) == [0, 6]


def test_beyond_f_the_adversary_splits_the_honest_nodes(scenarios: Path) -> None:
    result = bft.run(
        str(scenarios / "bracha-normal.toml"), adversaries=["bracha-split:nodes=[0,1],split=1"]
    )
    assert result.violated == ["agreement"]
    assert result.beyond_bound is not None


def test_the_harness_drives_one_node(scenarios: Path) -> None:
    from bft_bracha.messages import Echo, Ready, Send
    from bft_bracha.node import BrachaNode

    harness = bft.NodeHarness(BrachaNode(2, n=4, f=1, sender=0, value=1), n=4)
    assert harness.step([(0, Send(5))]).sent == ((0, Echo(5)), (1, Echo(5)), (3, Echo(5)))
    assert harness.step([(1, Echo(5)), (3, Echo(6))]).sent == ()  # 2 ECHOs for 5, its own included
    ready = harness.step([(0, Echo(5))]).sent  # 3 = the ECHO quorum for n=4, f=1
    assert ready == ((0, Ready(5)), (1, Ready(5)), (3, Ready(5)))


def test_a_search_within_f_finds_nothing(scenarios: Path) -> None:
    # every kind but 'adversary': see test_the_search_draws_the_plugin_adversary
    kinds = [k for k in bft.fault_model("bracha", n=4).usable_kinds() if k != "adversary"]
    assert "bracha-ready" in kinds
    outcome = bft.search(
        bft.load_scenario(str(scenarios / "bracha-normal.toml")), examples=60, kinds=kinds
    )
    assert outcome.counterexample is None
    assert outcome.kinds["bracha-ready"].applied > 0


def test_the_search_draws_the_plugin_adversary(scenarios: Path) -> None:
    outcome = bft.search(
        bft.load_scenario(str(scenarios / "bracha-normal.toml")), examples=60, kinds=["adversary"]
    )
    assert outcome.counterexample is None
    assert outcome.kinds["adversary"].applied > 0


def test_a_weakened_configuration_gives_a_counterexample_that_replays(
    scenarios: Path, tmp_path: Path
) -> None:
    from bft.cli import main

    out = tmp_path / "weak.toml"
    scenario = str(scenarios / "bracha-normal.toml")
    check = ["check", scenario, "--nodes", "3", "--kinds", "crash", "--examples", "30"]
    assert main([*check, "--out", str(out)]) == 1  # n=3 < 3f+1: one crash stalls everyone
    written = out.read_text()
    assert "\nn = 3\n" in written and 'property = "validity"' in written
    assert main(["replay", str(out)]) == 1  # the violation again, with the recorded digest


# -- a planted bug the search must find -----------------------------------------------------


def test_the_search_finds_a_planted_amplification_bug(scenarios: Path) -> None:
    # docs/plugins.md says so: with READY amplified at f instead of f+1 READYs, one
    # corrupted node's READY commits honest nodes, and bft check finds a schedule
    import attrs
    from bft_bracha.protocol import Bracha

    class EagerBracha(Bracha):
        name = "bracha-eager-amplify"

        def make_node(self, node_id: int, p: bft.Params) -> bft.Node:
            node = super().make_node(node_id, p)
            node.quorums = attrs.evolve(node.quorums, amplify=node.quorums.amplify - 1)
            return node

    bft.register("protocol", EagerBracha.name, EagerBracha)
    try:
        scenario = bft.load_scenario(str(scenarios / "bracha-normal.toml"))
        kinds = [k for k in bft.fault_model("bracha", n=4).usable_kinds() if k != "adversary"]
        for protocol, found in (("bracha", False), (EagerBracha.name, True)):
            outcome = bft.search(
                attrs.evolve(scenario, protocol=protocol), examples=600, kinds=kinds
            )
            assert (outcome.counterexample is not None) is found, protocol
    finally:
        registry.unregister("protocol", EagerBracha.name)


# -- the guide shows the package's own code ------------------------------------------------

_MARKED = re.compile(r"<!-- (from|checked|run): (\S+) -->\n```(\w+)\n(.*?)```", re.S)


def _guide_blocks() -> list[tuple[str, str, str, str]]:
    return _MARKED.findall(GUIDE.read_text())


def test_every_code_block_in_the_guide_is_marked_with_its_source() -> None:
    fenced = re.findall(r"^```(?:python|toml|text)$", GUIDE.read_text(), re.M)
    assert len(_guide_blocks()) == len(fenced) >= 15


def test_the_guides_code_is_the_example_packages_code() -> None:
    for how, source, _language, code in _guide_blocks():
        if how != "from":
            continue
        path = EXAMPLE / source
        assert path.is_file(), f"docs/plugins.md quotes {source}, which does not exist"
        assert code in path.read_text(), f"docs/plugins.md: a block differs from {source}:\n{code}"


def test_the_guides_action_table_loads_and_reads_as_described(scenarios: Path) -> None:
    import tomllib

    (code,) = [c for how, what, _, c in _guide_blocks() if (how, what) == ("checked", "action")]
    (table,) = tomllib.loads(code)["actions"]
    action = bft.Action.from_dict(table)
    assert action.describe() == (
        "corrupted node 3 sends READY for the value most ECHOed to it (by f+1 others) "
        "to node 1 only, in round 1"
    )
    assert bft.Action.from_dict(action.to_dict()) == action


def test_the_guides_run_output_is_what_the_run_prints(
    scenarios: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bft.cli import main

    runs = [(what, c) for how, what, _, c in _guide_blocks() if how == "run"]
    assert runs
    for name, shown in runs:
        main(["run", str(scenarios / f"{name}.toml")])
        printed = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
        lines = [line.rstrip() for line in shown.splitlines()]
        start = printed.index(lines[0])
        assert printed[start : start + len(lines)] == lines


def test_every_bft_command_in_the_guide_parses() -> None:
    import shlex

    from bft.cli import build_parser

    parser, _ = build_parser()
    commands = re.findall(r"^\$ bft (.*?)(?:\s+#.*)?$", GUIDE.read_text(), flags=re.M)
    assert len(commands) >= 6
    for command in commands:
        parser.parse_args(shlex.split(command))
