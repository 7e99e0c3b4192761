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

from typing import Any

from bft.core.properties import Property, Verdict
from bft.core.record import RunRecord


def decisions(record: RunRecord) -> dict[int, list[tuple[int, Any]]]:
    """Per node, its ``decide`` outputs as (round, value) (the value as output, None if absent)."""
    out: dict[int, list[tuple[int, Any]]] = {}
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


def decision_round_property(sender: int, decide_at: int, rule: str) -> Property:
    """Safety: every correct node other than ``sender`` decides in round ``decide_at``, not before.

    For a protocol whose proof needs all its rounds (Dolev-Strong: t+1, which
    Dolev and Strong show is necessary), a node that decides early has not
    heard what a chain revealed in the last round would have told it.
    """

    def decision_round(record: RunRecord) -> Verdict:
        decided = decisions(record)
        early = [
            (i, decided[i][0])
            for i in sorted(record.correct)
            if i != sender and i in decided and decided[i][0][0] < decide_at
        ]
        if early:
            i, (rnd, value) = early[0]
            return Verdict.violated(
                f"node {i} decided {value} in round {rnd}, before round {decide_at} ({rule})"
            )
        if not any(i != sender and i in record.correct for i in decided):
            return Verdict.vacuous("no correct node other than the sender decided")
        return Verdict.ok()

    return Property(
        "decision-round",
        "safety",
        f"no honest node decides before round {decide_at} ({rule})",
        decision_round,
    )


def preferences(record: RunRecord) -> dict[int, dict[int, int]]:
    """Phase -> node -> the preference a node held at the end of that phase (``prefer``)."""
    out: dict[int, dict[int, int]] = {}
    for o in record.outputs_named("prefer"):
        out.setdefault(o.data["phase"], {})[o.node] = o.data["value"]
    return out


def king_properties(kings: list[int], inputs: tuple[int, ...]) -> list[Property]:
    """Phase King's two lemmas, from the ``prefer`` outputs (phase, value) nodes emit.

    ``king-unifies``: after a phase whose king is honest, all honest nodes prefer
    the same value (the king's, or a majority so large the king shares it).
    ``persistence``: once all honest nodes prefer v at the end of a phase (or
    start with v), they prefer v at the end of every later phase. Both need
    n > 4f; validity and agreement follow from them.
    """

    def king_unifies(record: RunRecord) -> Verdict:
        prefs = preferences(record)
        judged = 0
        for phase, king in enumerate(kings):
            if king not in record.correct or phase not in prefs:
                continue
            held = sorted((i, v) for i, v in prefs[phase].items() if i in record.correct)
            judged += 1
            values = {v for _, v in held}
            if len(values) > 1:
                split = ", ".join(f"node {i}: {v}" for i, v in held)
                return Verdict.violated(
                    f"phase {phase} had an honest king (node {king}), yet at its end in round "
                    f"{2 * phase + 2} honest nodes still preferred different values ({split})"
                )
        if not judged:
            return Verdict.vacuous("no phase with an honest king ended")
        return Verdict.ok()

    def persistence(record: RunRecord) -> Verdict:
        prefs = preferences(record)
        correct = sorted(record.correct)
        agreed: tuple[int, int] | None = None  # (phase it started, value)
        start = {inputs[i] for i in correct if i < len(inputs)}
        if len(start) == 1:
            agreed = (-1, next(iter(start)))
        for phase in sorted(prefs):
            held = {i: v for i, v in prefs[phase].items() if i in record.correct}
            if agreed is not None:
                since, value = agreed
                for i, v in sorted(held.items()):
                    if v != value:
                        when = "at the start" if since < 0 else f"after phase {since}"
                        return Verdict.violated(
                            f"every honest node preferred {value} {when}, but node {i} "
                            f"preferred {v} after phase {phase} (round {2 * phase + 2})"
                        )
            elif len(set(held.values())) == 1 and len(held) == len(correct):
                agreed = (phase, next(iter(held.values())))
        if agreed is None:
            return Verdict.vacuous("honest nodes never all preferred the same value")
        return Verdict.ok()

    return [
        Property(
            "king-unifies",
            "safety",
            "after a phase with an honest king, all honest nodes prefer the same value",
            king_unifies,
        ),
        Property(
            "persistence",
            "safety",
            "once all honest nodes prefer the same value, they keep it in every later phase",
            persistence,
        ),
    ]
