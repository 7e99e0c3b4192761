"""One node of Bracha's reliable broadcast, as a sans-IO state machine.

Theory of operation (Bracha, "Asynchronous Byzantine agreement protocols",
Information and Computation 75, 1987, the broadcast primitive). A designated
sender broadcasts one value to n nodes, up to f of them Byzantine, n >= 3f+1.
No signatures: a node knows only who sent each message to it.

1. The sender sends SEND(v) to every node.
2. A node ECHOes, once, the first SEND it gets from the sender; Bracha's step 2
   also lets it echo a value once it holds an ECHO quorum or f+1 READYs for it.
3. A node sends READY(v), once, when it holds an ECHO quorum for v, or f+1
   READYs for v (the amplification rule: a node that missed the ECHOs still
   joins, because one of the f+1 is honest).
4. A node delivers v, once, when it holds 2f+1 READYs for v.

Agreement: an honest READY for v needs an ECHO quorum for v or an honest READY
for v before it, and two ECHO quorums share an honest node, which echoes once.
Totality: 2f+1 READYs include f+1 honest ones, which reach every honest node;
all of them then amplify, and n-f >= 2f+1 READYs follow one round later.

A node counts its own ECHO and READY (it "sends them to all", itself
included). In lockstep rounds, with an honest sender: SEND in round 0, ECHO in
round 1, READY in round 2, delivery in round 3. Thresholds are checked once per
round, after the whole inbox is read; when two values cross one in the same
round (only possible with Byzantine help) the smaller value goes first.

Simplifications: one broadcast instance per run (one sender, one value; a
system runs an instance per sender and sequence number and tags every message
with both). Bracha's model is asynchronous; here it runs in bft's lockstep
rounds, which the protocol never looks at (only the properties' round bounds do).
"""

from __future__ import annotations

from bft import Context, Inbox, Node

from bft_bracha.messages import MESSAGES, Echo, Quorums, Ready, Send


class BrachaNode(Node):
    def __init__(self, node_id: int, *, n: int, f: int, sender: int, value: int) -> None:
        self.me = node_id
        self.sender = sender
        self.value = value  # what this node broadcasts if it is the sender
        self.quorums = Quorums.of(n, f)
        self.echoes: dict[int, set[int]] = {}  # value -> nodes that ECHOed it to this node
        self.readies: dict[int, set[int]] = {}  # value -> nodes that sent READY for it
        self.got_send = False
        self.echoed = False
        self.readied = False
        self.delivered = False

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        if ctx.round == 0 and self.me == self.sender:
            ctx.broadcast(Send(self.value))
            self.got_send = True
            self._echo(ctx, self.value)
        for src, message in inbox:
            self._receive(ctx, src, message)
        self._advance(ctx)

    def _receive(self, ctx: Context, src: int, message: object) -> None:
        value = getattr(message, "value", None)
        if type(message) not in MESSAGES or type(value) is not int:
            ctx.reject(src, message, "not a SEND, ECHO or READY with an integer value")
        elif isinstance(message, Send):
            if src != self.sender:
                ctx.reject(src, message, f"SEND from node {src}, but the sender is {self.sender}")
            elif self.got_send:
                ctx.reject(src, message, "a second SEND from the sender (the first one counts)")
            else:
                self.got_send = True
                if not self.echoed:
                    self._echo(ctx, value)
        elif isinstance(message, Echo):
            self.echoes.setdefault(value, set()).add(src)
        else:
            self.readies.setdefault(value, set()).add(src)

    def _advance(self, ctx: Context) -> None:
        q = self.quorums
        for value in sorted(self.echoes.keys() | self.readies.keys()):
            enough = (
                len(self.echoes.get(value, ())) >= q.echo
                or len(self.readies.get(value, ())) >= q.amplify
            )
            if enough and not self.echoed:
                self._echo(ctx, value)
            if enough and not self.readied:
                self.readied = True
                self.readies.setdefault(value, set()).add(self.me)
                ctx.broadcast(Ready(value))
            if len(self.readies.get(value, ())) >= q.deliver and not self.delivered:
                self.delivered = True
                ctx.output("deliver", value=value)

    def _echo(self, ctx: Context, value: int) -> None:
        self.echoed = True
        self.echoes.setdefault(value, set()).add(self.me)
        ctx.broadcast(Echo(value))
