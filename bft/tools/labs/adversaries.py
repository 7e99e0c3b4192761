"""The graders' own adversaries: each lab's threat model, tried in full.

The labs' texts promise what a traitor or the network may do; these
adversaries do it, so a solution that survives only a gentler opponent fails.
They are registered only while a lab is graded or rerun (``REGISTRY``), never
as built-ins, and they act only through the control's powers like any other.

* ``lab-om-traitor`` (lab 2, oral messages). Corrupted generals lie about the
  ``value`` of every ``Order`` they send (``lie``: per recipient, to everyone,
  at random) and, with ``trick``, also send what the skeleton warns about:
  ``forge`` (orders claiming to come from the commander or relayed by another
  lieutenant, i.e. paths that do not end with their sender), ``late`` (a
  commander's second, different order arriving in round 2; relays sent a round
  early or after the decision), ``replay`` (honest messages resent by the
  traitor), ``stuff`` (several relays for one path), ``garbage`` (anything that
  is not a well-formed order: other types, lists for paths, strings, None,
  huge ids, deep nesting), or ``mixed`` (each of these, per round and
  recipient, at random). Every loyal lieutenant but one (drawn by seed) gets
  the trick, so that loyal lieutenants see different things. Forged orders are made from an ``Order`` the
  students' own nodes sent (``attrs.evolve`` on its ``path`` and ``value``),
  so they are of the student's class.
* ``lab-ds-traitor`` (lab 3, signature chains). On top of ``ds-byzantine``'s
  equivocation and late, selective reveals: ``forge`` (an honest signature
  over an altered payload, an invented signature, a chain whose innermost
  statement names another sender), ``repeat`` (one corrupted node signing a
  chain twice), ``short`` (a chain with too few signatures for its round),
  ``own`` (a chain that already carries the recipient's signature), ``early``
  (a chain longer than its round needs), ``dup`` (one chain twice),
  ``garbage`` (unsigned values, malformed layers), ``mixed``. Chains that
  could add a value (``repeat``, ``short``, ``early``) are shown to one honest
  node only, arriving in round t+1, when it can no longer relay them.
* ``lab-disguise`` (labs 2 and 3, blind pairs). Corrupted nodes run their
  code with a secret value but every message they send says ``to`` instead
  (re-signed with their own keys): to every honest node the run looks
  exactly like one in which they are honest and hold ``to``.
* ``lab-pbft-commit`` (lab 4). The attack a missing or weakened commit phase
  falls to (Castro and Liskov, section 4.4 is why 2f+1 commits are needed):
  ``f`` corrupted backups B, ``f`` correct replicas P and the other ``f+1``
  correct replicas Q. Before GST the network keeps P apart: P and B prepare
  the first request at sequence number s and B sends its COMMITs to P, so P
  holds 2f matching COMMITs (its own f and B's f); Q and B never prepare s,
  but prepare the next request. Q and B then change view without P: no
  view-change certificate mentions s, so the new primary fills s with the null
  request and Q executes null at s. A replica of P that executed at s with
  fewer than 2f+1 COMMITs disagrees with Q. With 2f+1 it never executes, and
  nothing is violated: the attack uses f Byzantine replicas and drops only
  before GST, inside PBFT's fault model.
"""

from __future__ import annotations

from typing import Any

import attrs

from bft.adversaries.byzantine import flipped
from bft.core.adversary import Adversary, SetupControl, TrafficControl
from bft.core.crypto import Signed
from bft.core.errors import BftError, ConfigError
from bft.core.params import Nodes, Param, resolve_nodes


class FormatError(BftError):
    """The student's messages are not in the format the lab prescribes (so the grader's
    adversary cannot lie in them)."""


NODES = Param("nodes", Nodes, default=(-1,), doc="the corrupted nodes")


def _corrupt(adversary: Adversary, ctl: SetupControl) -> tuple[int, ...]:
    nodes = resolve_nodes(adversary.name, adversary.p["nodes"], ctl.n)
    ctl.corrupt(list(nodes))
    return nodes


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = (value,)
    return value


