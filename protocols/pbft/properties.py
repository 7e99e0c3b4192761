"""What PBFT promises, checked on a run record: properties and metrics.

Replicas emit ``commit`` (seq, req, digest) as they execute each sequence
number, ``view-change`` and ``new-view``; clients emit ``submit`` (req) when
they issue a request and ``accept`` (req, result) when f+1 matching replies
arrive. ``req`` labels are ``client:ts:arg`` (``!`` marks a poison), ``null``
for the null request.

* ``agreement`` (safety): correct replicas' executed logs are prefixes of one
  another: no two replicas that were never corrupted commit different requests
  at one sequence number, and each one's log has no gap: it executes 1, 2, 3,
  ... in order, continuing after the number of any state it installed by state
  transfer (``state-transfer`` output), and from 1 again after a restart (a
  fresh replica). The witness names the sequence number, the replicas and what
  each committed, or the replica, the number it executed and the one it
  skipped.
* ``validity`` (safety): every request committed in an honest client's name is
  one that client submitted.
* ``liveness-after-gst`` (liveness, bounded response): every request of a
  correct client (never corrupted, never down) is answered by round
  max(submitted, GST) + B. B is ``liveness_bound`` or, by default,
  timeout + sum_{i=0..f} (view_timeout * 2^i + 2(delta+1)) + 6(delta+1): the
  client's retransmission timeout, then up to f+1 view changes with doubling
  timeouts (the next f primaries may all be faulty), each a timer plus a
  VIEW-CHANGE and a NEW-VIEW hop, then the five hops of the normal case, every
  hop taking at most delta+1 rounds after GST. Requests whose deadline falls
  after the run are not judged.
* ``throughput-floor`` (liveness): requests accepted by correct clients per
  round, from GST until the last request was answered (or the end of the run
  if some request is still open), is at least ``throughput_fraction`` of the
  fault-free rate. The baseline is ``baseline_rate`` if given, otherwise the
  closed-loop fault-free formula C / (4 + 1/rate) for the C correct clients
  (never corrupted, never down): each has one
  request outstanding, a request takes 5 rounds from issue to acceptance in the
  fault-free lockstep run, and an idle client waits 1/rate - 1 rounds on
  average before its next request. It is the property a slow primary violates
  while liveness still holds.
* ``reply-correct`` and ``recovers`` are the service family's shared ones;
  ``recovers`` (an availability level) is an expectation here, not a guarantee:
  PBFT promises an answer within a bound after GST (``liveness-after-gst``).
"""

from __future__ import annotations

from collections.abc import Iterable

from bft.core.properties import Property, Verdict
from bft.core.protocol import Params
from bft.core.record import Output, RunRecord
from bft.protocols.service import service_metrics, service_properties

NORMAL_CASE_HOPS = 5


def faults(p: Params) -> int:
    return (int(p["n"]) - 1) // 3 if p.get("f") is None else int(p["f"])


def message_formula(n: int) -> int:
    """PBFT's normal-case messages per request without batching: n-1 PRE-PREPAREs,
    (n-1)^2 PREPAREs (each backup to the n-1 others), n(n-1) COMMITs and n REPLYs."""
    return (n - 1) + (n - 1) ** 2 + n * (n - 1) + n


def liveness_bound(p: Params, delta: int) -> int:
    if p.get("liveness_bound") is not None:
        return int(p["liveness_bound"])
    hop = delta + 1
    changes = sum(p["view_timeout"] * 2**i + 2 * hop for i in range(faults(p) + 1))
    return int(p["timeout"] + changes + (NORMAL_CASE_HOPS + 1) * hop)


def baseline_rate(p: Params, clients: int | None = None) -> float:
    """Fault-free requests answered per round for ``clients`` correct clients (default all)."""
    if p.get("baseline_rate") is not None:
        return float(p["baseline_rate"])
    count = p["clients"] if clients is None else clients
    return count / (NORMAL_CASE_HOPS - 1 + 1 / p["rate"])


def _correct_clients(record: RunRecord) -> int:
    return len(set(record.nodes_with_role("client")) & record.correct)


def _gst(record: RunRecord) -> int:
    return record.network.gst if record.network.model == "partial-synchrony" else 0


