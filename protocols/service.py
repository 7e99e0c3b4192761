"""The shared service workload: S servers, C clients, requests, replies, and how to judge them.

Every protocol of the *service family* (``naive-reconnect``, ``backoff-reconnect``,
``pbft``, ``gossip-health``, ...) runs the same workload and is judged by the same
metrics and properties, so one scenario (``skype-2007``, ``poison-call``) means
the same thing whichever protocol serves it. This module holds that common
part; each protocol supplies only its own server and client logic (the server and
client machinery the failover-style protocols share, sessions, admission control,
login and backoff, is in ``bft.protocols.service_nodes``).

Theory of operation
===================

Nodes and roles. ``n`` counts **servers** (``--nodes`` sets it); ``clients``
counts clients. Node ids: servers are ``0 .. n-1`` (role ``"server"``),
clients are ``n .. n+clients-1`` (role ``"client"``). Use ``server_ids``,
``client_ids``, ``service_roles`` and ``service_node_count`` (or inherit
``ServiceSpec``, which wires them into a ``ProtocolSpec``).

Parameters. ``SERVICE_PARAMS``: ``n`` (servers S), ``clients`` (C), ``rate``
(probability that an idle client issues a request in a round, in (0, 1]),
``timeout`` (rounds a client waits before giving up on a server),
``capacity``, ``down_rounds``, ``login_cost``, ``variants``,
``freeze_rounds`` (the environment, so that ``--param capacity=...`` works
from the command line: ``service_environment(p)`` turns them into the
protocol's ``environment_defaults``), and ``recover_threshold`` /
``recover_within`` (the ``recovers`` property). ``check_service`` refuses a
rate outside (0, 1] and a capacity of 0.

Requests. A client's requests are ``bft.core.environment.Operation(client, seq,
arg)`` values; ``new_operation`` draws one. Servers run them with
``ctx.execute(op)`` (``execute_reply`` wraps it), which costs ``op_cost`` work,
may overload the server (the engine takes it down for ``down_rounds``) and,
for a poison operation on a vulnerable variant, freezes it. The one correct
result is ``correct_result(op)``, so any reply can be judged. A client that
(re)starts or changes server opens a session with ``Login`` (costing the
server ``login_cost`` work; this is what a login storm is made of), optionally
carrying its pending request. Message classes: ``Login``, ``Request``,
``Reply``, ``Welcome`` (session open, nothing to answer), ``Busy`` (admission
control refused the work). A protocol may define its own messages instead
(a PBFT reply also names the replica and view), as long as its clients feed
the meter below.

Client-side accounting (what a client must emit). Each client keeps one
``ClientMeter`` and calls:

* ``meter.want(ctx)`` when it starts waiting for service: it issued a request
  or began logging in (a no-op if it is already waiting; a wait survives
  failovers and backoff sleeps, they are part of it);
* ``meter.answered(ctx, op, result, server)`` when it *accepts* a reply to its
  request ``op`` (for PBFT: after f+1 matching replies), and
  ``meter.answered(ctx)`` when a login is acknowledged with nothing to
  answer; either ends the wait;
* ``meter.refused()`` when a server answers but refuses the request (a
  quarantine): the wait goes on, but the server did answer;
* ``meter.tick(ctx)`` once at the end of every ``on_round``.

``meter.answers`` counts the answers accepted (replies, login
acknowledgements, refusals): what the backoff properties recount a client's
failures from.

Every round a client spends waiting is a *client-round of demand*. When the
wait ends with a correct reply within the client's ``timeout`` (counted from
the start of the wait), its rounds are tallied ``served``; when it reaches the
timeout its rounds so far, and every later round of the same wait, are tallied
``unserved``; a wrong reply ends the wait as ``unserved``. Idle rounds (nothing
asked) count in neither. The meter audits each accepted reply against
``correct_result`` as an oracle (the client's protocol logic never sees the
verdict): a wrong one is tallied ``wrong`` and emitted as the output
``wrong-reply`` (client, seq, arg, result, expected, server), the only
per-reply output, so 2000 clients x hundreds of rounds stay cheap. Tallies:
``served``, ``unserved``, ``accepted``, ``wrong`` (all per round, summed over
clients, written on each round's summary line of the trace). Rounds are
tallied in the round they are classified (the end of a wait, or its timeout),
so the per-round series lags the events by at most ``timeout`` rounds; the
totals are exact.

Metrics (``service_metrics``): ``availability`` (served / demand client-rounds
over the run), ``availability_final`` (the same over the last tenth of the
rounds), ``servers_down_max`` (most servers down in one round: the cascade
depth), ``servers_down_final``, ``servers_frozen`` (servers a poison froze),
``freeze_span`` (rounds from the first server freeze to the last), ``rounds_to_recover``
(rounds after the trigger ended until availability from then on stays at or
above ``recover_threshold``; null if it never does), ``peak_load`` (largest
work one server did in one round), ``wrong_replies`` and ``messages`` (also
reported by the runner). An adversary marks the end of its trigger with
``ctl.note("trigger-end")``; the last such note counts.

Properties (``service_properties``): ``reply-correct`` (safety: no honest
client accepts a reply that differs from ``correct_result``; the witness names
the client, the round, the server and both values) and ``recovers``
(liveness: after the trigger ends, availability returns to at least
``recover_threshold`` within ``recover_within`` rounds and stays there, on
aggregate, to the end of the run). The failover family adds what its
mechanisms promise (admission control, backoff, the blast radius of a
poison): ``bft.protocols.service_promises``.

The per-round availability series: ``availability_series(record)`` from a run
record, or ``python -m bft.protocols.service TRACE.jsonl`` from a trace file
(``bft run ... --trace FILE``), which prints round, served, unserved,
availability and servers down.

Simplification (model): corrupted clients run the honest client code, so
their tallies are included in the availability counts (a poisoned client is
one in thousands); the reply-correct property ignores them.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from bft.core.environment import Operation, correct_result
from bft.core.errors import ConfigError
from bft.core.node import Context
from bft.core.params import Param
from bft.core.properties import Property, Verdict
from bft.core.protocol import Params, ProtocolSpec, Tolerance
from bft.core.record import RunRecord

SERVER, CLIENT = "server", "client"
TRIGGER_END = "trigger-end"
TRIGGER_PERSISTS = "trigger-persists"

# -- messages -------------------------------------------------------------------------


@attrs.frozen
class Login:
    """Client -> server: open a session, carrying the client's pending request if any."""

    op: Operation | None = None

    KIND = "login"