# ---------------------------------------------------------------------------- lab 2: oral messages

OM_TRICKS = ("none", "forge", "late", "replay", "stuff", "garbage", "mixed", "silent")


class OMTraitor(Adversary):
    name = "lab-om-traitor"
    summary = "lab 2: traitors lie in orders, forge paths, replay, send late and send garbage"
    intercepts = True
    params = (
        NODES,
        Param(
            "lie",
            str,
            default="split",
            doc="how traitors change the value of their own orders",
            choices=("none", "split", "flip", "random"),
        ),
        Param("trick", str, default="none", doc="what else they send", choices=OM_TRICKS),
    )

    def setup(self, ctl: SetupControl) -> None:
        self.traitors = _corrupt(self, ctl)
        self.commander = int(ctl.params.get("commander", 0))
        self.template: Any = None
        self.odd: str | None = None  # a message type seen that is not an order
        self.seen: list[tuple[int, Any]] = []  # honest (src, payload) pairs, for replays
        self.told: dict[int, Any] = {}  # lieutenant -> the order the commander sent it
        self.spared: int | None = None

    def _learn(self, ctl: TrafficControl) -> None:
        for env in ctl.envelopes:
            payload = env.payload
            fields = (
                {f.name for f in attrs.fields(type(payload))} if attrs.has(type(payload)) else set()
            )
            if {"path", "value"} <= fields:
                if self.template is None:
                    self.template = payload
                if env.src not in ctl.corrupted and len(self.seen) < 64:
                    self.seen.append((env.src, payload))
            elif self.odd is None:
                self.odd = type(payload).__name__

    def _order(self, path: Any, value: Any) -> Any:
        return attrs.evolve(self.template, path=path, value=value)

    def on_traffic(self, ctl: TrafficControl) -> None:
        self._learn(ctl)
        if self.template is None:
            if self.odd is not None and ctl.round == 0:
                raise FormatError(
                    f"the grader's traitors forge orders from your own Order(path, value) "
                    f"messages, but your generals sent a {self.odd}: keep the skeleton's Order "
                    "class with its fields path and value"
                )
            return
        trick, lie = self.p["trick"], self.p["lie"]
        for node in sorted(ctl.corrupted):
            mine = sorted(ctl.from_node(node), key=lambda e: e.dst)
            for position, env in enumerate(mine):
                if trick == "silent":
                    ctl.drop(env)
                    continue
                payload = env.payload
                if not attrs.has(type(payload)) or not hasattr(payload, "value"):
                    continue
                if lie == "flip":
                    change = True
                elif lie == "split":
                    change = position % 2 == 0
                elif lie == "random":
                    change = ctl.rng.random() < 0.5
                else:
                    change = False
                if change:
                    ctl.replace(env, attrs.evolve(payload, value=flipped(payload.value)))
        for env in ctl.envelopes:  # what each lieutenant was told, as sent
            if env.src == self.commander and ctl.round == 0 and not env.dropped:
                self.told[env.dst] = getattr(env.payload, "value", None)
        if trick in ("none", "silent"):
            return
        honest = [i for i in range(ctl.n) if i not in ctl.corrupted and i != self.commander]
        if not honest:
            return
        if self.spared is None:
            self.spared = ctl.rng.choice(honest) if len(honest) > 1 else -1
        for traitor in sorted(ctl.corrupted):
            for dst in honest:
                tricks = [trick]
                if trick == "mixed":
                    tricks = [t for t in OM_TRICKS[1:6] if ctl.rng.random() < 0.4]
                for kind in tricks:
                    if kind != "garbage" and dst == self.spared:
                        continue  # one lieutenant is told the truth, so lieutenants differ
                    for payload in self._trick(kind, ctl, traitor, dst):
                        ctl.inject(traitor, dst, payload)

    def _trick(self, kind: str, ctl: TrafficControl, j: int, i: int) -> list[Any]:
        c, rnd = self.commander, ctl.round
        told = self.told.get(i, ctl.params.get("value", 1))
        lie = flipped(told if isinstance(told, int) else 1)
        others = [k for k in range(ctl.n) if k not in (c, i, j)]
        out: list[Any] = []
        if kind == "forge" and rnd in (0, 1):
            if j != c:
                out.append(self._order((c,), lie))  # "I am the commander"
            for k in others[:2]:
                out.append(self._order((c, k), lie))  # "k relayed this"
            if rnd == 1:
                out.append(self._order((c, i), lie))  # "you relayed this"
        elif kind == "late":
            if j == c and rnd == 1:
                out.append(self._order((c,), lie))  # a second order, arriving in round 2
            if j != c and rnd == 0:
                out.append(self._order((c, j), lie))  # a relay before the order came
            if rnd >= 2:
                out.append(self._order((c, j) if j != c else (c,), lie))  # after the decision
        elif kind == "replay":
            for src, payload in self.seen[-6:]:
                if src != i:
                    out.append(payload)
        elif kind == "stuff":
            if j == c and rnd == 0:
                out.append(self._order((c,), lie))  # two orders in one round
            if j != c and rnd == 1:
                out.extend(self._order((c, j), v) for v in (lie, lie, told, lie))
        elif kind == "garbage":
            out.extend(
                [
                    7,
                    "attack",
                    None,
                    (c, j),
                    b"\x00\x01",
                    self._order([c, j], told),
                    self._order((c, j), str(told)),
                    self._order((c, j), None),
                    self._order((c, j), 2.5),
                    self._order((c, j), (told,)),
                    self._order((), told),
                    self._order((c, j, j), lie),
                    self._order((c, 10**6), lie),
                    self._order((c, -1), lie),
                    self._order("0", lie),
                    self._order(_deep(40), lie),
                ]
            )
        return out


