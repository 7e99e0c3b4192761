"""The deterministic lockstep engine.

Theory of operation. A run is a pure function of its inputs (protocol and
parameters, adversaries, network model, environment, seed, rounds). Each round
r proceeds in a fixed order:

1. nodes whose down time ends at r come back (overload, freeze, restart);
2. each adversary's ``before_round`` may crash, recover or restart nodes;
3. messages due at r are delivered; those addressed to a down node are lost;
4. every up node runs ``on_round(ctx, inbox)`` in id order; its sends are
   buffered (``out``); a node that executes a poison is frozen and its sends
   of this round are discarded; an honest node that raises is a protocol bug:
   it is recorded and the node stops (fail-stop);
5. overloaded nodes (work above theta * capacity) go down for D rounds;
6. intercepting adversaries see this round's envelopes and act within the
   network model; surviving messages are scheduled for r+1 (or later if
   delayed).

Randomness comes only from RNGs seeded by (seed, node) or (seed, adversary),
iteration is always over lists or sorted ids, never over sets or dicts keyed by
strings, so the trace is byte-identical in any process under any
PYTHONHASHSEED. Messages stay plain ``(src, payload)`` tuples on the fast path;
envelope objects are built only when an adversary intercepts traffic.
"""

from __future__ import annotations

import gc
import hashlib
import random
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from bft.core.adversary import Adversary, Envelope, RoundControl, SetupControl, TrafficControl
from bft.core.crypto import KeyRing, Signed
from bft.core.encoding import kind_of
from bft.core.environment import Environment, Frozen
from bft.core.network import Network
from bft.core.node import BROADCAST, Context, Node
from bft.core.protocol import ProtocolSpec
from bft.core.record import Event, Output, RunRecord
from bft.core.trace import TraceSink

Destination = int | tuple[int, ...]  # a node id, BROADCAST, or a multicast's recipients
_NONE_DOWN: list[int] = []  # shared by every round where all nodes are up; never mutated


def derive_seed(*parts: object) -> int:
    text = ":".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


class _OtherNodes(dict[int, list[int]]):
    """node -> the ids of every other node, built on first use.

    A full table is O(n^2) memory (3 GB at n = 20,000); most large runs (clients
    and servers) never broadcast, and those that do pay O(n) once per sender.
    """

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def __missing__(self, src: int) -> list[int]:
        others = self[src] = [d for d in range(self.n) if d != src]
        return others