@attrs.frozen
class Request:
    """Client -> server: execute ``op`` (the client must hold a session there)."""

    op: Operation

    KIND = "request"


@attrs.frozen
class Reply:
    """Server -> client: the result of the client's request ``seq``."""

    client: int
    seq: int
    result: int

    KIND = "reply"


@attrs.frozen
class Welcome:
    """Server -> client: the session is open (a login that carried no request)."""

    KIND = "welcome"


@attrs.frozen
class Busy:
    """Server -> client: admission control refused the work (``seq`` -1: a login)."""

    seq: int = -1

    KIND = "busy"


# -- parameters and layout --------------------------------------------------------------

SERVICE_PARAMS: tuple[Param, ...] = (
    Param("n", int, default=20, doc="number of servers S (node ids 0..n-1)", min=1),
    Param("clients", int, default=2000, doc="number of clients C (node ids n..n+C-1)", min=1),
    Param(
        "rate",
        float,
        default=0.1,
        doc="probability that an idle, attached client issues a request in a round (0 < rate <= 1)",
        min=0.0,
        max=1.0,
    ),
    Param(
        "timeout",
        int,
        default=3,
        doc="rounds a client waits for an answer before giving up on a server",
        min=1,
    ),
    Param(
        "capacity",
        float,
        default=30.0,
        doc="server capacity in work units per round (> 0)",
        min=0.0,
    ),
    Param("down_rounds", int, default=20, doc="rounds an overloaded server stays down (D)", min=1),
    Param(
        "login_cost",
        float,
        default=2.0,
        doc="work units a server spends to open a session",
        min=0.0,
    ),
    Param(
        "variants",
        int,
        default=1,
        doc="implementation variants among servers (1: a monoculture)",
        min=1,
    ),
    Param(
        "freeze_rounds",
        int,
        default=0,
        doc="rounds a poisoned server stays frozen (0: the rest of the run)",
        min=0,
    ),
    Param(
        "recover_threshold",
        float,
        default=0.9,
        doc="availability the 'recovers' property asks for after the trigger ends",
        min=0.0,
        max=1.0,
    ),
    Param(
        "recover_within",
        int,
        default=60,
        doc="rounds after the trigger ends within which availability must recover",
        min=1,
    ),
)


def check_service(owner: str, p: Params) -> None:
    """Cross-checks of the shared parameters; ``ConfigError`` naming the bad value."""
    if not 0.0 < p["rate"] <= 1.0:
        raise ConfigError(
            f"{owner}: parameter 'rate' must be in (0, 1] (got {p['rate']!r}); it is the "
            "probability that an idle client issues a request in a round"
        )
    if p["capacity"] <= 0:
        raise ConfigError(
            f"{owner}: parameter 'capacity' must be > 0 (got {p['capacity']!r}); a server with "
            "no capacity can serve nothing"
        )