# ---------------------------------------------------------------------------- lab 3: signature chains

DS_TRICKS = ("none", "forge", "repeat", "short", "own", "early", "dup", "garbage", "mixed")


def _chain_parts(message: Any) -> tuple[list[Signed], Any]:
    layers: list[Signed] = []
    layer = message
    while isinstance(layer, Signed):
        layers.append(layer)
        layer = layer.payload
    return layers, layer


class DSTraitor(Adversary):
    name = "lab-ds-traitor"
    summary = "lab 3: forged, repeated, replayed, early, duplicated and malformed signature chains"
    intercepts = True
    params = (
        NODES,
        Param("trick", str, default="mixed", doc="what corrupted nodes send", choices=DS_TRICKS),
    )

    def setup(self, ctl: SetupControl) -> None:
        self.corrupt = _corrupt(self, ctl)
        self.sender = int(ctl.params.get("sender", 0))
        self.chains: list[Signed] = []
        self.victim: int | None = None

    def on_traffic(self, ctl: TrafficControl) -> None:
        for env in ctl.envelopes:
            if isinstance(env.payload, Signed) and len(self.chains) < 64:
                self.chains.append(env.payload)
        trick = self.p["trick"]
        if trick == "none" or not ctl.corrupted:
            return
        t = int(ctl.params.get("t", 1))
        if ctl.round > t + 1:
            return
        honest = [i for i in range(ctl.n) if i not in ctl.corrupted]
        if not honest:
            return
        if self.victim is None:
            self.victim = ctl.rng.choice(honest)
        src = min(ctl.corrupted)
        for dst in honest:
            tricks = [trick]
            if trick == "mixed":
                tricks = [k for k in DS_TRICKS[1:8] if ctl.rng.random() < 0.4]
            for kind in tricks:
                # chains that could add a value are shown late (round t+1) to one node only
                if kind in ("repeat", "short", "early") and (dst != self.victim or ctl.round != t):
                    continue
                for payload in self._trick(kind, ctl, dst):
                    ctl.inject(src, dst, payload)

    def _statement(self, ctl: TrafficControl) -> Any:
        from bft.protocols.dolev_strong import DSValue

        return DSValue

    def _trick(self, kind: str, ctl: TrafficControl, dst: int) -> list[Any]:
        ds_value = self._statement(ctl)
        rnd, sender = ctl.round, self.sender
        corrupted = sorted(ctl.corrupted)
        given = ctl.params.get("value")
        value = 1 if given is None else int(given)
        honest_chain = next((c for c in self.chains if c.signer not in ctl.corrupted), None)
        out: list[Any] = []
        if kind == "forge":
            out.append(Signed(sender, ds_value(sender, flipped(value)), b"\x00" * 64))
            if honest_chain is not None:
                layers, statement = _chain_parts(honest_chain)
                if attrs.has(type(statement)) and hasattr(statement, "value"):
                    altered = attrs.evolve(statement, value=flipped(statement.value))
                    out.append(attrs.evolve(layers[-1], payload=altered))
                out.append(Signed(honest_chain.signer, honest_chain, honest_chain.signature))
            other = next((c for c in corrupted if c != sender), None)
            if other is not None:
                fake = ctl.sign(other, ds_value(other, flipped(value)))
                chain = fake
                for signer in corrupted:
                    if signer != other and len(_chain_parts(chain)[0]) < rnd + 1:
                        chain = ctl.sign(signer, chain) or chain
                out.append(chain)
        elif kind == "repeat" and corrupted:
            base = ctl.sign(corrupted[0], ds_value(sender, flipped(value)))
            chain = base
            while chain is not None and len(_chain_parts(chain)[0]) < rnd + 1:
                chain = ctl.sign(corrupted[0], chain)
            if chain is not None:
                out.append(chain)
        elif kind == "short" and sender in ctl.corrupted:
            chain = ctl.sign(sender, ds_value(sender, flipped(value)))
            if chain is not None:
                out.append(chain)  # one signature, arriving in round t+1
        elif kind == "own":
            for chain in self.chains:
                layers, _ = _chain_parts(chain)
                if any(layer.signer == dst for layer in layers):
                    out.append(chain)
                    break
        elif kind == "early" and sender in ctl.corrupted:
            chain = ctl.sign(sender, ds_value(sender, flipped(value)))
            for signer in corrupted:
                if signer != sender and chain is not None:
                    chain = ctl.sign(signer, chain)
            if chain is not None and len(_chain_parts(chain)[0]) > rnd + 1:
                out.append(chain)
        elif kind == "dup":
            mine = [c for c in self.chains if c.signer in ctl.corrupted]
            out.extend(mine[-1:] * 3)
        elif kind == "garbage":
            out.extend(
                [
                    1,
                    None,
                    "signed",
                    ds_value(sender, value),
                    Signed(sender, None, b"\x00"),
                    Signed("0", ds_value(sender, value), b"\x00"),  # type: ignore[arg-type]
                    Signed(sender, ds_value(sender, value), "not bytes"),  # type: ignore[arg-type]
                    Signed(10**6, ds_value(sender, value), b"\x00"),
                    Signed(sender, ds_value(sender, "1"), b"\x00"),
                    Signed(sender, _deep(40), b"\x00"),
                ]
            )
        return out


