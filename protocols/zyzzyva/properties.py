"""What Zyzzyva promises, checked on a run record: properties and metrics.

Outputs. Replicas emit ``spec-exec`` (seq, view, history, prev, req) for every
request they execute speculatively (again after a view change rolls them
back), ``commit`` (seq, history, req) as a commit certificate commits their
history, ``suspect``, ``view-change`` and ``new-view`` (view, primary, length,
history: the history a replica started the view with). Clients emit
``submit`` (req) and ``accept`` (req, result, path, view, seq, history) when a
request *completes*. ``history`` values are the hex of h_seq, so the request
at every sequence number of a history can be read back from the ``spec-exec``
outputs of honest replicas (a hash names one request sequence).

* ``agreement`` (safety). What a client completed stays: Zyzzyva's safety
  condition ("if a request with sequence number n and history h_n completes,
  any request that completes with a higher sequence number has a history that
  extends h_n") together with the replica side of it. Violated when (1) a
  correct replica starts a view with a history that lacks or replaces a
  request a correct client completed before, (2) two correct clients complete
  requests whose histories diverge, or (3) two honest replicas commit
  different histories at one sequence number. The witness names the clients,
  replicas, rounds, views and requests. This is exactly what the published
  view change breaks (``docs/known-bugs.md``).
* ``validity`` (safety): every request an honest replica executed or committed in
  an honest client's name is one that client submitted.
* ``liveness-after-gst`` (liveness, bounded response): every request of a
  correct client (never corrupted, never down) completes by round
  max(submitted, GST) + B, where B is ``liveness_bound`` or, by default,
  timeout + spec_timeout + 2 view_timeout + sum_{i=0..f} (view_timeout 2^i + 4 hops)
  + 8 hops, each hop delta+1 rounds after GST: the client's retransmission
  timeout; a backup's timer on the forwarded request (one more view_timeout for
  a complaint lost before GST to be repeated); up to f+1 view changes (the next
  f primaries may be faulty), each a doubling new-view timer plus the
  I-HATE-THE-PRIMARY, VIEW-CHANGE, NEW-VIEW and VIEW-CONFIRM hops; then the
  request's own path: retransmission, forward, order-req, spec-response, the
  spec timer, COMMIT and LOCAL-COMMIT. Requests whose deadline falls after the
  run are not judged.
* ``reply-correct`` and ``recovers`` are the service family's shared ones.

Metrics comparable with PBFT's: ``messages_per_request`` counts the ordering
messages (order-req, spec-response, commit, local-commit) per completed request,
as PBFT's counts pre-prepare, prepare, commit and reply (client requests are
left out of both): 2n-1 on the fast path (``fast_path_formula``: n-1 order-reqs,
n spec-responses; 7 at n=4 against PBFT's 28), 4n-3 on the slow path with one
silent backup (``slow_path_formula``: n-1 order-reqs, n-1 spec-responses, n
commits, n-1 local-commits). ``latency_mean``/``latency_max`` are rounds from
submission to completion (3 on the fast path, PBFT's 5 less one round trip),
``completed_fast`` and ``completed_slow`` count the two paths.
"""

from __future__ import annotations

from bft.core.properties import Property, Verdict
from bft.core.protocol import Params
from bft.core.record import Output, RunRecord
from bft.protocols.service import service_metrics, service_properties

FAST_PATH_ROUNDS = 3
NORMAL_KINDS = ("order-req", "spec-response", "commit", "local-commit")


def faults(p: Params) -> int:
    return (int(p["n"]) - 1) // 3 if p.get("f") is None else int(p["f"])


def fast_path_formula(n: int) -> int:
    """Fast path: n-1 order-reqs + n spec-responses."""
    return 2 * n - 1


def slow_path_formula(n: int) -> int:
    """Slow path with one silent backup: (n-1) + (n-1) + n + (n-1)."""
    return 4 * n - 3


def liveness_bound(p: Params, delta: int) -> int:
    if p.get("liveness_bound") is not None:
        return int(p["liveness_bound"])
    hop = delta + 1
    vt = p["view_timeout"]
    changes = sum(vt * 2**i + 4 * hop for i in range(faults(p) + 1))
    return int(p["timeout"] + p["spec_timeout"] + 2 * vt + changes + 8 * hop)


