"""naive-reconnect and backoff-reconnect: the Skype 2007 cascade, the poison walk, lying servers.

Hypothesis ranges (stated). Storms: S in 3..10 servers with C = 100*S clients (the
default ratio, a supernode serving a hundred clients), request rate 0.05..0.15,
client timeout 2..4 rounds, a login storm of 30%..60% of the clients at round
5..20, any seed; defaults otherwise (capacity 30, login 2 units, D = 20).
Why 30%: the storm's logins alone must overload the average server twice over
(share x 100 clients x 2 units >= 2 x capacity 30). Below that the cascade need
not start at S = 3: Hypothesis found S=3, share=0.22, rate=0.0625, timeout=2,
seed=1 (session 1), and, in CI, S=3, share=0.25, rate=0.0508, timeout=2,
at=8, seed=9866, where the storm tips one of three servers and the other two
absorb its clients, whom a low request rate sends back a few at a time. A
targeted search (S=3, rate 0.05-0.07, timeout 2-3, 60 runs per share) failed
3 times at share 0.25 and never at 0.27 or 0.30; 40 random cases over S 3..5 at
each share 0.25-0.325 never failed.
Poison: S in 3..12 with C = 50*S, timeout 2..4, rate 0.5 (so the poisoned
client asks early), any seed, the poison-call scenario's ample capacity.
Lying servers: S in 2..8, 1..2 of them corrupted, either protocol, any seed.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bft.core import registry
from bft.core.adversary import Adversary, SetupControl, TrafficControl
from bft.core.environment import Operation, correct_result
from bft.protocols.service import Busy, Login, Reply, Request, Welcome, frozen_servers
from bft.run.runner import RunResult
from tests.helpers import run_named

PROTOCOLS = ("naive-reconnect", "backoff-reconnect")


PROMISES = ("admission", "retry-target", "backoff-resets", "backoff-capped", "backoff-jitter")


def assert_promises_hold(result: RunResult) -> None:
    """Admission control and the backoff kept their promises in this run."""
    for name in PROMISES:
        verdict = result.verdicts[name]
        assert verdict.holds, (name, verdict.witness)


def storm(
    protocol: str, s: int, share: float, at: int, timeout: int, rate: float, seed: int
) -> RunResult:
    return run_named(
        "skype-2007",
        protocol=protocol,
        params={"n": s, "clients": 100 * s, "timeout": timeout, "rate": rate},
        adversaries=[f"login-storm:at={at},share={share}"],
        rounds=100,
        seed=seed,
    )


storm_cases = st.fixed_dictionaries(
    {
        "s": st.integers(3, 10),
        "share": st.floats(0.3, 0.6),
        "at": st.integers(5, 20),
        "timeout": st.integers(2, 4),
        "rate": st.floats(0.05, 0.15),
        "seed": st.integers(0, 2**32 - 1),
    }
)


@settings(max_examples=12)
@given(case=storm_cases)
def test_login_storm_with_naive_reconnect_is_a_metastable_outage(case: dict) -> None:
    result = storm("naive-reconnect", **case)
    m = result.metrics
    assert m["servers_down_max"] == case["s"]
    assert m["availability_final"] < 0.10
    assert m["rounds_to_recover"] is None
    recovers = result.verdicts["recovers"]
    assert not recovers.holds and recovers.exercised
    assert "never returned" in recovers.witness
    assert result.verdicts["reply-correct"].holds
    assert result.verdicts["no-exceptions"].holds


@settings(max_examples=12)
@given(case=storm_cases)
def test_login_storm_with_backoff_and_admission_control_is_contained(case: dict) -> None:
    result = storm("backoff-reconnect", **case)
    m = result.metrics
    # admission control never lets a server exceed its capacity: none goes down
    assert m["servers_down_max"] == 0 < case["s"]
    assert m["peak_load"] <= 30.0
    recovers = result.verdicts["recovers"]
    assert recovers.holds and recovers.exercised, recovers.witness
    assert m["rounds_to_recover"] is not None and m["rounds_to_recover"] <= 60
    # and each mechanism kept its own promise (the storm exercises admission)
    assert_promises_hold(result)
    assert result.verdicts["admission"].exercised


def test_default_skype_2007_scenario_shows_the_cascade_and_its_containment() -> None:
    naive = run_named("skype-2007")
    assert naive.prepared.params["n"] == 20 and naive.prepared.params["clients"] == 2000
    assert naive.metrics["servers_down_max"] == 20
    assert naive.metrics["availability_final"] < 0.10
    assert not naive.verdicts["recovers"].holds
    backoff = run_named("skype-2007", protocol="backoff-reconnect")
    assert backoff.metrics["servers_down_max"] < 20
    assert backoff.verdicts["recovers"].holds
    assert backoff.ok


def test_a_crash_wave_alone_cascades_under_naive_reconnect() -> None:
    # five of twenty servers crash for good: their clients' reconnects take down the rest
    result = run_named("skype-2007", adversaries=["server-crash:count=5,at=20"])
    assert result.metrics["servers_down_max"] == 20
    assert not result.verdicts["recovers"].holds
    contained = run_named(
        "skype-2007",
        protocol="backoff-reconnect",
        adversaries=["server-crash:count=5,at=20,duration=30"],
    )
    assert contained.metrics["servers_down_max"] == 5
    assert contained.verdicts["recovers"].holds


# -- the poison walk ------------------------------------------------------------------


def poison_notes(result: RunResult) -> list[tuple[int, int]]:
    """(round, server) of each poisoned send to a new server, from the adversary's notes."""
    out = []
    for e in result.record.notes("poison-call"):
        if "-> server" in e.detail:
            out.append((e.round, int(e.detail.rsplit(" ", 1)[1])))
    return out