def check_backoff_admission(owner: str, p: Params) -> None:
    """Cross-checks of the backoff (``base``, ``cap``) and admission (``admit_share``) parameters."""
    if p["base"] <= 0 or p["cap"] < p["base"]:
        raise ConfigError(
            f"{owner}: backoff needs 0 < base <= cap (got base={p['base']}, cap={p['cap']})"
        )
    if p["admission"] and p["admit_share"] <= 0:
        raise ConfigError(
            f"{owner}: parameter 'admit_share' must be > 0 with admission control "
            f"(got {p['admit_share']})"
        )


def service_node_count(p: Params) -> int:
    return int(p["n"]) + int(p["clients"])


def server_ids(p: Params) -> range:
    return range(int(p["n"]))


def client_ids(p: Params) -> range:
    return range(int(p["n"]), int(p["n"]) + int(p["clients"]))


def service_roles(p: Params) -> tuple[str, ...]:
    return (SERVER,) * int(p["n"]) + (CLIENT,) * int(p["clients"])


def service_environment(p: Params) -> dict[str, Any]:
    """Environment settings from the shared parameters (capacity, D, variants, freeze)."""
    return {
        "capacity": p["capacity"],
        "down_rounds": p["down_rounds"],
        "variants": p["variants"],
        "freeze_rounds": p["freeze_rounds"],
    }


def new_operation(ctx: Context, seq: int) -> Operation:
    """A fresh request of this client (argument drawn from its own RNG)."""
    return Operation(ctx.node_id, seq, ctx.rng.getrandbits(16))


def execute_reply(ctx: Context, op: Operation) -> Reply:
    """Execute ``op`` through the environment and build the reply (may freeze the server)."""
    return Reply(op.client, op.seq, ctx.execute(op))


# -- client accounting ------------------------------------------------------------------


class ClientMeter:
    """Per-client availability accounting; see the module docstring for the contract."""

    __slots__ = ("timeout", "since", "late", "answers")

    def __init__(self, timeout: int) -> None:
        self.timeout = timeout
        self.since: int | None = None  # first round of the current wait
        self.late = False  # the current wait has passed the timeout
        self.answers = 0  # answers accepted from a server (what resets a client's backoff)

    @property
    def waiting(self) -> bool:
        return self.since is not None

    def want(self, ctx: Context) -> None:
        if self.since is None:
            self.since = ctx.round
            self.late = False

    def answered(
        self,
        ctx: Context,
        op: Operation | None = None,
        result: int | None = None,
        server: int | None = None,
    ) -> None:
        """The client accepted an answer (a reply to ``op``, or a bare login acknowledgement)."""
        self.answers += 1
        correct = True
        if op is not None:
            ctx.tally("accepted")
            expected = correct_result(op)
            if result != expected:
                correct = False
                ctx.tally("wrong")
                ctx.output(
                    "wrong-reply",
                    client=op.client,
                    seq=op.seq,
                    arg=op.arg,
                    result=result,
                    expected=expected,
                    server=server,
                )
        since = self.since
        if since is None:
            return
        self.since = None
        if self.late:
            return  # its rounds were tallied unserved as they passed
        waited = ctx.round - since
        if waited:
            ctx.tally("served" if correct else "unserved", waited)

    def refused(self) -> None:
        """The server answered, but refused the request (a quarantine): an answer that does
        not end the wait."""
        self.answers += 1

    def tick(self, ctx: Context) -> None:
        since = self.since
        if since is None:
            return
        if self.late:
            ctx.tally("unserved")
        elif ctx.round - since >= self.timeout:
            # no reply can now arrive within the timeout: rounds since..now are unserved
            self.late = True
            ctx.tally("unserved", ctx.round - since + 1)


# -- metrics ------------------------------------------------------------------------------


def _ratio(served: float, unserved: float) -> float | None:
    total = served + unserved
    return None if total == 0 else served / total


def availability_series(record: RunRecord) -> list[float | None]:
    """Per-round availability: served / (served + unserved) client-rounds tallied that round."""
    return [_ratio(t.get("served", 0), t.get("unserved", 0)) for t in record.tallies]


