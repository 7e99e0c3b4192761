"""What gossip-health's own mechanisms promise: justified quarantines and guided failover.

Theory of operation. Besides the family's promises (``bft.protocols.service_promises``)
and the detector's (``bft.protocols.swim.analysis``), gossip-health makes two:

* ``quarantine-justified`` (safety): a quarantine falls only on requests and
  clients correlated with real server deaths. Servers emit ``announce``
  (client, fingerprint) for every request they announce to watchers before
  running it, watchers emit ``attribute`` (server, client, fingerprint) when a
  watched server did not answer in time, servers emit ``quarantine`` (client
  or fingerprint, and the servers it rests on), and clients emit ``refused``
  (server, seq, fingerprint) when a server refuses their request. The
  property checks each against the engine's record of who was down when:
  every attribution names a request the server announced and a server that
  went down between the announcement and the attribution; every quarantine
  rests on at least ``quarantine_k`` such servers; every refusal an honest
  client receives follows a quarantine of that client or of that request.
  A watcher's missing ack is taken as a death, so under message loss an
  innocent request can be correlated by design: the property is judged only
  when no message was dropped or delayed.
* ``failover-guided`` (safety): when a client gives up on a server it fails
  over to one its view holds alive and that it has not given up on in the
  last ``avoid_rounds`` rounds (the hysteresis that keeps it from returning
  to a server SWIM has not yet suspected); when no server is both, to one it
  does not avoid; only when it avoids them all, to any. Judged from the
  clients' ``backoff`` outputs (which carry the view); the avoid windows are
  recounted from the outputs themselves.
"""

from __future__ import annotations

from collections.abc import Iterable

from bft.core.properties import Property, Verdict
from bft.core.protocol import Params
from bft.core.record import RunRecord
from bft.protocols.service_promises import backoffs


def _servers(mask: Iterable[int]) -> str:
    items = sorted(mask)
    return "none" if not items else ", ".join(map(str, items))


def quarantine_justified(record: RunRecord, p: Params) -> Verdict:
    servers, k = int(p["n"]), int(p["quarantine_k"])
    honest = record.honest
    if record.dropped or record.delayed:
        return Verdict.vacuous(
            f"messages were dropped ({record.dropped}) or delayed ({record.delayed}): a lost "
            "watch ack correlates a live server by design"
        )
    announces: dict[int, list[tuple[int, int, int]]] = {}  # server -> [(round, client, fp)]
    requests: dict[int, set[int]] = {}  # client -> fingerprints announced for it
    for o in record.outputs_named("announce"):
        if o.node < servers:
            c, fp = o.data["client"], o.data["fingerprint"]
            announces.setdefault(o.node, []).append((o.round, c, fp))
            requests.setdefault(c, set()).add(fp)
    down = [frozenset(d) for d in record.down]

    def death(server: int, until: int, client: int | None, fp: int | None) -> str | None:
        """Why no death of ``server`` by ``until`` is correlated with the request (None: one is)."""
        matching = [
            a
            for a, c, f in announces.get(server, ())
            if a <= until and (client is None or c == client) and (fp is None or f == fp)
        ]
        if not matching:
            what = f"a request of client {client}" if fp is None else f"request {fp:x}"
            return f"server {server} never announced {what}"
        for a in matching:
            if any(server in down[r] for r in range(a, min(until, len(down) - 1) + 1)):
                return None
        return (
            f"server {server} announced it in round {matching[-1]} and did not go down "
            f"between then and round {until}"
        )

    judged = 0
    for o in record.outputs_named("attribute"):
        if o.node not in honest:
            continue
        judged += 1
        d = o.data
        why = death(d["server"], o.round, d["client"], d["fingerprint"])
        if why is not None:
            return Verdict.violated(
                f"server {o.node} attributed the death of server {d['server']} to client "
                f"{d['client']}'s request {d['fingerprint']:x} in round {o.round}, but {why}"
            )
    quarantined_clients: dict[int | None, int] = {}  # (None: an output naming no client)
    quarantined_requests: dict[int, int] = {}
    for o in record.outputs_named("quarantine"):
        if o.node not in honest:
            continue
        judged += 1
        d = o.data
        client, fp = d.get("client"), d.get("fingerprint")
        what = f"client {client}" if fp is None else f"request {fp:x}"
        rests = d["servers"]
        if len(rests) < k:
            return Verdict.violated(
                f"server {o.node} quarantined {what} in round {o.round} on the deaths of "
                f"{len(rests)} server(s) ({_servers(rests)}); it takes quarantine_k={k}"
            )
        for s in rests:
            why = death(s, o.round, client if fp is None else None, fp)
            if why is not None:
                return Verdict.violated(
                    f"server {o.node} quarantined {what} in round {o.round} on the deaths of "
                    f"servers {_servers(rests)}, but {why}"
                )
        if fp is None:
            quarantined_clients.setdefault(client, o.round)
        else:
            quarantined_requests.setdefault(fp, o.round)
    for o in record.outputs_named("refused"):
        if o.node in record.corrupted:
            continue
        judged += 1
        c, fp = o.node, o.data["fingerprint"]
        if quarantined_clients.get(c, o.round) < o.round:
            continue
        if fp in requests.get(c, ()) and quarantined_requests.get(fp, o.round) < o.round:
            continue
        return Verdict.violated(
            f"server {o.data['server']} refused client {c}'s request seq {o.data['seq']} as "
            f"quarantined (fingerprint {fp if fp is None else format(fp, 'x')}) in round "
            f"{o.round}, but no server had quarantined client {c} or that request"
        )
    if not judged:
        return Verdict.vacuous("no server death was attributed and nobody was quarantined")
    return Verdict.ok()