def _gst(record: RunRecord) -> int:
    return record.network.gst if record.network.model == "partial-synchrony" else 0


def _delta(record: RunRecord) -> int:
    return record.network.delta if record.network.model != "synchronous" else 0


def _honest_replicas(record: RunRecord, n: int) -> set[int]:
    buggy = {b.node for b in record.bugs}
    return {i for i in range(n) if i not in record.corrupted and i not in buggy}


def _replica_outputs(record: RunRecord, n: int, name: str) -> list[Output]:
    honest = _honest_replicas(record, n)
    return [o for o in record.outputs_named(name) if o.node in honest]


def _requests(record: RunRecord) -> tuple[dict[str, Output], dict[str, Output]]:
    """Correct clients' submitted and completed requests, by label."""
    correct = record.correct
    submitted = {o.data["req"]: o for o in record.outputs_named("submit") if o.node in correct}
    accepted = {o.data["req"]: o for o in record.outputs_named("accept") if o.node in correct}
    return submitted, accepted


class Histories:
    """Reads histories back from honest replicas' ``spec-exec`` outputs."""

    def __init__(self, record: RunRecord, n: int) -> None:
        self.links: dict[str, tuple[str, int, str]] = {}  # history -> (prev, seq, req)
        for o in _replica_outputs(record, n, "spec-exec"):
            self.links.setdefault(o.data["history"], (o.data["prev"], o.data["seq"], o.data["req"]))

    def at(self, history: str, seq: int) -> tuple[str, str] | None:
        """(h_seq, request at seq) of the history named by ``history``, if known."""
        while True:
            link = self.links.get(history)
            if link is None:
                return None
            prev, s, req = link
            if s == seq:
                return history, req
            if s < seq:
                return None
            history = prev


def _completion(o: Output) -> str:
    d = o.data
    return (
        f"client {o.node} completed request {d['req']} at sequence number {d['seq']} in round "
        f"{o.round} ({d['path']} path, view {d['view']})"
    )


def _lost_by_new_view(record: RunRecord, n: int, hist: Histories) -> tuple[int, str] | None:
    """A request completed in view w must be in every history a later view starts with.

    (No matter in which round a replica starts that view: 2f+1 replicas took part in
    the completion and 2f+1 view-changes built the later view, so at least one correct
    replica did both, the first before the second.)"""
    _, accepted = _requests(record)
    done = sorted(accepted.values(), key=lambda o: (o.round, o.node))
    for nv in sorted(_replica_outputs(record, n, "new-view"), key=lambda o: (o.round, o.node)):
        for c in done:
            if c.data["view"] >= nv.data["view"]:
                continue
            seq = c.data["seq"]
            what = f"replica {nv.node} started view {nv.data['view']} in round {nv.round}"
            if nv.data["length"] < seq:
                return nv.round, (
                    f"{_completion(c)}, but {what} with a history of {nv.data['length']} "
                    "requests: the completed request was lost"
                )
            there = hist.at(nv.data["history"], seq)
            if there is not None and there[0] != c.data["history"]:
                return nv.round, (
                    f"{_completion(c)}, but {what} with request {there[1]} at sequence number "
                    f"{seq} instead: the completed request was replaced"
                )
    return None


def _diverging_completions(record: RunRecord, hist: Histories) -> tuple[int, str] | None:
    """Completions in round order must extend one another: keep the longest completed
    history so far (h_seq by seq, and the completion that showed it) and check each
    new completion against it."""
    _, accepted = _requests(record)
    known: dict[int, tuple[str, Output]] = {}
    top = 0
    for c in sorted(accepted.values(), key=lambda o: (o.round, o.node)):
        seq, history = c.data["seq"], c.data["history"]
        low = min(seq, top)
        if low and low in known:
            there = hist.at(history, low) if seq > low else (history, c.data["req"])
            mine, witness = known[low]
            if there is not None and there[0] != mine:
                return c.round, (
                    f"{_completion(witness)}; {_completion(c)}: the two histories differ "
                    f"at sequence number {low}"
                )
        if seq > top:
            walk: str | None = history
            for s in range(seq, top, -1):
                if walk is None:
                    break
                known[s] = (walk, c)
                link = hist.links.get(walk)
                walk = link[0] if link is not None and link[1] == s else None
            top = seq
    return None


