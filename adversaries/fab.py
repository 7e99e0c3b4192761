"""The Byzantine replica of the published FaB liveness violation.

Abraham, Gueta, Malkhi, Alvisi, Kotla and Martin ("Revisiting Fast Practical
Byzantine Fault Tolerance", arXiv 1712.01367, 2017, section 3) show that
published FaB can leave the correct replicas unable to make progress, with four
replicas, two view changes, in the first log slot. This adversary plays the one
faulty replica R of that scenario (``docs/known-bugs.md``); the network's part
(one message lost before GST) is left to other adversaries or to the search.
Every client is correct.

R runs the protocol's own code; the adversary changes only what R sends (every
message R sends is signed with R's key):

1. View 0, R the leader: R's PROPOSE reaches every replica except one
   (``hide_from``), and R's ACCEPTED reaches one replica only (``prover``).
   The prover sees ACCEPTED from R, itself and the other acceptor: it alone
   holds a commit proof for R's value A, which nobody decides. The replica
   that never saw the proposal suspects R; a view change follows.
2. View 1: R answers the new leader's QUERY with a digest it never accepted,
   so the leader's progress certificate forces nothing and the leader proposes
   its own pending batch B (which includes A's requests).
3. From then on R is silent.

If the new leader's proposal never reaches the prover (a message lost before
GST), two correct replicas accept B in view 1 while the prover holds a commit
proof for A from view 0. In every later view the correct replicas' certificate
shows B twice and a proof for A: the published rule allows neither, and no
leader can propose again. The corrected rule (``fab-fixed``) ranks the view-1
reports above the view-0 proof and forces B.
"""

from __future__ import annotations

import attrs

from bft.core.adversary import Adversary, SetupControl, TrafficControl
from bft.core.crypto import Signed
from bft.core.errors import ConfigError
from bft.core.params import Nodes, Param, resolve_nodes
from bft.protocols.fab.messages import Accepted, Propose, Rep


class LoneProof(Adversary):
    name = "fab-lone-proof"
    summary = (
        "the FaB attack of Abraham et al. 2017: the view-0 leader leaves a commit proof at "
        "one replica only, then lies to the next leader and falls silent"
    )
    intercepts = True
    #: a protocol-aware attack: ``bft check`` may draw it as one action on these protocols
    protocols = ("fab", "fab-fixed")
    params = (
        Param("nodes", Nodes, default=(0,), doc="the faulty replica (default 0, view 0's leader)"),
        Param(
            "hide_from",
            int,
            default=None,
            doc="the replica R's proposal never reaches (default: the one after the next leader)",
            min=0,
        ),
        Param(
            "prover",
            int,
            default=None,
            doc="the one replica R's ACCEPTED reaches (default: the last remaining replica)",
            min=0,
        ),
    )

    def setup(self, ctl: SetupControl) -> None:
        replicas = sorted(ctl.nodes_with_role("replica"))
        if len(replicas) < 4:
            raise ConfigError(f"{self.name}: needs at least four replicas (a FaB run)")
        nodes = resolve_nodes(self.name, self.p["nodes"], ctl.n)
        if len(nodes) != 1 or nodes[0] not in replicas:
            raise ConfigError(f"{self.name}: 'nodes' must name one replica (got {list(nodes)})")
        r = self.replica = nodes[0]
        size = len(replicas)
        order = [replicas[(replicas.index(r) + k) % size] for k in range(1, size)]
        # order[0] leads view 1 when R leads view 0
        hide = self.p.get("hide_from")
        self.hide_from = order[1] if hide is None else hide
        prover = self.p.get("prover")
        rest = [x for x in order[1:] if x != self.hide_from]
        self.prover = (rest[-1] if rest else None) if prover is None else prover
        chosen = {self.hide_from, self.prover}
        if not chosen <= set(replicas) - {r} or len(chosen) != 2:
            raise ConfigError(
                f"{self.name}: 'hide_from' and 'prover' must be two different replicas other "
                f"than {r} (got {self.hide_from} and {self.prover})"
            )
        ctl.corrupt([r])
        self.lied = False
        self.replies: dict[int, Signed] = {}  # id of R's REP -> the forged one

    def on_traffic(self, ctl: TrafficControl) -> None:
        r = self.replica
        for env in ctl.envelopes:
            if env.src != r or env.dropped:
                continue
            if self.lied:
                ctl.drop(env)  # silent from the lie on
                continue
            payload = env.payload
            body = payload.payload if type(payload) is Signed else payload
            if type(body) is Propose and body.view == 0:
                if env.dst == self.hide_from:
                    ctl.drop(env)
            elif type(body) is Accepted and body.view == 0:
                if env.dst != self.prover:
                    ctl.drop(env)
            elif type(body) is Rep and body.view >= 1:
                forged = self.replies.get(id(payload))
                if forged is None:
                    flipped = bytes(b ^ 0xFF for b in body.digest) or b"\xff"
                    lie = attrs.evolve(body, digest=flipped, proof=())
                    signed = ctl.sign(r, lie)
                    assert signed is not None  # R is corrupted: the adversary holds its key
                    forged = self.replies[id(payload)] = signed
                    ctl.note(
                        f"replica {r} answers the view-{body.view} query with a digest it never accepted"
                    )
                ctl.replace(env, forged)
        if self.replies:
            self.lied = True
