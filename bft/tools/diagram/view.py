"""Which part of a diagram to draw: nodes, rounds, message kinds, and the row plan.

Theory of operation. ``make_view`` turns the user's filters into a ``View``;
every number is checked against the run before anything is iterated, so a
range like ``0:1000000000000`` is clamped to the run's rounds and a node range
like ``0-1000000000000`` is refused, never looped over. ``plan`` lays out the
rows to draw: one row per *busy* round (a shown message, mark or count) and
one row per run of idle rounds between them, so a 250-round run with twenty
interesting rounds draws about forty rows, and the cost is proportional to
the events in the window, not to the number of rounds. ``focus_view`` picks a
window centred on a violation.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from bft.core.errors import ConfigError, shorten
from bft.core.trace import printable
from bft.tools.diagram.model import DOWN_EVENTS, UP_EVENTS, Diagram, Focus, Mark, violation

#: the most node ids one --nodes argument may name
MAX_LISTED = 100_000


def _quote(text: str) -> str:
    return repr(printable(shorten(text, 40)))


def parse_nodes(text: str | None, n: int) -> list[int]:
    """'0,2,5', '[0,2]' or '1-3' (ranges inclusive) -> node ids; all nodes when None."""
    if text is None:
        return list(range(n))
    out: set[int] = set()
    for part in text.strip("[] ").split(","):
        part = part.strip()
        if not part:
            continue
        lo, dash, hi = part.partition("-")
        try:
            first, last = (int(lo), int(hi)) if dash else (int(part), int(part))
        except ValueError:
            raise ConfigError(
                f"--nodes {_quote(text)}: expected node ids like 0,2,5 or a range like 0-3"
            ) from None
        for node in (first, last):
            if not 0 <= node < n:
                raise ConfigError(
                    f"--nodes {_quote(text)}: node {shorten(str(node), 20)} does not exist "
                    f"(nodes are 0..{n - 1})"
                )
        if last < first:
            raise ConfigError(f"--nodes {_quote(text)}: range {first}-{last} is backwards")
        if len(out) + last - first + 1 > MAX_LISTED:
            raise ConfigError(f"--nodes {_quote(text)}: more than {MAX_LISTED} nodes")
        out.update(range(first, last + 1))
    if not out:
        raise ConfigError(f"--nodes {_quote(text)}: no nodes given")
    return sorted(out)


def parse_rounds(text: str | None, rounds: int) -> tuple[int, int]:
    """'A:B' (inclusive), 'A:', ':B' or 'A' -> (first, last) round, the last clamped to
    the run's last round."""
    last_round = max(rounds - 1, 0)
    if text is None:
        return 0, last_round
    lo, colon, hi = text.partition(":")
    try:
        first = int(lo) if lo.strip() else 0
        last = (int(hi) if hi.strip() else last_round) if colon else first
    except ValueError:
        raise ConfigError(
            f"--rounds {_quote(text)}: expected A:B (inclusive), A:, :B or A, with round numbers"
        ) from None
    if first < 0 or last < first:
        raise ConfigError(
            f"--rounds {_quote(text)}: need 0 <= first <= last (rounds are 0..{last_round})"
        )
    if first > last_round:
        raise ConfigError(f"--rounds {_quote(text)}: the run has rounds 0..{last_round} only")
    return first, min(last, last_round)


@attrs.frozen
class View:
    nodes: tuple[int, ...]
    first: int
    last: int
    kinds: frozenset[str] | None = None
    clamped: bool = False  # the asked-for range went past the run's end

    def shows_kind(self, kind: str) -> bool:
        return not kind or self.kinds is None or kind in self.kinds


