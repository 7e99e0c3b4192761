"""Server faults for the service family: a lying server, and servers that crash.

Both pick servers by role unless given explicit node ids: ``server`` in the
failover family, ``replica`` in PBFT (the replicas are its servers).
"""

from __future__ import annotations

from typing import Any

import attrs

from bft.adversaries.generic import pick_among
from bft.core.adversary import Adversary, RoundControl, SetupControl, TrafficControl
from bft.core.crypto import Signed
from bft.core.errors import ConfigError
from bft.core.params import Nodes, Param
from bft.search.actions.values import flipped

TRIGGER_END = "trigger-end"
SERVER_ROLES = ("server", "replica")

TARGETS = (
    Param("nodes", Nodes, default=None, doc="server node ids (default: 'count' servers at random)"),
    Param("count", int, default=1, doc="how many servers, picked at random", min=1),
)


def pick_servers(adversary: Adversary, ctl: SetupControl) -> tuple[int, ...]:
    servers = sorted(i for i, role in enumerate(ctl.roles) if role in SERVER_ROLES)
    if not servers:
        raise ConfigError(
            f"{adversary.name}: the protocol has no nodes with role 'server' or 'replica'; use it with a "
            "service-family protocol (naive-reconnect, backoff-reconnect, pbft, ...)"
        )
    return pick_among(adversary, ctl, servers, "servers")


def _lie(payload: Any) -> Any | None:
    if not attrs.has(type(payload)) or not hasattr(payload, "result"):
        return None
    return attrs.evolve(payload, result=flipped(payload.result))


class ByzantineServer(Adversary):
    """Corrupted servers that answer every request with a wrong result.

    They run the honest server code (so they take sessions and do the work);
    the adversary rewrites the ``result`` field of every reply they send
    (re-signing with their own key when the reply is signed). A client that
    trusts a single server has no way to tell.
    """

    name = "byzantine-server"
    summary = "corrupted servers answer requests with wrong results"
    intercepts = True
    params = (*TARGETS, Param("at", int, default=0, doc="first round the servers lie", min=0))

    def setup(self, ctl: SetupControl) -> None:
        ctl.corrupt(pick_servers(self, ctl))

    def on_traffic(self, ctl: TrafficControl) -> None:
        if ctl.round < self.p["at"]:
            return
        for node in sorted(ctl.corrupted):
            if ctl.roles[node] not in SERVER_ROLES:
                continue
            for env in ctl.from_node(node):
                payload = env.payload
                if type(payload) is Signed:
                    inner = _lie(payload.payload)
                    new = None if inner is None else ctl.sign(node, inner)
                else:
                    new = _lie(payload)
                if new is not None:
                    ctl.replace(env, new)


class ServerCrash(Adversary):
    """Servers crash at round ``at``; with ``duration`` > 0 they come back after it.

    The trigger ends when they come back (or, for a crash-stop, when they crash:
    from then on the rest of the service has to cope).
    """

    name = "server-crash"
    summary = "servers crash at round 'at' (and recover after 'duration' rounds if > 0)"
    params = (
        *TARGETS,
        Param("at", int, default=20, doc="round of the crash", min=0),
        Param("duration", int, default=0, doc="rounds until they recover (0: never)", min=0),
    )

    def setup(self, ctl: SetupControl) -> None:
        self.targets = pick_servers(self, ctl)

    def before_round(self, ctl: RoundControl) -> None:
        at, duration = self.p["at"], self.p["duration"]
        if ctl.round == at:
            for node in self.targets:
                ctl.crash(node)
            ctl.note(f"crashed servers {list(self.targets)}")
            if duration == 0:
                ctl.note(TRIGGER_END)
        elif duration and ctl.round == at + duration:
            for node in self.targets:
                if not ctl.is_up(node):
                    ctl.recover(node)
            ctl.note(TRIGGER_END)