def trigger_end(record: RunRecord) -> int | None:
    """The round of the last ``trigger-end`` note an adversary recorded, if any; None also
    when some adversary noted that its trigger persists (a poison that never stops: the
    end another adversary notes, a searched schedule's say, is not the end of the run's
    triggers)."""
    notes = record.notes()
    if any(e.detail.endswith(": " + TRIGGER_PERSISTS) for e in notes):
        return None
    ends = [e.round for e in notes if e.detail.endswith(": " + TRIGGER_END)]
    return max(ends) if ends else None


def _window(p: Params) -> int:
    return max(5, 2 * int(p["timeout"]))


def recovery_round(record: RunRecord, p: Params) -> int | None:
    """The earliest round r >= the trigger end such that, for every r' from r on (up to
    ``window`` rounds before the end), availability over [r', end) is >= the threshold."""
    start = trigger_end(record)
    if start is None:
        return None
    served = record.tally("served")
    unserved = record.tally("unserved")
    last = len(served) - _window(p)
    threshold = p["recover_threshold"]
    s_tail = u_tail = 0.0
    best: int | None = None
    for r in range(len(served) - 1, start - 1, -1):
        s_tail += served[r]
        u_tail += unserved[r]
        if r > last:
            continue
        ratio = _ratio(s_tail, u_tail)
        if ratio is not None and ratio < threshold:
            break
        best = r
    return best


def servers_down_series(record: RunRecord, p: Params) -> list[int]:
    s = int(p["n"])
    return [sum(1 for node in down if node < s) for down in record.down]


def frozen_servers(record: RunRecord, p: Params) -> list[tuple[int, int]]:
    """(round, server) of each server's first freeze, in order: the walk of a poison."""
    s = int(p["n"])
    seen: dict[int, int] = {}
    for e in record.events_of("freeze"):
        if e.node is not None and e.node < s and e.node not in seen:
            seen[e.node] = e.round
    return sorted((r, node) for node, r in seen.items())


