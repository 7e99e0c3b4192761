"""What the failover family's mechanisms promise, as properties a run (and a search) can break.

Theory of operation. ``reply-correct`` and ``recovers`` (``bft.protocols.service``)
judge the service as a whole; a bug inside one mechanism often leaves both
intact in the runs that happen to be tried (a storm that admission control
should have refused but the servers survived anyway; a backoff that never
starts again from its base but whose clients got lucky). So each mechanism's
own promise is a property here, judged from what the nodes emit:

* ``admission`` (safety, servers with admission control): a server never does
  more work in one round than its capacity, so it never goes down from
  overload. Admitted work fits in ``admit_share`` of the capacity and a busy
  answer is sent only while it still fits in the rest; receiving is free.
  Judged from the engine's record (``overload`` events and the per-round peak
  work), not from what a server says about itself.
* ``backoff-resets``, ``backoff-capped``, ``backoff-jitter`` (safety, clients
  with backoff): every client with backoff emits ``backoff`` when it gives up
  on a server or is answered busy (``bft.protocols.service_nodes``), with the
  rounds it sleeps and the number of answers its meter has counted. The rule
  is ``sleep ~ U(0, min(cap, base * 2**a))`` where ``a`` counts the failures
  since the client's last answer, from 0; the properties recount ``a`` from
  the record (a change in ``answers`` since the previous backoff, or a
  restart, sets it back to 0), so a client that forgets its own reset is
  caught. ``backoff-resets``: the first backoff after an answer sleeps at most
  ``min(cap, base)`` rounds. ``backoff-capped``: every sleep is at most
  ``min(cap, base * 2**a)``. ``backoff-jitter``: the sleeps are drawn as full
  jitter draws them: each is ``int(U(0, bound))``, whose mean and variance
  are known (``sleep_moments``), so the total sleep of the backoffs with a
  bound of 2 or more is a sum of independent draws, and the property fails
  when it is more than 9.5 standard deviations from its mean over at least 10
  of them (by Hoeffding's inequality a false alarm is rarer than once in a
  million runs). A client that sleeps the whole bound (no jitter), never more
  than the base (no growth), or a fixed time fails it.
* ``retry-target`` (safety, clients with backoff): a client answered busy
  backs off and retries the same server (it is alive, only full); a failover
  client that timed out moves on to another server of its cache (in
  gossip-health, where the next server is chosen by view and avoid window,
  ``failover-guided`` judges the choice).
* ``blast-radius`` (safety): each poisoned client freezes at most
  ``blast_radius`` servers (default 3). A poison can reach servers only
  through faulty (corrupted) clients, and freezes are the engine's record, so
  the bound is checked as: servers frozen <= ``blast_radius`` x corrupted
  clients + servers an adversary made faulty (a crashed watcher can let one
  more freeze through). What bounds the walk differs by protocol, and so does
  whether the protocol guarantees it (``guaranteed``): ``gossip-health``
  quarantines a request and its client after ``quarantine_k`` correlated
  deaths, so it freezes at most ``quarantine_k + 1`` servers (the home server,
  which runs the poison in an established session unannounced, then k
  announced deaths): guaranteed when ``quarantine_k + 1 <= blast_radius``,
  there are more ``watchers`` than ``quarantine_k`` (one is alive however
  many servers the walk froze before) and the client's ``timeout`` exceeds
  ``watch_timeout`` (so the correlation reaches the next server before it
  runs the request), and judged only when no message was dropped or delayed.
  ``naive-reconnect`` and ``backoff-reconnect`` have no defence but
  implementation diversity: a poisoned client walks on after each freeze
  until it reaches a server of a variant the poison does not freeze, so with
  a monoculture it freezes every server it reaches (the rumoured Skype poison
  call); they do not guarantee the bound. Why 3 by default: it is what
  gossip-health's quarantine achieves with its default k = 2, so the default
  states the service level the best defence in the family keeps.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs

from bft.core.params import Param
from bft.core.properties import Property, Verdict
from bft.core.protocol import Params
from bft.core.record import RunRecord

BLAST_RADIUS = Param(
    "blast_radius",
    int,
    default=3,
    doc="the most servers one poisoned client may freeze ('blast-radius' property)",
    min=1,
)

#: backoff-jitter: at least this many backoffs with a bound of 2 rounds or more ...
JITTER_MIN_SAMPLES = 10
#: ... whose total sleep is more than this many standard deviations from its mean
#: (Hoeffding: a sum of draws each within a range of b - 1, whose variance is
#: (b^2 - 1) / 12, strays z standard deviations with probability at most
#: 2 exp(-z^2 / 6); at 9.5 that is under one in a million)
JITTER_Z = 9.5
MAX_ATTEMPT = 60  # 2**60 rounds is past any cap


@attrs.frozen
class Backoff:
    """One backoff of an honest client, with the attempt number the rule gives it."""

    round: int
    client: int
    server: int  # the server it gave up on (or that answered busy)
    to: int  # the server it logs in to next
    busy: bool
    sleep: int
    attempt: int  # failures since the client's last answer, recounted from the record
    after_answer: bool  # an answer came since the previous backoff (or before the first)
    bound: float  # min(cap, base * 2**attempt)
    view: int | None = None  # gossip-health: the live servers the client believed in


def backoffs(record: RunRecord, base: float, cap: float) -> list[Backoff]:
    """The ``backoff`` outputs of honest clients, in order, with their attempt recounted."""
    restarts: dict[int, list[int]] = {}
    for e in record.events_of("restart"):
        if e.node is not None:
            restarts.setdefault(e.node, []).append(e.round)
    last: dict[int, tuple[int, int, int]] = {}  # client -> (round, answers, attempt)
    out: list[Backoff] = []
    for o in record.outputs_named("backoff"):
        client = o.node
        if client in record.corrupted:
            continue
        d = o.data
        answers = d["answers"]
        prev = last.get(client)
        if prev is not None and any(prev[0] < r <= o.round for r in restarts.get(client, ())):
            prev = None  # a restarted client starts afresh
        if prev is None:
            attempt, after = 0, answers > 0
        elif answers != prev[1]:
            attempt, after = 0, True
        else:
            attempt, after = min(prev[2] + 1, MAX_ATTEMPT), False
        last[client] = (o.round, answers, attempt)
        out.append(
            Backoff(
                o.round,
                client,
                d["server"],
                d["to"],
                d["busy"],
                d["sleep"],
                attempt,
                after,
                min(cap, base * 2.0**attempt),
                d.get("view"),
            )
        )
    return out


def sleep_moments(bound: float) -> tuple[float, float]:
    """Mean and variance of ``int(U(0, bound))``: the sleep full jitter draws.

    The values 0 .. ceil(bound) - 1 each have probability 1/bound, except the
    last, which has what is left (the fractional part of the bound over it).
    """
    top = math.ceil(bound) - 1
    weights = [1.0 / bound] * top + [(bound - top) / bound]
    mean = sum(k * w for k, w in enumerate(weights))
    return mean, sum((k - mean) ** 2 * w for k, w in enumerate(weights))


def _backoff_rule(p: Params) -> str:
    return f"U(0, min(cap={p['cap']:g}, base={p['base']:g} x 2^a))"


def _why(b: Backoff) -> str:
    what = "was answered busy by" if b.busy else "gave up on"
    return f"client {b.client} {what} server {b.server} in round {b.round}"


def backoff_properties(p: Params) -> list[Property]:
    """``retry-target``, ``backoff-resets``, ``backoff-capped`` and ``backoff-jitter``."""
    base, cap = p["base"], p["cap"]
    rule = _backoff_rule(p)
    cache: list[object] = [None, None]

    def history(record: RunRecord) -> list[Backoff]:
        if cache[0] is not record:
            cache[:] = [record, backoffs(record, base, cap)]
        return cache[1]  # type: ignore[return-value]

    def resets(record: RunRecord) -> Verdict:
        after = [b for b in history(record) if b.after_answer]
        for b in after:
            if b.sleep > b.bound:
                return Verdict.violated(
                    f"{_why(b)} and slept {b.sleep} rounds, but it had been answered since its "
                    f"previous backoff, so its backoff must start again from the base range, "
                    f"0 to {b.bound:g} rounds ({rule})"
                )
        if not after:
            return Verdict.vacuous("no client backed off after having been answered")
        return Verdict.ok(f"{len(after)} backoffs after an answer, all within the base range")

    def capped(record: RunRecord) -> Verdict:
        made = history(record)
        for b in made:
            if b.sleep < 0 or b.sleep > b.bound:
                return Verdict.violated(
                    f"{_why(b)} and slept {b.sleep} rounds after {b.attempt} failure(s) since "
                    f"its last answer; the backoff allows 0 to {b.bound:g} ({rule})"
                )
        if not made:
            return Verdict.vacuous("no client backed off")
        return Verdict.ok()

    def jitter(record: RunRecord) -> Verdict:
        spread = [b for b in history(record) if b.bound >= 2]
        if len(spread) < JITTER_MIN_SAMPLES:
            return Verdict.vacuous(
                f"only {len(spread)} backoffs with a range of 2 rounds or more "
                f"(need {JITTER_MIN_SAMPLES} to judge the spread)"
            )
        total = mean = var = 0.0
        for b in spread:
            mu, sigma2 = sleep_moments(b.bound)
            total += b.sleep
            mean += mu
            var += sigma2
        z = (total - mean) / math.sqrt(var)
        if abs(z) > JITTER_Z:
            worst = max(spread, key=lambda b: (b.sleep - sleep_moments(b.bound)[0]) * z)
            side = "long" if z > 0 else "short"
            return Verdict.violated(
                f"{len(spread)} backoffs with a range of 2 rounds or more slept {total:.0f} "
                f"rounds in all where full jitter gives {mean:.0f} on average (z = {z:.1f}): "
                f"the sleeps are too {side} to be drawn uniformly; e.g. {_why(worst)} and "
                f"slept {worst.sleep} of a possible 0 to {worst.bound:g} rounds ({rule})"
            )
        return Verdict.ok(f"{len(spread)} backoffs, total sleep z = {z:.1f}")

    def retry_target(record: RunRecord) -> Verdict:
        made = history(record)
        cache = p.get("cache")
        moves = cache is not None and int(p["n"]) > 1 and cache != 1
        for b in made:
            if b.busy and b.to != b.server:
                return Verdict.violated(
                    f"{_why(b)} and went on to server {b.to}: a busy server is alive but "
                    "full, and the client backs off and retries it"
                )
            if moves and not b.busy and b.to == b.server:
                return Verdict.violated(
                    f"{_why(b)} and logged in to it again: a client that timed out fails "
                    "over to the next server in its cache"
                )
        if not made:
            return Verdict.vacuous("no client backed off")
        return Verdict.ok()

    return [
        Property(
            "retry-target",
            "safety",
            "a client answered busy retries the same server"
            + ("; one that timed out fails over to another" if "cache" in p else ""),
            retry_target,
        ),
        Property(
            "backoff-resets",
            "safety",
            "a client's first backoff after an answer sleeps at most min(cap, base) rounds "
            "(the base range again)",
            resets,
        ),
        Property(
            "backoff-capped",
            "safety",
            "every backoff sleeps at most min(cap, base * 2^a) rounds, a = failures since "
            "the client's last answer",
            capped,
        ),
        Property(
            "backoff-jitter",
            "safety",
            "backoff sleeps are drawn uniformly over their range (full jitter): their total "
            f"is within {JITTER_Z:g} standard deviations of its expectation",
            jitter,
        ),
    ]


def admission_property(p: Params) -> Property:
    capacity = float(p["capacity"])
    servers = int(p["n"])

    def admission(record: RunRecord) -> Verdict:
        if not p.get("admission"):
            return Verdict.vacuous("servers do not use admission control")
        peaks = record.peak_work
        for e in record.events_of("overload"):
            if e.node is not None and e.node < servers and e.node not in record.corrupted:
                peak = peaks[e.round] if e.round < len(peaks) else float("nan")
                return Verdict.violated(
                    f"server {e.node} went down from overload in round {e.round} (the most work "
                    f"a node did that round: {peak:g} units, capacity {capacity:g}); admission "
                    f"control admits at most {p['admit_share']:g} x capacity and answers busy "
                    "only within the rest"
                )
        for r, peak in enumerate(peaks):
            if peak > capacity + 1e-9:
                return Verdict.violated(
                    f"in round {r} a server did {peak:g} work units, above its capacity "
                    f"{capacity:g}; admission control must refuse work beyond it"
                )
        if not peaks:
            return Verdict.vacuous("no server did any work")
        return Verdict.ok(f"peak load {max(peaks):g} of capacity {capacity:g}")

    return Property(
        "admission",
        "safety",
        "a server with admission control never does more work in a round than its capacity "
        "(so it never goes down from overload)",
        admission,
    )


def frozen_by_server(record: RunRecord, servers: int) -> dict[int, int]:
    """Server -> the round a poison first froze it."""
    first: dict[int, int] = {}
    for e in record.events_of("freeze"):
        if e.node is not None and e.node < servers and e.node not in first:
            first[e.node] = e.round
    return first


def blast_radius_property(
    p: Params,
    guaranteed: bool,
    defence: str,
    judged: Callable[[RunRecord], str | None] = lambda record: None,
) -> Property:
    """Each poisoned client freezes at most ``blast_radius`` servers (see the module docstring).

    ``defence`` says, for the witness, what bounds the walk in this protocol;
    ``judged`` returns why a run cannot be judged (a vacuous verdict), or None.
    """
    bound = int(p["blast_radius"])
    servers = int(p["n"])

    def blast_radius(record: RunRecord) -> Verdict:
        frozen = frozen_by_server(record, servers)
        poisoners = sorted(c for c in record.corrupted if c >= servers)
        if not poisoners:
            return Verdict.vacuous("no client is corrupted, so no request is poisoned")
        why_not = judged(record)
        if why_not is not None:
            return Verdict.vacuous(why_not)
        faulty_servers = sorted(s for s in record.faulty if s < servers)
        allowed = bound * len(poisoners) + len(faulty_servers)
        walk = sorted(frozen.items(), key=lambda item: (item[1], item[0]))
        if len(walk) > allowed:
            shown = ", ".join(f"{s} (round {r})" for s, r in walk[: allowed + 1])
            clients = ", ".join(map(str, poisoners))
            who = "client " if len(poisoners) == 1 else "clients "
            slack = f" plus {len(faulty_servers)} faulty server(s)" if faulty_servers else ""
            return Verdict.violated(
                f"poisoned {who}{clients} froze {len(walk)} of {servers} servers, more than "
                f"blast_radius={bound} per poisoned client{slack}: {shown}"
                f"{', ...' if len(walk) > allowed + 1 else ''} ({defence})"
            )
        return Verdict.ok(f"{len(walk)} server(s) frozen by {len(poisoners)} poisoned client(s)")

    return Property(
        "blast-radius",
        "safety",
        f"each poisoned client freezes at most blast_radius={bound} servers ({defence})",
        blast_radius,
        guaranteed=guaranteed,
    )