def _delta(record: RunRecord) -> int:
    return record.network.delta if record.network.model != "synchronous" else 0


def _honest_replicas(record: RunRecord, n: int) -> set[int]:
    buggy = {b.node for b in record.bugs}
    return {i for i in range(n) if i not in record.corrupted and i not in buggy}


def _commits(record: RunRecord, n: int) -> list[Output]:
    honest = _honest_replicas(record, n)
    return [o for o in record.outputs_named("commit") if o.node in honest]


def _broken_log(record: RunRecord, n: int) -> str | None:
    """The first place a correct replica's executed log is not 1, 2, 3, ... (or None).

    A replica executes sequence numbers in order; a state transfer installs the
    state at a checkpoint's number (``state-transfer``: the log continues after
    it), and a restart starts a fresh replica (its log begins again).
    """
    honest = _honest_replicas(record, n)
    restarts: dict[int, list[int]] = {}
    for e in record.events_of("restart"):
        if e.node is not None:
            restarts.setdefault(e.node, []).append(e.round)
    expected: dict[int, int] = {}  # replica -> the next sequence number it may execute
    last: dict[int, Output] = {}  # replica -> the last commit or state transfer it output
    for o in record.outputs:
        if o.node not in honest or o.name not in ("commit", "state-transfer"):
            continue
        pending = restarts.get(o.node)
        while pending and pending[0] <= o.round:
            pending.pop(0)
            expected[o.node] = 1
            last.pop(o.node, None)
        seq = o.data["seq"]
        if o.name == "state-transfer":
            expected[o.node] = seq + 1
            last[o.node] = o
            continue
        want = expected.get(o.node, 1)
        if seq != want:
            return _gap_witness(o, want, last.get(o.node))
        expected[o.node] = seq + 1
        last[o.node] = o
    return None


def _gap_witness(commit: Output, want: int, before: Output | None) -> str:
    seq = commit.data["seq"]
    if before is None:
        after = "as the first number it executed"
    elif before.name == "state-transfer":
        after = f"after installing the state at {before.data['seq']} in round {before.round}"
    else:
        after = f"after executing {before.data['seq']} in round {before.round}"
    if seq > want:
        missing = f"{want}" if seq == want + 1 else f"{want}..{seq - 1}"
        what = f"its executed log skips {missing}"
    else:
        what = f"its executed log goes back from {want - 1} to {seq}"
    return (
        f"replica {commit.node} executed sequence number {seq} (request {commit.data['req']}) "
        f"in round {commit.round} {after}: {what}, so it is not a prefix of the other logs"
    )


def _client_of(label: str) -> int:
    return int(label.split(":", 1)[0])


def _requests(record: RunRecord) -> tuple[dict[str, Output], dict[str, Output]]:
    """Correct clients' submitted and accepted requests, by label."""
    correct = record.correct
    submitted = {o.data["req"]: o for o in record.outputs_named("submit") if o.node in correct}
    accepted = {o.data["req"]: o for o in record.outputs_named("accept") if o.node in correct}
    return submitted, accepted


def _throughput_window(record: RunRecord) -> tuple[int, int, int]:
    """(start, end, requests accepted in [start, end)) for correct clients."""
    submitted, accepted = _requests(record)
    start = _gst(record)
    open_requests = any(label not in accepted for label in submitted)
    last = max((o.round for o in accepted.values()), default=start)
    end = record.rounds if open_requests else max(last + 1, start + 1)
    count = sum(1 for o in accepted.values() if start <= o.round < end)
    return start, end, count