def poison(protocol: str, s: int, timeout: int, seed: int, rounds: int) -> RunResult:
    return run_named(
        "poison-call",
        protocol=protocol,
        params={"n": s, "clients": 50 * s, "timeout": timeout, "rate": 0.5},
        rounds=rounds,
        seed=seed,
    )


@settings(max_examples=15)
@given(s=st.integers(3, 12), timeout=st.integers(2, 4), seed=st.integers(0, 2**32 - 1))
def test_poison_walks_through_every_server_one_timeout_each(
    s: int, timeout: int, seed: int
) -> None:
    at = 10
    result = poison("naive-reconnect", s, timeout, seed, rounds=at + 50 + s * timeout)
    walk = frozen_servers(result.record, result.prepared.params)
    notes = poison_notes(result)
    assert len(walk) == s == result.metrics["servers_frozen"]
    first_poison = notes[0][0]
    # server by server: each freeze is the round after the poison reached that server
    assert [(r - 1, server) for r, server in walk] == notes[:s]
    # exactly one timeout per server: all S frozen within S timeouts of the first poison
    assert [b[0] - a[0] for a, b in zip(walk, walk[1:], strict=False)] == [timeout] * (s - 1)
    assert walk[-1][0] == first_poison + 1 + (s - 1) * timeout <= first_poison + s * timeout
    assert result.metrics["freeze_span"] == (s - 1) * timeout
    assert result.metrics["servers_down_final"] == s
    # once the last server froze, no client is ever served again
    served = result.record.tally("served")
    assert not any(served[walk[-1][0] + 1 :])


@settings(max_examples=15)
@given(s=st.integers(3, 12), timeout=st.integers(2, 4), seed=st.integers(0, 2**32 - 1))
def test_backoff_alone_does_not_stop_a_poison_it_only_slows_it(
    s: int, timeout: int, seed: int
) -> None:
    result = poison("backoff-reconnect", s, timeout, seed, rounds=150)
    walk = frozen_servers(result.record, result.prepared.params)
    assert len(walk) >= 2  # the first backoff is U(0, 1): under a round
    assert [(r - 1, server) for r, server in walk] == poison_notes(result)[: len(walk)]
    # full jitter: the k-th failover sleeps U(0, min(cap, base * 2^k)) rounds after a timeout
    base, cap = 1.0, 32.0
    for k, (a, b) in enumerate(zip(walk, walk[1:], strict=False)):
        assert timeout <= b[0] - a[0] < timeout + min(cap, base * 2**k)
    # frozen servers are the only ones down: admission control keeps the rest up
    assert result.metrics["servers_down_max"] == len(walk) == result.metrics["servers_frozen"]
    assert_promises_hold(result)
    # and nothing stops the walk: more than blast_radius=3 servers unless the run ends first
    blast = result.verdicts["blast-radius"]
    assert blast.holds == (len(walk) <= 3)
    assert not result.properties["blast-radius"].guaranteed


def test_default_poison_call_scenario() -> None:
    naive = run_named("poison-call")
    walk = frozen_servers(naive.record, naive.prepared.params)
    first = poison_notes(naive)[0][0]
    assert len(walk) == 20 and walk[-1][0] <= first + 20 * 3
    backoff = run_named("poison-call", protocol="backoff-reconnect")
    frozen = backoff.metrics["servers_frozen"]
    # the poison still walks, but each step now waits a timeout plus a growing backoff
    assert 2 <= frozen <= 20
    assert backoff.metrics["freeze_span"] / (frozen - 1) > 3 == naive.metrics["freeze_span"] / 19


def test_implementation_diversity_bounds_the_poison() -> None:
    # two variants, only variant 0 (even servers) vulnerable: the poison freezes the even
    # servers it meets until it reaches an odd one, which serves it, and there it stays
    result = run_named("poison-call", params={"variants": 2, "n": 10, "clients": 500})
    walk = frozen_servers(result.record, result.prepared.params)
    notes = poison_notes(result)
    assert all(server % 2 == 0 for _, server in walk)
    assert [server for _, server in notes] == [server for _, server in walk] + [notes[-1][1]]
    assert notes[-1][1] % 2 == 1
    assert result.metrics["servers_down_max"] == len(walk) <= 5
    assert result.metrics["availability_final"] > 0.9