def service_metrics(record: RunRecord, p: Params) -> dict[str, float | None]:
    served = record.tally("served")
    unserved = record.tally("unserved")
    rounds = len(served)
    tail = max(1, rounds // 10)
    down = servers_down_series(record, p)
    start = trigger_end(record)
    recovered = recovery_round(record, p)
    frozen = frozen_servers(record, p)
    availability = _ratio(sum(served), sum(unserved))
    final = _ratio(sum(served[rounds - tail :]), sum(unserved[rounds - tail :]))
    return {
        "availability": None if availability is None else round(availability, 4),
        "availability_final": None if final is None else round(final, 4),
        "servers_down_max": max(down, default=0),
        "servers_down_final": down[-1] if down else 0,
        "servers_frozen": len(frozen),
        "freeze_span": frozen[-1][0] - frozen[0][0] if frozen else None,
        "rounds_to_recover": None if recovered is None or start is None else recovered - start,
        "peak_load": round(max(record.peak_work, default=0.0), 4),
        "wrong_replies": int(sum(record.tally("wrong"))),
        "messages": record.messages,
    }


# -- properties -------------------------------------------------------------------------


def service_properties(p: Params, *, availability_guaranteed: bool = True) -> list[Property]:
    """``reply-correct`` and ``recovers``. A replicated state machine (PBFT and its kin)
    guarantees an answer within a bound after GST, not an availability level: for it,
    ``availability_guaranteed=False`` makes ``recovers`` an expectation that ``bft run``
    judges and ``bft check`` searches only when named (as PBFT's throughput floor)."""
    threshold, within = p["recover_threshold"], p["recover_within"]

    def reply_correct(record: RunRecord) -> Verdict:
        for o in record.outputs_named("wrong-reply"):
            if o.node in record.corrupted:
                continue
            d = o.data
            return Verdict.violated(
                f"client {o.node} accepted result {d['result']} for its request seq {d['seq']} "
                f"(arg {d['arg']}) from server {d['server']} in round {o.round}; "
                f"the correct result is {d['expected']}"
            )
        if not any(record.tally("accepted")):
            return Verdict.vacuous("no client accepted any reply")
        return Verdict.ok()

    def recovers(record: RunRecord) -> Verdict:
        start = trigger_end(record)
        if start is None:
            return Verdict.vacuous("no adversary marked the end of its trigger ('trigger-end')")
        window = _window(p)
        if start + within > record.rounds - window:
            return Verdict.vacuous(
                f"the trigger ended in round {start}; the run ({record.rounds} rounds) is too "
                f"short to judge recovery within {within} rounds"
            )
        recovered = recovery_round(record, p)
        down = servers_down_series(record, p)
        if recovered is not None and recovered - start <= within:
            return Verdict.ok(
                f"availability stayed >= {threshold:.0%} from round {recovered}, "
                f"{recovered - start} rounds after the trigger ended in round {start}"
            )
        served = record.tally("served")
        unserved = record.tally("unserved")
        tail = max(1, record.rounds // 10)
        final = _ratio(sum(served[-tail:]), sum(unserved[-tail:]))
        final_text = "no demand" if final is None else f"{final:.1%}"
        if recovered is None:
            how = f"availability never returned to {threshold:.0%}"
        else:
            how = (
                f"availability returned to {threshold:.0%} only from round {recovered} "
                f"({recovered - start} rounds later, more than {within})"
            )
        return Verdict.violated(
            f"the trigger ended in round {start}, but {how}; over the last {tail} rounds it "
            f"was {final_text} with {down[-1] if down else 0} of {p['n']} servers down "
            f"(a failure that outlives its trigger)"
        )

    return [
        Property(
            "reply-correct",
            "safety",
            "no honest client accepts a reply that differs from the service's correct result",
            reply_correct,
        ),
        Property(
            "recovers",
            "liveness",
            f"after the trigger ends, availability returns to >= {threshold:.0%} within "
            f"{within} rounds and stays there",
            recovers,
            guaranteed=availability_guaranteed,
        ),
    ]


# -- a ProtocolSpec base class ----------------------------------------------------------


class ServiceSpec(ProtocolSpec):
    """Wires the shared workload into a ``ProtocolSpec``.

    Subclasses set ``name``, ``summary``, ``params`` (starting with
    ``SERVICE_PARAMS``) and implement ``make_node`` (servers for ids < n, clients
    above). Override ``extra_environment`` to add environment settings; call
    ``super().check(p)`` from an overriding ``check``.
    """

    nodes_are = "servers (clients are set with --param clients=C)"
    params = SERVICE_PARAMS

    def check(self, p: Params) -> None:
        check_service(self.name, p)

    def node_count(self, p: Params) -> int:
        return service_node_count(p)

    def roles(self, p: Params) -> tuple[str, ...]:
        return service_roles(p)

    def variant_of(self, node_id: int, p: Params, variants: int) -> int:
        return node_id % variants if node_id < int(p["n"]) else 0

    def default_rounds(self, p: Params) -> int:
        return 200

    def environment_defaults(self, p: Params) -> dict[str, Any]:
        return service_environment(p)

    def properties(self, p: Params) -> list[Property]:
        return service_properties(p)

    def metrics(self, record: RunRecord, p: Params) -> dict[str, float | None]:
        return service_metrics(record, p)

    def tolerance(self, p: Params) -> Tolerance:
        """Servers may crash as long as the survivors can still carry the load: the
        steady demand (clients x rate requests a round, one work unit each) with half
        again as much in reserve, over ``capacity`` per server (``recovers`` asks for the
        service to come back, which no protocol can do without the capacity). Clients
        may be anything, as the requests of any client are untrusted input (a poisoned
        request, a login storm). Byzantine servers are outside the model."""
        servers = int(p["n"])
        needed = max(1, math.ceil(1.5 * p["clients"] * p["rate"] / p["capacity"]))
        return Tolerance(
            kind="crash",
            faults=max(0, servers - needed),
            roles=("server",),
            unlimited=("client",),
            bound=f"servers crash-stop while {needed} can carry the load",
        )


# -- printing the series from a trace -----------------------------------------------------


def series_from_trace(path: str | Path) -> list[dict[str, Any]]:
    """Per-round rows (round, served, unserved, availability, servers_down) from a trace file."""
    from bft.core.trace import read_trace

    header, events = read_trace(path)
    servers = int(header.get("params", {}).get("n", 0))
    rows = []
    for ev in events:
        if ev.get("ev") != "round":
            continue
        tallies = ev.get("tallies", {})
        served, unserved = tallies.get("served", 0), tallies.get("unserved", 0)
        rows.append(
            {
                "round": ev["r"],
                "served": served,
                "unserved": unserved,
                "availability": _ratio(served, unserved),
                "servers_down": sum(1 for node in ev.get("down", []) if node < servers),
            }
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bft.protocols.service TRACE.jsonl``: print the per-round availability series."""
    from tabulate import tabulate

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m bft.protocols.service TRACE.jsonl", file=sys.stderr)
        return 2
    try:
        rows = series_from_trace(args[0])
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = [
        (
            r["round"],
            r["served"],
            r["unserved"],
            "-" if r["availability"] is None else f"{r['availability']:.3f}",
            r["servers_down"],
        )
        for r in rows
    ]
    print(tabulate(table, headers=["round", "served", "unserved", "availability", "servers down"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
