"""Planted bugs across the protocol families: failover, gossip-health, SWIM, Dolev-Strong, Phase King.

Each variant is a subclass of a real protocol with one realistic mistake, of
the kind a developer makes (an off-by-one, a forgotten reset, a check that
looks at the wrong thing), registered in-process under its own name like the
ones in ``tests.quality.planted``. ``FAMILY_PLANTED`` lists them with the
shipped scenario they are found in, the property that catches them, and, in
``adversaries``, what a plain run of that scenario needs to show the bug
(None: the scenario as shipped; otherwise the adversaries that replace the
scenario's, e.g. a small hand-written schedule).

The fault budget (``faults``) is what a search may add on top of the
scenario within the protocol's own bound.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from bft.core import registry
from bft.core.crypto import Signed
from bft.core.node import Context, Inbox, Node
from bft.protocols.dolev_strong import (
    DEFAULT,
    RELAY_LIMIT,
    DolevStrong,
    DolevStrongNode,
    DSValue,
    chain_signers,
)
from bft.protocols.failover import BackoffReconnect
from bft.protocols.failover.client import FailoverClient
from bft.protocols.failover.server import FailoverServer
from bft.protocols.gossip_health import GossipHealth
from bft.protocols.gossip_health.client import HealthClient
from bft.protocols.gossip_health.messages import Correlation
from bft.protocols.gossip_health.server import HealthServer
from bft.protocols.phase_king import King, PhaseKing, PhaseKingNode, Vote
from bft.protocols.swim import Swim
from bft.protocols.swim.config import SwimConfig
from bft.protocols.swim.member import SwimMember
from bft.protocols.swim.messages import Alive
from bft.protocols.swim.spec import Member
from tests.quality.planted import Planted


@attrs.frozen
class FamilyPlanted(Planted):
    #: adversaries replacing the scenario's for the plain run that shows the bug
    #: (None: the scenario's own), in the command line's NAME:key=value form or
    #: as (name, params) pairs for a schedule
    adversaries: tuple[Any, ...] | None = None


def _recast(node: Node, cls: type) -> Node:
    """The same node, with one method changed: its class becomes the planted subclass."""
    node.__class__ = cls
    return node


# -- failover: admission control and backoff ------------------------------------------------


class LoginsUnguardedServer(FailoverServer):
    """The mistake: admission control guards requests but waves every login through
    (``op is not None`` slipped into the condition), so a login storm is admitted."""

    def _admit_work(self, ctx: Context, src: int, op: Any, new: bool) -> bool:
        cost = (self.login_cost if new else 0.0) + (0.0 if op is None else self.op_cost)
        if self.admission and op is not None and not self._admit(ctx, cost):
            self._refuse(ctx, src, op.seq)
            return False
        if new:
            ctx.work(self.login_cost)
        return True


class NeverResetClient(FailoverClient):
    """The mistake: an answer attaches the client again but leaves ``attempt`` as it
    was, so the next failure backs off as if the failures had never stopped."""

    def _answered(self) -> None:
        self.attached = True
        self.sent_at = None
        self.wake = None


class NoJitterClient(FailoverClient):
    """The mistake: plain exponential backoff, the whole bound every time, no jitter
    (so clients that failed together retry together)."""

    def _back_off(self, ctx: Context) -> None:
        bound = min(self.cap, self.base * 2.0**self.attempt)  # type: ignore[operator]
        self.attempt += 1
        sleep = int(bound)
        self.attached = False
        self.meter.want(ctx)
        if sleep == 0:
            self._connect(ctx)
        else:
            self.wake = ctx.round + sleep


class BusyFailsOverClient(FailoverClient):
    """The mistake: a busy answer is handled like a timeout, so the client leaves a server
    that is alive (only full) and carries its login to the next one."""

    def _on_busy(self, ctx: Context) -> None:
        self._fail(ctx, busy=False)


class _PlantedBackoff(BackoffReconnect):
    server_class: type[FailoverServer] = FailoverServer
    client_class: type[FailoverClient] = FailoverClient

    def make_server(self, node_id: int, p: Any) -> Node:
        return _recast(super().make_server(node_id, p), self.server_class)

    def make_client(self, node_id: int, p: Any) -> Node:
        return _recast(super().make_client(node_id, p), self.client_class)


class BackoffLoginsUnguarded(_PlantedBackoff):
    name = "backoff-logins-unguarded"
    summary = "PLANTED BUG: backoff-reconnect whose admission control never refuses a login"
    server_class = LoginsUnguardedServer


class BackoffNeverResets(_PlantedBackoff):
    name = "backoff-never-resets"
    summary = "PLANTED BUG: backoff-reconnect whose clients never reset the backoff on an answer"
    client_class = NeverResetClient


class BackoffNoJitter(_PlantedBackoff):
    name = "backoff-no-jitter"
    summary = "PLANTED BUG: backoff-reconnect whose clients sleep the whole bound (no jitter)"
    client_class = NoJitterClient


# -- gossip-health: quarantine, attribution, failover hysteresis -----------------------------


class LateQuarantineServer(HealthServer):
    """The mistake: quarantine once *more than* k servers died on a request (``>``
    where the rule says ``>=``), so a poison walks one server further."""

    def _correlate(self, ctx: Context, c: Correlation) -> bool:
        by_fp = self.correlated.setdefault(c.fingerprint, set())
        by_client = self.correlated_clients.setdefault(c.client, set())
        if c.server in by_fp and c.server in by_client:
            return False
        by_fp.add(c.server)
        by_client.add(c.server)
        k = self.quarantine_k
        if len(by_fp) > k and c.fingerprint not in self.quarantined:
            self.quarantined.add(c.fingerprint)
            ctx.output("quarantine", fingerprint=c.fingerprint, servers=tuple(sorted(by_fp)))
        if len(by_client) > k and c.client not in self.quarantined_clients:
            self.quarantined_clients.add(c.client)
            ctx.output("quarantine", client=c.client, servers=tuple(sorted(by_client)))
        return True


class EarlyWatchServer(HealthServer):
    """The mistake: the watch deadline is one round short (``watch_timeout - 1``): a
    watch and its ack take two rounds, so every watched server looks dead."""

    def _server_message(self, ctx: Context, src: int, msg: Any) -> None:
        from bft.protocols.gossip_health.messages import Intent, Watch

        if type(msg) is Intent and type(msg.fingerprint) is int and type(msg.client) is int:
            self.watch_seq += 1
            ctx.send(src, Watch(self.watch_seq))
            self.watching[self.watch_seq] = (src, msg, ctx.round + self.watch_timeout - 1)
            return
        super()._server_message(ctx, src, msg)


class NoHysteresisClient(HealthClient):
    """The mistake: the client avoids a server that failed it only when its view has
    no live server at all; while SWIM still holds the failed server alive, the
    client may fail straight back to it."""

    def _choose(self, ctx: Context) -> int:
        now = ctx.round
        avoided = {s for s, until in self.avoid.items() if until > now}
        view = self.view
        live = [s for s in range(self.servers) if view >> s & 1]
        if not live:
            live = [s for s in range(self.servers) if s not in avoided]
        if not live:
            live = list(range(self.servers))
        return live[ctx.rng.randrange(len(live))]


class BackoffBusyFailsOver(_PlantedBackoff):
    name = "backoff-busy-fails-over"
    summary = "PLANTED BUG: backoff-reconnect whose clients leave a server that answered busy"
    client_class = BusyFailsOverClient


class _PlantedHealth(GossipHealth):
    server_class: type[HealthServer] = HealthServer
    client_class: type[HealthClient] = HealthClient

    def make_node(self, node_id: int, p: Any) -> Node:
        node = super().make_node(node_id, p)
        cls = self.server_class if isinstance(node, HealthServer) else self.client_class
        return _recast(node, cls)


class HealthLateQuarantine(_PlantedHealth):
    name = "gossip-late-quarantine"
    summary = "PLANTED BUG: gossip-health that quarantines after k+1 correlated deaths, not k"
    server_class = LateQuarantineServer


class HealthEarlyWatch(_PlantedHealth):
    name = "gossip-early-watch"
    summary = "PLANTED BUG: gossip-health whose watchers give up one round before an ack can come"
    server_class = EarlyWatchServer


class HealthNoHysteresis(_PlantedHealth):
    name = "gossip-no-hysteresis"
    summary = "PLANTED BUG: gossip-health clients that fail back to a server that just failed them"
    client_class = NoHysteresisClient


# -- SWIM: refutation and precedence -----------------------------------------------------------


class StaleRefuteMember(SwimMember):
    """The mistake: a refutation re-announces the accused incarnation instead of the
    next one, which an Alive never beats a Suspect at."""

    def _refute(self, ctx: Context, accused: int) -> None:
        self.incarnation = max(self.incarnation, accused)
        self.enqueue(self.me, Alive(self.me, self.incarnation))
        if self.cfg.local_health:
            self.health = min(self.cfg.health_max, self.health + 1)
        ctx.output("refute", incarnation=self.incarnation)


class EqualAliveMember(SwimMember):
    """The mistake: an Alive overrides the view at an *equal* incarnation (``<``
    where the rule says ``<=``), so stale gossip revives members declared dead."""

    def _on_alive(self, ctx: Context, u: Alive) -> None:
        from bft.protocols.swim.member import ALIVE, DEAD

        member = u.member
        if member == self.me:
            if u.incarnation > self.incarnation:
                self._refute(ctx, u.incarnation)
            return
        status, inc = self.view.get(member, (ALIVE, 0))
        if u.incarnation < inc:
            return
        self.view[member] = (ALIVE, u.incarnation)
        self.suspicions.pop(member, None)
        self.enqueue(member, u)
        if status == DEAD:
            ctx.output("alive", member=member, incarnation=u.incarnation)


@attrs.frozen
class PeriodsAsRoundsConfig(SwimConfig):
    """The mistake: the suspicion timeout is computed in protocol periods and used as
    rounds (the ``* period`` left out), so suspicions expire ``period`` times early."""

    def suspicion_timeout(self, confirmations: int) -> int:
        return max(1, math.ceil(super().suspicion_timeout(confirmations) / self.period))


class _PlantedSwim(Swim):
    member_class: type[SwimMember] = SwimMember

    def make_node(self, node_id: int, p: Any) -> Node:
        node = super().make_node(node_id, p)
        assert isinstance(node, Member)
        _recast(node.swim, self.member_class)  # type: ignore[arg-type]
        return node


class SwimStaleRefute(_PlantedSwim):
    name = "swim-stale-refute"
    summary = "PLANTED BUG: SWIM whose refutations carry the accused incarnation, not the next"
    member_class = StaleRefuteMember


class SwimEqualAlive(_PlantedSwim):
    name = "swim-equal-alive"
    summary = "PLANTED BUG: SWIM where an Alive at an equal incarnation overrides Dead"
    member_class = EqualAliveMember


class SwimShortSuspicion(Swim):
    name = "swim-short-suspicion"
    summary = "PLANTED BUG: SWIM whose suspicion timeout is in periods but used as rounds"

    def config(self, p: Any) -> SwimConfig:
        cfg = super().config(p)
        return PeriodsAsRoundsConfig(**attrs.asdict(cfg, recurse=False))


# -- Dolev-Strong: chain checks and relaying ---------------------------------------------------


class OuterSignatureNode(DolevStrongNode):
    """The mistake: only the outermost signature of a chain is verified (the relay's),
    so a corrupted relay can rewrite the value inside the sender's layer."""

    def check_chain(self, ctx: Context, message: Any, rnd: int) -> str | None:
        if not isinstance(message, Signed):
            return "not a signed message"
        if not ctx.verify(message):
            return f"invalid signature claimed by node {message.signer!r}"
        signers, layer = chain_signers(message)
        if not isinstance(layer, DSValue) or not isinstance(layer.value, int):
            return "the chain does not sign a Dolev-Strong value"
        if layer.sender != self.sender or signers[0] != self.sender:
            return f"the chain does not start with the sender {self.sender}"
        if len(set(signers)) != len(signers):
            return f"the chain repeats a signer: {signers}"
        if len(signers) != rnd:
            return f"a chain of {len(signers)} signatures arrived in round {rnd} (needs {rnd})"
        if self.me in signers:
            return "the chain already carries this node's signature"
        return None


class EarlyRelayCutoffNode(DolevStrongNode):
    """The mistake: a node relays what it accepts only up to round t-1 (``rnd < last - 1``),
    so a chain first shown to it in round t never reaches the others."""

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        rnd = ctx.round
        if self.me == self.sender:
            if rnd == 0:
                ctx.broadcast(ctx.sign(DSValue(self.sender, self.value)))
                self.extracted.append(self.value)
                self._decide(ctx, self.value)
            return
        last = self.decision_round()
        for src, message in inbox:
            if rnd > last or self.decided:
                ctx.reject(src, message, f"arrived in round {rnd}, after the decision")
                continue
            reason = self.check_chain(ctx, message, rnd)
            if reason is not None:
                ctx.reject(src, message, reason)
                continue
            _, statement = chain_signers(message)
            value = statement.value
            if value in self.extracted:
                continue
            self.extracted.append(value)
            if rnd < last - 1 and len(self.extracted) <= RELAY_LIMIT:
                signers, _ = chain_signers(message)
                ctx.multicast((j for j in range(self.n) if j not in signers), ctx.sign(message))
        if rnd == last and not self.decided:
            self._decide(ctx, self.extracted[0] if len(self.extracted) == 1 else DEFAULT)


class DSOuterSignature(DolevStrong):
    name = "ds-outer-signature"
    summary = "PLANTED BUG: Dolev-Strong that verifies only the outermost signature of a chain"
    node_class = OuterSignatureNode


class DSEarlyRelayCutoff(DolevStrong):
    name = "ds-early-relay-cutoff"
    summary = "PLANTED BUG: Dolev-Strong that stops relaying one round early"
    node_class = EarlyRelayCutoffNode


# -- Phase King: the king rule and the number of phases ----------------------------------------


class WeakThresholdNode(PhaseKingNode):
    """The mistake: a node keeps its own majority when it is a bare majority (``> n/2``)
    instead of an overwhelming one (``> n/2 + f``), so it can ignore an honest king."""

    def _follow_king(self, ctx: Context, phase: int, inbox: Inbox) -> None:
        told: int | None = self.maj if self.me == phase else None
        for src, msg in inbox:
            reason = self._invalid(msg, King, phase)
            if reason is None and src != phase:
                reason = f"node {src} is not the king of phase {phase}"
            if reason is None and self.me == phase:
                reason = f"node {src} sent a king message to the king of phase {phase}"
            if reason is None and told is not None:
                reason = f"a second king message in phase {phase}"
            if reason is not None:
                ctx.reject(src, msg, reason)
                continue
            told = msg.value
        if 2 * self.mult > self.n:  # the bug: should be > n + 2f
            self.pref = self.maj
        else:
            self.pref = 0 if told is None else told


class ShortPhasesNode(PhaseKingNode):
    """The mistake: f phases instead of f+1 (the decision comes after phase f-1, an
    off-by-one between counting phases from 1, as the paper does, and from 0):
    with f traitors among the first f kings, no king need be honest."""

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        rnd = ctx.round
        phase, step = divmod(rnd, 2)
        if step == 1:
            self._count_votes(ctx, phase, inbox)
            if self.me == phase:
                ctx.broadcast(King(phase, self.maj))
            return
        if rnd > 0:
            self._follow_king(ctx, phase - 1, inbox)
        if phase == self.f:  # the bug: should be self.f + 1
            if not self.decided:
                self.decided = True
                ctx.output("decide", value=self.pref)
            return
        if phase < self.f:
            ctx.broadcast(Vote(phase, self.pref))


class PhaseKingWeakThreshold(PhaseKing):
    name = "phase-king-weak-threshold"
    summary = "PLANTED BUG: Phase King that keeps a bare majority instead of n/2 + f"
    node_class = WeakThresholdNode


class PhaseKingShortPhases(PhaseKing):
    name = "phase-king-short"
    summary = "PLANTED BUG: Phase King that runs f phases instead of f+1"
    node_class = ShortPhasesNode


CLASSES: dict[str, type] = {
    cls.name: cls
    for cls in (
        BackoffLoginsUnguarded,
        BackoffNeverResets,
        BackoffNoJitter,
        BackoffBusyFailsOver,
        HealthLateQuarantine,
        HealthEarlyWatch,
        HealthNoHysteresis,
        SwimStaleRefute,
        SwimEqualAlive,
        SwimShortSuspicion,
        DSOuterSignature,
        DSEarlyRelayCutoff,
        PhaseKingWeakThreshold,
        PhaseKingShortPhases,
    )
}


def register_all() -> None:
    for name, cls in CLASSES.items():
        registry.register("protocol", name, cls)


def _schedule(*actions: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return ("schedule", {"actions": list(actions)})


FAMILY_PLANTED: list[FamilyPlanted] = [
    FamilyPlanted(
        "backoff-logins-unguarded",
        "backoff-reconnect",
        "skype-2007",
        ("admission",),
        1,
        bug="admission control refuses requests but admits every login, so the login storm "
        "overloads the servers it should have answered busy",
    ),
    FamilyPlanted(
        "backoff-never-resets",
        "backoff-reconnect",
        "poison-call",
        ("backoff-resets", "backoff-capped"),
        1,
        bug="an answer does not reset the failure count: the next failure sleeps as long as "
        "if the failures had never stopped (the clients of frozen servers fail, are answered "
        "elsewhere, then fail again when the poison reaches their new server)",
    ),
    FamilyPlanted(
        "backoff-no-jitter",
        "backoff-reconnect",
        "skype-2007",
        ("backoff-jitter",),
        1,
        bug="clients sleep the whole bound, base * 2^a, instead of a uniform draw below it",
    ),
    FamilyPlanted(
        "backoff-busy-fails-over",
        "backoff-reconnect",
        "skype-2007",
        ("retry-target",),
        1,
        bug="a busy answer is taken for a failure of the server: the client fails over, "
        "carrying the storm from a full server to the next",
    ),
    FamilyPlanted(
        "gossip-late-quarantine",
        "gossip-health",
        "poison-call",
        ("blast-radius",),
        1,
        bug="quarantine after more than k correlated deaths (> where >= belongs): the poison "
        "freezes one server more than the quarantine promises",
    ),
    FamilyPlanted(
        "gossip-early-watch",
        "gossip-health",
        "poison-call",
        ("quarantine-justified",),
        1,
        bug="the watch deadline is one round short of a round trip, so every watched server "
        "is attributed a death it did not die and innocent clients are correlated",
    ),
    FamilyPlanted(
        "gossip-no-hysteresis",
        "gossip-health",
        "poison-call",
        ("failover-guided",),
        1,
        bug="a client avoids the servers that failed it only when its view holds none alive, "
        "so it fails straight back to a frozen server SWIM has not suspected yet",
    ),
    FamilyPlanted(
        "swim-stale-refute",
        "swim",
        "swim-slow-member",
        ("membership-justified",),
        1,
        bug="a refutation re-announces the accused incarnation instead of the next one",
        kinds=("crash",),
    ),
    FamilyPlanted(
        "swim-equal-alive",
        "swim",
        "swim-slow-member",
        ("membership-justified",),
        1,
        bug="an Alive at an incarnation equal to the one held overrides Dead",
        kinds=("crash",),
    ),
    FamilyPlanted(
        "swim-short-suspicion",
        "swim",
        "swim-crash",
        ("membership-justified",),
        1,
        bug="the suspicion timeout is computed in periods and used as rounds",
        kinds=("crash",),
    ),
    FamilyPlanted(
        "ds-outer-signature",
        "dolev-strong",
        "dolev-strong",
        ("validity", "agreement"),
        2,
        bug="only the outermost signature of a chain is verified, so a corrupted relay "
        "rewrites the value under the honest sender's signature",
        # the shipped adversary corrupts the sender (validity is then vacuous): one
        # corrupted relay that alters the value it relays shows the bug
        adversaries=(_schedule({"do": "mutate", "node": 1, "at": 1}),),
    ),
    FamilyPlanted(
        "ds-early-relay-cutoff",
        "dolev-strong",
        "dolev-strong",
        ("agreement",),
        2,
        bug="a value first accepted in round t is not relayed, so a chain the corrupted "
        "nodes show to one honest node in round t reaches no other",
        # the corrupted sender shows its chain to the corrupted relay only, which shows
        # it (two signatures, round 2 = t) to node 2 only
        adversaries=(
            _schedule(
                {"do": "omit", "node": 0, "at": 0, "dst": 2},
                {"do": "omit", "node": 0, "at": 0, "dst": 3},
                {"do": "omit", "node": 1, "at": 1, "dst": 3},
            ),
        ),
    ),
    FamilyPlanted(
        "phase-king-weak-threshold",
        "phase-king",
        "phase-king",
        ("king-unifies", "agreement"),
        1,
        bug="a node keeps its own majority when it exceeds n/2, not n/2 + f, and so ignores "
        "the honest king",
    ),
    FamilyPlanted(
        "phase-king-short",
        "phase-king",
        "phase-king",
        ("decision-round", "agreement"),
        1,
        bug="f phases instead of f+1: with f traitor kings first, no king is honest",
    ),
]