class Engine:
    def __init__(
        self,
        protocol: ProtocolSpec,
        params: Mapping[str, Any],
        *,
        seed: int,
        rounds: int,
        network: Network | None = None,
        environment: Environment | None = None,
        adversaries: Sequence[Adversary] = (),
        signatures: str = "real",
        sink: TraceSink | None = None,
    ) -> None:
        self.protocol = protocol
        self.protocol_params = dict(params)
        self.n = n = protocol.node_count(params)
        self.seed = seed
        self.rounds = rounds
        self.network = network or Network()
        self.environment = environment or Environment()
        self.adversaries = list(adversaries)
        self.keys = KeyRing(n, signatures)
        self.sink = sink or TraceSink("summary")
        self.full = self.sink.full
        self.roles = protocol.roles(params)
        self.round = 0

        self.up = [True] * n
        self.down: set[int] = set()
        self.wakeups: dict[int, list[int]] = {}  # round -> nodes whose down time ends then
        self.down_until: list[int | None] = [None] * n
        self.fresh_on_return = [False] * n
        # this round's sends: (src, dst, payload), dst a node id, BROADCAST or a tuple of ids
        self.out: list[tuple[int, Destination, Any]] = []
        self.next_inbox: list[list[tuple[int, Any]]] = [[] for _ in range(n)]
        self.delayed: dict[int, list[tuple[int, int, Any]]] = {}
        self.work: dict[int, float] = {}  # node -> work units this round (only nodes that worked)
        self.round_tallies: dict[str, float] = {}
        self.corrupted: frozenset[int] = frozenset()
        self.crash_budget: dict[Adversary, int] = {}
        self.crashed_by: dict[Adversary, set[int]] = {a: set() for a in self.adversaries}
        self._kinds: dict[type, str] = {}
        self._others = _OtherNodes(n)  # built per broadcaster on first use, not O(n^2)

        variants = self.environment.variants
        self.nodes: list[Node] = [protocol.make_node(i, params) for i in range(n)]
        self.ctxs = [
            Context(
                self,
                i,
                random.Random(derive_seed("bft-rng", seed, i)),
                protocol.variant_of(i, params, variants),
            )
            for i in range(n)
        ]
        self._handlers = [
            node.on_round for node in self.nodes
        ]  # bound once: the hot loop calls these
        self.record = RunRecord(
            n=n,
            rounds=rounds,
            seed=seed,
            params=self.protocol_params,
            roles=self.roles,
            network=self.network,
        )
        self._interceptors = [a for a in self.adversaries if a.intercepts]
        self._adversary_rngs: dict[Adversary, random.Random] = {}

    # -- services used by contexts and controls ------------------------------------------

    def adversary_rng(self, adversary: Adversary) -> random.Random:
        """One RNG stream per adversary for the whole run, shared by all its controls."""
        rng = self._adversary_rngs.get(adversary)
        if rng is None:
            index = self.adversaries.index(adversary) if adversary in self.adversaries else -1
            rng = random.Random(derive_seed("bft-adversary", self.seed, index, adversary.name))
            self._adversary_rngs[adversary] = rng
        return rng

    def is_up(self, node: int) -> bool:
        return self.up[node]

    def emit_output(self, node: int, name: str, data: dict[str, Any]) -> None:
        self.record.outputs.append(Output(self.round, node, name, data))
        self.sink.event(self.round, "output", node=node, name=name, data=data)

    def record_reject(self, node: int, src: int, payload: Any, reason: str) -> None:
        self.record.rejected += 1
        self.sink.event(
            self.round, "reject", node=node, src=src, kind=self._kind(payload), reason=reason
        )

    def record_refused(self, adversary: Adversary, why: str) -> None:
        event = Event(self.round, "refused", None, f"{adversary.name}: {why}")
        self.record.refused.append(event)
        self.sink.event(self.round, "refused", adversary=adversary.name, reason=why)

    def note(self, adversary: Adversary, what: str) -> None:
        self._event("adversary", None, f"{adversary.name}: {what}")

    def _event(self, kind: str, node: int | None, detail: str = "") -> None:
        self.record.events.append(Event(self.round, kind, node, detail))
        self.sink.event(self.round, kind, node=node, detail=detail)

    def corrupt(self, nodes: Sequence[int], adversary: Adversary) -> None:
        new = sorted(set(nodes) - self.corrupted)
        self.corrupted = self.corrupted | frozenset(nodes)
        self.record.corrupted = self.corrupted
        for node in new:
            self._event("corrupt", node, adversary.name)

    def _mark_down(self, node: int, until: int | None) -> None:
        """Stop running ``node``; it comes back at round ``until`` (None: not by itself)."""
        self.up[node] = False
        self.down.add(node)
        self.down_until[node] = until
        if until is not None:
            self.wakeups.setdefault(until, []).append(node)

    def take_down(self, node: int, until: int | None, reason: str) -> None:
        self._mark_down(node, until)
        self._event(reason, node, "" if until is None else f"until round {until}")

    def bring_up(self, node: int, fresh: bool) -> None:
        if self.up[node]:
            return
        self.up[node] = True
        self.down.discard(node)
        self.down_until[node] = None
        if fresh:
            self.nodes[node] = self.protocol.make_node(node, self.protocol_params)
            self._handlers[node] = self.nodes[node].on_round
            self._event("restart", node)
        else:
            self._event("recover", node)
            self._run_guarded(node, lambda: self.nodes[node].on_recover(self.ctxs[node]))

    def restart(self, node: int) -> None:
        self.take_down(node, self.round + 1, "crash")
        self.fresh_on_return[node] = True

    def _kind(self, payload: Any) -> str:
        kind = self._kinds.get(type(payload))
        if kind is not None:
            return kind
        if isinstance(payload, Signed):  # not cached by type: the kind is the payload's
            return self._kind(payload.payload)
        kind = kind_of(payload)
        self._kinds[type(payload)] = kind
        return kind

    # -- the run ---------------------------------------------------------------------

    def run(self) -> RunRecord:
        collect = gc.isenabled()
        gc.disable()  # the cyclic GC costs up to 2x on message-heavy runs; messages form no cycles
        try:
            for adversary in self.adversaries:
                adversary.setup(SetupControl(self, adversary))
            controls = [RoundControl(self, a) for a in self.adversaries]
            ctxs = self.ctxs
            for r in range(self.rounds):
                self.round = r
                for ctx in ctxs:
                    ctx.round = r
                self._round(r, controls)
            pad = self.rounds - len(self.record.peak_work)
            self.record.peak_work.extend([0.0] * pad)
            if not self.full:
                self._summarize()
        finally:
            if collect:
                gc.enable()
            self.sink.close()
        return self.record

    def _round(self, r: int, controls: list[RoundControl]) -> None:
        up = self.up
        waking = self.wakeups.pop(r, None) if self.wakeups else None
        if waking:
            for node in sorted(waking):
                if not up[node] and self.down_until[node] == r:
                    fresh = self.fresh_on_return[node]
                    self.fresh_on_return[node] = False
                    self.bring_up(node, fresh)
        for control in controls:
            control._adversary.before_round(control)

        inboxes = self.next_inbox
        self.next_inbox = [[] for _ in range(self.n)]
        due = self.delayed.pop(r, None) if self.delayed else None
        if due:
            for src, dst, payload in due:
                inboxes[dst].append((src, payload))
        if self.full:
            self._trace_deliveries(r, inboxes)
        out = self.out  # one list for the whole run: contexts append to it directly
        self.round_tallies = {}
        ctxs = self.ctxs
        record = self.record
        if self.down:
            for node in self.down:
                record.lost += len(inboxes[node])
                inboxes[node] = []
        delivered = 0
        handlers = self._handlers
        for node, inbox in enumerate(inboxes):
            if up[node]:
                delivered += len(inbox)
                try:
                    handlers[node](ctxs[node], inbox)
                except Frozen:
                    out[:] = [m for m in out if m[0] != node]  # a frozen node's sends are lost
                    freeze = self.environment.freeze_rounds
                    self.take_down(node, None if freeze == 0 else r + 1 + freeze, "freeze")
                except Exception as exc:  # noqa: BLE001 - a protocol bug, reported as such
                    self._protocol_bug(node, exc)
        record.delivered += delivered

        work = self.work
        if work:
            gap = r - len(record.peak_work)  # rounds in which nobody worked
            if gap:
                record.peak_work.extend([0.0] * gap)
            record.peak_work.append(max(work.values()))
            limit = self.environment.overload_limit
            if limit is not None:
                for node in sorted(work):
                    if work[node] > limit and up[node]:
                        self.take_down(node, r + 1 + self.environment.down_rounds, "overload")
            self.work = {}

        counts: dict[str, int] = {}
        if self._interceptors:
            self._route_intercepted(r, out, counts)
        elif self.full:
            self._route(r, out, counts)
        else:  # the hot path, inlined: plain tuples into next round's inboxes
            nxt, kinds, others, fanout = self.next_inbox, self._kinds, self._others, self.n - 1
            for src, dst, payload in out:
                kind = kinds.get(type(payload)) or self._kind(payload)
                if dst == BROADCAST:
                    item = (src, payload)
                    for d in others[src]:
                        nxt[d].append(item)
                    counts[kind] = counts.get(kind, 0) + fanout
                elif type(dst) is tuple:  # a multicast: one shared delivery tuple
                    item = (src, payload)
                    for d in dst:
                        nxt[d].append(item)
                    counts[kind] = counts.get(kind, 0) + len(dst)
                else:
                    nxt[dst].append((src, payload))
                    counts[kind] = counts.get(kind, 0) + 1
        out.clear()
        record.sent.append(counts)
        record.tallies.append(self.round_tallies)
        record.down.append(sorted(self.down) if self.down else _NONE_DOWN)
        if self.full:
            self.sink.event(
                r,
                "round",
                sent=dict(sorted(counts.items())),
                tallies=dict(sorted(self.round_tallies.items())),
                down=record.down[-1],
            )

    def _summarize(self) -> None:
        """Summary level: per-round counts are hashed once, at the end (one JSON
        encoding of the whole series is far cheaper than one line per round).
        Key order inside each round's counts is the order messages were sent in,
        which is itself deterministic, so no sorting is needed."""
        record = self.record
        self.sink.write(  # already plain data: no per-item encoding needed
            {
                "r": self.rounds,
                "ev": "rounds",
                "sent": record.sent,
                "tallies": record.tallies,
                "down": record.down,
            },
            ordered=True,
        )

    def _run_guarded(self, node: int, action: Any) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001
            self._protocol_bug(node, exc)

    def _protocol_bug(self, node: int, exc: Exception) -> None:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        detail = (
            f"{type(exc).__name__}: {exc} (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})"
        )
        self._mark_down(node, None)  # fail-stop
        if node in self.corrupted:
            self._event("corrupt-node-error", node, detail)
            return
        self.record.bugs.append(Event(self.round, "bug", node, detail))
        self.sink.event(self.round, "bug", node=node, detail=detail)

    def _recipients(self, src: int, dst: Destination) -> Sequence[int]:
        if type(dst) is tuple:
            return dst
        return self._others[src] if dst == BROADCAST else (dst,)  # type: ignore[return-value]

    def _route(
        self, r: int, out: list[tuple[int, Destination, Any]], counts: dict[str, int]
    ) -> None:
        """Route with a full trace: one send event per recipient."""
        nxt = self.next_inbox
        for src, dst, payload in out:
            kind = self._kind(payload)
            item = (src, payload)
            for d in self._recipients(src, dst):
                nxt[d].append(item)
                counts[kind] = counts.get(kind, 0) + 1
                self.sink.event(r, "send", src=src, dst=d, kind=kind, msg=payload)

    def _route_intercepted(
        self, r: int, out: list[tuple[int, Destination, Any]], counts: dict[str, int]
    ) -> None:
        envelopes: list[Envelope] = []
        for src, dst, payload in out:
            envelopes.extend(Envelope(src, d, payload, r) for d in self._recipients(src, dst))
        for adversary in self._interceptors:
            control = TrafficControl(self, adversary)
            control.envelopes = envelopes
            adversary.on_traffic(control)
            envelopes = control.envelopes
        nxt = self.next_inbox
        for env in envelopes:
            kind = self._kind(env.payload)
            counts[kind] = counts.get(kind, 0) + 1
            if env.dropped:
                self.record.dropped += 1
                if self.full:
                    self.sink.event(r, "drop", src=env.src, dst=env.dst, kind=kind)
                continue
            if self.full:
                self.sink.event(r, "send", src=env.src, dst=env.dst, kind=kind, msg=env.payload)
            if env.extra_delay:
                self.record.delayed += 1
                arrival = r + 1 + env.extra_delay
                self.delayed.setdefault(arrival, []).append((env.src, env.dst, env.payload))
                if self.full:
                    self.sink.event(r, "delay", src=env.src, dst=env.dst, kind=kind, until=arrival)
            else:
                nxt[env.dst].append((env.src, env.payload))

    def _trace_deliveries(self, r: int, inboxes: list[list[tuple[int, Any]]]) -> None:
        for dst, inbox in enumerate(inboxes):
            verb = "deliver" if self.up[dst] else "lost"
            for src, payload in inbox:
                self.sink.event(r, verb, src=src, dst=dst, kind=self._kind(payload))