# ---------------------------------------------------------------------------- blind pairs


def _disguised(payload: Any, field: str, to: Any, ctl: TrafficControl) -> Any:
    """``payload`` with ``field`` set to ``to`` wherever it occurs, re-signing each layer
    a corrupted node signed (others keep their now invalid signatures)."""
    if isinstance(payload, Signed):
        inner = _disguised(payload.payload, field, to, ctl)
        if inner == payload.payload:
            return payload
        if payload.signer in ctl.corrupted:
            resigned = ctl.sign(payload.signer, inner)
            return resigned if resigned is not None else payload
        return attrs.evolve(payload, payload=inner)
    if attrs.has(type(payload)) and hasattr(payload, field):
        return attrs.evolve(payload, **{field: to})
    return payload


class Disguise(Adversary):
    name = "lab-disguise"
    summary = "corrupted nodes hold one value but every message they send says another"
    intercepts = True
    params = (
        NODES,
        Param("field", str, default="value", doc="the message field to rewrite"),
        Param("to", int, default=1, doc="the value every message shows"),
    )

    def setup(self, ctl: SetupControl) -> None:
        _corrupt(self, ctl)

    def on_traffic(self, ctl: TrafficControl) -> None:
        for env in ctl.envelopes:
            if env.src in ctl.corrupted and not env.dropped:
                changed = _disguised(env.payload, self.p["field"], self.p["to"], ctl)
                if changed is not env.payload:
                    ctl.replace(env, changed)


