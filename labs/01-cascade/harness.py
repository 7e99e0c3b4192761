"""Lab 1's harness: the naive-reconnect service with the student's reconnect policy.

``make_protocol(module)`` returns a protocol spec, ``lab1-policy``:
the servers are the naive ones of ``protocols/failover`` (no admission
control: they do all the work they get and go down above capacity), and each
client, when its server times out (or answers busy), asks the policy how many
rounds to wait before it logs in to the next server. Everything else, the
workload, the metrics and the ``recovers`` property, is the shared service
model of ``protocols/service.py``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from types import ModuleType
from typing import Any

from bft.core.node import Context, Node
from bft.core.protocol import Params
from bft.protocols.failover import NaiveReconnect
from bft.protocols.failover.client import FailoverClient

Policy = Callable[[int, bool, random.Random], int]


class PolicyClient(FailoverClient):
    """A failover client whose reconnect delay comes from ``policy``."""

    policy: Policy

    def _fail(self, ctx: Context, busy: bool) -> None:
        self.sent_at = None
        if not busy:
            self.server = self._next_server(ctx)
        delay: Any = type(self).policy(self.attempt, busy, ctx.rng)
        if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
            raise ValueError(
                f"reconnect_delay({self.attempt}, {busy}, rng) returned {delay!r}; "
                "it must return a whole number of rounds >= 0"
            )
        self.attempt += 1
        self.attached = False
        self.meter.want(ctx)
        if delay == 0:
            self._connect(ctx)
        else:
            self.wake = ctx.round + delay


def make_protocol(module: ModuleType) -> type[NaiveReconnect]:
    """The protocol spec running ``module.reconnect_delay`` in every client."""
    policy: Policy = module.reconnect_delay
    client_cls = type("StudentClient", (PolicyClient,), {"policy": staticmethod(policy)})

    class Lab1Policy(NaiveReconnect):
        name = "lab1-policy"
        summary = "naive servers; clients reconnect after the student's reconnect_delay"

        def make_client(self, node_id: int, p: Params) -> Node:
            return client_cls(node_id, p["n"], p["rate"], p["timeout"], p["cache"])

    return Lab1Policy
