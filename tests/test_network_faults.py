"""Random loss decides each message's fate from the message's own key, so a change
elsewhere in the run leaves the fate of every message it did not change as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from bft.core import registry
from bft.core.network import Network
from bft.core.params import resolve
from bft.core.trace import TraceSink, read_trace
from tests.test_engine import make
from tests.toy import Scripted


def dropped(tmp_path: Path, name: str, *extra: object, draws: str = "keyed") -> set[tuple]:
    cls = registry.adversary("drop")
    drop = cls(**resolve("drop", cls.params, {"rate": 0.3, "draws": draws}))
    path = tmp_path / f"{name}.jsonl"
    network = Network(model="partial-synchrony", gst=100)
    sink = TraceSink("full", path)
    sink.header(scenario=name, protocol="toy", params={}, adversaries=[], network={},
                environment={}, seed=7, rounds=12, signatures="real")  # fmt: skip
    make(adversaries=[drop, *extra], rounds=12, network=network, sink=sink).run()
    _, events = read_trace(path)
    return {(e["r"], e["src"], e["dst"]) for e in events if e["ev"] == "drop"}


def crash_node_3(ctl) -> None:  # type: ignore[no-untyped-def]
    if ctl.round == 4:
        ctl.crash(3)


@pytest.mark.parametrize("draws", ["keyed", "stream"])
def test_a_crash_elsewhere_changes_only_the_fates_of_the_messages_it_changed(
    tmp_path: Path, draws: str
) -> None:
    alone = dropped(tmp_path, "alone", draws=draws)
    with_crash = dropped(tmp_path, "crash", Scripted(before=crash_node_3), draws=draws)
    assert alone and with_crash  # about 30% of 12 rounds x 12 messages are lost

    def untouched(fates: set[tuple]) -> set[tuple]:
        return {(r, s, d) for r, s, d in fates if 3 not in (s, d)}

    if draws == "keyed":
        assert untouched(alone) == untouched(with_crash)
    else:  # one stream for every message: node 3's silence moves every later draw
        assert untouched(alone) != untouched(with_crash)


def test_keyed_draws_lose_about_the_rate(tmp_path: Path) -> None:
    lost = dropped(tmp_path, "rate")
    assert 0.2 < len(lost) / (12 * 12) < 0.4