def test_poison_call_breaks_blast_radius_under_naive_reconnect_and_diversity_keeps_it() -> None:
    naive = run_named("poison-call")
    verdict = naive.verdicts["blast-radius"]
    assert not verdict.holds and verdict.exercised
    assert verdict.witness.startswith(
        "poisoned client 596 froze 20 of 20 servers, more than blast_radius=3 per poisoned "
        "client: 16 (round 12), 5 (round 15), 8 (round 18), 11 (round 21), ..."
    )
    assert not naive.properties["blast-radius"].guaranteed
    assert naive.violated == ["blast-radius"]  # what the scenario is about, and only that
    for protocol in PROTOCOLS:
        diverse = run_named("poison-call", protocol=protocol, params={"variants": 2})
        kept = diverse.verdicts["blast-radius"]
        assert kept.holds and kept.exercised, kept.witness
        assert diverse.ok, diverse.violated


@pytest.mark.parametrize("scenario_name", ["skype-2007", "poison-call"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_shipped_scenarios_keep_every_guaranteed_promise(scenario_name: str, protocol: str) -> None:
    result = run_named(scenario_name, protocol=protocol)
    broken = {n for n in result.violated if result.properties[n].guaranteed}
    # the one expected failure: the cascade naive reconnect makes of the storm
    assert broken == ({"recovers"} if (scenario_name, protocol) == PROTOCOLS_CASCADE else set())
    if protocol == "backoff-reconnect":
        assert_promises_hold(result)
        for name in ("admission", "retry-target", "backoff-resets", "backoff-capped"):
            assert result.verdicts[name].exercised, name


PROTOCOLS_CASCADE = ("skype-2007", "naive-reconnect")


# -- a lying server -------------------------------------------------------------------


@settings(max_examples=10)
@given(
    protocol=st.sampled_from(PROTOCOLS),
    s=st.integers(2, 8),
    count=st.integers(1, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_byzantine_server_is_trusted_and_reply_correct_is_violated(
    protocol: str, s: int, count: int, seed: int
) -> None:
    result = run_named(
        "skype-2007",
        protocol=protocol,
        params={"n": s, "clients": 20 * s, "rate": 0.5},
        adversaries=[f"byzantine-server:count={min(count, s)}"],
        rounds=20,
        seed=seed,
    )
    verdict = result.verdicts["reply-correct"]
    assert not verdict.holds
    first = next(result.record.outputs_named("wrong-reply"))
    d = first.data
    assert d["server"] in result.record.corrupted
    expected = correct_result(Operation(first.node, d["seq"], d["arg"]))
    assert d["expected"] == expected != d["result"]
    assert verdict.witness == (
        f"client {first.node} accepted result {d['result']} for its request seq {d['seq']} "
        f"(arg {d['arg']}) from server {d['server']} in round {first.round}; "
        f"the correct result is {expected}"
    )
    assert result.metrics["wrong_replies"] > 0


def test_honest_servers_give_only_correct_replies() -> None:
    result = run_named("skype-2007", adversaries=["none"], rounds=40)
    assert result.verdicts["reply-correct"].holds and result.verdicts["reply-correct"].exercised
    assert result.metrics["availability"] == 1.0
    assert result.metrics["wrong_replies"] == 0
    assert result.verdicts["recovers"].holds and not result.verdicts["recovers"].exercised


# -- malformed input never crashes an honest node -------------------------------------


class _Garbage(Adversary):
    """Test-only: a corrupted client and a corrupted server send malformed messages."""

    name = "garbage"
    summary = "test-only"
    intercepts = True

    def setup(self, ctl: SetupControl) -> None:
        self.client, self.server = ctl.nodes_with_role("client")[0], 0
        ctl.corrupt([self.client, self.server])

    def on_traffic(self, ctl: TrafficControl) -> None:
        junk: list[object] = [
            "hello",
            Request("not an op"),  # type: ignore[arg-type]
            Request(Operation(ctl.n - 1, 1, 2)),  # names another client
            Login(Operation(self.client, 1, 2)),
            Reply(ctl.n - 1, 1, 2),
            Busy(),
            Welcome(),
        ]
        for index, payload in enumerate(junk):
            dst = 1 + index % 2 if index < 4 else ctl.n - 1 - index
            ctl.inject(self.client if index < 4 else self.server, dst, payload)
        ctl.inject(self.server, 2, Reply(3, 4, 5))  # a reply sent to a server
        for client in ctl.nodes_with_role("client")[1:]:  # replies to whatever is pending
            for seq in range(1, 4):
                ctl.inject(self.server, client, Reply(client, seq, {"not": "an int"}))  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_malformed_messages_are_rejected_not_raised(protocol: str) -> None:
    registry.register("adversary", "garbage", _Garbage)
    try:
        result = run_named(
            "skype-2007",
            protocol=protocol,
            params={"n": 4, "clients": 40},
            adversaries=["garbage"],
            rounds=30,
        )
    finally:
        registry.unregister("adversary", "garbage")
    assert result.verdicts["no-exceptions"].holds, result.verdicts["no-exceptions"].witness
    assert result.metrics["rejected"] > 0
    assert not result.record.bugs
