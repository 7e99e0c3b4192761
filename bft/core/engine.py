"""The deterministic lockstep engine.

Theory of operation. A run is a pure function of its inputs (protocol and
parameters, adversaries, network model, environment, seed, rounds). Each round
r proceeds in a fixed order:

1. nodes whose down time ends at r come back (overload, freeze, restart);
2. each adversary's ``before_round`` may crash, recover or restart nodes;
3. messages due at r are delivered; those addressed to a down node are lost;
4. every up node runs ``on_round(ctx, inbox)`` in id order; its sends are
   buffered (``out``); a node that executes a poison is frozen and its sends
   of this round are discarded; an honest node that raises (anything, even
   ``SystemExit``) is a protocol bug: it is recorded and the node stops
   (fail-stop);
5. overloaded nodes (work above theta * capacity) go down for D rounds;
6. intercepting adversaries see this round's messages as read-only views and
   act through their traffic control, within the network model; then one
   routing loop schedules every surviving message for r+1 (or later if
   delayed).

Randomness comes only from RNGs seeded by (seed, node) or (seed, adversary),
iteration is always over lists or sorted ids, never over sets or dicts keyed by
strings, so the trace is byte-identical in any process under any
PYTHONHASHSEED. Messages stay plain ``(src, payload)`` tuples on the fast path;
per-message records are built only when an adversary intercepts traffic. When
none can (no intercepting adversary, summary trace), sends skip the buffer of
step 4 and go straight into next round's inboxes (``_DirectContext``), in the
order the routing loop of step 6 would have put them there.

Faults are counted here, for every adversary together: a node is *faulty*
once an adversary corrupts, crashes or restarts it. The runner compares the
faulty nodes with what the protocol claims to tolerate and labels a run that
exceeds the claim (``bft.run.runner``). An adversary that raises is stopped
and recorded; Ctrl-C (SIGINT) interrupts the run as ``Interrupted``, which is
the only exception that passes through node code.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import random
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from types import MappingProxyType
from typing import Any

from bft.core.adversary import (
    Adversary,
    RoundControl,
    SetupControl,
    TrafficControl,
    _Control,
    _Flight,
    freeze_value,
)
from bft.core.crypto import KeyRing, Signed
from bft.core.encoding import kind_of
from bft.core.environment import Environment, Frozen
from bft.core.errors import BftError, Interrupted, describe_exception
from bft.core.network import Network
from bft.core.node import BROADCAST, Context, Destination, Inbox, Node, derive_seed
from bft.core.protocol import ProtocolSpec
from bft.core.record import Event, Output, RunRecord
from bft.core.snapshot import canonical
from bft.core.trace import TraceSink

__all__ = ["Engine", "derive_seed"]

_NONE_DOWN: list[int] = []  # shared by every round where all nodes are up; never mutated
_second = itemgetter(1)


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


class _Fan:
    """Marks an entry of the engine's list of this round's sends as a broadcast or
    multicast: ``(src, FAN, payload, recipients)``; a point-to-point send's entry is its
    delivery tuple ``(src, payload)``."""


FAN = _Fan()


class _DirectContext(Context):
    """The engine's context when nothing can act on messages in flight (no intercepting
    adversary, summary trace): a send goes straight into next round's inbox and is noted
    once in the round's list of sends (``_sent``), which the engine counts by kind at the
    end of the round. The delivery order is the routing loop's: nodes run in id order,
    and each send reaches its recipients in the order the loop would route it."""

    __slots__ = ("_post", "_sent", "_others", "_peers")

    def __init__(self, engine: Engine, node_id: int, variant: int = 0) -> None:
        # Context.__init__ written out: one per node, so a large run builds millions
        self.node_id = node_id
        self.n = engine.n
        self.variant = variant
        self._host = engine
        self._keys = keys = engine.keys
        self._out = engine.out
        self._rng = None
        self.round = 0
        self.verify = keys.verify
        self._group = None
        self._targets = ()
        self._post = engine.next_inbox  # the engine keeps this outer list for the whole run
        self._sent = engine._sent
        self._others = engine._others
        self._peers: list[int] | None = None  # every other node, on first broadcast

    def send(self, dst: int, payload: Any) -> None:
        if not 0 <= dst < self.n:
            raise ValueError(
                f"node {self.node_id} sent to node {dst}, which does not exist (n={self.n})"
            )
        item = (self.node_id, payload)
        self._post[dst].append(item)
        self._sent.append(item)

    def broadcast(self, payload: Any) -> None:
        me = self.node_id
        item = (me, payload)
        post = self._post
        peers = self._peers
        if peers is None:
            peers = self._peers = self._others[me]
        for d in peers:
            post[d].append(item)
        self._sent.append((me, FAN, payload, self.n - 1))

    def multicast(self, dsts: Iterable[int], payload: Any) -> None:
        if dsts is self._group:
            targets = self._targets
        else:
            targets = self._recipients(dsts)
            if not targets:
                return
        me = self.node_id
        item = (me, payload)
        post = self._post
        for d in targets:
            post[d].append(item)
        self._sent.append((me, FAN, payload, len(targets)))


class _Failed(Node):
    """Stands in for a node whose constructor raised (it never runs)."""

    def on_round(self, ctx: Context, inbox: Inbox) -> None:  # pragma: no cover - never up
        pass


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise Interrupted()


@contextlib.contextmanager
def running() -> Iterator[None]:
    """While runs execute: no cyclic GC (it costs up to 2x on message-heavy runs, and
    messages form no cycles) and Ctrl-C raised as ``Interrupted``."""
    collect = gc.isenabled()
    gc.disable()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, _raise_interrupted)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if collect:
            gc.enable()


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
        self.next_round = 0

        self.up = [True] * n
        self.down: set[int] = set()
        self.wakeups: dict[int, list[int]] = {}  # round -> nodes whose down time ends then
        self.down_until: list[int | None] = [None] * n
        self.fresh_on_return = [False] * n
        # this round's sends: (src, dst, payload), dst a node id, BROADCAST or a tuple of ids
        self.out: list[tuple[int, Destination, Any]] = []
        self.next_inbox: list[list[tuple[int, Any]]] = [[] for _ in range(n)]
        self.delayed: dict[int, list[tuple[int, int, Any]]] = {}
        self._work: dict[int, float] = {}  # node -> work units this round (only nodes that worked)
        self._tallies: dict[str, float] = {}
        self.corrupted: frozenset[int] = frozenset()
        self._crashed: dict[Adversary, set[int]] = {a: set() for a in self.adversaries}
        self._stopped: set[Adversary] = set()  # adversaries that raised
        self._faulted: dict[Adversary, set[int]] = {}  # adversary -> nodes it made faulty
        self._newly_crashed: set[int] = set()  # not yet in record.crashed (_fold_crashed)
        self._kinds: dict[type, str] = {}
        self._others = _OtherNodes(n)  # built per broadcaster on first use, not O(n^2)
        self._adversary_rngs: dict[Adversary, random.Random] = {}
        #: what adversaries see of the parameters: one read-only copy for the whole run
        self.params_view: Mapping[str, Any] = MappingProxyType(freeze_value(self.protocol_params))
        self.record = RunRecord(
            n=n,
            rounds=rounds,
            seed=seed,
            params=self.protocol_params,
            roles=self.roles,
            network=self.network,
        )

        self._interceptors = [a for a in self.adversaries if a.intercepts]
        # direct sends: nothing sees messages in flight, so they go straight to the inboxes
        self._direct = not self.full and not self._interceptors
        self._sent: list[tuple[Any, ...]] = []  # direct: this round's sends (see _DirectContext)
        self._due: list[list[tuple[int, Any]]] = []  # direct: the inboxes delivered this round
        variants = self.environment.variants
        make_context = _DirectContext if self._direct else Context
        self.ctxs = [
            make_context(self, i, protocol.variant_of(i, params, variants)) for i in range(n)
        ]
        self.nodes: list[Node] = [self._build(i) for i in range(n)]
        self._handlers = [node.on_round for node in self.nodes]  # bound once: the hot loop

    # -- the host interface (what contexts call) ------------------------------------------

    def emit_output(self, node: int, name: str, data: dict[str, Any]) -> None:
        self.record.outputs.append(Output(self.round, node, name, data))
        self.sink.event(self.round, "output", node=node, name=name, data=data)

    def record_reject(self, node: int, src: int, payload: Any, reason: str) -> None:
        self.record.rejected += 1
        self.sink.event(
            self.round, "reject", node=node, src=src, kind=self.kind(payload), reason=reason
        )

    def add_tally(self, name: str, amount: float) -> None:
        tallies = self._tallies
        tallies[name] = tallies.get(name, 0) + amount

    def add_work(self, node: int, units: float) -> None:
        work = self._work
        work[node] = work.get(node, 0.0) + units

    def work_of(self, node: int) -> float:
        return self._work.get(node, 0.0)

    # -- what controls call ---------------------------------------------------------------

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

    def record_refused(self, adversary: Adversary, why: str) -> None:
        event = Event(self.round, "refused", None, f"{adversary.name}: {why}")
        self.record.refused.append(event)
        self.sink.event(self.round, "refused", adversary=adversary.name, reason=why)

    def note(self, adversary: Adversary, what: str) -> None:
        self._event("adversary", None, f"{adversary.name}: {what}")

    def corrupt(self, nodes: Sequence[int], adversary: Adversary) -> None:
        self._faulted.setdefault(adversary, set()).update(nodes)
        new = sorted(set(nodes) - self.corrupted)
        self.corrupted = self.corrupted | frozenset(nodes)
        self.record.corrupted = self.corrupted
        for node in new:
            self._event("corrupt", node, adversary.name)

    def crashed_by(self, adversary: Adversary, node: int) -> bool:
        return node in self._crashed.get(adversary, ())

    def adversary_crash(self, adversary: Adversary, node: int, reason: str) -> None:
        self._crashed.setdefault(adversary, set()).add(node)
        self._faulted.setdefault(adversary, set()).add(node)
        self._newly_crashed.add(node)
        self.take_down(node, None, reason)

    def adversary_restart(self, adversary: Adversary, node: int) -> None:
        self._crashed.setdefault(adversary, set()).add(node)
        self._faulted.setdefault(adversary, set()).add(node)
        self._newly_crashed.add(node)
        self.take_down(node, self.round + 1, "crash")
        self.fresh_on_return[node] = True

    def _fold_crashed(self) -> None:
        """Add the nodes crashed or restarted since the last call to ``record.crashed``:
        once per adversary phase, not once per node (a frozenset grown one node at a time
        is quadratic: a login storm restarting 500,000 clients took hours)."""
        if self._newly_crashed:
            self.record.crashed = self.record.crashed | self._newly_crashed
            self._newly_crashed = set()

    def crashed_so_far(self) -> frozenset[int]:
        """The nodes adversaries crashed or restarted so far, up to date even mid-round."""
        self._fold_crashed()
        return self.record.crashed

    def kind(self, payload: Any) -> str:
        """The kind name of a message (a signed message has its payload's kind)."""
        kind = self._kinds.get(type(payload))
        if kind is not None:
            return kind
        if isinstance(payload, Signed):  # not cached by type: the kind is the payload's
            return self.kind(payload.payload)
        kind = kind_of(payload)
        self._kinds[type(payload)] = kind
        return kind

    # -- nodes going down and coming back --------------------------------------------------

    def _event(self, kind: str, node: int | None, detail: str = "") -> None:
        self.record.events.append(Event(self.round, kind, node, detail))
        self.sink.event(self.round, kind, node=node, detail=detail)

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
            self.nodes[node] = self._build(node)
            self._handlers[node] = self.nodes[node].on_round
            self._event("restart", node)
        else:
            self._event("recover", node)
            self._guarded(node, lambda: self.nodes[node].on_recover(self.ctxs[node]))

    def _build(self, node: int) -> Node:
        try:
            return self.protocol.make_node(node, self.protocol_params)
        except Interrupted:
            raise
        except BaseException as exc:  # noqa: BLE001 - a protocol bug, reported as such
            self._protocol_bug(node, exc, "while building the node")
            return _Failed()

    def _guarded(self, node: int, action: Callable[[], None]) -> None:
        try:
            action()
        except Frozen:
            self._freeze(node)
        except Interrupted:
            raise
        except BaseException as exc:  # noqa: BLE001 - a protocol bug, reported as such
            self._protocol_bug(node, exc)

    def _freeze(self, node: int) -> None:
        out = self.out
        out[:] = [m for m in out if m[0] != node]  # a frozen node's sends of the round are lost
        if self._direct and any(m[0] == node for m in self._sent):
            self._sent[:] = [m for m in self._sent if m[0] != node]
            for inbox in self.next_inbox:  # holds only this round's sends (see begin_round)
                if inbox:
                    inbox[:] = [m for m in inbox if m[0] != node]
        freeze = self.environment.freeze_rounds
        self.take_down(node, None if freeze == 0 else self.round + 1 + freeze, "freeze")

    def _protocol_bug(self, node: int, exc: BaseException, when: str = "") -> None:
        detail = describe_exception(exc) + (f" {when}" if when else "")
        self._mark_down(node, None)  # fail-stop
        if node in self.corrupted:
            self._event("corrupt-node-error", node, detail)
            return
        self.record.bugs.append(Event(self.round, "bug", node, detail))
        self.sink.event(self.round, "bug", node=node, detail=detail)

    # -- adversaries --------------------------------------------------------------------

    def _call(self, adversary: Adversary, hook: Callable[[Any], None], control: _Control) -> None:
        """Run one adversary hook; an adversary that raises is stopped and recorded."""
        if adversary in self._stopped:
            control.close()
            return
        try:
            hook(control)
        except (Interrupted, BftError):
            raise  # Ctrl-C, or a configuration the user must fix (exit status 2)
        except BaseException as exc:  # noqa: BLE001 - the adversary's bug, not the protocol's
            self._stopped.add(adversary)
            detail = (
                f"{adversary.name}: {describe_exception(exc)}; it takes no further part in the run"
            )
            self.record.adversary_errors.append(Event(self.round, "adversary-error", None, detail))
            self.sink.event(self.round, "adversary-error", detail=detail)
        finally:
            control.close()

    # -- the run ---------------------------------------------------------------------

    def run(self) -> RunRecord:
        with running():
            try:
                self.start()
                while self.next_round < self.rounds:
                    self.step()
                return self.finish()
            finally:
                self.sink.close()

    # -- stepping (what ``run`` does; an explorer drives the same steps itself) ------------

    def fork(self) -> Engine:
        """An independent copy of this run, to continue it down another branch (an
        exhaustive search forks at every choice). Immutable parts (the protocol, the
        network and environment models, the parameters, the trace sink of a search,
        which records nothing) are shared, everything else copied."""
        shared = (
            self.protocol,
            self.network,
            self.environment,
            self.params_view,
            self.protocol_params,
            self.sink,
            self._others,
            self._kinds,
        )
        return copy.deepcopy(self, {id(item): item for item in shared})

    def state(self) -> Any:
        """Everything this run's future depends on, in canonical form: each node's state
        (its ``snapshot()`` where it defines one), its random stream, who is up and
        until when, the messages in flight, the faults so far and each adversary's state.
        Two runs with equal states (and equal records so far) go on identically."""
        self._fold_crashed()
        return canonical(
            (
                self.next_round,
                self.nodes,
                [ctx._rng for ctx in self.ctxs],
                self.up,
                self.down_until,
                self.fresh_on_return,
                sorted(self.wakeups.items()),
                self.next_inbox,
                sorted(self.delayed.items()),
                sorted(self.corrupted),
                sorted(self.record.crashed),
                [sorted(self._crashed.get(a, ())) for a in self.adversaries],
                [a in self._stopped for a in self.adversaries],
                self.adversaries,
                [self._adversary_rngs.get(a) for a in self.adversaries],
            )
        )

    def start(self) -> None:
        """Let every adversary set up (corrupt nodes); round 0 comes next."""
        for adversary in self.adversaries:
            self._call(adversary, adversary.setup, SetupControl(self, adversary))
        self._fold_crashed()
        self.next_round = 0

    def step(self) -> None:
        """Run the next round."""
        r = self.begin_round()
        self.nodes_act(r)
        self.end_round(r)

    def finish(self) -> RunRecord:
        """Close the record (and the summary trace) after the last round."""
        self._fold_crashed()
        pad = self.rounds - len(self.record.peak_work)
        self.record.peak_work.extend([0.0] * pad)
        self.record.faulty_by = tuple(frozenset(self._faulted.get(a, ())) for a in self.adversaries)
        if not self.full:
            self._summarize()
        self.sink.close()
        return self.record

    def begin_round(self) -> int:
        """Wake nodes whose down time ends, let adversaries crash or recover nodes."""
        r = self.next_round
        self.round = r
        for ctx in self.ctxs:
            ctx.round = r
        if self._direct:  # this round's deliveries aside; sends from here on are for r + 1
            post = self.next_inbox
            self._due = post[:]
            post[:] = [[] for _ in range(self.n)]
        up = self.up
        waking = self.wakeups.pop(r, None) if self.wakeups else None
        if waking:
            for node in sorted(waking):
                if not up[node] and self.down_until[node] == r:
                    fresh = self.fresh_on_return[node]
                    self.fresh_on_return[node] = False
                    self.bring_up(node, fresh)
        for adversary in self.adversaries:
            self._call(adversary, adversary.before_round, RoundControl(self, adversary))
        self._fold_crashed()
        return r

    def nodes_act(self, r: int) -> None:
        """Deliver this round's messages and run every up node; overloaded nodes go down.
        The nodes' sends wait in ``out`` for ``end_round`` (direct sends: they are
        already in next round's inboxes, and ``end_round`` only counts them)."""
        up = self.up
        if self._direct:
            inboxes = self._due  # set aside by begin_round
        else:
            inboxes = self.next_inbox
            self.next_inbox = [[] for _ in range(self.n)]
        due = self.delayed.pop(r, None) if self.delayed else None
        if due:
            for src, dst, payload in due:
                inboxes[dst].append((src, payload))
        if self.full:
            self._trace_deliveries(r, inboxes)
        self._tallies = {}
        ctxs = self.ctxs
        record = self.record
        if self.down:
            for node in self.down:
                record.lost += len(inboxes[node])
                inboxes[node] = []
        handlers = self._handlers
        delivered = 0
        for node, inbox in enumerate(inboxes):
            if up[node]:
                delivered += len(inbox)
                try:
                    handlers[node](ctxs[node], inbox)
                except Frozen:
                    self._freeze(node)
                except Interrupted:
                    raise
                except BaseException as exc:  # noqa: BLE001 - a protocol bug, reported as such
                    self._protocol_bug(node, exc)
        record.delivered += delivered

        work = self._work
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
            self._work = {}

    def end_round(self, r: int) -> None:
        """Show the sends to intercepting adversaries, route them, record the round."""
        out = self.out
        record = self.record
        if self._direct:
            counts = self._count_sent()
        else:
            counts = {}
            self._tags: list[dict[str, str]] = []  # full trace, intercepted: per entry of ``out``
            if self._interceptors and any(
                a not in self._stopped and a.wants_traffic(r) for a in self._interceptors
            ):
                out = self._intercept(r, out, counts)
                self._fold_crashed()
            self._route(r, out, counts)
            self.out.clear()
        record.sent.append(counts)
        record.tallies.append(self._tallies)
        record.down.append(sorted(self.down) if self.down else _NONE_DOWN)
        if self.full:
            self.sink.event(
                r,
                "round",
                sent=dict(sorted(counts.items())),
                tallies=dict(sorted(self._tallies.items())),
                down=record.down[-1],
            )
        self.next_round = r + 1

    def _count_sent(self) -> dict[str, int]:
        """Direct sends: this round's messages counted by kind, in the order of each kind's
        first send (as the routing loop counts them). When many sends were all point to
        point and every type's kind is known, the counting is one pass in C over the types."""
        sent = self._sent
        counts: dict[str, int] = {}
        if not sent:
            return counts
        kinds = self._kinds
        if len(sent) >= 64:
            types = Counter(map(type, map(_second, sent)))
            if _Fan not in types and all(t in kinds for t in types):  # Signed is never cached
                for t, count in types.items():
                    kind = kinds[t]
                    counts[kind] = counts.get(kind, 0) + count
                sent.clear()
                return counts
        kind_of_payload = self.kind
        for entry in sent:
            payload = entry[1]
            if payload is FAN:
                kind = kinds.get(type(entry[2])) or kind_of_payload(entry[2])
                counts[kind] = counts.get(kind, 0) + entry[3]
            else:
                kind = kinds.get(type(payload)) or kind_of_payload(payload)
                counts[kind] = counts.get(kind, 0) + 1
        sent.clear()
        return counts

    def _route(
        self, r: int, out: list[tuple[int, Destination, Any]], counts: dict[str, int]
    ) -> None:
        """The one routing loop: every entry into next round's inboxes, counted by kind.

        A broadcast or a multicast shares one ``(src, payload)`` tuple among its
        recipients and is counted once per recipient; with a full trace each
        delivery is also written as a ``send`` event.
        """
        nxt, kinds, others, fanout = self.next_inbox, self._kinds, self._others, self.n - 1
        full, tags = self.full, self._tags
        for index, (src, dst, payload) in enumerate(out):
            kind = kinds.get(type(payload)) or self.kind(payload)
            item = (src, payload)
            if dst == BROADCAST:
                targets: Sequence[int] = others[src]
                for d in targets:
                    nxt[d].append(item)
                counts[kind] = counts.get(kind, 0) + fanout
            elif type(dst) is tuple:  # a multicast
                targets = dst
                for d in targets:
                    nxt[d].append(item)
                counts[kind] = counts.get(kind, 0) + len(targets)
            else:
                targets = (dst,)  # type: ignore[assignment]
                nxt[dst].append(item)  # type: ignore[index]
                counts[kind] = counts.get(kind, 0) + 1
            if full:
                extra = tags[index] if tags else {}
                for d in targets:
                    self.sink.event(r, "send", src=src, dst=d, kind=kind, msg=payload, **extra)

    def _intercept(
        self, r: int, out: list[tuple[int, Destination, Any]], counts: dict[str, int]
    ) -> list[tuple[int, Destination, Any]]:
        """Show this round's messages to the intercepting adversaries; return the ones
        delivered next round. Dropped and delayed ones are counted and traced here."""
        flights: list[_Flight] = []
        for src, dst, payload in out:
            if dst == BROADCAST:
                targets: Sequence[int] = self._others[src]
            elif type(dst) is tuple:
                targets = dst
            else:
                targets = (dst,)  # type: ignore[assignment]
            flights.extend(_Flight(src, d, payload, r) for d in targets)
        for adversary in self._interceptors:
            if adversary.wants_traffic(r):
                self._call(
                    adversary, adversary.on_traffic, TrafficControl(self, adversary, flights)
                )
        on_time: list[tuple[int, Destination, Any]] = []
        full, record = self.full, self.record
        for flight in flights:
            if flight.dropped:
                kind = self.kind(flight.payload)
                counts[kind] = counts.get(kind, 0) + 1
                record.dropped += 1
                if full:
                    self.sink.event(r, "drop", src=flight.src, dst=flight.dst, kind=kind)
            elif flight.extra_delay:
                kind = self.kind(flight.payload)
                counts[kind] = counts.get(kind, 0) + 1
                record.delayed += 1
                arrival = r + 1 + flight.extra_delay
                self.delayed.setdefault(arrival, []).append(
                    (flight.src, flight.dst, flight.payload)
                )
                if full:
                    self.sink.event(
                        r, "send", src=flight.src, dst=flight.dst, kind=kind, msg=flight.payload,
                        **self._tampering(flight),
                    )  # fmt: skip
                    self.sink.event(
                        r, "delay", src=flight.src, dst=flight.dst, kind=kind, until=arrival
                    )
            else:
                on_time.append((flight.src, flight.dst, flight.payload))
                if full:
                    self._tags.append(self._tampering(flight))
        return on_time

    def _tampering(self, flight: _Flight) -> dict[str, str]:
        """For a full trace's send event: what the adversary did to the message, as an
        ``adv`` field: ``replaced`` (a corrupted node's message changed), ``forged``
        (injected with a signature that does not verify), ``replayed`` (injected, validly
        signed by another node than its sender) or ``injected``; nothing if untouched."""
        if flight.replaced:
            return {"adv": "replaced"}
        if not flight.injected:
            return {}
        payload = flight.payload
        if isinstance(payload, Signed) and not self.keys.verify(payload):
            return {"adv": "forged"}
        if isinstance(payload, Signed) and payload.signer != flight.src:
            return {"adv": "replayed"}
        return {"adv": "injected"}

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

    def _trace_deliveries(self, r: int, inboxes: list[list[tuple[int, Any]]]) -> None:
        for dst, inbox in enumerate(inboxes):
            verb = "deliver" if self.up[dst] else "lost"
            for src, payload in inbox:
                self.sink.event(r, verb, src=src, dst=dst, kind=self.kind(payload))
