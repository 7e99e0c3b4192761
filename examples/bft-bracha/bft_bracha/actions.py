"""An action kind for ``bft check``: a selective READY.

The built-in kinds change a corrupted node's messages field by field (mutate,
equivocate, replay...). None of them makes a node send a message its code
would not send yet, such as a READY one round early. This kind does: in round
``at`` the corrupted ``node`` sends READY for a value that at least f+1 other
nodes ECHOed to it (so an honest node vouches for it) to the nodes listed
only, and nobody else. It uses nothing the node does not hold: READYs are
unsigned, and the ECHOs are messages addressed to it (the adversary is
rushing: it sees them in the round they are sent).

Registered under the entry-point group ``bft.actions``. A kind is one object
that knows how to draw an action from small integers (``draw``: 0 is always the
simplest choice, so counterexamples shrink toward it), how to put it in words
(``describe``), what its file form holds (``fields``, ``args``) and what it
does in a run (``on_traffic``, through the adversary's controls).
"""

from __future__ import annotations

from bft import Action, ActionKind, ActionRun, Draw, FaultModel, Param, TrafficControl

from bft_bracha.messages import Echo, Ready, faults


def _listed(nodes: tuple[int, ...] | None) -> str:
    members = list(nodes or ())
    return ("node " if len(members) == 1 else "nodes ") + ", ".join(map(str, members))


class SelectiveReady(ActionKind):
    name = "bracha-ready"
    summary = "a corrupted node sends READY, for a value f+1 others ECHOed to it, to chosen nodes"
    fault = "byzantine"  # its node is corrupted for the whole run and counts against f
    fields = ("node", "at", "nodes")
    required = ("node", "at", "nodes")
    args = (
        Param("rank", int, default=0, doc="0: the value most ECHOed to it, 1: the next", min=0),
    )

    def usable(self, model: FaultModel) -> bool:
        return (
            model.protocol == "bracha"  # the kinds table is shared by every protocol
            and model.byzantine_allowed()
            and model.n >= 2
            and (model.faults > 0 or model.has_free_targets())
        )

    def draw(self, d: Draw) -> Action | None:
        node = d.faulty_node()  # within the fault budget, or None when it is spent
        if node is None:
            return None
        return Action(
            self.name,
            node,
            d.message_round(node),  # mostly a round in which the node sends anyway
            nodes=d.subset(d.others(node)),
            args=(("rank", d.y % 2),),
        )

    def describe(self, action: Action) -> str:
        rank = action.arg("rank", 0)
        which = "the value most ECHOed to it" if rank == 0 else "the second most ECHOed value"
        return (
            f"corrupted node {action.node} sends READY for {which} (by f+1 others) "
            f"to {_listed(action.nodes)} only, in round {action.at}"
        )

    def on_traffic(self, run: ActionRun, ctl: TrafficControl) -> None:
        action = run.action
        echoed: dict[int, set[int]] = run.state.setdefault("echoed", {})
        for env in ctl.envelopes:
            if env.dst == action.node and env.kind == "echo" and not env.dropped:
                payload = env.payload
                if isinstance(payload, Echo) and type(payload.value) is int:
                    echoed.setdefault(payload.value, set()).add(env.src)
        if ctl.round != action.at:
            return
        held = [v for v, who in echoed.items() if len(who) >= faults(ctl.params) + 1]
        if not held:
            return
        held.sort(key=lambda v: (-len(echoed[v]), v))
        value = held[min(action.arg("rank", 0), len(held) - 1)]
        for dst in action.nodes or ():
            if dst != action.node and ctl.inject(action.node, dst, Ready(value)):
                run.note(ctl, f"READY {value}")
