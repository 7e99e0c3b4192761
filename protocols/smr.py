"""What the leader-rotating replication protocols (``hotstuff``, ``fab``) share.

Theory of operation. Both protocols replicate the service of
``bft.protocols.service`` on ``n`` replicas (node ids ``0..n-1``, role
``replica``), followed by client nodes (role ``client``). They differ from
PBFT in how clients reach them: the leader changes (every view in HotStuff,
at every recovery in FaB), so a client multicasts its signed request to every
replica at once instead of sending it to a primary it would have to track
(``BroadcastClient``; otherwise PBFT's client: one request outstanding,
accepted on f+1 matching replies, multicast again every ``timeout`` rounds).
Replicas answer with PBFT's ``Reply`` on the authenticated channel.

Replicas emit the same observable outputs as PBFT's, so the properties below
mean the same thing for all three protocols: ``commit`` (seq, req, digest)
once per executed log position, in order; clients emit ``submit`` and
``accept``.

* ``agreement`` (safety): correct replicas' executed logs are prefixes of one
  another (one digest per log position).
* ``validity`` (safety): every request executed in an honest client's name is
  one that client submitted.
* ``liveness-after-gst`` (liveness, bounded response): every request of a
  correct client is answered by round max(submitted, GST) + B, where B comes
  from the protocol's own timers (each protocol documents its formula).
* ``reply-correct`` and ``recovers``: the service family's shared properties.

Metrics shared with PBFT: ``committed``, ``messages_per_request`` (the
protocol's normal-case messages divided by requests executed),
``latency_mean``/``latency_max`` (rounds from submit to accept),
``throughput`` (requests accepted per round from GST on), ``view_changes`` and
``messages_per_view_change``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bft.core.crypto import Signed
from bft.core.node import Context
from bft.core.properties import Property, Verdict
from bft.core.protocol import Params
from bft.core.record import Output, RunRecord
from bft.protocols.pbft.client import Client
from bft.protocols.pbft.messages import Request, op_label
from bft.protocols.service import new_operation, service_metrics, service_properties

REPLICA, CLIENT = "replica", "client"


class BroadcastClient(Client):
    """PBFT's client, except that it multicasts each new request to every replica."""

    def _issue(self, ctx: Context) -> None:
        op = new_operation(ctx, ctx.round)
        self.current = ctx.sign(Request(op))
        self.issued += 1
        self.votes = {}
        self.views = {}
        self.deadline = ctx.round + self.timeout
        ctx.multicast(self.replicas, self.current)
        self.meter.want(ctx)
        ctx.output("submit", req=op_label(self.me, op))


def batch_label(requests: tuple[Signed, ...]) -> str:
    """``client:ts:arg`` labels of a batch, comma-separated; ``null`` for an empty one."""
    if not requests:
        return "null"
    return ",".join(op_label(r.signer, r.payload.op) for r in requests)


# -- properties ---------------------------------------------------------------------------


def gst(record: RunRecord) -> int:
    return record.network.gst if record.network.model == "partial-synchrony" else 0


def delta(record: RunRecord) -> int:
    return record.network.delta if record.network.model != "synchronous" else 0


def _commits(record: RunRecord, n: int) -> list[Output]:
    buggy = {b.node for b in record.bugs}
    honest = {i for i in range(n) if i not in record.corrupted and i not in buggy}
    return [o for o in record.outputs_named("commit") if o.node in honest]


def _requests(record: RunRecord) -> tuple[dict[str, Output], dict[str, Output]]:
    correct = record.correct
    submitted = {o.data["req"]: o for o in record.outputs_named("submit") if o.node in correct}
    accepted = {o.data["req"]: o for o in record.outputs_named("accept") if o.node in correct}
    return submitted, accepted


