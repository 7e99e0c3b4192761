"""The shared service workload: client accounting, metrics, properties, the series, bad input."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bft import cli
from bft.core.environment import Operation, correct_result
from bft.core.network import Network
from bft.core.properties import Verdict
from bft.core.record import Event, Output, RunRecord
from bft.protocols.service import (
    SERVICE_PARAMS,
    ClientMeter,
    availability_series,
    client_ids,
    server_ids,
    servers_down_series,
    service_metrics,
    service_properties,
    service_roles,
)
from bft.protocols.service import main as series_main
from bft.protocols.service_promises import (
    admission_property,
    backoff_properties,
    blast_radius_property,
    sleep_moments,
)
from tests.helpers import run_named

DEFAULTS = {p.name: p.default for p in SERVICE_PARAMS}


class FakeContext:
    """Just what ClientMeter uses: the round, tallies and outputs."""

    def __init__(self, node_id: int = 7) -> None:
        self.node_id = node_id
        self.round = 0
        self.tallies: dict[str, float] = {}
        self.outputs: list[tuple[str, dict[str, Any]]] = []

    def tally(self, name: str, amount: float = 1) -> None:
        self.tallies[name] = self.tallies.get(name, 0) + amount

    def output(self, name: str, **data: Any) -> None:
        self.outputs.append((name, data))


def drive(meter: ClientMeter, ctx: FakeContext, start: int, end: int) -> None:
    """Tick rounds start..end-1 (the client's end-of-round call)."""
    for r in range(start, end):
        ctx.round = r
        meter.tick(ctx)  # type: ignore[arg-type]


def test_layout_servers_first_then_clients() -> None:
    p = {**DEFAULTS, "n": 3, "clients": 4}
    assert list(server_ids(p)) == [0, 1, 2]
    assert list(client_ids(p)) == [3, 4, 5, 6]
    assert service_roles(p) == ("server",) * 3 + ("client",) * 4


def test_a_reply_within_the_timeout_serves_every_round_waited() -> None:
    meter, ctx = ClientMeter(timeout=3), FakeContext()
    ctx.round = 10
    meter.want(ctx)  # type: ignore[arg-type]
    drive(meter, ctx, 10, 13)
    ctx.round = 13  # answered at age 3 == timeout: still within it
    op = Operation(7, 1, 5)
    meter.answered(ctx, op, correct_result(op), server=0)  # type: ignore[arg-type]
    assert ctx.tallies == {"accepted": 1, "served": 3}
    assert not meter.waiting


def test_a_wait_past_the_timeout_is_unserved_round_by_round() -> None:
    meter, ctx = ClientMeter(timeout=3), FakeContext()
    ctx.round = 10
    meter.want(ctx)  # type: ignore[arg-type]
    drive(meter, ctx, 10, 13)
    assert ctx.tallies == {}
    drive(meter, ctx, 13, 14)  # end of round 13: no reply can come within 3 rounds now
    assert ctx.tallies == {"unserved": 4}
    drive(meter, ctx, 14, 15)
    assert ctx.tallies == {"unserved": 5}
    ctx.round = 15
    meter.want(ctx)  # type: ignore[arg-type]  # still the same wait (a failover)
    meter.answered(ctx)  # type: ignore[arg-type]  # a late login acknowledgement
    assert ctx.tallies == {"unserved": 5}  # 15 - 10 rounds of demand, all unserved


def test_a_wrong_reply_is_unserved_and_reported_with_both_values() -> None:
    meter, ctx = ClientMeter(timeout=3), FakeContext(node_id=42)
    ctx.round = 4
    meter.want(ctx)  # type: ignore[arg-type]
    ctx.round = 6
    op = Operation(42, 3, 99)
    meter.answered(ctx, op, correct_result(op) + 1, server=2)  # type: ignore[arg-type]
    assert ctx.tallies == {"accepted": 1, "wrong": 1, "unserved": 2}
    assert ctx.outputs == [
        (
            "wrong-reply",
            {
                "client": 42,
                "seq": 3,
                "arg": 99,
                "result": correct_result(op) + 1,
                "expected": correct_result(op),
                "server": 2,
            },
        )
    ]


def record_of(
    tallies: list[dict[str, float]], down: list[list[int]], end: int | None, n: int = 2
) -> RunRecord:
    rounds = len(tallies)
    record = RunRecord(
        n=n + 10,
        rounds=rounds,
        seed=0,
        params={},
        roles=("server",) * n + ("client",) * 10,
        network=Network(),
        tallies=tallies,
        down=down,
        peak_work=[3.0] * rounds,
        sent=[{"request": 2}] * rounds,
    )
    if end is not None:
        record.events.append(Event(end, "adversary", None, "login-storm: trigger-end"))
    return record


def test_metrics_and_recovery_on_a_hand_made_record() -> None:
    p = {**DEFAULTS, "n": 2, "timeout": 2, "recover_within": 10}
    # 40 rounds: fine, an outage in rounds 10..19 (both servers down 10..14), fine again
    tallies = [{"served": 10.0}] * 10 + [{"unserved": 10.0}] * 10 + [{"served": 10.0}] * 20
    down = [[]] * 10 + [[0, 1, 5]] * 5 + [[1]] * 5 + [[]] * 20
    record = record_of(tallies, down, end=12)
    m = service_metrics(record, p)
    assert m["availability"] == 0.75
    assert m["availability_final"] == 1.0
    assert m["servers_down_max"] == 2  # node 5 is a client
    assert m["servers_down_final"] == 0
    # from round 18 on, availability over every suffix is >= 90% (200/220 at round 18;
    # 200/230 < 90% at round 17)
    assert m["rounds_to_recover"] == 18 - 12
    assert m["peak_load"] == 3.0 and m["messages"] == 80
    assert m["servers_frozen"] == 0 and m["freeze_span"] is None


def test_recovers_holds_within_the_bound_and_fails_beyond_it() -> None:
    tallies = [{"served": 10.0}] * 10 + [{"unserved": 10.0}] * 10 + [{"served": 10.0}] * 20
    down = [[]] * 40
    record = record_of(tallies, down, end=12)
    ok = {
        prop.name: prop.check(record)
        for prop in service_properties({**DEFAULTS, "timeout": 2, "recover_within": 6})
    }
    assert ok["recovers"].holds and ok["recovers"].exercised
    late = {
        prop.name: prop.check(record)
        for prop in service_properties({**DEFAULTS, "timeout": 2, "recover_within": 5})
    }
    assert not late["recovers"].holds
    assert "only from round 18 (6 rounds later, more than 5)" in late["recovers"].witness


def test_recovers_is_vacuous_without_a_trigger_end_and_never_recovering_is_violated() -> None:
    p = {**DEFAULTS, "n": 2, "timeout": 2, "recover_within": 10}
    tallies = [{"served": 10.0}] * 10 + [{"unserved": 10.0}] * 30
    down = [[]] * 10 + [[0, 1]] * 30
    no_end = record_of(tallies, down, end=None)
    verdict = service_properties(p)[1].check(no_end)
    assert verdict.holds and not verdict.exercised
    never = record_of(tallies, down, end=10)
    verdict = service_properties(p)[1].check(never)
    assert not verdict.holds
    assert verdict.witness == (
        "the trigger ended in round 10, but availability never returned to 90%; over the last "
        "4 rounds it was 0.0% with 2 of 2 servers down (a failure that outlives its trigger)"
    )
    assert availability_series(never)[:11] == [1.0] * 10 + [0.0]


def test_the_availability_series_is_in_the_trace_and_printable(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.jsonl"
    args = ["run", "skype-2007", "--param", "n=3", "--param", "clients=300", "--rounds", "40"]
    # 40 rounds are too few to judge recovery (vacuous), so the run exits 0
    assert cli.main([*args, "--trace", str(path)]) == 0
    capsys.readouterr()
    assert series_main([str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["round", "served", "unserved", "availability", "servers", "down"]
    rows = [line.split() for line in lines[2:]]
    assert len(rows) == 40
    result = run_named("skype-2007", params={"n": 3, "clients": 300}, rounds=40)
    expected = availability_series(result.record)
    printed = [None if row[3] == "-" else float(row[3]) for row in rows]
    assert printed == [None if a is None else round(a, 3) for a in expected]
    assert [int(row[4]) for row in rows] == servers_down_series(
        result.record, result.prepared.params
    )


def test_runs_replay_exactly_from_their_seed() -> None:
    a = run_named("poison-call", params={"n": 4, "clients": 200}, rounds=60, seed=3)
    b = run_named("poison-call", params={"n": 4, "clients": 200}, rounds=60, seed=3)
    c = run_named("poison-call", params={"n": 4, "clients": 200}, rounds=60, seed=4)
    assert a.digest == b.digest != c.digest
    assert a.metrics == b.metrics


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["skype-2007", "--param", "capacity=0"], "'capacity' must be > 0 (got 0.0)"),
        (["skype-2007", "--param", "rate=1.5"], "'rate' must be <= 1 (got 1.5)"),
        (["skype-2007", "--param", "rate=0"], "'rate' must be in (0, 1] (got 0.0)"),
        (["skype-2007", "--param", "n=0"], "'n' must be >= 1"),
        (
            [
                "poison-call",
                "--param",
                "clients=3",
                "--param",
                "n=2",
                "--adversary",
                "poison-call:count=4",
            ],
            "count=4 poisoned clients, but the run has only 3 clients",
        ),
        (
            ["poison-call", "--adversary", "poison-call:nodes=[0]"],
            "nodes [0] are not clients",
        ),
        (
            ["skype-2007", "--param", "n=2", "--adversary", "byzantine-server:count=3"],
            "count=3 but the run has only 2 servers",
        ),
        (["skype-2007", "--adversary", "login-storm:share=0"], "'share' must be > 0"),
        (
            [
                "skype-2007",
                "--protocol",
                "backoff-reconnect",
                "--param",
                "base=8",
                "--param",
                "cap=4",
            ],
            "0 < base <= cap",
        ),
        (["skype-2007", "--param", "cache=21"], "'cache' must be at most the number of servers"),
    ],
)
def test_bad_parameters_exit_2_with_one_clear_line(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bft: error: ")
    assert needle in err


# -- the failover family's promises (bft.protocols.service_promises) --------------------------

PROMISE_P = {**DEFAULTS, "n": 2, "base": 1.0, "cap": 32.0, "admission": True, "admit_share": 0.8}


def promise_record(n: int = 2, clients: int = 10, rounds: int = 50) -> RunRecord:
    return RunRecord(
        n=n + clients,
        rounds=rounds,
        seed=0,
        params={},
        roles=("server",) * n + ("client",) * clients,
        network=Network(),
        down=[[]] * rounds,
        peak_work=[3.0] * rounds,
    )


def backoff_output(rnd: int, client: int, sleep: int, answers: int, server: int = 0) -> Output:
    data = {"server": server, "to": 1 - server, "busy": False, "sleep": sleep, "answers": answers}
    return Output(rnd, client, "backoff", data)


def backoff_checks(record: RunRecord, **p: Any) -> dict[str, Verdict]:
    return {prop.name: prop.check(record) for prop in backoff_properties({**PROMISE_P, **p})}


@pytest.mark.parametrize("bound", [2, 3, 4, 7, 32])
def test_sleep_moments_are_those_of_a_discrete_uniform_for_whole_bounds(bound: int) -> None:
    mean, var = sleep_moments(bound)  # int(U(0, b)) is uniform on 0..b-1
    assert mean == pytest.approx((bound - 1) / 2)
    assert var == pytest.approx((bound * bound - 1) / 12)


def test_sleep_moments_weigh_the_last_value_by_the_fraction_left() -> None:
    # U(0, 2.5): 0 and 1 with 0.4 each, 2 with 0.2
    assert sleep_moments(2.5) == pytest.approx((0.8, 0.56))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    steps=st.lists(st.booleans(), min_size=1, max_size=120),
    base=st.sampled_from([0.5, 1.0, 2.0]),
    cap=st.sampled_from([4.0, 8.0, 32.0]),
)
def test_full_jitter_backoff_as_specified_holds_every_backoff_property(
    seed: int, steps: list[bool], base: float, cap: float
) -> None:
    # one client: each step is an answer (True) or a failure it backs off from (False),
    # drawn exactly as the protocol draws it; the properties recount the attempt
    rng = random.Random(seed)
    record = promise_record(rounds=len(steps) + 1)
    answers = attempt = 0
    for rnd, answered in enumerate(steps):
        if answered:
            answers, attempt = answers + 1, 0
            continue
        sleep = int(rng.uniform(0.0, min(cap, base * 2.0**attempt)))
        attempt += 1
        record.outputs.append(backoff_output(rnd, 5, sleep, answers))
    verdicts = backoff_checks(record, base=base, cap=cap)
    for name, verdict in verdicts.items():
        assert verdict.holds, (name, verdict.witness)


def test_a_backoff_that_never_resets_is_caught_with_the_round_and_the_sleep() -> None:
    record = promise_record()
    # three failures (attempts 0, 1, 2), an answer, then a failure sleeping as at attempt 3
    for rnd, sleep in enumerate([0, 1, 3]):
        record.outputs.append(backoff_output(rnd, 4, sleep, answers=0))
    record.outputs.append(backoff_output(10, 4, 6, answers=1))
    verdicts = backoff_checks(record)
    assert verdicts["backoff-resets"].witness == (
        "client 4 gave up on server 0 in round 10 and slept 6 rounds, but it had been "
        "answered since its previous backoff, so its backoff must start again from the base "
        "range, 0 to 1 rounds (U(0, min(cap=32, base=1 x 2^a)))"
    )
    assert not verdicts["backoff-capped"].holds


def test_a_backoff_beyond_its_cap_is_caught_and_a_restart_starts_afresh() -> None:
    record = promise_record()
    for rnd in range(7):  # attempts 0..6 without an answer: bounds 1, 2, ..., 32, 32
        record.outputs.append(backoff_output(rnd, 4, 0, answers=0))
    record.outputs.append(backoff_output(8, 4, 40, answers=0))
    verdict = backoff_checks(record)["backoff-capped"]
    assert verdict.witness == (
        "client 4 gave up on server 0 in round 8 and slept 40 rounds after 7 failure(s) since "
        "its last answer; the backoff allows 0 to 32 (U(0, min(cap=32, base=1 x 2^a)))"
    )
    # a restarted client is a fresh node: its first backoff is attempt 0 again
    fresh = promise_record()
    fresh.outputs += [backoff_output(0, 4, 0, 0), backoff_output(1, 4, 1, 0)]
    fresh.events.append(Event(5, "restart", 4))
    fresh.outputs.append(backoff_output(6, 4, 1, 0))  # attempt 0 after the restart: bound 1
    assert backoff_checks(fresh)["backoff-capped"].holds
    fresh.outputs.append(backoff_output(7, 4, 2, 0))  # attempt 1: bound 2
    assert backoff_checks(fresh)["backoff-capped"].holds
    fresh.outputs.append(backoff_output(8, 4, 5, 0))  # attempt 2: bound 4
    assert not backoff_checks(fresh)["backoff-capped"].holds


@pytest.mark.parametrize(
    ("name", "sleep_of"),
    [
        ("the whole bound", lambda bound, rng: int(bound)),
        ("never more than the base", lambda bound, rng: 0),
        ("one round every time", lambda bound, rng: 1),
    ],
)
def test_backoffs_without_full_jitter_fail_backoff_jitter(name: str, sleep_of: Any) -> None:
    rng = random.Random(1)
    record = promise_record(clients=60, rounds=20)
    for client in range(2, 62):  # 60 clients, each failing 5 times in a row
        for rnd in range(5):
            bound = min(32.0, 2.0**rnd)
            record.outputs.append(backoff_output(rnd, client, sleep_of(bound, rng), 0))
    verdict = backoff_checks(record)["backoff-jitter"]
    assert not verdict.holds, name
    assert "the sleeps are too" in verdict.witness and "in round" in verdict.witness


def test_too_few_backoffs_leave_backoff_jitter_unjudged() -> None:
    record = promise_record()
    record.outputs += [backoff_output(r, 4, 0, 0) for r in range(3)]  # bounds 1, 2, 4
    verdict = backoff_checks(record)["backoff-jitter"]
    assert verdict.holds and not verdict.exercised


def test_admission_names_the_overloaded_server_and_the_round() -> None:
    p = {**PROMISE_P, "capacity": 30.0}
    record = promise_record()
    record.peak_work = [10.0] * 5 + [42.0] + [10.0] * 44
    record.events.append(Event(5, "overload", 1, "until round 26"))
    verdict = admission_property(p).check(record)
    assert verdict.witness == (
        "server 1 went down from overload in round 5 (the most work a node did that round: "
        "42 units, capacity 30); admission control admits at most 0.8 x capacity and answers "
        "busy only within the rest"
    )
    record.events.clear()  # over capacity without going down (theta > 1)
    verdict = admission_property(p).check(record)
    assert verdict.witness == (
        "in round 5 a server did 42 work units, above its capacity 30; admission control must "
        "refuse work beyond it"
    )
    record.peak_work = [30.0] * 50  # exactly at capacity is within it
    assert admission_property(p).check(record).holds
    naive = admission_property({**p, "admission": False}).check(record)
    assert naive.holds and not naive.exercised


@settings(max_examples=30, deadline=None)
@given(
    frozen=st.lists(st.integers(0, 19), unique=True, max_size=20),
    poisoners=st.integers(0, 3),
    crashed=st.lists(st.integers(0, 19), unique=True, max_size=4),
    bound=st.integers(1, 5),
)
def test_blast_radius_allows_bound_per_poisoned_client_plus_faulty_servers(
    frozen: list[int], poisoners: int, crashed: list[int], bound: int
) -> None:
    record = promise_record(n=20, clients=10)
    record.corrupted = frozenset(range(20, 20 + poisoners))
    record.crashed = frozenset(crashed)
    for i, server in enumerate(frozen):
        record.events.append(Event(10 + i, "freeze", server))
    prop = blast_radius_property({**PROMISE_P, "n": 20, "blast_radius": bound}, False, "why")
    verdict = prop.check(record)
    if poisoners == 0:
        assert verdict.holds and not verdict.exercised
    else:
        assert verdict.holds == (len(frozen) <= bound * poisoners + len(crashed))
    if not verdict.holds:
        assert verdict.witness.startswith(f"poisoned client{'s' if poisoners > 1 else ''} 20")
        assert f"froze {len(frozen)} of 20 servers, more than blast_radius={bound}" in (
            verdict.witness
        )
        assert f"{frozen[0]} (round 10)" in verdict.witness and verdict.witness.endswith("(why)")


def test_retry_target_busy_stays_and_a_timeout_moves_on() -> None:
    def retry(busy: bool, to: int) -> Output:
        data = {"server": 0, "to": to, "busy": busy, "sleep": 0, "answers": 0}
        return Output(7, 3, "backoff", data)

    def verdict(out: Output, **p: Any) -> Verdict:
        record = promise_record()
        record.outputs.append(out)
        return backoff_checks(record, **p)["retry-target"]

    assert verdict(retry(True, 0), cache=0).holds
    assert verdict(retry(True, 1), cache=0).witness == (
        "client 3 was answered busy by server 0 in round 7 and went on to server 1: a busy "
        "server is alive but full, and the client backs off and retries it"
    )
    assert verdict(retry(False, 1), cache=0).holds
    assert verdict(retry(False, 0), cache=0).witness == (
        "client 3 gave up on server 0 in round 7 and logged in to it again: a client that "
        "timed out fails over to the next server in its cache"
    )
    assert verdict(retry(False, 0), cache=1).holds  # a cache of one server: nowhere else
