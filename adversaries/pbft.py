"""Adversaries against PBFT-style replication (and, where they can be, any protocol).

* ``silent-primary``: the corrupted nodes (default: replica 0, the primary of
  view 0) send nothing from round ``at`` on. Generic: it works on any protocol.
* ``equivocating-primary``: the corrupted primary sends different
  pre-prepares for the same sequence number to different backups: the real
  request to one half of the honest replicas and the null request to the
  other. Its own votes, and those of any ``accomplices``, tell each half the
  story it was told. With at most f corrupted replicas nothing commits
  divergently and a view change follows; with f+1 (primary plus f
  accomplices) each half gathers a full quorum and correct replicas commit
  different requests at one sequence number: the 3f+1 bound is tight.
* ``slow-primary``: the corrupted primary releases one pre-prepare every
  ``period`` rounds (default: the view-change timeout minus one): slow enough
  to collapse throughput, fast enough that, with few clients, each request
  executes before the view-change timer a backup started for it expires
  (Aardvark, NSDI 2009): no view change.
* ``byzantine-replica``: corrupted replicas (default: the last replica) send
  conflicting prepares and commits (a garbage digest to every other
  recipient, the true one to the rest), wrong checkpoints, wrong replies,
  view-changes carrying forged certificates, and now and then ask for a view
  change on their own.
* ``forger``: a corrupted node (default: the last node, a client, so that no
  replica is corrupted) tries to pass off messages as honest nodes': honest
  signatures on altered payloads, invented signatures, and unsigned replies
  naming an honest replica. Every one must be rejected. Generic: works on any
  protocol that signs its messages or names their sender.
* ``replayer``: a corrupted node (default: the last node) records the traffic
  it sees and resends old messages (validly signed by their authors) to their
  recipients or to others. Generic.

``nodes`` picks explicit ids everywhere; replicas are found by role
(``replica``), or taken to be every node if no node has that role.
"""

from __future__ import annotations

from typing import Any

import attrs

from bft.adversaries.generic import TARGET_PARAMS
from bft.core.adversary import Adversary, Envelope, SetupControl, TrafficControl
from bft.core.crypto import Signed
from bft.core.errors import ConfigError
from bft.core.params import Nodes, Param, resolve_nodes
from bft.protocols.pbft.messages import (
    NULL_DIGEST,
    Checkpoint,
    Commit,
    NewView,
    Prepare,
    PreparedCert,
    PrePrepare,
    Reply,
    ViewChange,
)

AT = Param("at", int, default=0, doc="first round the adversary acts", min=0)


def _targets(adversary: Adversary, ctl: SetupControl, default: tuple[int, ...]) -> tuple[int, ...]:
    p = adversary.p
    if p.get("nodes") is not None:
        return resolve_nodes(adversary.name, p["nodes"], ctl.n)
    pool = ctl.nodes_with_role(p["role"]) if p.get("role") else list(range(ctl.n))
    if p.get("count") is not None:
        if p["count"] > len(pool):
            raise ConfigError(
                f"{adversary.name}: count={p['count']} but only {len(pool)} candidate nodes"
            )
        return tuple(sorted(ctl.rng.sample(pool, p["count"])))
    return resolve_nodes(adversary.name, default, ctl.n)


def _replicas(ctl: TrafficControl | SetupControl) -> list[int]:
    replicas = ctl.nodes_with_role("replica")
    return replicas or list(range(ctl.n))


def _primary_of(ctl: TrafficControl | SetupControl, view: int) -> int:
    replicas = _replicas(ctl)
    return replicas[view % len(replicas)]


def _resign(ctl: TrafficControl, signer: int, payload: Any) -> Signed | None:
    return ctl.sign(signer, payload)


class SilentPrimary(Adversary):
    name = "silent-primary"
    summary = "corrupted nodes (default: the view-0 primary) send nothing from round 'at'"
    intercepts = True
    params = (*TARGET_PARAMS, AT)

    def setup(self, ctl: SetupControl) -> None:
        self.targets = _targets(self, ctl, (0,))
        ctl.corrupt(self.targets)

    def on_traffic(self, ctl: TrafficControl) -> None:
        if ctl.round < self.p["at"]:
            return
        for env in ctl.envelopes:
            if env.src in self.targets and not env.dropped:
                ctl.drop(env)