def pbft_properties(p: Params) -> list[Property]:
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
                    f"sequence number {seq}: replicas {a.node} and {b.node} disagree: replica "
                    f"{a.node} committed request {a.data['req']} in round {a.round}, replica "
                    f"{b.node} committed request {b.data['req']} in round {b.round}"
                )
        if not by_seq:
            return Verdict.vacuous("no correct replica committed anything")
        broken = _broken_log(record, n)
        if broken:
            return Verdict.violated(broken)
        return Verdict.ok()

    def validity(record: RunRecord) -> Verdict:
        submitted = {o.data["req"] for o in record.outputs_named("submit")}
        for o in _commits(record, n):
            if o.data["req"] == "null":
                continue
            for label in o.data["req"].split(","):
                if _client_of(label) in record.corrupted or label in submitted:
                    continue
                return Verdict.violated(
                    f"replica {o.node} committed request {label} at sequence number "
                    f"{o.data['seq']} in round {o.round}, which client {_client_of(label)} "
                    "never submitted"
                )
        return Verdict.ok()

    def liveness(record: RunRecord) -> Verdict:
        gst = _gst(record)
        bound = liveness_bound(p, _delta(record))
        submitted, accepted = _requests(record)
        judged = 0
        for label, sub in sorted(submitted.items(), key=lambda kv: (kv[1].round, kv[1].node)):
            deadline = max(sub.round, gst) + bound
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
                f"the deadline was round {deadline} ({bound} rounds after max(submission, GST={gst}))"
            )
        if not judged:
            return Verdict.vacuous("no correct client's request could be judged within the run")
        return Verdict.ok(f"{judged} requests answered within {bound} rounds")

    def throughput(record: RunRecord) -> Verdict:
        start, end, count = _throughput_window(record)
        baseline = baseline_rate(p, _correct_clients(record))
        fraction = p["throughput_fraction"]
        length = end - start
        if length <= 0 or baseline <= 0:
            return Verdict.vacuous("no rounds after GST to measure throughput in")
        rate = count / length
        if rate < fraction * baseline:
            return Verdict.violated(
                f"correct clients had {count} requests answered in rounds {start}..{end - 1}: "
                f"{rate:.3f} per round, below {fraction:.0%} of the fault-free "
                f"{baseline:.3f} per round"
            )
        return Verdict.ok(f"{rate:.3f} requests per round ({rate / baseline:.0%} of fault-free)")

    shared = service_properties(p, availability_guaranteed=False)
    return [
        Property(
            "agreement",
            "safety",
            "correct replicas' committed logs are prefixes of one another",
            agreement,
        ),
        Property(
            "validity",
            "safety",
            "only requests that clients submitted are committed",
            validity,
        ),
        *shared,
        Property(
            "liveness-after-gst",
            "liveness",
            "every correct client's request is answered within a stated bound after GST",
            liveness,
        ),
        Property(
            "throughput-floor",
            "liveness",
            f"requests answered per round stay above {p['throughput_fraction']:.0%} of the "
            "fault-free rate",
            throughput,
            guaranteed=False,  # a slow primary within f can always undercut it (Aardvark)
        ),
    ]


def _distinct_requests(commits: Iterable[Output]) -> set[str]:
    out: set[str] = set()
    for o in commits:
        if o.data["req"] != "null":
            out.update(o.data["req"].split(","))
    return out


def pbft_metrics(record: RunRecord, p: Params) -> dict[str, float | None]:
    n = int(p["n"])
    committed = len(_distinct_requests(_commits(record, n)))
    normal = record.messages_of("pre-prepare", "prepare", "commit", "reply")
    views = [o.data["view"] for o in record.outputs_named("new-view")]
    submitted, accepted = _requests(record)
    latencies = [
        accepted[label].round - sub.round for label, sub in submitted.items() if label in accepted
    ]
    start, end, count = _throughput_window(record)
    out = service_metrics(record, p)
    out.update(
        {
            "committed": committed,
            "messages_per_request": None if not committed else round(normal / committed, 3),
            "messages_per_request_formula": message_formula(n),
            "throughput": round(count / (end - start), 4) if end > start else None,
            "baseline_rate": round(baseline_rate(p, _correct_clients(record)), 4),
            "view": max(views, default=0),
            "view_changes": len(set(views)),
            # VIEW-CHANGE and NEW-VIEW messages per view started: quadratic in n
            # (HotStuff's view change, one NEW-VIEW per replica to the leader, is linear)
            "messages_per_view_change": round(
                record.messages_of("view-change", "new-view") / len(set(views)), 3
            )
            if views
            else None,
            "state_transfers": sum(1 for _ in record.outputs_named("state-transfer")),
            "latency_mean": round(sum(latencies) / len(latencies), 2) if latencies else None,
            "latency_max": max(latencies, default=None),
            "liveness_bound": liveness_bound(p, _delta(record)),
        }
    )
    return out
