"""The terminal diagram: nodes are columns, rounds are rows, every line fits the width.

Theory of operation. Each busy round (``view.plan``) starts with a state line
(``|`` up, ``P`` the current view's primary, ``C`` corrupted, ``X`` down) and
the round's message counts; below it come one line per node mark (``*``
output, ``!`` event, ``r`` rejected message) and one line per message group:
``o`` marks the sender, ``>``/``<`` each receiver, ``x`` a dropped copy and
``~`` a delayed one; the label names sender, receivers, tags (TAMPERED,
FORGED, REPLAYED, rejected) and content. Messages from nodes outside the view
fold into one line per kind (``v`` at each receiver). A run of idle rounds is
one line. The verdicts follow, in two aligned columns, or stacked when the
width leaves the witness too little room.

``render_focus`` is what a grader shows: the same drawing cut to a window of
whole rows around the violation's round, as many rows as ``max_lines`` allows
(two rows before it for every row after it).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

import attrs

from bft.core.errors import ConfigError
from bft.tools.diagram.model import Copy, Diagram, Focus, Group, Mark
from bft.tools.diagram.view import Row, View, apply_event, down_before, focus_view, make_view, plan

MARGIN = 5
MIN_LABEL = 30
MIN_WIDTH = MARGIN + MIN_LABEL + 3
MAX_WIDTH = 1000
LEGEND = (
    "legend: o sender  >/< receiver  v from nodes not shown  x dropped  ~ delayed  "
    "* output  ! event  r rejected  P primary  C corrupt  X down"
)
TAG_WORDS = {"tampered": "TAMPERED", "forged": "FORGED", "replayed": "REPLAYED"}


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _receivers(copies: list[Copy]) -> str:
    """'1,2,3' or '0,2 dropped,3 delayed to r9' (a receiver named twice: 'x2')."""
    seen: dict[tuple[int, str], int] = {}
    for c in copies:
        mark = {"sent": "", "dropped": " dropped", "delayed": f" delayed to r{c.arrives}"}[c.status]
        seen[(c.dst, mark)] = seen.get((c.dst, mark), 0) + 1
    return ",".join(
        f"{dst}{mark}" + (f" x{count}" if count > 1 else "") for (dst, mark), count in seen.items()
    )


def _tag_text(copies: list[Copy]) -> str:
    words = []
    for tag, word in TAG_WORDS.items():
        whys = sorted({c.tags[tag] for c in copies if tag in c.tags})
        if whys:
            words.append(f"{word} ({whys[0]})" if tag != "tampered" else word)
    rejected = sorted({c.dst for c in copies if "rejected" in c.tags})
    if rejected:
        words.append(f"rejected by {','.join(map(str, rejected))}")
    return " ".join(words)


@attrs.define
class _Layout:
    diagram: Diagram
    view: View
    width: int
    cols: list[int] = attrs.Factory(list)
    colw: int = 0
    area: int = 0
    label_width: int = 0
    pos: dict[int, int] = attrs.Factory(dict)

    def __attrs_post_init__(self) -> None:
        width = self.width
        if not MIN_WIDTH <= width <= MAX_WIDTH:
            raise ConfigError(f"--width {width}: must be between {MIN_WIDTH} and {MAX_WIDTH}")
        self.cols = list(self.view.nodes)
        room = width - MARGIN - MIN_LABEL
        if len(self.cols) * 3 > room:
            most = room // 3
            raise ConfigError(
                f"{len(self.cols)} nodes do not fit in {width} columns; show at most {most} "
                f"with --nodes (e.g. --nodes 0-{most - 1}) or widen with --width"
            )
        self.colw = min(8, room // len(self.cols))
        self.area = self.colw * len(self.cols)
        self.label_width = width - MARGIN - self.area - 1
        self.pos = {node: i * self.colw + 1 for i, node in enumerate(self.cols)}

    def line(self, prefix: str, cells: list[str], label: str) -> str:
        text = f"{prefix:<{MARGIN}}{''.join(cells)} {_fit(label, self.label_width)}"
        return _fit(text.rstrip(), self.width)

    def blank(self) -> list[str]:
        return [" "] * self.area

    def head(self) -> list[str]:
        d, width = self.diagram, self.width
        out = [_fit("bft show: " + d.title, width)]
        out.extend(textwrap.wrap(LEGEND, width, subsequent_indent="        "))
        if d.level != "full":
            out.append(
                _fit(
                    "summary trace: no per-message events; write a full one with "
                    "'bft run ... --trace FILE'",
                    width,
                )
            )
        heads = self.blank()
        for node, p in self.pos.items():
            for k, ch in enumerate(f"n{node}"[: self.colw]):
                if p - 1 + k < self.area:
                    heads[p - 1 + k] = ch
        out.append(self.line("", heads, ""))
        return out

    def state(self, r: int, down: set[int]) -> list[str]:
        cells = self.blank()
        primary = self.diagram.primary_at(r)
        for node, p in self.pos.items():
            if node in down:
                cells[p] = "X"
            elif self.diagram.byzantine(node, r):
                cells[p] = "C"
            elif primary is not None and primary.node == node:
                cells[p] = "P"
            else:
                cells[p] = "|"
        return cells

    def rows(self) -> list[tuple[Row, list[str]]]:
        """Every row of the view with its lines."""
        d, view = self.diagram, self.view
        down = down_before(d, view.first)
        out: list[tuple[Row, list[str]]] = []
        for row in plan(d, view):
            if not row.busy:
                cells = self.state(row.first, down)
                if row.first == row.last:
                    out.append((row, [self.line(f"r{row.first}", cells, "(idle)")]))
                else:
                    label = f"(rounds {row.first}-{row.last}: no messages, no events)"
                    out.append((row, [self.line(f"r{row.first}", cells, label)]))
                continue
            r = row.first
            marks = d.marks_by_round.get(r, [])
            for mark in marks:
                apply_event(mark, down)
            counts = d.sent.get(r, {})
            shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if view.shows_kind(k))
            lines = [self.line(f"r{r}", self.state(r, down), f"sent: {shown}" if shown else "")]
            lines.extend(self.mark_lines(marks))
            lines.extend(self.group_lines(d.groups_by_round.get(r, [])))
            out.append((row, lines))
        return out

    def mark_lines(self, marks: list[Mark]) -> list[str]:
        """The violation first, then run notes, then node marks (a node's rejections of
        one round in one line)."""
        shown = [m for m in marks if self.view.shows_kind(m.kind)]
        out = []
        for m in shown:
            if m.what == "violation":
                out.extend(
                    textwrap.wrap(
                        ">>> " + m.label,
                        self.width,
                        initial_indent=" " * MARGIN,
                        subsequent_indent=" " * (MARGIN + 4),
                    )[:3]
                )
        rejects: dict[int, list[Mark]] = {}
        for mark in shown:
            if mark.what == "reject" and mark.node in self.pos:
                rejects.setdefault(mark.node, []).append(mark)
        for mark in shown:
            if mark.what == "violation":
                continue
            if mark.node is None:  # about the run: the whole width
                out.append(_fit(" " * MARGIN + mark.label, self.width))
                continue
            if mark.node not in self.pos:
                continue
            label = mark.label
            if mark.what == "reject":
                group = rejects[mark.node]
                if mark is not group[0]:
                    continue
                if len(group) > 1:
                    kinds = ",".join(sorted({m.kind for m in group}))
                    label = f"rejected {len(group)} {kinds}: {mark.label.split(': ', 1)[-1]}"
            cells = self.blank()
            cells[self.pos[mark.node]] = {"output": "*", "reject": "r"}.get(mark.what, "!")
            out.append(self.line("", cells, f"n{mark.node} {label}"))
        return out

    def group_lines(self, groups: list[Group]) -> list[str]:
        pos, view = self.pos, self.view
        out = []
        incoming: dict[str, dict[int, list[int]]] = {}  # kind -> dst -> hidden senders
        for group in groups:
            if not view.shows_kind(group.kind):
                continue
            copies = [c for c in group.copies if c.dst in pos]
            if group.src not in pos:  # from outside the view: one line per kind, below
                per_dst = incoming.setdefault(group.kind, {})
                for c in copies:
                    per_dst.setdefault(c.dst, []).append(group.src)
                continue
            cells = self.blank()
            src_at = pos[group.src]
            points = [pos[c.dst] for c in copies] + [src_at]
            for k in range(min(points), max(points) + 1):
                cells[k] = "-"
            for c in copies:
                p = pos[c.dst]
                if c.status == "dropped":
                    cells[p] = "x"
                elif c.status == "delayed":
                    cells[p] = "~"
                else:
                    cells[p] = "<" if p < src_at else ">"
            cells[src_at] = "o"
            hidden = len(group.copies) - len(copies)
            extra = f" (+{hidden} hidden)" if hidden else ""
            tags = _tag_text(copies)
            label = f"{group.src}->{_receivers(copies) or '-'}{extra}  "
            label += f"{tags}  {group.summary}" if tags else group.summary
            out.append(self.line("", cells, label))
        for kind, per_dst in sorted(incoming.items()):
            if not per_dst:
                continue
            cells = self.blank()
            senders: set[int] = set()
            for dst, srcs in per_dst.items():
                cells[pos[dst]] = "v"
                senders.update(srcs)
            spread = ",".join(f"{d}x{len(per_dst[d])}" for d in sorted(per_dst))
            out.append(
                self.line("", cells, f"{kind} from {len(senders)} nodes not shown -> {spread}")
            )
        return out


def render_text(diagram: Diagram, view: View | None = None, width: int = 100) -> str:
    """The whole view as terminal text, every line at most ``width`` columns."""
    view = view or make_view(diagram)
    layout = _Layout(diagram, view, width)
    out = layout.head()
    for _, lines in layout.rows():
        out.extend(lines)
    if view.clamped:
        out.append(_fit(f"(the run has rounds 0..{max(diagram.rounds - 1, 0)})", width))
    out.extend(verdict_lines(diagram, width))
    return "\n".join(out)


def render_focus(
    diagram: Diagram,
    round: int | None = None,
    nodes: Iterable[int] | None = None,
    *,
    width: int = 100,
    max_lines: int = 80,
    kinds: Iterable[str] | None = None,
    trace_name: str = "TRACE",
) -> str:
    """A diagram of at most ``max_lines`` lines centred on a violation.

    ``round`` and ``nodes`` name the violation (e.g. the round and nodes of a
    property's witness); when ``round`` is None they come from the first violated
    property in the trace's verdicts line (the round its witness names last, the
    nodes it names). ``nodes`` (None: all) are the columns wanted; the witness's
    nodes are always added. Whole rows are kept around the violation's row, two
    before it for every one after, while the total fits ``max_lines``; the last line
    says which rounds are shown and how to see the rest."""
    if max_lines < 12:
        raise ConfigError(f"max_lines {max_lines}: need at least 12 lines")
    whole, focus, centre = focus_view(diagram, round, nodes, kinds)
    layout = _Layout(diagram, whole, width)
    rows = layout.rows()
    at = next((i for i, (row, _) in enumerate(rows) if row.first <= centre <= row.last), 0)
    head = layout.head()
    head.insert(1, _fit(_focus_line(focus, centre), width))
    tail = _focus_verdicts(diagram, focus, width)
    budget = max_lines - len(head) - len(tail) - 1
    lo = hi = at
    used = len(rows[at][1]) if rows else 0
    if used > budget and rows:  # the violation's own round is too long: cut it
        rows[at] = (rows[at][0], [*rows[at][1][: max(budget - 1, 1)], _fit("  …", width)])
        used = len(rows[at][1])
    grew = True
    while grew:
        grew = False
        for side in ("before", "before", "after"):
            i = lo - 1 if side == "before" else hi + 1
            if 0 <= i < len(rows) and used + len(rows[i][1]) <= budget:
                used += len(rows[i][1])
                lo, hi = (i, hi) if side == "before" else (lo, i)
                grew = True
    body = [line for _, lines in rows[lo : hi + 1] for line in lines]
    first = rows[lo][0].first if rows else 0
    last = rows[hi][0].last if rows else 0
    more = (
        f"(rounds {first}-{last} of 0..{max(diagram.rounds - 1, 0)} shown; all of them: "
        f"bft show {trace_name})"
    )
    return "\n".join([*head, *body, *tail, _fit(more, width)])


def _focus_line(focus: Focus | None, centre: int) -> str:
    if focus is None:
        return f">>> no violated property in this trace; centred on round {centre}"
    where = f"round {focus.round}" if focus.round is not None else "an unnamed round"
    nodes = ""
    if focus.nodes:
        nodes = (" node " if len(focus.nodes) == 1 else " nodes ") + ", ".join(
            map(str, focus.nodes)
        )
    return f">>> {focus.prop} violated in {where}{',' if nodes else ''}{nodes}; centred on round {centre}"


def _focus_verdicts(diagram: Diagram, focus: Focus | None, width: int) -> list[str]:
    if focus is None:
        return []
    lines = [""]
    lines.extend(
        textwrap.wrap(f"{focus.prop} VIOLATED: {focus.witness}", width, subsequent_indent="    ")[
            :3
        ]
    )
    return lines


def verdict_lines(diagram: Diagram, width: int) -> list[str]:
    """The verdicts as an aligned table: name, status, witness wrapped in its own column;
    stacked (name and status, then the witness indented) when the column would be
    narrower than 24 characters."""
    verdicts = diagram.verdicts
    if not verdicts:
        return [
            _fit("(no verdicts in this trace: it was written by an older bft or by hand)", width)
        ]
    lines = [""]
    items = list((verdicts.get("properties") or {}).items())
    pad = min(max((len(str(name)) for name, _ in items), default=0), 30)
    if verdicts.get("beyond_bound"):
        lines.extend(
            textwrap.wrap(
                f"BEYOND THE PROTOCOL'S FAULT MODEL: {verdicts['beyond_bound']}",
                width,
                subsequent_indent="  ",
            )
        )
    indent = pad + 1 + 16 + 1
    stacked = width - indent < 30
    for name, v in items:
        status = "holds" if v.get("holds") else "VIOLATED"
        if v.get("holds") and not v.get("exercised", True):
            status = "holds (vacuous)"
        witness = str(v.get("witness") or "")
        name = _fit(str(name), pad)
        if stacked:
            lines.append(_fit(f"{name:<{pad}} {status}", width))
            lines.extend(
                textwrap.wrap(witness, width, initial_indent="    ", subsequent_indent="    ")
            )
            continue
        wrapped = textwrap.wrap(witness, width - indent) or [""]
        lines.append(f"{name:<{pad}} {status:<16} {wrapped[0]}".rstrip())
        lines.extend(" " * indent + more for more in wrapped[1:])
    return lines
