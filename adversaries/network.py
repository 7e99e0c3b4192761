"""Network faults: partitions, message loss and delay, within the network model.

These adversaries touch envelopes only; the engine refuses any drop or delay
the run's network model forbids (and records the refusal), so running
``partition`` on a synchronous network shows up as refused actions, not as a
silently stronger adversary.

Random loss and delay decide each message's fate from its own key (the round,
the sender, the recipient and how many messages that sender already sent that
recipient in the round), mixed with a key the adversary draws once from its
random stream, not from the next draw of one stream shared by every message.
So a change elsewhere in the run (a crash that silences one node, a schedule
action) leaves the fate of every message it did not change as it was: a
counterexample shrunk on a lossy scenario keeps the losses it did not cause,
and its actions are the cause of the violation, not a reshuffle of the dice.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bft.adversaries.generic import TARGET_PARAMS, pick_targets
from bft.core.adversary import Adversary, Envelope, SetupControl, TrafficControl
from bft.core.errors import ConfigError
from bft.core.params import Param

WINDOW = (
    Param("at", int, default=0, doc="first round the fault acts", min=0),
    Param(
        "until", int, default=None, doc="first round it no longer acts (none: the whole run)", min=0
    ),
)


class _Windowed(Adversary):
    intercepts = True

    def __init__(self, **p: Any) -> None:
        super().__init__(**p)
        if p.get("until") is not None and p["until"] <= p.get("at", 0):
            raise ConfigError(
                f"{self.name}: 'until' must be after 'at' (got at={p.get('at', 0)}, until={p['until']})"
            )

    def active(self, rnd: int) -> bool:
        until = self.p.get("until")
        return rnd >= self.p["at"] and (until is None or rnd < until)


class Partition(_Windowed):
    name = "partition"
    summary = "split the chosen nodes from the rest between rounds 'at' and 'until'"
    params = (
        *TARGET_PARAMS,
        *WINDOW,
        Param(
            "mode",
            str,
            default="drop",
            doc="what happens to messages across the cut",
            choices=("drop", "delay"),
        ),
    )

    def __init__(self, **p: Any) -> None:
        super().__init__(**p)
        if p.get("mode") == "delay" and p.get("until") is None:
            raise ConfigError("partition: mode='delay' needs 'until' (when the partition heals)")

    def setup(self, ctl: SetupControl) -> None:
        self.side = frozenset(pick_targets(self, ctl))

    def on_traffic(self, ctl: TrafficControl) -> None:
        if not self.active(ctl.round):
            return
        for env in ctl.envelopes:
            if (env.src in self.side) != (env.dst in self.side) and not env.dropped:
                if self.p["mode"] == "drop":
                    ctl.drop(env)
                else:
                    ctl.delay(env, self.p["until"] - ctl.round - 1 or 1)


class _Random(_Windowed):
    params: ClassVar[tuple[Param, ...]] = (
        *TARGET_PARAMS,
        *WINDOW,
        Param(
            "rate",
            float,
            default=0.1,
            doc="probability that each message is affected",
            min=0.0,
            max=1.0,
        ),
        Param(
            "draws",
            str,
            default="keyed",
            doc="how each message's fate is drawn: 'keyed' (from the message's own key, so "
            "a change elsewhere in the run leaves it alone) or 'stream' (the next draw of "
            "one stream for every message in turn, as runs were drawn before keyed draws: "
            "for files written then)",
            choices=("keyed", "stream"),
        ),
    )

    def setup(self, ctl: SetupControl) -> None:
        explicit = self.p.get("nodes") is not None or self.p.get("count") is not None
        self.nodes = frozenset(pick_targets(self, ctl)) if explicit else None
        self.key = ctl.rng.getrandbits(64) if self.p["draws"] == "keyed" else 0

    def chosen(self, ctl: TrafficControl) -> list[Envelope]:
        if not self.active(ctl.round):
            return []
        rate, nodes = self.p["rate"], self.nodes
        candidates = [
            env
            for env in ctl.envelopes
            if not env.dropped and (nodes is None or env.src in nodes or env.dst in nodes)
        ]
        if self.p["draws"] == "stream":
            rng = ctl.rng
            return [env for env in candidates if rng.random() < rate]
        key, r, threshold = self.key, ctl.round, int(rate * _SPAN)
        sent: dict[tuple[int, int], int] = {}
        out = []
        for env in candidates:
            pair = (env.src, env.dst)
            k = sent.get(pair, 0)
            sent[pair] = k + 1
            if _mix(key, r, env.src, env.dst, k) < threshold:
                out.append(env)
        return out


class Drop(_Random):
    name = "drop"
    summary = "drop each message (to or from 'nodes', or any) with probability 'rate'"

    def on_traffic(self, ctl: TrafficControl) -> None:
        for env in self.chosen(ctl):
            ctl.drop(env)


class Delay(_Random):
    name = "delay"
    summary = "delay each message with probability 'rate' by 'rounds' extra rounds"
    params = (*_Random.params, Param("rounds", int, default=1, doc="extra rounds of delay", min=1))

    def on_traffic(self, ctl: TrafficControl) -> None:
        for env in self.chosen(ctl):
            ctl.delay(env, self.p["rounds"])


_SPAN = 1 << 64
_MASK = _SPAN - 1


def _mix(key: int, r: int, src: int, dst: int, k: int) -> int:
    """A 64-bit value, uniform for practical purposes, determined by its arguments: two
    rounds of SplitMix64's finaliser, over (round, k) and then (sender, recipient), each
    packed into 64 bits (node ids and rounds are below 2**32: the size budgets)."""
    return _finalise(_finalise(key ^ (r << 32 | k)) ^ (src << 32 | dst))


def _finalise(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)
