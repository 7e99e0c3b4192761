"""What Bracha's broadcast guarantees, as properties of a run record.

A node's ``deliver`` outputs are all a property reads. "Correct" nodes are
``record.correct``: no adversary corrupted or crashed them and they never went
down. Each violated verdict carries one sentence naming the round, the nodes
and the values, plus the round and nodes themselves (``bft show`` opens there).

The liveness properties carry round bounds, because a finite run can only
check "by round r": with an honest sender every correct node delivers by round
``DELIVERY_ROUND``; once one correct node delivers in round r, every correct
node delivers by round r+1 (the f+1 honest READYs it holds reach everyone by
round r, everyone amplifies in round r, and n-f >= 2f+1 READYs arrive in r+1).
"""

from __future__ import annotations

from bft import Property, RunRecord, Verdict

#: SEND in round 0, ECHO in round 1, READY in round 2, delivery in round 3
DELIVERY_ROUND = 3


def deliveries(record: RunRecord) -> dict[int, list[tuple[int, int]]]:
    """Per node, its deliveries as (round, value), in order."""
    out: dict[int, list[tuple[int, int]]] = {}
    for o in record.outputs_named("deliver"):
        out.setdefault(o.node, []).append((o.round, o.data["value"]))
    return out


def agreement(record: RunRecord) -> Verdict:
    made = deliveries(record)
    firsts = [(i, made[i][0]) for i in sorted(record.correct) if i in made]
    for (a, (ra, va)), (b, (rb, vb)) in zip(firsts, firsts[1:], strict=False):
        if va != vb:
            return Verdict.violated(
                f"correct nodes {a} and {b} delivered different values: node {a} delivered "
                f"{va} in round {ra}, node {b} delivered {vb} in round {rb}",
                round=max(ra, rb),
                nodes=(a, b),
            )
    if len(firsts) < 2:
        return Verdict.vacuous("fewer than two correct nodes delivered")
    return Verdict.ok()


def integrity_property(sender: int, value: int) -> Property:
    def integrity(record: RunRecord) -> Verdict:
        for node, made in sorted(deliveries(record).items()):
            if node not in record.honest:
                continue
            if len(made) > 1:
                return Verdict.violated(
                    f"honest node {node} delivered {len(made)} times: {made}",
                    round=made[1][0],
                    nodes=(node,),
                )
            rnd, got = made[0]
            if sender in record.honest and got != value:
                return Verdict.violated(
                    f"honest sender {sender} broadcast {value}, but honest node {node} "
                    f"delivered {got} in round {rnd}",
                    round=rnd,
                    nodes=(sender, node),
                )
        return Verdict.ok()

    return Property(
        "integrity",
        "safety",
        "an honest node delivers at most once, and only the sender's value if it is honest",
        integrity,
    )


def totality(record: RunRecord) -> Verdict:
    made = deliveries(record)
    firsts = sorted((made[i][0][0], i) for i in record.correct if i in made)
    if not firsts:
        return Verdict.vacuous("no correct node delivered")
    first, who = firsts[0]
    deadline = first + 1
    if deadline >= record.rounds:
        return Verdict.vacuous(
            f"the first delivery (node {who}, round {first}) leaves the others no round "
            "within the run"
        )
    for i in sorted(record.correct):
        if i not in made or made[i][0][0] > deadline:
            return Verdict.violated(
                f"correct node {who} delivered in round {first}, but correct node {i} had "
                f"not delivered by round {deadline}",
                round=deadline,
                nodes=(who, i),
            )
    return Verdict.ok()


def validity_property(sender: int) -> Property:
    def validity(record: RunRecord) -> Verdict:
        if sender not in record.correct:
            return Verdict.vacuous(f"the sender (node {sender}) is not correct")
        if record.rounds <= DELIVERY_ROUND:
            return Verdict.vacuous(f"the run ends before round {DELIVERY_ROUND}")
        made = deliveries(record)
        for i in sorted(record.correct):
            if i not in made or made[i][0][0] > DELIVERY_ROUND:
                return Verdict.violated(
                    f"the sender (node {sender}) is correct, but correct node {i} had not "
                    f"delivered by round {DELIVERY_ROUND}",
                    round=DELIVERY_ROUND,
                    nodes=(i,),
                )
        return Verdict.ok()

    return Property(
        "validity",
        "liveness",
        f"if the sender is correct, every correct node delivers by round {DELIVERY_ROUND}",
        validity,
    )


def broadcast_properties(sender: int, value: int) -> list[Property]:
    return [
        Property("agreement", "safety", "no two correct nodes deliver different values", agreement),
        validity_property(sender),
        integrity_property(sender, value),
        Property(
            "totality",
            "liveness",
            "once a correct node delivers in round r, every correct node delivers by round r+1",
            totality,
        ),
    ]
