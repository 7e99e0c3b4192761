"""One SWIM member: probing, suspicion, refutation and piggybacked gossip.

Theory of operation (Das, Gupta, Motivala 2002; Lifeguard, Dadgar et al. 2017).

Every member runs protocol periods of ``period`` rounds, all aligned at round 0
(a lockstep simplification; SWIM's analysis assumes the same). At the start of
a period it pings one target: the next member of a shuffled round-robin list
(re-shuffled after every pass; SWIM 4.3) or, as an option, a uniformly random
member (SWIM 3.1). If no ack came after ``probe_timeout`` rounds it sends
ping-req to ``k`` members it believes alive, each of which pings the target and
forwards the ack. If no ack (direct or forwarded) arrived by the end of the
period, the target is *suspected*: ``Suspect(target, inc, me)`` is gossiped and
a timer starts. A suspect that hears of the suspicion refutes it by gossiping
``Alive`` with a higher incarnation number; if the timer runs out first, the
member declares it ``Dead``. Precedence: Alive(i) beats Suspect(j) and Dead(j)
only when i > j; Suspect(i) beats Alive(j) when i >= j; Dead beats both at any
incarnation >= theirs (SWIM's "Confirm overrides"). Dead members are not
probed. A member that learns it was declared dead while running refutes the
same way and so rejoins (the paper's rejoin with a new incarnation).

Dissemination: each update enters a queue and is piggybacked on the next
outgoing ping, ping-req and ack messages, at most ``piggyback`` per message,
fewest-transmitted first, each at most ``retransmit_limit`` (about lambda log n)
times. A newer update about a member replaces the queued older one.

Lifeguard options. *Local health*: a score 0..health_max rises on a failed
probe (by the number of nacks that did not come, or by one without ping-req),
on refuting a suspicion of oneself, and falls on each successful probe; probe
timeout and period are multiplied by score + 1, so a member that is slow
itself stops accusing others. Intermediaries send a ``Nack`` when the target
did not answer them in time. *Dynamic suspicion*: the timeout starts at
``suspicion_max`` and falls logarithmically toward ``suspicion_min`` with each
independent confirmation (a ``Suspect`` from another origin), up to K.
*Buddy system*: a ping to a member we suspect carries the suspicion, so the
suspect refutes at once instead of waiting for gossip.

Simplifications, named: membership is static (all ``size`` members are known
from the start; there is no join protocol, only rejoin by refutation);
messages carry update counts, not bytes; periods are aligned.

Memory is sparse so that 10,000 members fit: a member stores only the entries
of its view that differ from (alive, incarnation 0), and the shuffled
round-robin order is drawn lazily (a Fisher-Yates shuffle that records only the
swapped positions), so a member holds O(updates + probes) state, not O(n).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from bft.core.node import Context
from bft.protocols.swim.config import SwimConfig
from bft.protocols.swim.gossip import GossipQueue
from bft.protocols.swim.messages import Ack, Alive, Dead, Nack, Ping, PingReq, Suspect

ALIVE, SUSPECT, DEAD = 0, 1, 2
NEVER = 1 << 62
MEMBER_BITS = 32  # member ids are node ids, below 2**32
MEMBER_MASK = (1 << MEMBER_BITS) - 1

_ENTRIES: dict[tuple[int, int], tuple[int, int]] = {}


def _entry(status: int, incarnation: int) -> tuple[int, int]:
    """The view entry ``(status, incarnation)``, one shared tuple per value: under loss
    every member learns of every refuted member, so the views of a large group hold
    millions of entries with a few distinct values (56 bytes saved per entry)."""
    key = (status, incarnation)
    return _ENTRIES.setdefault(key, key)


class _Probe:
    __slots__ = ("target", "seq", "timeout_at", "end_at", "acked", "reqs", "asked", "nacks")

    def __init__(self, target: int, seq: int, timeout_at: int, end_at: int) -> None:
        self.target = target
        self.seq = seq
        self.timeout_at = timeout_at
        self.end_at = end_at
        self.acked = False
        self.asked = False
        self.reqs = 0
        self.nacks = 0


class _Relay:
    __slots__ = ("origin", "origin_seq", "target", "nack_at", "expires")

    def __init__(self, origin: int, origin_seq: int, target: int, nack_at: int, expires: int):
        self.origin = origin
        self.origin_seq = origin_seq
        self.target = target
        self.nack_at = nack_at
        self.expires = expires


class _Suspicion:
    __slots__ = ("incarnation", "start", "origin", "confirmers", "deadline")

    def __init__(
        self, incarnation: int, start: int, origin: int, deadline: int, confirmed: bool
    ) -> None:
        self.incarnation = incarnation
        self.start = start
        self.origin = origin
        # the origins heard so far: kept only with Lifeguard's dynamic suspicion, the one
        # option that counts them (a set is 216 bytes, and a large group under loss holds
        # many suspicions at once)
        self.confirmers: set[int] | None = {origin} if confirmed else None
        self.deadline = deadline


#: ``extra(ctx, src, update) -> bool``: handle an update of a type the detector does
#: not know (False: malformed). Lets a protocol gossip its own facts on SWIM messages.
ExtraHandler = Callable[[Context, int, Any], bool]


class SwimMember:
    """The detector state of one member of the group ``members`` (a range of node ids)."""

    def __init__(
        self,
        me: int,
        members: range,
        cfg: SwimConfig,
        extra_types: tuple[type, ...] = (),
        on_extra: ExtraHandler | None = None,
    ) -> None:
        self.me = me
        self.members = members
        self.cfg = cfg
        self.my_index = members.index(me)
        self.others = len(members) - 1
        self.extra_types = extra_types
        self.on_extra = on_extra
        self.incarnation = 0
        self.view: dict[int, tuple[int, int]] = {}
        self.suspicions: dict[int, _Suspicion] = {}
        # heap of deadline << MEMBER_BITS | member (one int: the order of (deadline, member)
        # pairs at half their memory, many held at once in a large group under loss); may
        # be stale
        self.deadlines: list[int] = []
        self.queue = GossipQueue(cfg.retransmit_limit)
        self.seq = 0
        self.health = 0
        self.probe: _Probe | None = None
        self.next_period = 0
        self.relays: dict[int, _Relay] = {}
        self.rr_pos = 0
        self.rr_swaps: dict[int, int] = {}
        self.wake = 0

    # -- the view ------------------------------------------------------------------------

    def status(self, member: int) -> int:
        entry = self.view.get(member)
        return ALIVE if entry is None else entry[0]

    @property
    def multiplier(self) -> int:
        return self.health + 1 if self.cfg.local_health else 1

    def _member_at(self, index: int) -> int:
        """The index-th member other than me."""
        return self.members[index if index < self.my_index else index + 1]

    # -- gossip queue ----------------------------------------------------------------------

    def enqueue(self, key: Any, update: Any) -> None:
        """Queue ``update`` for piggybacking; it replaces any queued update with the same key."""
        self.queue.put(key, update)

    def _piggyback(self) -> tuple[Any, ...]:
        return self.queue.take(self.cfg.piggyback)

    # -- incoming messages -------------------------------------------------------------------

    def handle(self, ctx: Context, src: int, msg: Any) -> bool:
        """Process a SWIM message; False if ``msg`` is not one (the caller decides)."""
        kind = type(msg)
        if kind is Ping:
            if self._absorb(ctx, src, msg, msg.seq):
                ctx.send(src, Ack(msg.seq, self._piggyback()))
        elif kind is Ack:
            if self._absorb(ctx, src, msg, msg.seq):
                self._on_ack(ctx, src, msg.seq)
        elif kind is PingReq:
            if self._absorb(ctx, src, msg, msg.seq):
                self._on_ping_req(ctx, src, msg)
        elif kind is Nack:
            if type(msg.seq) is not int or src not in self.members:
                ctx.reject(src, msg, "malformed nack")
            else:
                probe = self.probe
                if probe is not None and probe.seq == msg.seq:
                    probe.nacks += 1
        else:
            return False
        return True

    def _absorb(self, ctx: Context, src: int, msg: Any, seq: Any) -> bool:
        """Validate a probe message and apply its piggybacked updates."""
        if src not in self.members or src == self.me:
            ctx.reject(src, msg, f"sender {src} is not another member of the group")
            return False
        if type(seq) is not int:
            ctx.reject(src, msg, "sequence number is not an integer")
            return False
        updates = msg.updates
        if not updates:
            return True
        if type(updates) is not tuple:
            ctx.reject(src, msg, "piggybacked updates are not a tuple")
            return False
        for update in updates:
            why = self._invalid_update(update)
            if why:
                ctx.reject(src, msg, why)
                return False
        for update in updates:
            kind = type(update)
            if kind is Alive:
                self._on_alive(ctx, update)
            elif kind is Suspect:
                self._on_suspect(ctx, update)
            elif kind is Dead:
                self._on_dead(ctx, update)
            elif self.on_extra is None or not self.on_extra(ctx, src, update):
                ctx.reject(src, msg, f"malformed {kind.__name__} update")
                return False
        return True

    def _invalid_update(self, update: Any) -> str | None:
        kind = type(update)
        if kind is Alive or kind is Suspect or kind is Dead:
            members = self.members
            if type(update.member) is not int or update.member not in members:
                return f"update about {update.member!r}, not a member"
            if type(update.incarnation) is not int or update.incarnation < 0:
                return f"bad incarnation {update.incarnation!r}"
            if kind is not Alive and (
                type(update.origin) is not int or update.origin not in members
            ):
                return f"update from origin {update.origin!r}, not a member"
            return None
        if kind in self.extra_types:
            return None
        return f"unknown update {kind.__name__}"

    def _on_ack(self, ctx: Context, src: int, seq: int) -> None:
        probe = self.probe
        if probe is not None and probe.seq == seq:
            probe.acked = True
            return
        relay = self.relays.get(seq)
        if relay is not None and relay.target == src:
            del self.relays[seq]
            ctx.send(relay.origin, Ack(relay.origin_seq, self._piggyback()))

    def _on_ping_req(self, ctx: Context, src: int, msg: PingReq) -> None:
        target = msg.target
        if type(target) is not int or target not in self.members or target in (self.me, src):
            ctx.reject(src, msg, f"ping-req for {target!r}, not a third member")
            return
        self.seq += 1
        ctx.send(target, Ping(self.seq, self._piggyback()))
        mult = self.multiplier
        now = ctx.round
        relay = _Relay(
            src,
            msg.seq,
            target,
            now + self.cfg.probe_timeout * mult,
            now + self.cfg.period * mult,
        )
        self.relays[self.seq] = relay
        self.wake = min(self.wake, relay.nack_at)

    # -- membership updates ---------------------------------------------------------------

    def _refute(self, ctx: Context, accused: int) -> None:
        self.incarnation = max(self.incarnation, accused) + 1
        self.enqueue(self.me, Alive(self.me, self.incarnation))
        if self.cfg.local_health:
            self.health = min(self.cfg.health_max, self.health + 1)
        ctx.output("refute", incarnation=self.incarnation)

    def _on_alive(self, ctx: Context, u: Alive) -> None:
        member = u.member
        if member == self.me:
            if u.incarnation > self.incarnation:
                self._refute(ctx, u.incarnation)
            return
        status, inc = self.view.get(member, (ALIVE, 0))
        if u.incarnation <= inc:
            return
        self.view[member] = _entry(ALIVE, u.incarnation)
        self.suspicions.pop(member, None)
        self.enqueue(member, u)
        if status == DEAD:
            ctx.output("alive", member=member, incarnation=u.incarnation)

    def _on_suspect(self, ctx: Context, u: Suspect) -> None:
        member = u.member
        if member == self.me:
            if u.incarnation >= self.incarnation:
                self._refute(ctx, u.incarnation)
            return
        status, inc = self.view.get(member, (ALIVE, 0))
        if u.incarnation < inc or status == DEAD:
            return
        now = ctx.round
        if status == SUSPECT and u.incarnation == inc:
            # Lifeguard: an independent confirmation shortens the timeout and is
            # re-gossiped, up to K of them; classic SWIM ignores repeats.
            suspicion = self.suspicions.get(member)
            if (
                suspicion is not None
                and (confirmers := suspicion.confirmers) is not None  # dynamic suspicion on
                and len(confirmers) <= self.cfg.suspicion_k
                and u.origin not in confirmers
            ):
                confirmers.add(u.origin)
                suspicion.deadline = suspicion.start + self.cfg.suspicion_timeout(
                    len(confirmers) - 1
                )
                heapq.heappush(self.deadlines, suspicion.deadline << MEMBER_BITS | member)
                self.wake = min(self.wake, suspicion.deadline)
                self.enqueue(member, u)
            return
        self.view[member] = _entry(SUSPECT, u.incarnation)
        deadline = now + self.cfg.suspicion_timeout(0)
        self.suspicions[member] = _Suspicion(
            u.incarnation, now, u.origin, deadline, self.cfg.dynamic_suspicion
        )
        heapq.heappush(self.deadlines, deadline << MEMBER_BITS | member)
        self.wake = min(self.wake, deadline)
        self.enqueue(member, u)
        ctx.tally("suspicions")

    def _on_dead(self, ctx: Context, u: Dead) -> None:
        member = u.member
        if member == self.me:
            if u.incarnation >= self.incarnation:
                self._refute(ctx, u.incarnation)
            return
        status, inc = self.view.get(member, (ALIVE, 0))
        if u.incarnation < inc or status == DEAD:
            return
        self.view[member] = _entry(DEAD, u.incarnation)
        self.suspicions.pop(member, None)
        self.enqueue(member, u)
        ctx.output("dead", member=member, incarnation=u.incarnation, origin=u.origin)

    # -- timers -------------------------------------------------------------------------------

    def pause(self, ctx: Context) -> None:
        """After being down: forget the probe in flight and start a fresh period."""
        self.probe = None
        self.relays.clear()
        self.next_period = ctx.round
        self.wake = ctx.round

    def tick(self, ctx: Context) -> None:
        """Run timers: probe timeout, end of period, suspicion expiry, nacks."""
        now = ctx.round
        if now < self.wake:
            return
        probe = self.probe
        if probe is not None and not probe.acked and not probe.asked and now >= probe.timeout_at:
            self._ask_others(ctx, probe)
        if now >= self.next_period:
            if probe is not None:
                self._finish_probe(ctx, probe)
            self._start_probe(ctx, now)
        wake = self.next_period
        probe = self.probe
        if probe is not None and not probe.asked and not probe.acked:
            wake = min(wake, probe.timeout_at)
        deadlines = self.deadlines
        while deadlines and deadlines[0] >> MEMBER_BITS <= now:
            entry = heapq.heappop(deadlines)
            deadline, member = entry >> MEMBER_BITS, entry & MEMBER_MASK
            suspicion = self.suspicions.get(member)
            if suspicion is None or suspicion.deadline != deadline:
                continue  # refuted, declared dead, or its deadline moved
            del self.suspicions[member]
            if self.view.get(member) == (SUSPECT, suspicion.incarnation):
                self._on_dead(ctx, Dead(member, suspicion.incarnation, self.me))
        if deadlines:
            wake = min(wake, deadlines[0] >> MEMBER_BITS)
        if self.relays:
            for seq, relay in list(self.relays.items()):
                if now >= relay.expires:
                    del self.relays[seq]
                    continue
                if relay.nack_at <= now:
                    if self.cfg.local_health:
                        ctx.send(relay.origin, Nack(relay.origin_seq))
                    relay.nack_at = NEVER
                wake = min(wake, relay.nack_at, relay.expires)
        self.wake = wake

    def _start_probe(self, ctx: Context, now: int) -> None:
        mult = self.multiplier
        self.next_period = now + self.cfg.period * mult
        target = self._pick_target(ctx)
        if target is None:
            self.probe = None
            return
        self.seq += 1
        updates = self._piggyback()
        if self.cfg.buddy:
            suspicion = self.suspicions.get(target)
            if suspicion is not None:
                updates = (Suspect(target, suspicion.incarnation, suspicion.origin), *updates)
        ctx.send(target, Ping(self.seq, updates))
        self.probe = _Probe(target, self.seq, now + self.cfg.probe_timeout * mult, self.next_period)

    def _ask_others(self, ctx: Context, probe: _Probe) -> None:
        probe.asked = True
        for helper in self.sample_alive(ctx, self.cfg.k, probe.target):
            ctx.send(helper, PingReq(probe.seq, probe.target, self._piggyback()))
            probe.reqs += 1

    def _finish_probe(self, ctx: Context, probe: _Probe) -> None:
        health_max = self.cfg.health_max
        if probe.acked:
            if self.cfg.local_health and self.health:
                self.health -= 1
            return
        if self.cfg.local_health:
            missed = probe.reqs - probe.nacks if probe.reqs else 1
            self.health = min(health_max, self.health + max(missed, 0))
        target = probe.target
        status, inc = self.view.get(target, (ALIVE, 0))
        if status == DEAD:
            return
        ctx.output("suspect", member=target, incarnation=inc)
        self._on_suspect(ctx, Suspect(target, inc, self.me))

    # -- choosing members ------------------------------------------------------------------

    def _pick_target(self, ctx: Context) -> int | None:
        others = self.others
        if others <= 0:
            return None
        view = self.view
        rng = ctx.rng
        if self.cfg.random_targets:
            for _ in range(64):
                member = self._member_at(rng.randrange(others))
                entry = view.get(member)
                if entry is None or entry[0] != DEAD:
                    return member
            live = [m for m in self.members if m != self.me and self.status(m) != DEAD]
            return rng.choice(live) if live else None
        for _ in range(others):
            if self.rr_pos >= others:
                self.rr_pos = 0
                self.rr_swaps.clear()
            # Lazy Fisher-Yates: position i takes a uniformly chosen remaining item.
            i = self.rr_pos
            j = rng.randrange(i, others)
            swaps = self.rr_swaps
            at_j = swaps.get(j, j)
            if j != i:
                swaps[j] = swaps.get(i, i)
            swaps.pop(i, None)
            self.rr_pos = i + 1
            member = self._member_at(at_j)
            entry = view.get(member)
            if entry is None or entry[0] != DEAD:
                return member
        return None

    def sample_alive(self, ctx: Context, k: int, exclude: int) -> list[int]:
        """Up to ``k`` distinct members I believe alive (not suspected), other than ``exclude``."""
        if k <= 0:
            return []
        rng = ctx.rng
        view = self.view
        if self.others <= 8 * k:
            pool = [
                m
                for m in self.members
                if m != self.me and m != exclude and view.get(m, (ALIVE, 0))[0] == ALIVE
            ]
            return rng.sample(pool, min(k, len(pool)))
        chosen: list[int] = []
        for _ in range(8 * k):
            member = self._member_at(rng.randrange(self.others))
            if member == exclude or member in chosen:
                continue
            entry = view.get(member)
            if entry is None or entry[0] == ALIVE:
                chosen.append(member)
                if len(chosen) == k:
                    break
        return chosen