def smr_properties(p: Params, bound: Callable[[int], int]) -> list[Property]:
    """Agreement, validity, liveness-after-gst (``bound(delta)`` rounds) and the service's."""
    n = int(p["n"])

    def agreement(record: RunRecord) -> Verdict:
        by_seq: dict[int, dict[str, Output]] = {}
        for o in _commits(record, n):
            by_seq.setdefault(o.data["seq"], {}).setdefault(o.data["digest"], o)
        for seq in sorted(by_seq):
            versions = by_seq[seq]
            if len(versions) > 1:
                a, b = sorted(versions.values(), key=lambda o: (o.node, o.round))[:2]
                return Verdict.violated(
                    f"log position {seq}: replicas {a.node} and {b.node} disagree: replica "
                    f"{a.node} executed {a.data['req']} in round {a.round}, replica "
                    f"{b.node} executed {b.data['req']} in round {b.round}"
                )
        if not by_seq:
            return Verdict.vacuous("no correct replica executed anything")
        return Verdict.ok()

    def validity(record: RunRecord) -> Verdict:
        submitted = {o.data["req"] for o in record.outputs_named("submit")}
        for o in _commits(record, n):
            if o.data["req"] == "null":
                continue
            for label in o.data["req"].split(","):
                client = int(label.split(":", 1)[0])
                if client in record.corrupted or label in submitted:
                    continue
                return Verdict.violated(
                    f"replica {o.node} executed request {label} at log position "
                    f"{o.data['seq']} in round {o.round}, which client {client} never submitted"
                )
        return Verdict.ok()

    def liveness(record: RunRecord) -> Verdict:
        start = gst(record)
        limit = bound(delta(record))
        submitted, accepted = _requests(record)
        judged = 0
        for label, sub in sorted(submitted.items(), key=lambda kv: (kv[1].round, kv[1].node)):
            deadline = max(sub.round, start) + limit
            acc = accepted.get(label)
            if acc is not None and acc.round <= deadline:
                judged += 1
                continue
            if deadline >= record.rounds:
                continue
            when = (
                "was never answered" if acc is None else f"was answered only in round {acc.round}"
            )
            return Verdict.violated(
                f"client {sub.node}'s request {label} submitted in round {sub.round} {when}; "
                f"the deadline was round {deadline} ({limit} rounds after "
                f"max(submission, GST={start}))"
            )
        if not judged:
            return Verdict.vacuous("no correct client's request could be judged within the run")
        return Verdict.ok(f"{judged} requests answered within {limit} rounds")

    return [
        Property(
            "agreement",
            "safety",
            "correct replicas' executed logs are prefixes of one another",
            agreement,
        ),
        Property(
            "validity", "safety", "only requests that clients submitted are executed", validity
        ),
        *service_properties(p, availability_guaranteed=False),
        Property(
            "liveness-after-gst",
            "liveness",
            "every correct client's request is answered within a bound derived from the timers",
            liveness,
        ),
    ]


def _distinct(commits: Iterable[Output]) -> set[str]:
    out: set[str] = set()
    for o in commits:
        if o.data["req"] != "null":
            out.update(o.data["req"].split(","))
    return out


def smr_metrics(
    record: RunRecord,
    p: Params,
    *,
    normal_kinds: tuple[str, ...],
    view_change_messages: int,
    formula: int,
    bound: int,
) -> dict[str, float | None]:
    """The metrics PBFT reports, computed the same way, plus messages per view change.

    ``normal_kinds`` are the message kinds of the normal case (divided by requests
    executed); ``view_change_messages`` counts the messages sent because a view
    failed, divided by the number of views entered on a timeout (``view-change``
    outputs).
    """
    n = int(p["n"])
    committed = len(_distinct(_commits(record, n)))
    normal = record.messages_of(*normal_kinds)
    submitted, accepted = _requests(record)
    latencies = [
        accepted[label].round - sub.round for label, sub in submitted.items() if label in accepted
    ]
    start = gst(record)
    open_requests = any(label not in accepted for label in submitted)
    last = max((o.round for o in accepted.values()), default=start)
    end = record.rounds if open_requests else max(last + 1, start + 1)
    count = sum(1 for o in accepted.values() if start <= o.round < end)
    changes = sorted({o.data["view"] for o in record.outputs_named("view-change")})
    vc_messages = view_change_messages
    out = service_metrics(record, p)
    out.update(
        {
            "committed": committed,
            "messages_per_request": None if not committed else round(normal / committed, 3),
            "messages_per_request_formula": formula,
            "throughput": round(count / (end - start), 4) if end > start else None,
            "view": max((o.data["view"] for o in record.outputs_named("new-view")), default=0),
            "view_changes": len(changes),
            "view_change_messages": vc_messages,
            "messages_per_view_change": round(vc_messages / len(changes), 3) if changes else None,
            "latency_mean": round(sum(latencies) / len(latencies), 2) if latencies else None,
            "latency_max": max(latencies, default=None),
            "liveness_bound": bound,
        }
    )
    return out