# ---------------------------------------------------------------------------- lab 4: PBFT commits


class PBFTCommitAttack(Adversary):
    name = "lab-pbft-commit"
    summary = "lab 4: the view-change attack a commit quorum below 2f+1 falls to"
    intercepts = True
    params = ()

    def setup(self, ctl: SetupControl) -> None:
        replicas = ctl.nodes_with_role("replica") or list(range(ctl.n))
        n = len(replicas)
        f = (n - 1) // 3
        if f < 1 or ctl.params.get("f") not in (None, f):
            raise ConfigError("lab-pbft-commit needs n = 3f+1 replicas with f >= 1")
        # Q: the primaries of views 0 and 1 and f-1 more; B: f corrupted; P: f isolated
        self.q = set(replicas[: f + 1])
        self.b = set(replicas[f + 1 : 2 * f + 1])
        self.isolated = set(replicas[2 * f + 1 :])  # P (``self.p`` holds the parameters)
        self.replicas = set(replicas)
        ctl.corrupt(sorted(self.b))
        self.target: tuple[int, int, bytes] | None = None  # (view, seq, digest)
        self.injected: set[int] = set()

    def on_traffic(self, ctl: TrafficControl) -> None:
        from bft.protocols.pbft.messages import Commit, Prepare, PrePrepare

        for env in ctl.envelopes:
            msg = env.payload.payload if isinstance(env.payload, Signed) else env.payload
            if isinstance(msg, PrePrepare) and self.target is None and msg.requests:
                self.target = (msg.view, msg.seq, msg.digest)
        if self.target is None:
            return
        view, seq, digest = self.target
        for env in ctl.envelopes:
            if env.dropped:
                continue
            src, dst = env.src, env.dst
            msg = env.payload.payload if isinstance(env.payload, Signed) else env.payload
            vote = isinstance(msg, Prepare | Commit) and msg.view == view and msg.seq == seq
            if src in self.isolated:
                if dst not in self.isolated:
                    ctl.drop(env)
            elif src in self.replicas and dst in self.isolated:
                if not (isinstance(msg, PrePrepare) or (vote and src in self.b)):
                    ctl.drop(env)
            elif src in self.replicas and dst in self.replicas and vote:
                ctl.drop(env)
        # once a replica of P commits, the corrupted replicas back it with their COMMITs
        for env in ctl.envelopes:
            msg = env.payload.payload if isinstance(env.payload, Signed) else env.payload
            if (
                env.src in self.isolated
                and env.src not in self.injected
                and isinstance(msg, Commit)
                and (msg.view, msg.seq) == (view, seq)
            ):
                self.injected.add(env.src)
                for b in sorted(self.b):
                    signed = ctl.sign(b, Commit(view, seq, digest, b))
                    if signed is not None:
                        for p in sorted(self.isolated):
                            ctl.inject(b, p, signed)


REGISTRY: dict[str, type[Adversary]] = {
    cls.name: cls for cls in (OMTraitor, DSTraitor, Disguise, PBFTCommitAttack)
}