class EquivocatingPrimary(Adversary):
    name = "equivocating-primary"
    summary = (
        "the corrupted primary sends conflicting pre-prepares to two halves of the backups "
        "(with 'accomplices' voting both ways)"
    )
    intercepts = True
    params = (
        Param("nodes", Nodes, default=(0,), doc="the corrupted primary (default replica 0)"),
        Param("accomplices", Nodes, default=(), doc="corrupted replicas that vote with each half"),
        AT,
    )

    def setup(self, ctl: SetupControl) -> None:
        self.primaries = resolve_nodes(self.name, self.p["nodes"], ctl.n)
        self.accomplices = resolve_nodes(self.name, self.p["accomplices"], ctl.n)
        corrupted = sorted({*self.primaries, *self.accomplices})
        ctl.corrupt(corrupted)
        honest = [r for r in _replicas(ctl) if r not in corrupted]
        # The half that hears the real request is the smaller one: with only the primary
        # corrupted, neither half can gather a quorum for the real request.
        self.group_b = frozenset(honest[len(honest) // 2 :])
        self.alt: dict[tuple[int, int], tuple[bytes, Signed | None]] = {}
        self.real: dict[tuple[int, int], bytes] = {}

    def on_traffic(self, ctl: TrafficControl) -> None:
        if ctl.round < self.p["at"]:
            return
        corrupted = ctl.corrupted
        for env in ctl.envelopes:
            if env.src not in corrupted or env.dropped or type(env.payload) is not Signed:
                continue
            body = env.payload.payload
            if type(body) is PrePrepare and env.src in self.primaries:
                if _primary_of(ctl, body.view) != env.src:
                    continue
                key = (body.view, body.seq)
                self.real.setdefault(key, body.digest)
                if env.dst in self.group_b and body.digest != NULL_DIGEST:
                    alt = self._alternative(ctl, env.src, body)
                    if alt is not None:
                        ctl.replace(env, alt)
            elif type(body) in (Prepare, Commit) and env.dst in self.group_b:
                key = (body.view, body.seq)
                real = self.real.get(key)
                if real is not None and body.digest == real:
                    other = self.alt.get(key)
                    if other is not None:
                        new = _resign(ctl, env.src, attrs.evolve(body, digest=other[0]))
                        if new is not None:
                            ctl.replace(env, new)

    def _alternative(self, ctl: TrafficControl, signer: int, body: PrePrepare) -> Signed | None:
        key = (body.view, body.seq)
        if key not in self.alt:
            self.alt[key] = (
                NULL_DIGEST,
                _resign(ctl, signer, PrePrepare(body.view, body.seq, NULL_DIGEST, ())),
            )
            ctl.note(f"equivocate: view {body.view} seq {body.seq}: null to {sorted(self.group_b)}")
        return self.alt[key][1]


class SlowPrimary(Adversary):
    name = "slow-primary"
    summary = (
        "the corrupted primary releases one pre-prepare per 'period' rounds, just under the "
        "view-change timeout"
    )
    intercepts = True
    params = (
        Param("nodes", Nodes, default=(0,), doc="the corrupted primary (default replica 0)"),
        Param(
            "period",
            int,
            default=None,
            doc="rounds between pre-prepares (default: the protocol's view_timeout - 1)",
            min=1,
        ),
        AT,
    )

    def setup(self, ctl: SetupControl) -> None:
        self.targets = resolve_nodes(self.name, self.p["nodes"], ctl.n)
        ctl.corrupt(self.targets)
        period = self.p["period"]
        if period is None:
            timeout = ctl.params.get("view_timeout")
            if not isinstance(timeout, int):
                raise ConfigError(
                    "slow-primary: give 'period' (the protocol has no 'view_timeout' to stay under)"
                )
            period = max(1, timeout - 1)
        self.period = period
        self.release: dict[tuple[int, int, int], int] = {}
        self.next_free = 0

    def on_traffic(self, ctl: TrafficControl) -> None:
        if ctl.round < self.p["at"]:
            return
        for env in ctl.envelopes:
            if env.src not in self.targets or env.dropped or type(env.payload) is not Signed:
                continue
            body = env.payload.payload
            if type(body) is not PrePrepare:
                continue
            key = (env.src, body.view, body.seq)
            when = self.release.get(key)
            if when is None:
                when = max(ctl.round + 1, self.next_free)
                self.release[key] = when
                self.next_free = when + self.period
            extra = when - (ctl.round + 1)
            if extra > 0:
                ctl.delay(env, extra)


class ByzantineReplica(Adversary):
    name = "byzantine-replica"
    summary = (
        "corrupted replicas send conflicting prepares/commits, wrong checkpoints and replies, "
        "and garbage view-changes"
    )
    intercepts = True
    params = (
        *TARGET_PARAMS,
        AT,
        Param(
            "nuisance",
            float,
            default=0.05,
            doc="per round: chance to ask for a view change on their own",
            min=0.0,
            max=1.0,
        ),
    )

    def setup(self, ctl: SetupControl) -> None:
        replicas = _replicas(ctl)
        self.targets = _targets(self, ctl, (replicas[-1],))
        ctl.corrupt(self.targets)
        self.replicas = replicas

    def _garbage(self, ctl: TrafficControl) -> bytes:
        return ctl.rng.getrandbits(128).to_bytes(16, "big")

    def on_traffic(self, ctl: TrafficControl) -> None:
        if ctl.round < self.p["at"]:
            return
        corrupted = ctl.corrupted
        highest_view = 0
        for position, env in enumerate(list(ctl.envelopes)):
            if env.dropped:
                continue
            if type(env.payload) is Reply and env.src in self.targets:
                ctl.replace(env, attrs.evolve(env.payload, result=env.payload.result + 1))
                continue
            if type(env.payload) is not Signed:
                continue
            body = env.payload.payload
            if hasattr(body, "view") and type(body.view) is int:
                highest_view = max(highest_view, body.view)
            if env.src not in self.targets:
                continue
            new = self._corrupt(ctl, env, body, position)
            if new is not None:
                ctl.replace(env, new)
        if ctl.rng.random() < self.p["nuisance"]:
            for node in sorted(self.targets):
                vc = ViewChange(highest_view + 1, 0, (), (), node)
                signed = ctl.sign(node, vc)
                if signed is None:
                    continue
                for dst in self.replicas:
                    if dst not in corrupted:
                        ctl.inject(node, dst, signed)

    def _corrupt(self, ctl: TrafficControl, env: Envelope, body: Any, position: int) -> Any:
        src = env.src
        kind = type(body)
        if kind in (Prepare, Commit):
            if position % 2:
                return None  # conflicting: half the recipients hear the truth
            return ctl.sign(src, attrs.evolve(body, digest=self._garbage(ctl)))
        if kind is Checkpoint:
            return ctl.sign(src, attrs.evolve(body, state=self._garbage(ctl)))
        if kind is ViewChange:
            # a "prepared certificate" signed only by itself, for a request nobody sent
            fake_pp = ctl.sign(src, PrePrepare(0, body.stable_seq + 1, self._garbage(ctl), ()))
            cert = PreparedCert(fake_pp, (fake_pp,))  # type: ignore[arg-type]
            return ctl.sign(src, attrs.evolve(body, prepared=(cert,)))
        if kind is PrePrepare:
            return ctl.sign(src, PrePrepare(body.view, body.seq, NULL_DIGEST, ()))
        if kind is NewView:
            return ctl.sign(src, attrs.evolve(body, pre_prepares=body.pre_prepares[:-1]))
        return None


class Forger(Adversary):
    name = "forger"
    summary = "a corrupted node sends messages passed off as honest nodes' (must be rejected)"
    intercepts = True
    params = (
        *TARGET_PARAMS,
        AT,
        Param("per_round", int, default=4, doc="forgeries injected per round", min=0),
    )

    def setup(self, ctl: SetupControl) -> None:
        self.targets = _targets(self, ctl, (-1,))
        ctl.corrupt(self.targets)

    def on_traffic(self, ctl: TrafficControl) -> None:
        if ctl.round < self.p["at"] or not self.targets:
            return
        honest = [
            e
            for e in ctl.envelopes
            if e.src not in ctl.corrupted
            and not e.dropped
            and (type(e.payload) is Signed or hasattr(e.payload, "replica"))
        ]
        if not honest:
            return
        src = self.targets[0]
        for _ in range(self.p["per_round"]):
            env = honest[ctl.rng.randrange(len(honest))]
            forged = self._forge(ctl, env.payload)
            if forged is not None:
                ctl.inject(src, env.dst, forged)

    def _forge(self, ctl: TrafficControl, signed: Any) -> Any:
        if type(signed) is not Signed:
            # an unsigned message that names its sender (a reply): claim to be that node
            result = getattr(signed, "result", None)
            if type(result) is int and attrs.has(type(signed)):
                return attrs.evolve(signed, result=result + 1)
            return None
        body = signed.payload
        if ctl.rng.random() < 0.5:
            # an honest signature over an altered payload
            for field in ("digest", "result", "seq", "view"):
                value = getattr(body, field, None)
                if type(value) is int:
                    return Signed(
                        signed.signer, attrs.evolve(body, **{field: value + 1}), signed.signature
                    )
                if type(value) is bytes:
                    return Signed(
                        signed.signer,
                        attrs.evolve(body, **{field: bytes(b ^ 0xFF for b in value)}),
                        signed.signature,
                    )
            return None
        # an invented signature in an honest node's name
        noise = ctl.rng.getrandbits(512).to_bytes(64, "big")
        return Signed(signed.signer, body, noise[: len(signed.signature)])


class Replayer(Adversary):
    name = "replayer"
    summary = "a corrupted node resends old, validly signed messages to their recipients or others"
    intercepts = True
    params = (
        *TARGET_PARAMS,
        AT,
        Param("per_round", int, default=4, doc="old messages resent per round", min=0),
        Param("memory", int, default=2000, doc="how many past messages it remembers", min=1),
    )

    def setup(self, ctl: SetupControl) -> None:
        self.targets = _targets(self, ctl, (-1,))
        ctl.corrupt(self.targets)
        self.history: list[tuple[int, int, Any]] = []

    def on_traffic(self, ctl: TrafficControl) -> None:
        memory = self.p["memory"]
        for env in ctl.envelopes:
            if type(env.payload) is Signed and not env.injected:
                self.history.append((env.sent, env.dst, env.payload))
        if len(self.history) > memory:
            # keep a spread of old and recent messages, deterministically
            self.history = self.history[::2]
        if ctl.round < self.p["at"] or not self.targets or not self.history:
            return
        src = self.targets[0]
        old = [h for h in self.history if h[0] < ctl.round - 1] or self.history
        for _ in range(self.p["per_round"]):
            _sent, dst, payload = old[ctl.rng.randrange(len(old))]
            if ctl.rng.random() < 0.5:
                dst = ctl.rng.randrange(ctl.n)
            if dst != src:
                ctl.inject(src, dst, payload)