def _diverging_commits(record: RunRecord, n: int) -> tuple[int, str] | None:
    first: dict[int, Output] = {}
    for o in sorted(_replica_outputs(record, n, "commit"), key=lambda o: (o.round, o.node)):
        seen = first.setdefault(o.data["seq"], o)
        if seen.data["history"] != o.data["history"]:
            return o.round, (
                f"sequence number {o.data['seq']}: replica {seen.node} committed request "
                f"{seen.data['req']} in round {seen.round}, replica {o.node} committed request "
                f"{o.data['req']} in round {o.round}"
            )
    return None


def zyzzyva_properties(p: Params) -> list[Property]:
    n = int(p["n"])

    def agreement(record: RunRecord) -> Verdict:
        hist = Histories(record, n)
        found = [
            v
            for v in (
                _lost_by_new_view(record, n, hist),
                _diverging_completions(record, hist),
                _diverging_commits(record, n),
            )
            if v is not None
        ]
        if found:
            return Verdict.violated(min(found)[1])
        if not any(True for _ in record.outputs_named("accept")):
            return Verdict.vacuous("no client completed a request")
        return Verdict.ok()

    def validity(record: RunRecord) -> Verdict:
        submitted = {o.data["req"] for o in record.outputs_named("submit")}
        for name in ("spec-exec", "commit"):
            for o in _replica_outputs(record, n, name):
                label = o.data["req"]
                client = int(label.split(":", 1)[0])
                if client in record.corrupted or label in submitted:
                    continue
                return Verdict.violated(
                    f"replica {o.node} executed request {label} at sequence number "
                    f"{o.data['seq']} in round {o.round}, which client {client} never submitted"
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
            when = "never completed" if acc is None else f"completed only in round {acc.round}"
            return Verdict.violated(
                f"client {sub.node}'s request {label} submitted in round {sub.round} {when}; "
                f"the deadline was round {deadline} ({bound} rounds after max(submission, GST={gst}))"
            )
        if not judged:
            return Verdict.vacuous("no correct client's request could be judged within the run")
        return Verdict.ok(f"{judged} requests completed within {bound} rounds")

    return [
        Property(
            "agreement",
            "safety",
            "no request a correct client completed is lost or replaced, and completed "
            "histories extend one another",
            agreement,
        ),
        Property(
            "validity",
            "safety",
            "only requests that clients submitted are executed",
            validity,
        ),
        *service_properties(p, availability_guaranteed=False),
        Property(
            "liveness-after-gst",
            "liveness",
            "every correct client's request completes within a stated bound after GST",
            liveness,
        ),
    ]


def zyzzyva_metrics(record: RunRecord, p: Params) -> dict[str, float | None]:
    n = int(p["n"])
    submitted, accepted = _requests(record)
    completed = len(accepted)
    fast = sum(1 for o in accepted.values() if o.data["path"] == "fast")
    normal = record.messages_of(*NORMAL_KINDS)
    views = [o.data["view"] for o in record.outputs_named("new-view")]
    latencies = [
        accepted[label].round - sub.round for label, sub in submitted.items() if label in accepted
    ]
    out = service_metrics(record, p)
    out.update(
        {
            "completed": completed,
            "completed_fast": fast,
            "completed_slow": completed - fast,
            "messages_per_request": None if not completed else round(normal / completed, 3),
            "fast_path_formula": fast_path_formula(n),
            "slow_path_formula": slow_path_formula(n),
            "view": max(views, default=0),
            "view_changes": len(set(views)),
            "suspicions": sum(1 for _ in record.outputs_named("suspect")),
            "fill_holes": record.messages_of("fill-hole"),
            "latency_mean": round(sum(latencies) / len(latencies), 2) if latencies else None,
            "latency_max": max(latencies, default=None),
            "liveness_bound": liveness_bound(p, _delta(record)),
        }
    )
    return out
