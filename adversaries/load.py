"""Load and poison: a login storm after a mass restart, and a poisoned client.

Both act on the shared service workload (``bft.protocols.service``): roles
``server`` and ``client``, client requests carrying a ``bft.core.environment.Operation``
in a field named ``op``. They mark the end of their trigger with
``ctl.note("trigger-end")`` so the ``recovers`` property and the
``rounds_to_recover`` metric know when to start counting.
"""

from __future__ import annotations

from typing import Any

import attrs

from bft.adversaries.generic import pick_among
from bft.core.adversary import Adversary, RoundControl, SetupControl, TrafficControl
from bft.core.crypto import Signed
from bft.core.environment import Operation
from bft.core.errors import ConfigError
from bft.core.params import Nodes, Param

TRIGGER_END = "trigger-end"
#: noted by a trigger that never ends (a poison without 'until'): recovery is not judged
TRIGGER_PERSISTS = "trigger-persists"


def _clients(adversary: Adversary, ctl: SetupControl) -> list[int]:
    clients = ctl.nodes_with_role("client")
    if not clients:
        raise ConfigError(
            f"{adversary.name}: the protocol has no nodes with role 'client'; use it with a "
            "service-family protocol (naive-reconnect, backoff-reconnect, ...)"
        )
    return clients


class LoginStorm(Adversary):
    """A mass restart (Skype 2007: a Windows Update rebooted many machines at once).

    At round ``at`` a share of the clients, chosen by the adversary's seeded RNG,
    restart: they are down for that round and come back with fresh state next
    round, when they all log in again. The crash budget is exactly that many
    clients. The trigger ends when they are back (round ``at + 1``).
    """

    name = "login-storm"
    summary = "mass restart: a share of the clients reboot at one round and all log in again"
    params = (
        Param("at", int, default=20, doc="round of the mass restart", min=0),
        Param(
            "share",
            float,
            default=0.25,
            doc="share of the clients that restart (0 < share <= 1)",
            min=0.0,
            max=1.0,
        ),
        Param("count", int, default=None, doc="instead of share: how many clients restart", min=1),
    )

    def __init__(self, **p: Any) -> None:
        super().__init__(**p)
        if p.get("count") is None and p.get("share") is not None and p["share"] <= 0:
            raise ConfigError(f"login-storm: 'share' must be > 0 (got {p['share']})")

    def setup(self, ctl: SetupControl) -> None:
        clients = _clients(self, ctl)
        count = self.p.get("count")
        if count is None:
            count = max(1, round(self.p["share"] * len(clients)))
        if count > len(clients):
            raise ConfigError(
                f"login-storm: count={count} but the run has only {len(clients)} clients"
            )
        self.targets = sorted(ctl.rng.sample(clients, count))

    def before_round(self, ctl: RoundControl) -> None:
        at = self.p["at"]
        if ctl.round == at:
            for node in self.targets:
                ctl.restart(node)
            ctl.note(f"mass restart of {len(self.targets)} clients")
        elif ctl.round == at + 1:
            ctl.note(TRIGGER_END)


def _poisoned(payload: Any) -> Any | None:
    """The same message with its operation marked poison (None if it carries none)."""
    op = getattr(payload, "op", None)
    if type(op) is not Operation or op.poison or not attrs.has(type(payload)):
        return None
    return attrs.evolve(payload, op=attrs.evolve(op, poison=True))


class PoisonCall(Adversary):
    """Corrupted clients whose requests carry a poison (the rumoured Skype 'poison call').

    The clients run the ordinary client code (so they reconnect and resend like
    any client); from round ``at`` the adversary marks the operation in every
    message they send as ``poison``, re-signing it with the client's own key if
    it was signed. A server whose implementation variant is vulnerable freezes
    when it executes one. From round ``until`` (if given) the poisoning stops
    and the trigger ends. The trace notes each poisoned send as
    ``poison client -> server``.
    """

    name = "poison-call"
    summary = "corrupted clients whose requests freeze the server variant that executes them"
    intercepts = True
    params = (
        Param(
            "nodes",
            Nodes,
            default=None,
            doc="client node ids to corrupt (default: count at random)",
        ),
        Param("count", int, default=1, doc="how many clients to corrupt, picked at random", min=1),
        Param("at", int, default=10, doc="first round the requests are poisoned", min=0),
        Param(
            "until", int, default=None, doc="first round they no longer are (none: never)", min=1
        ),
    )

    def __init__(self, **p: Any) -> None:
        super().__init__(**p)
        if p.get("until") is not None and p["until"] <= p.get("at", 10):
            raise ConfigError(
                f"poison-call: 'until' must be after 'at' (got at={p.get('at', 10)}, until={p['until']})"
            )
        self.targets: tuple[int, ...] = ()
        self.last_server: dict[int, int] = {}

    def setup(self, ctl: SetupControl) -> None:
        clients = _clients(self, ctl)
        targets = pick_among(self, ctl, clients, "clients", count_says=" poisoned clients,")
        self.targets = targets
        ctl.corrupt(targets)
        if self.p.get("until") is None:
            ctl.note(TRIGGER_PERSISTS)  # the poison never stops: no recovery to judge

    def on_traffic(self, ctl: TrafficControl) -> None:
        rnd = ctl.round
        if rnd < self.p["at"]:
            return
        until = self.p.get("until")
        if until is not None and rnd >= until:
            if rnd == until:
                ctl.note(TRIGGER_END)
            return
        for node in self.targets:
            for env in ctl.from_node(node):
                payload = env.payload
                if type(payload) is Signed:
                    inner = _poisoned(payload.payload)
                    new = None if inner is None else ctl.sign(node, inner)
                else:
                    new = _poisoned(payload)
                if (
                    new is not None
                    and ctl.replace(env, new)
                    and self.last_server.get(node) != env.dst
                ):
                    self.last_server[node] = env.dst
                    ctl.note(f"poison client {node} -> server {env.dst}")
