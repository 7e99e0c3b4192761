"""Lab 3: authenticated broadcast, Dolev-Strong. Write your code here.

The grader builds one ``Broadcaster`` per node with ``Broadcaster(node_id,
params)``, each in a process of its own; ``params`` holds what that node knows
when it starts:

    n       the number of nodes, the sender included
    t       how many of them may be corrupted (any t < n)
    sender  which node broadcasts (any node: the grader varies it)
    value   the sender's value, 0 or 1, for the sender only; every other node
            gets None and learns values from the chains it receives

What you may use from ``ctx`` (see ``bft/core/node.py``):

    ctx.round                   the current round
    ctx.sign(payload)           a ``Signed`` value: payload signed with YOUR key
    ctx.verify(signed)          True if ``signed`` carries a valid signature
    ctx.broadcast / ctx.send / ctx.multicast, ctx.output("decide", value=v),
    ctx.reject(src, msg, reason)

A signature chain is nested ``Signed`` values: the sender signs
``DSValue(sender, v)``; a relay signs the whole ``Signed`` it received, and so
on. ``chain_signers(msg)`` lists a chain's claimed signers, innermost first,
and its innermost payload, WITHOUT checking any signature: checking is your
job (``ctx.verify`` on every layer). Corrupted nodes cannot forge an honest
signature, but they can sign anything themselves, sign two values, sign one
chain several times, withhold chains and show them to only some nodes, as late
as they like, replay old chains and send garbage.

Run ``bft lab grade 3`` to grade this file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bft.core.crypto import Signed  # noqa: F401 - the type of every layer of a chain
from bft.core.node import Context, Inbox, Node
from bft.protocols.dolev_strong import DSValue, chain_signers  # noqa: F401 - message helpers

DEFAULT = 0  # the decision when the sender is caught signing two values (or none)


class Broadcaster(Node):
    def __init__(self, node_id: int, params: Mapping[str, Any]) -> None:
        self.me = node_id
        self.n = int(params["n"])
        self.t = int(params["t"])
        self.sender = int(params["sender"])
        self.value = params["value"]  # the sender's value; None for every other node
        # TODO: the set of values this node has accepted ("extracted") so far

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        # TODO round 0: the sender signs DSValue(sender, value), sends it to all, decides value.
        # TODO rounds 1..t+1: accept a chain arriving in round r only if it has exactly r
        #      valid signatures by distinct nodes, the first the sender's, none yours.
        #      A newly accepted value: remember it and, if r <= t, sign the chain and send
        #      it to every node not already on it.
        # TODO end of round t+1: decide the one accepted value, or DEFAULT if there are
        #      zero or several.
        raise NotImplementedError("Broadcaster.on_round: write Dolev-Strong here (see the TODOs)")