def failover_guided(record: RunRecord, p: Params) -> Verdict:
    servers, avoid = int(p["n"]), int(p["avoid_rounds"])
    restarts: dict[int, list[int]] = {}
    for e in record.events_of("restart"):
        if e.node is not None:
            restarts.setdefault(e.node, []).append(e.round)
    avoided: dict[int, dict[int, int]] = {}  # client -> server -> the round it gave up on it
    previous: dict[int, int] = {}  # client -> round of its previous backoff
    judged = 0
    for b in backoffs(record, float(p["base"]), float(p["cap"])):
        if b.busy:
            continue  # a busy server is alive: the client retries it
        c, now = b.client, b.round
        gave_up = avoided.setdefault(c, {})
        if any(previous.get(c, -1) < r <= now for r in restarts.get(c, ())):
            gave_up.clear()  # a restarted client remembers nothing
        previous[c] = now
        gave_up[b.server] = now
        active = {s: r for s, r in gave_up.items() if r + avoid > now}
        judged += 1
        if len(active) >= servers:
            continue  # avoids them all: any server will do
        if b.to in active:
            return Verdict.violated(
                f"client {c} gave up on server {b.server} in round {now} and failed over to "
                f"server {b.to}, which it had given up on in round {active[b.to]} and must "
                f"avoid until round {active[b.to] + avoid} (avoid_rounds={avoid}), though "
                f"{servers - len(active)} server(s) were not avoided"
            )
        view = b.view if isinstance(b.view, int) else 0
        live = [s for s in range(servers) if view >> s & 1 and s not in active]
        if live and b.to not in live:
            return Verdict.violated(
                f"client {c} gave up on server {b.server} in round {now} and failed over to "
                f"server {b.to}, which its view did not hold alive, though it held servers "
                f"{_servers(live)} alive and did not avoid them"
            )
    if not judged:
        return Verdict.vacuous("no client gave up on a server")
    return Verdict.ok()


def health_properties(p: Params) -> list[Property]:
    return [
        Property(
            "quarantine-justified",
            "safety",
            "every attribution names a request the server announced and a server that went "
            f"down after announcing it; every quarantine rests on quarantine_k={p['quarantine_k']} "
            "such deaths; every refused honest client was quarantined (judged without loss)",
            lambda record: quarantine_justified(record, p),
        ),
        Property(
            "failover-guided",
            "safety",
            "a client that gives up on a server fails over to one its view holds alive and that "
            f"it has not given up on in the last avoid_rounds={p['avoid_rounds']} rounds "
            "(when there is one)",
            lambda record: failover_guided(record, p),
        ),
    ]