def make_view(
    diagram: Diagram,
    nodes: str | Iterable[int] | None = None,
    rounds: str | None = None,
    kinds: Iterable[str] | None = None,
) -> View:
    if nodes is None or isinstance(nodes, str):
        chosen = parse_nodes(nodes, diagram.n)
    else:
        chosen = sorted({int(x) for x in nodes if 0 <= int(x) < diagram.n})
        if not chosen:
            raise ConfigError(f"no nodes to show (nodes are 0..{diagram.n - 1})")
    first, last = parse_rounds(rounds, diagram.rounds)
    asked_past = False
    if rounds is not None and ":" in rounds:
        hi = rounds.partition(":")[2].strip()
        asked_past = bool(hi) and hi.lstrip("-").isdigit() and int(hi) > last
    wanted = None
    if kinds:
        wanted = frozenset(
            printable(k.strip()) for item in kinds for k in item.split(",") if k.strip()
        )
        known = set(diagram.kinds())
        unknown = sorted(wanted - known)
        if unknown and known:
            raise ConfigError(
                f"--kind {_quote(unknown[0])}: no such message kind in this trace; kinds: "
                + shorten(", ".join(sorted(known)), 200)
            )
    return View(tuple(chosen), first, last, wanted, asked_past)


# -- the row plan -------------------------------------------------------------------------


@attrs.frozen
class Row:
    first: int
    last: int  # == first for a busy round
    busy: bool


def busy_rounds(diagram: Diagram, view: View, counts: bool = True) -> list[int]:
    """Rounds in the view where something shown happens (sorted)."""
    shown = set(view.nodes)
    busy: set[int] = set()
    for r, groups in diagram.groups_by_round.items():
        if view.first <= r <= view.last and any(
            view.shows_kind(g.kind) and (g.src in shown or any(c.dst in shown for c in g.copies))
            for g in groups
        ):
            busy.add(r)
    for r, marks in diagram.marks_by_round.items():
        if view.first <= r <= view.last and any(
            view.shows_kind(m.kind) and (m.node is None or m.node in shown) for m in marks
        ):
            busy.add(r)
    if counts:
        for r, sent in diagram.sent.items():
            if view.first <= r <= view.last and any(
                v and view.shows_kind(k) for k, v in sent.items()
            ):
                busy.add(r)
    return sorted(busy)


def plan(diagram: Diagram, view: View, counts: bool = True) -> list[Row]:
    rows: list[Row] = []
    at = view.first
    for r in busy_rounds(diagram, view, counts):
        if r > at:
            rows.append(Row(at, r - 1, False))
        rows.append(Row(r, r, True))
        at = r + 1
    if at <= view.last:
        rows.append(Row(at, view.last, False))
    return rows


def apply_event(mark: Mark, down: set[int]) -> None:
    """Update the set of down nodes with one mark (a crash, recovery...)."""
    if mark.what != "event" or mark.node is None:
        return
    word = mark.label.split(" ", 1)[0]
    if word in DOWN_EVENTS:
        down.add(mark.node)
    elif word in UP_EVENTS:
        down.discard(mark.node)


def down_before(diagram: Diagram, r: int) -> set[int]:
    """Nodes down at the start of round ``r`` (from node events in earlier rounds)."""
    down: set[int] = set()
    for mark in diagram.marks:  # sorted by round
        if mark.round >= r:
            break
        apply_event(mark, down)
    return down


# -- centring on a violation --------------------------------------------------------------


def focus_nodes(diagram: Diagram, focus: Focus | None, wanted: Iterable[int] | None) -> list[int]:
    nodes = sorted(set(wanted) if wanted is not None else set(range(diagram.n)))
    nodes = [x for x in nodes if 0 <= x < diagram.n]
    if focus is not None:
        nodes = sorted(set(nodes) | set(focus.nodes))
    return nodes or [0]


def focus_view(
    diagram: Diagram,
    round: int | None = None,
    nodes: Iterable[int] | None = None,
    kinds: Iterable[str] | None = None,
) -> tuple[View, Focus | None, int]:
    """A view of the whole run over ``nodes`` plus the nodes the violation's witness
    names, the violation (if any), and the round to centre on: ``round``, or else the
    violation's round, or else 0 -- clamped to the run."""
    focus = violation(diagram)
    if round is None and focus is not None:
        round = focus.round
    last_round = max(diagram.rounds - 1, 0)
    centre = max(0, min(round or 0, last_round))
    view = make_view(diagram, focus_nodes(diagram, focus, nodes), None, kinds)
    return view, focus, centre
