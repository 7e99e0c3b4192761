"""Agreement, integrity, termination and decision metrics shared by decide-once protocols.

Theory of operation. Dolev-Strong broadcast and Phase King agreement both end
with every node emitting one ``decide`` output carrying a ``value``. Their
safety and liveness properties read those outputs the same way: a node's
*first* decision is the one that counts, honest nodes that never crashed
(``record.correct``) must agree on it and reach it by a round bound, and no
honest node may decide twice. Only validity differs between the protocols
(an honest sender's value versus a unanimous honest input), so each protocol
states its own validity and uses ``first_wrong_decision`` for the check.
"""

from __future__ import annotations

from bft.core.properties import Property, Verdict
from bft.core.record import RunRecord


def decisions(record: RunRecord) -> dict[int, list[tuple[int, int]]]:
    """Per node, its ``decide`` outputs as (round, value)."""
    out: dict[int, list[tuple[int, int]]] = {}
    for o in record.outputs_named("decide"):
        out.setdefault(o.node, []).append((o.round, o.data.get("value")))
    return out


def first_wrong_decision(record: RunRecord, value: int) -> tuple[int, int, int] | None:
    """The first correct node (by id) whose first decision is not ``value``.

    Returned as (node, round, decided value); None if every correct node that
    decided, decided ``value``.
    """
    decided = decisions(record)
    for i in sorted(record.correct):
        if i in decided and decided[i][0][1] != value:
            rnd, got = decided[i][0]
            return i, rnd, got
    return None


def agreement_property(who: str = "node") -> Property:
    """Safety: all correct ``who``s decide the same value (vacuous with fewer than two)."""

    def agreement(record: RunRecord) -> Verdict:
        decided = decisions(record)
        firsts = [(i, decided[i][0]) for i in sorted(record.correct) if i in decided]
        for (a, (ra, va)), (b, (rb, vb)) in zip(firsts, firsts[1:], strict=False):
            if va != vb:
                return Verdict.violated(
                    f"honest {who}s {a} and {b} disagree: {who} {a} decided {va} in round "
                    f"{ra}, {who} {b} decided {vb} in round {rb}"
                )
        if len(firsts) < 2:
            return Verdict.vacuous(f"fewer than two honest {who}s decided")
        return Verdict.ok()

    return Property("agreement", "safety", f"all honest {who}s decide the same value", agreement)


def integrity_property(who: str = "node") -> Property:
    """Safety: every honest ``who`` decides at most once."""

    def integrity(record: RunRecord) -> Verdict:
        for node, made in sorted(decisions(record).items()):
            if len(made) > 1 and node in record.honest:
                return Verdict.violated(f"{who} {node} decided {len(made)} times: {made}")
        return Verdict.ok()

    return Property("integrity", "safety", f"every {who} decides at most once", integrity)


def termination_property(bound: int, description: str, who: str = "node") -> Property:
    """Liveness: every correct ``who`` decides, by round ``bound`` at the latest."""

    def termination(record: RunRecord) -> Verdict:
        decided = decisions(record)
        if not record.correct:
            return Verdict.vacuous(f"no honest, never-crashed {who} had to decide")
        for i in sorted(record.correct):
            if i not in decided:
                return Verdict.violated(f"honest {who} {i} never decided (bound: round {bound})")
            if decided[i][0][0] > bound:
                return Verdict.violated(
                    f"honest {who} {i} decided in round {decided[i][0][0]}, after round {bound}"
                )
        return Verdict.ok()

    return Property("termination", "liveness", description, termination)


def decision_metrics(record: RunRecord) -> dict[str, float | None]:
    """How many nodes decided, and the round of the last decision (None: nobody did)."""
    made = list(record.outputs_named("decide"))
    return {
        "decided": len({o.node for o in made}),
        "decision_round": max((o.round for o in made), default=None),
    }
