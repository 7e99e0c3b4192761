"""Detector properties and metrics, computed from the outputs members emit.

Members emit ``suspect`` (their own probe of ``member`` failed), ``dead`` (they
now hold ``member`` dead), ``alive`` (a member they held dead refuted) and
``refute`` (they refuted an accusation against themselves). Everything below is
a function of those outputs and the engine's record of who was down when, over
a group of members (all nodes for ``swim``, the servers for ``gossip-health``).

Properties: ``completeness`` (liveness: crashed members are declared dead in
time), ``accuracy`` (safety without loss: no correct member is declared dead)
and ``membership-justified`` (safety: every death, return to alive and
refutation follows SWIM's rules of evidence and incarnation order; judged
under loss too, since it is about what a member may conclude, not about the
truth; with a corrupted member, beyond SWIM's crash model, only the order).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from bft.core.properties import Property, Verdict, describe_nodes
from bft.core.record import RunRecord
from bft.protocols.swim.config import SwimConfig

DOWN_KINDS = ("crash", "freeze", "overload", "bug")
SWIM_KINDS = ("ping", "ping-req", "ack", "nack")


def crash_rounds(record: RunRecord, members: Iterable[int]) -> dict[int, int]:
    """Members down at the end of the run, with the round they last went down."""
    group = set(members)
    final = set(record.down[-1]) if record.down else set()
    out: dict[int, int] = {}
    for event in record.events:
        if event.node in group and event.node in final and event.kind in DOWN_KINDS:
            out[event.node] = event.round
    return dict(sorted(out.items()))


# The last views computed: (weak reference to the record, group, views). Properties and
# metrics of one run all ask for the same views; a weak reference keeps no run alive.
_VIEWS_CACHE: list[Any] = [lambda: None, None, None]


def _views(record: RunRecord, group: set[int]) -> dict[tuple[int, int], list[tuple[int, bool]]]:
    """(observer, member) -> [(round, now_dead)] from ``dead`` and ``alive`` outputs."""
    if _VIEWS_CACHE[0]() is record and _VIEWS_CACHE[1] == group:
        return _VIEWS_CACHE[2]
    out: dict[tuple[int, int], list[tuple[int, bool]]] = {}
    for o in record.outputs:
        name = o.name
        if (name == "dead" or name == "alive") and o.node in group:
            out.setdefault((o.node, o.data["member"]), []).append((o.round, name == "dead"))
    _VIEWS_CACHE[:] = [weakref.ref(record), frozenset(group), out]
    return out


def _refutes(record: RunRecord) -> dict[int, int]:
    out: dict[int, int] = {}
    for o in record.outputs_named("refute"):
        out[o.node] = out.get(o.node, 0) + 1
    return out


def first_detections(record: RunRecord, members: Iterable[int]) -> dict[int, int | None]:
    """Crashed member -> rounds from its crash to the first suspicion or death declaration."""
    group = set(members)
    crashed = crash_rounds(record, group)
    first: dict[int, int | None] = dict.fromkeys(crashed)
    for o in record.outputs:
        if o.name not in ("suspect", "dead") or o.node not in group:
            continue
        member = o.data["member"]
        if member in crashed and o.round >= crashed[member] and first[member] is None:
            first[member] = o.round - crashed[member]
    return first


def completeness(record: RunRecord, members: Iterable[int], cfg: SwimConfig) -> Verdict:
    group = set(members)
    crashed = crash_rounds(record, group)
    if not crashed:
        return Verdict.vacuous("no member crashed")
    correct = sorted(group & record.correct)
    views = _views(record, group)
    refutes = _refutes(record)
    pending: list[int] = []
    last = record.rounds - 1
    for member, crashed_at in crashed.items():
        # Each incarnation the member announced before crashing may reset an observer
        # once (a late Alive beats an older Suspect), so the bound repeats per incarnation.
        deadline = crashed_at + cfg.completeness_bound() * (1 + refutes.get(member, 0))
        for observer in correct:
            history = views.get((observer, member), [])
            final_round, final_dead = history[-1] if history else (None, False)
            if final_dead and final_round is not None and final_round <= deadline:
                continue
            if deadline > last:
                pending.append(member)
                continue
            if final_dead:
                return Verdict.violated(
                    f"member {observer} declared crashed member {member} dead only in round "
                    f"{final_round}; it crashed in round {crashed_at} (bound: round {deadline})"
                )
            return Verdict.violated(
                f"member {member} crashed in round {crashed_at}, but correct member {observer} "
                f"still did not hold it dead at round {last} (bound: round {deadline})"
            )
    if pending and len(set(pending)) == len(crashed):
        return Verdict.vacuous(
            f"the run ended before the bound for every crash ({describe_nodes(set(pending))}); "
            "none was late so far"
        )
    return Verdict.ok()


def accuracy(record: RunRecord, members: Iterable[int]) -> Verdict:
    group = set(members)
    correct = group & record.correct
    honest = record.honest
    wrong = [
        o
        for o in record.outputs_named("dead")
        if o.node in group and o.node in honest and o.data["member"] in correct
    ]
    if record.dropped or record.delayed:
        return Verdict.vacuous(
            f"messages were dropped ({record.dropped}) or delayed ({record.delayed}): under "
            f"loss accuracy is reported as a rate (see false_positive_rate); "
            f"{len(wrong)} false death declarations"
        )
    if wrong:
        o = wrong[0]
        return Verdict.violated(
            f"member {o.node} declared correct member {o.data['member']} dead in round "
            f"{o.round} (origin {o.data['origin']}) with no message lost or delayed"
        )
    return Verdict.ok()


def membership_justified(record: RunRecord, members: Iterable[int], cfg: SwimConfig) -> Verdict:
    """Every change of view an honest member reports follows SWIM's rules of evidence.

    * A member that declares another dead on its own authority (``origin`` is
      itself) had a suspicion of it at that incarnation, raised by some
      member's failed probe at least ``suspicion_min`` rounds earlier (no
      suspicion timeout, Lifeguard's included, is shorter).
    * A member that holds another dead on someone else's word heard it from an
      origin that did declare it, earlier.
    * A member held dead at incarnation j comes back (``alive``) only at an
      incarnation i > j that the member itself announced by refuting.
    * A refutation raises the member's incarnation above every one it had, to
      one more than an accusation (a suspicion or death at i - 1, or an
      announcement of i - 1 before a restart) made about it.
    """
    group = set(members)
    honest = record.honest
    # A corrupted member (beyond SWIM's crash model) can gossip accusations and deaths
    # that no output shows: then only the incarnation order is judged, not the evidence.
    evidence = not group & record.corrupted
    restarts: dict[int, list[int]] = {}
    for e in record.events_of("restart"):
        if e.node in group:
            restarts.setdefault(e.node, []).append(e.round)
    first_suspicion: dict[tuple[int, int], int] = {}  # (member, incarnation) -> round
    declared: dict[tuple[int, int, int], int] = {}  # (member, incarnation, origin) -> round
    accused: dict[int, set[int]] = {}  # member -> incarnations it was accused or announced at
    announced: dict[tuple[int, int], int] = {}  # (member, incarnation) -> round refuted
    own: dict[int, int] = {}  # member -> its incarnation
    held_dead: dict[tuple[int, int], int] = {}  # (observer, member) -> incarnation
    seen: dict[int, int] = {}  # node -> round of its previous output
    judged = 0

    def restarted(node: int, now: int) -> bool:
        before = seen.get(node, -1)
        seen[node] = now
        return any(before < r <= now for r in restarts.get(node, ()))

    for o in record.outputs:
        name = o.name
        if name not in ("suspect", "dead", "alive", "refute") or o.node not in group:
            continue
        x, r, d = o.node, o.round, o.data
        if restarted(x, r):  # a fresh node: incarnation 0 and an empty view
            own.pop(x, None)
            for key in [key for key in held_dead if key[0] == x]:
                del held_dead[key]
        judge = x in honest
        judged += judge and name != "suspect"
        if name == "suspect":
            m, i = d["member"], d["incarnation"]
            first_suspicion.setdefault((m, i), r)
            accused.setdefault(m, set()).add(i)
        elif name == "dead":
            m, i, origin = d["member"], d["incarnation"], d["origin"]
            if judge and evidence and origin == x:
                start = first_suspicion.get((m, i))
                if start is None:
                    return Verdict.violated(
                        f"member {x} declared member {m} dead at incarnation {i} in round {r}, "
                        f"but no member had suspected it at incarnation {i}"
                    )
                if r - start < cfg.suspicion_min:
                    return Verdict.violated(
                        f"member {x} declared member {m} dead at incarnation {i} in round {r}, "
                        f"{r - start} rounds after the first suspicion of it (round {start}); "
                        f"no suspicion times out in fewer than {cfg.suspicion_min} rounds"
                    )
            elif judge and evidence and declared.get((m, i, origin), r) >= r:
                return Verdict.violated(
                    f"member {x} holds member {m} dead at incarnation {i} from round {r} on the "
                    f"word of member {origin}, which had not declared it"
                )
            if origin == x:
                declared.setdefault((m, i, x), r)
            accused.setdefault(m, set()).add(i)
            held_dead[(x, m)] = i
        elif name == "alive":
            m, i = d["member"], d["incarnation"]
            j = held_dead.pop((x, m), None)
            if judge and j is not None and i <= j:
                return Verdict.violated(
                    f"member {x} took member {m} back as alive at incarnation {i} in round {r}, "
                    f"though it held it dead at incarnation {j}: only a higher incarnation "
                    "overrides a death"
                )
            if judge and evidence and announced.get((m, i), r) >= r:
                return Verdict.violated(
                    f"member {x} took member {m} back as alive at incarnation {i} in round {r}, "
                    f"but member {m} never announced incarnation {i} (only the member itself "
                    "raises its incarnation, by refuting)"
                )
        else:  # refute
            i = d["incarnation"]
            before = own.get(x, 0)
            if judge and i <= before:
                return Verdict.violated(
                    f"member {x} refuted in round {r} at incarnation {i}, not above the "
                    f"incarnation {before} it already had"
                )
            if judge and evidence and i - 1 not in accused.get(x, ()):
                return Verdict.violated(
                    f"member {x} refuted in round {r} at incarnation {i}, but no member had "
                    f"accused it at incarnation {i - 1}: a refutation answers an accusation "
                    "with the next incarnation"
                )
            own[x] = i
            announced.setdefault((x, i), r)
            accused.setdefault(x, set()).add(i)
    if not judged:
        return Verdict.vacuous("no member declared another dead, took one back or refuted")
    return Verdict.ok()


def detector_properties(
    members: range, cfg: SwimConfig, rule: SwimConfig | None = None
) -> list[Property]:
    """Completeness, accuracy and membership-justified (judged against ``rule``, the
    configuration the parameters call for; ``cfg`` by default)."""
    return [
        Property(
            "completeness",
            "liveness",
            "every crashed member is declared dead by every correct member within "
            "(2(n-1)+1) periods plus the longest suspicion timeout (per announced incarnation)",
            lambda record: completeness(record, members, cfg),
        ),
        Property(
            "accuracy",
            "safety",
            "no correct member is ever declared dead (judged when no message was lost or "
            "delayed; otherwise see false_positive_rate)",
            lambda record: accuracy(record, members),
        ),
        membership_justified_property(members, rule or cfg),
    ]


def membership_justified_property(members: range, cfg: SwimConfig) -> Property:
    return Property(
        "membership-justified",
        "safety",
        "every death a member declares follows a suspicion at least the suspicion timeout "
        "old, and every refutation and return to alive carries a higher incarnation than "
        "the accusation it answers",
        lambda record: membership_justified(record, members, cfg),
    )


def _false_positive_member_rounds(record: RunRecord, members: set[int]) -> int:
    correct = members & record.correct
    views = _views(record, members)
    intervals: dict[int, list[tuple[int, int]]] = {}
    for (observer, member), history in views.items():
        if observer not in correct or member not in correct:
            continue
        start: int | None = None
        for rnd, dead in history:
            if dead and start is None:
                start = rnd
            elif not dead and start is not None:
                intervals.setdefault(member, []).append((start, rnd))
                start = None
        if start is not None:
            intervals.setdefault(member, []).append((start, record.rounds))
    total = 0
    for spans in intervals.values():
        spans.sort()
        cur_start, cur_end = spans[0]
        for start, end in spans[1:]:
            if start > cur_end:
                total += cur_end - cur_start
                cur_start, cur_end = start, end
            else:
                cur_end = max(cur_end, end)
        total += cur_end - cur_start
    return total


def detector_metrics(record: RunRecord, members: range, cfg: SwimConfig) -> dict[str, float | None]:
    group = set(members)
    detections = first_detections(record, group)
    found = [d for d in detections.values() if d is not None]
    correct = group & record.correct
    honest = record.honest
    false = [
        o
        for o in record.outputs_named("dead")
        if o.node in group and o.node in honest and o.data["member"] in correct
    ]
    live_rounds = sum(len(group) - len(group.intersection(down)) for down in record.down)
    messages = record.messages_of(*SWIM_KINDS)
    periods = live_rounds / cfg.period if live_rounds else 0
    crashed = crash_rounds(record, group)
    views = _views(record, group)
    spread: list[int] = []
    for member, crashed_at in crashed.items():
        worst = 0
        for observer in correct:
            history = views.get((observer, member))
            if not history or not history[-1][1]:
                worst = -1
                break
            worst = max(worst, max(history[-1][0] - crashed_at, 0))
        if worst >= 0:
            spread.append(worst)
    member_rounds = len(correct) * record.rounds
    return {
        "crashed": len(crashed),
        "detected": len(found),
        "detection_rounds_mean": sum(found) / len(found) if found else None,
        "detection_rounds_max": max(found) if found else None,
        "detection_periods_mean": sum(found) / len(found) / cfg.period if found else None,
        "dissemination_rounds_max": max(spread) if spread and len(spread) == len(crashed) else None,
        "false_positives": len(false),
        "false_positive_members": len({o.data["member"] for o in false}),
        "false_positive_rate": (
            _false_positive_member_rounds(record, group) / member_rounds if member_rounds else None
        ),
        "refutations": sum(1 for o in record.outputs_named("refute") if o.node in group),
        "messages_per_member_per_period": messages / periods if periods else None,
    }
