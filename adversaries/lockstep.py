"""Byzantine adversaries for the classic lockstep algorithms (Dolev-Strong chains).

``ds-byzantine`` corrupts nodes of a Dolev-Strong run and replaces everything
they send. It holds only the corrupted nodes' keys, so it cannot forge an
honest signature; what it can do is what the proof of Dolev-Strong has to
survive: a corrupted sender signs several values, and corrupted nodes hold
back, extend (with their own signatures) and selectively reveal every chain
they have seen, to any honest nodes, in any round, as long as the chain has
the length the round requires.

Strategies:

* ``split``: a corrupted sender signs ``value`` for half of the honest nodes
  and the other value for the rest; corrupted relays forward every chain to
  everyone at once.
* ``random``: for each value the adversary can sign or has seen, a seeded
  plan picks a reveal round in 0..t and a random non-empty set of honest
  nodes to show a chain of the right length to then (so late reveals to a
  single node are common); on top of that, each other (round, node) pair
  gets the chain with probability 1/10.
* ``silent``: corrupted nodes send nothing at all.
"""

from __future__ import annotations

from typing import Any

from bft.adversaries.generic import TARGET_PARAMS, pick_targets
from bft.core.adversary import Adversary, SetupControl, TrafficControl
from bft.core.crypto import Signed
from bft.core.params import Param
from bft.protocols.dolev_strong import DSValue, chain_signers
from bft.search.actions.values import flipped

MAX_CHAINS_PER_VALUE = 16


class DolevStrongByzantine(Adversary):
    name = "ds-byzantine"
    summary = "corrupted Dolev-Strong nodes equivocate and reveal signature chains selectively"
    intercepts = True
    params = (
        *TARGET_PARAMS,
        Param(
            "strategy",
            str,
            default="random",
            doc="how to lie",
            choices=("split", "random", "silent"),
        ),
    )

    def setup(self, ctl: SetupControl) -> None:
        if self.p.get("nodes") is None and self.p.get("count") is None:
            self.p = {**self.p, "nodes": (ctl.params.get("sender", 0),)}
        ctl.corrupt(pick_targets(self, ctl))
        self.chains: dict[int, list[Signed]] = {}
        self.plans: dict[int, tuple[int, frozenset[int]]] = {}

    def _plan(
        self, ctl: TrafficControl, value: int, honest: list[int]
    ) -> tuple[int, frozenset[int]]:
        plan = self.plans.get(value)
        if plan is None:
            t = int(ctl.params.get("t", 0))
            when = ctl.rng.randint(0, t)
            size = ctl.rng.randint(1, max(len(honest), 1))
            plan = self.plans[value] = (
                when,
                frozenset(ctl.rng.sample(honest, min(size, len(honest)))),
            )
        return plan

    def _learn(self, payload: Any) -> None:
        signers, statement = chain_signers(payload)
        if not signers or not isinstance(statement, DSValue):
            return
        known = self.chains.setdefault(statement.value, [])
        if payload not in known and len(known) < MAX_CHAINS_PER_VALUE:
            known.append(payload)

    def _chain(self, ctl: TrafficControl, value: int, length: int) -> Signed | None:
        """A valid chain for ``value`` with exactly ``length`` signatures, if one can be built."""
        sender = int(ctl.params.get("sender", 0))
        corrupted = sorted(ctl.corrupted)
        candidates: list[Signed] = sorted(
            self.chains.get(value, []), key=lambda c: -len(chain_signers(c)[0])
        )
        if sender in ctl.corrupted:
            fresh = ctl.sign(sender, DSValue(sender, value))
            if fresh is not None:
                candidates.append(fresh)
        for chain in candidates:
            signers = chain_signers(chain)[0]
            missing = length - len(signers)
            spare = [c for c in corrupted if c not in signers]
            if missing < 0 or missing > len(spare):
                continue
            for signer in spare[:missing]:
                signed = ctl.sign(signer, chain)
                if signed is None:
                    break
                chain = signed
            else:
                return chain
        return None

    def on_traffic(self, ctl: TrafficControl) -> None:
        for env in ctl.envelopes:
            self._learn(env.payload)
            if env.src in ctl.corrupted and not env.dropped:
                ctl.drop(env)
        strategy = self.p["strategy"]
        t = int(ctl.params.get("t", 0))
        if strategy == "silent" or ctl.round > t or not ctl.corrupted:
            return
        sender = int(ctl.params.get("sender", 0))
        base = int(ctl.params.get("value", 1))
        values = sorted(
            set(self.chains) | ({base, flipped(base)} if sender in ctl.corrupted else set())
        )
        honest = [i for i in range(ctl.n) if i not in ctl.corrupted]
        length = ctl.round + 1
        for value in values:
            chain = self._chain(ctl, value, length)
            if chain is None:
                continue
            signers = chain_signers(chain)[0]
            src = signers[-1] if signers[-1] in ctl.corrupted else min(ctl.corrupted)
            for position, dst in enumerate(honest):
                if dst in signers:
                    continue
                if strategy == "split" and ctl.round == 0:
                    send = (position % 2 == 0) == (value == base)
                elif strategy == "split":
                    send = True
                else:
                    when, targets = self._plan(ctl, value, honest)
                    planned = ctl.round == when and dst in targets
                    send = planned or ctl.rng.random() < 0.1
                if send:
                    ctl.inject(src, dst, chain)
