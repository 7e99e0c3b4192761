"""Space-time (Lamport) diagrams of a run, from a full trace file.

Theory of operation. ``load`` reads a trace written by ``bft run ... --trace
FILE`` into a ``Diagram``: the nodes, and per round what each node sent (one
line per sender, kind and message content, so an equivocating node shows as
two lines), which messages the adversary dropped or delayed, node events
(corruption, crash, recovery, overload, freeze, rejected messages, protocol
bugs), observable outputs (decisions, commits...) and, when the runner wrote
it, the final ``verdicts`` line with the property verdicts.

``render_text`` draws it for a terminal: nodes are columns, rounds are rows.
Under each round's state line (``|`` up, ``C`` corrupted, ``X`` down) comes
one line per message group: ``o`` marks the sender, ``>``/``<`` each
receiver, ``x`` a dropped copy and ``~`` a delayed one; a label on the right
names the sender, the receivers, the kind and the content. Messages from nodes
outside the view are folded into one line per kind (``v`` at each receiver,
with how many arrived), so a server's view of 2000 clients stays readable. ``*`` marks an output, ``!``
a node event, ``r`` a rejected message. Filters (nodes, round range, message
kinds) keep large runs readable; every line fits the requested width.

``render_html`` writes the same diagram as one self-contained page: inline
SVG (lifelines, round rows, an arrow from sender at round r to receiver at its
arrival round, crosses for drops), the verdicts and metrics, and a few lines
of inline script to hide message kinds. Nothing is fetched from the network.
"""

from __future__ import annotations

import html
import json
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from bft.core.errors import ConfigError
from bft.core.trace import read_trace

DOWN_EVENTS = ("crash", "overload", "freeze", "bug")  # a node that raised stops
UP_EVENTS = ("recover", "restart")
NODE_EVENTS = (*DOWN_EVENTS, *UP_EVENTS, "bug", "corrupt-node-error")


@attrs.define
class Copy:
    dst: int
    status: str = "sent"  # sent | dropped | delayed
    arrives: int | None = None


@attrs.define
class Group:
    """Messages one node sent in one round with the same kind and content."""

    round: int
    src: int
    kind: str
    summary: str
    copies: list[Copy] = attrs.Factory(list)


@attrs.define
class Mark:
    """Something that happened at one node (or, with node None, to the run) in a round."""

    round: int
    node: int | None
    what: str  # output | event | reject | note
    label: str
    kind: str = ""


@attrs.define
class Diagram:
    header: dict[str, Any]
    n: int
    rounds: int
    level: str
    groups: list[Group] = attrs.Factory(list)
    marks: list[Mark] = attrs.Factory(list)
    corrupted: dict[int, int] = attrs.Factory(dict)  # node -> round corrupted
    down: dict[int, set[int]] = attrs.Factory(dict)  # round -> nodes down
    sent: dict[int, dict[str, int]] = attrs.Factory(dict)
    verdicts: dict[str, Any] | None = None

    @property
    def title(self) -> str:
        h = self.header
        params = ", ".join(
            f"{k}={_short(v)}" for k, v in (h.get("params") or {}).items() if v is not None
        )
        advs = ", ".join(a[0] for a in h.get("adversaries") or []) or "none"
        return (
            f"{h.get('protocol', '?')} ({params}); seed {h.get('seed')}; adversaries: {advs}; "
            f"{self.rounds} rounds"
        )

    def kinds(self) -> list[str]:
        return sorted({g.kind for g in self.groups})


# -- reading a trace ----------------------------------------------------------------------


def _short(value: Any, limit: int = 24) -> str:
    if isinstance(value, dict):
        if "$type" in value:
            return str(value["$type"])
        if "$bytes" in value:
            return "0x" + str(value["$bytes"])[:8]
        return "{…}"
    if isinstance(value, list):
        text = "[" + ",".join(_short(v, 8) for v in value[:6]) + (",…]" if len(value) > 6 else "]")
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarize(msg: Any) -> str:
    """A short human-readable form of an encoded message (signature chains as sig[...])."""
    signers: list[int] = []
    while isinstance(msg, dict) and msg.get("$type") == "Signed":
        signers.append(msg.get("signer"))
        msg = msg.get("payload")
    if isinstance(msg, dict) and "$type" in msg:
        fields = " ".join(f"{k}={_short(v)}" for k, v in msg.items() if k != "$type")
        text = f"{msg['$type']} {fields}".strip()
    else:
        text = _short(msg, 40)
    if signers:
        text += " sig[" + ",".join(str(s) for s in reversed(signers)) + "]"
    return text


def load(path: str | Path) -> Diagram:
    """Read a trace file into a ``Diagram``; a ``ConfigError`` if it is not a bft trace."""
    header, events = read_trace(path)
    rounds = int(header.get("rounds") or 0)
    diagram = Diagram(header=header, n=0, rounds=rounds, level=str(header.get("level")))
    by_key: dict[tuple[int, int, str, str], Group] = {}
    last_send: dict[tuple[int, int, int, str], Copy] = {}
    highest = -1
    lost: dict[tuple[int, int, str], int] = {}  # (round, node, kind) -> messages lost
    for ev in events:
        kind = ev.get("ev")
        r = int(ev.get("r", 0))
        if kind == "send" or kind == "drop":
            src, dst, mkind = int(ev["src"]), int(ev["dst"]), str(ev.get("kind", "?"))
            highest = max(highest, src, dst)
            summary = summarize(ev.get("msg")) if "msg" in ev else mkind
            key = (r, src, mkind, summary)
            group = by_key.get(key)
            if group is None:
                group = by_key[key] = Group(r, src, mkind, summary)
                diagram.groups.append(group)
            copy = Copy(dst, "dropped" if kind == "drop" else "sent")
            group.copies.append(copy)
            last_send[(r, src, dst, mkind)] = copy
        elif kind == "delay":
            copy = last_send.get((r, int(ev["src"]), int(ev["dst"]), str(ev.get("kind"))))
            if copy is not None:
                copy.status, copy.arrives = "delayed", int(ev["until"])
        elif kind == "lost":
            key = (r, int(ev["dst"]), str(ev.get("kind", "")))
            lost[key] = lost.get(key, 0) + 1
        elif kind == "output":
            node = int(ev["node"])
            highest = max(highest, node)
            data = ev.get("data") or {}
            text = " ".join(f"{k}={_short(v)}" for k, v in data.items())
            diagram.marks.append(Mark(r, node, "output", f"{ev.get('name')} {text}".strip()))
        elif kind == "corrupt":
            node = int(ev["node"])
            diagram.corrupted.setdefault(node, r)
            diagram.marks.append(Mark(r, node, "event", f"corrupted by {ev.get('detail', '')}"))
        elif kind in NODE_EVENTS:
            node = int(ev["node"])
            detail = ev.get("detail") or ""
            diagram.marks.append(Mark(r, node, "event", f"{kind} {detail}".strip()))
        elif kind == "reject":
            node = int(ev["node"])
            diagram.marks.append(
                Mark(
                    r,
                    node,
                    "reject",
                    f"rejected {ev.get('kind')} from n{ev.get('src')}: {ev.get('reason')}",
                    str(ev.get("kind", "")),
                )
            )
        elif kind == "adversary":
            diagram.marks.append(Mark(r, None, "note", f"adversary {ev.get('detail', '')}"))
        elif kind == "refused":
            diagram.marks.append(
                Mark(r, None, "note", f"refused {ev.get('adversary')}: {ev.get('reason')}")
            )
        elif kind == "round":
            diagram.sent[r] = dict(ev.get("sent") or {})
            diagram.down[r] = set(ev.get("down") or [])
            if diagram.down[r]:
                highest = max(highest, *diagram.down[r])
        elif kind == "verdicts":
            diagram.verdicts = ev
        elif kind == "rounds":  # a summary trace: per-round series in one line
            for index, counts in enumerate(ev.get("sent") or []):
                diagram.sent[index] = dict(counts)
            for index, nodes in enumerate(ev.get("down") or []):
                diagram.down[index] = set(nodes)
    for (r, dst, mkind), count in lost.items():
        diagram.marks.append(Mark(r, dst, "lost", f"lost {count} {mkind} (n{dst} is down)", mkind))
    diagram.marks.sort(key=lambda m: m.round)
    params = header.get("params") or {}
    n = highest + 1
    if diagram.verdicts and isinstance(diagram.verdicts.get("n"), int):
        n = diagram.verdicts["n"]
    elif isinstance(params.get("n"), int):
        n = max(n, params["n"])
    diagram.n = max(n, 1)
    for node, r in diagram.corrupted.items():
        if node >= diagram.n:
            raise ConfigError(f"{path}: node {node} (corrupted in round {r}) is out of range")
    return diagram


# -- filters ------------------------------------------------------------------------------


def parse_nodes(text: str | None, n: int) -> list[int]:
    """'0,2,5', '[0,2]' or '1-3' (ranges inclusive) -> node ids; all nodes when None."""
    if text is None:
        return list(range(n))
    out: list[int] = []
    for part in text.strip("[] ").split(","):
        part = part.strip()
        if not part:
            continue
        lo, dash, hi = part.partition("-")
        try:
            ids = range(int(lo), int(hi) + 1) if dash else [int(part)]
        except ValueError:
            raise ConfigError(
                f"--nodes {text!r}: expected node ids like 0,2,5 or a range like 0-3"
            ) from None
        for node in ids:
            if not 0 <= node < n:
                raise ConfigError(
                    f"--nodes {text!r}: node {node} does not exist (nodes are 0..{n - 1})"
                )
            if node not in out:
                out.append(node)
    if not out:
        raise ConfigError(f"--nodes {text!r}: no nodes given")
    return sorted(out)


def parse_rounds(text: str | None, rounds: int) -> tuple[int, int]:
    """'A:B' (inclusive), 'A:' , ':B' or 'A' -> (first, last) round."""
    last_round = max(rounds - 1, 0)
    if text is None:
        return 0, last_round
    lo, colon, hi = text.partition(":")
    try:
        first = int(lo) if lo.strip() else 0
        last = (int(hi) if hi.strip() else last_round) if colon else first
    except ValueError:
        raise ConfigError(
            f"--rounds {text!r}: expected A:B (inclusive), A:, :B or A, with round numbers"
        ) from None
    if first < 0 or last < first:
        raise ConfigError(
            f"--rounds {text!r}: need 0 <= first <= last (rounds are 0..{last_round})"
        )
    return first, last


@attrs.frozen
class View:
    nodes: tuple[int, ...]
    first: int
    last: int
    kinds: frozenset[str] | None = None

    def shows_kind(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


def make_view(
    diagram: Diagram,
    nodes: str | Iterable[int] | None = None,
    rounds: str | None = None,
    kinds: Iterable[str] | None = None,
) -> View:
    chosen = (
        parse_nodes(nodes, diagram.n)
        if nodes is None or isinstance(nodes, str)
        else sorted(set(nodes))
    )
    first, last = parse_rounds(rounds, diagram.rounds)
    wanted = None
    if kinds:
        wanted = frozenset(k.strip() for item in kinds for k in item.split(",") if k.strip())
        known = set(diagram.kinds())
        unknown = sorted(wanted - known)
        if unknown and known:
            raise ConfigError(
                f"--kind {unknown[0]!r}: no such message kind in this trace; kinds: "
                + ", ".join(sorted(known))
            )
    return View(tuple(chosen), first, last, wanted)


# -- the terminal diagram -------------------------------------------------------------------

MARGIN = 5
MIN_LABEL = 30


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _receivers(copies: list[Copy]) -> str:
    parts = []
    for c in copies:
        mark = {"sent": "", "dropped": " dropped", "delayed": f" delayed to r{c.arrives}"}[c.status]
        parts.append(f"{c.dst}{mark}")
    return ",".join(parts)


def render_text(diagram: Diagram, view: View | None = None, width: int = 100) -> str:
    view = view or make_view(diagram)
    cols = list(view.nodes)
    if width < MARGIN + MIN_LABEL + 3:
        raise ConfigError(f"--width {width}: too narrow (at least {MARGIN + MIN_LABEL + 3})")
    colw = min(8, (width - MARGIN - MIN_LABEL) // len(cols))
    if colw < 3:
        most = (width - MARGIN - MIN_LABEL) // 3
        raise ConfigError(
            f"{len(cols)} nodes do not fit in {width} columns; show at most {most} with --nodes "
            f"(e.g. --nodes 0-{most - 1}) or widen with --width"
        )
    area = colw * len(cols)
    label_width = width - MARGIN - area - 1
    pos = {node: i * colw + 1 for i, node in enumerate(cols)}

    def line(prefix: str, cells: list[str], label: str) -> str:
        return _fit(
            f"{prefix:<{MARGIN}}{''.join(cells)} {_fit(label, label_width)}".rstrip(), width
        )

    out = [_fit("bft show: " + diagram.title, width)]
    out.append(
        _fit(
            "legend: o sender  >/< receiver  v from nodes not shown  x dropped  ~ delayed  "
            "* output  ! event  r rejected  C corrupt  X down",
            width,
        )
    )
    if diagram.level != "full":
        out.append(
            _fit(
                "summary trace: no per-message events; write a full one with "
                "'bft run ... --trace FILE'",
                width,
            )
        )
    heads = [" "] * area
    for node, p in pos.items():
        name = f"n{node}"[:colw]
        start = p - 1
        for k, ch in enumerate(name):
            if start + k < area:
                heads[start + k] = ch
    out.append(line("", heads, ""))

    down_now: set[int] = set()
    marks_by_round: dict[int, list[Mark]] = {}
    for mark in diagram.marks:
        marks_by_round.setdefault(mark.round, []).append(mark)
    groups_by_round: dict[int, list[Group]] = {}
    for group in diagram.groups:
        groups_by_round.setdefault(group.round, []).append(group)

    quiet: list[tuple[int, str, list[str]]] = []  # a run of rounds where nothing shown happened

    def flush() -> None:
        if len(quiet) == 1:
            out.append(quiet[0][1])
        elif quiet:
            first, last = quiet[0][0], quiet[-1][0]
            label = f"(rounds {first}-{last}: no messages, no events)"
            out.append(line(f"r{first}", quiet[0][2], label))
        quiet.clear()

    for r in range(0, view.last + 1):
        for mark in marks_by_round.get(r, []):
            if mark.what == "event" and mark.node is not None:
                word = mark.label.split(" ", 1)[0]
                if word in DOWN_EVENTS:
                    down_now.add(mark.node)
                elif word in UP_EVENTS:
                    down_now.discard(mark.node)
        if r < view.first:
            continue
        state = [" "] * area
        for node, p in pos.items():
            if node in down_now:
                state[p] = "X"
            elif node in diagram.corrupted and diagram.corrupted[node] <= r:
                state[p] = "C"
            else:
                state[p] = "|"
        counts = diagram.sent.get(r, {})
        shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if view.shows_kind(k))
        body: list[str] = []
        for mark in marks_by_round.get(r, []):
            if mark.kind and not view.shows_kind(mark.kind):
                continue
            if mark.node is None:
                body.append(line("", [" "] * area, mark.label))
                continue
            if mark.node not in pos:
                continue
            cells = [" "] * area
            cells[pos[mark.node]] = {"output": "*", "reject": "r"}.get(mark.what, "!")
            body.append(line("", cells, f"n{mark.node} {mark.label}"))
        incoming: dict[str, dict[int, list[int]]] = {}  # kind -> dst -> hidden senders
        for group in groups_by_round.get(r, []):
            if not view.shows_kind(group.kind):
                continue
            copies = [c for c in group.copies if c.dst in pos]
            if group.src not in pos and not copies:
                continue
            if group.src not in pos:  # from outside the view: one line per kind, below
                per_dst = incoming.setdefault(group.kind, {})
                for c in copies:
                    per_dst.setdefault(c.dst, []).append(group.src)
                continue
            cells = [" "] * area
            points = [pos[c.dst] for c in copies]
            if group.src in pos:
                points.append(pos[group.src])
            lo, hi = min(points), max(points)
            for k in range(lo, hi + 1):
                cells[k] = "-"
            src_at = pos.get(group.src)
            for c in copies:
                p = pos[c.dst]
                if c.status == "dropped":
                    cells[p] = "x"
                elif c.status == "delayed":
                    cells[p] = "~"
                else:
                    cells[p] = "<" if src_at is not None and p < src_at else ">"
            if src_at is not None:
                cells[src_at] = "o"
            hidden = len(group.copies) - len(copies)
            extra = f" (+{hidden} hidden)" if hidden else ""
            label = f"{group.src}->{_receivers(copies) or '-'}{extra}  {group.summary}"
            body.append(line("", cells, label))
        for kind, per_dst in sorted(incoming.items()):
            cells = [" "] * area
            senders: set[int] = set()
            for dst, srcs in per_dst.items():
                cells[pos[dst]] = "v"
                senders.update(srcs)
            spread = ",".join(f"{d}x{len(per_dst[d])}" for d in sorted(per_dst))
            label = f"{kind} from {len(senders)} nodes not shown -> {spread}"
            body.append(line("", cells, label))
        head = line(f"r{r}", state, f"sent: {shown}" if shown else "")
        if body or shown:
            flush()
            out.append(head)
            out.extend(body)
        else:
            if quiet and quiet[-1][1][MARGIN:] != head[MARGIN:]:
                flush()
            quiet.append((r, head, state))
    flush()
    if view.last >= diagram.rounds and diagram.rounds:
        out.append(_fit(f"(the run has rounds 0..{diagram.rounds - 1})", width))
    out.extend(_verdict_lines(diagram, width))
    return "\n".join(out)


def _verdict_lines(diagram: Diagram, width: int) -> list[str]:
    verdicts = diagram.verdicts
    if not verdicts:
        return [
            _fit("(no verdicts in this trace: it was written by an older bft or by hand)", width)
        ]
    lines = [""]
    names = list((verdicts.get("properties") or {}).keys())
    pad = max((len(name) for name in names), default=0) + 1
    if verdicts.get("beyond_bound"):
        lines.append(_fit(f"BEYOND THE PROTOCOL'S BOUND: {verdicts['beyond_bound']}", width))
    for name, v in (verdicts.get("properties") or {}).items():
        status = "holds" if v.get("holds") else "VIOLATED"
        if v.get("holds") and not v.get("exercised", True):
            status = "holds (vacuous)"
        text = f"{name:<{pad}} {status:<16} {v.get('witness') or ''}".rstrip()
        indent = " " * min(pad + 18, width // 2)
        lines.extend(textwrap.wrap(text, width, subsequent_indent=indent) or [text])
    return lines


# -- the HTML page -------------------------------------------------------------------------

MAX_HTML_NODES = 64
PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")

SCRIPT = """
(function () {
  var boxes = document.querySelectorAll('input[data-kind-toggle]');
  function apply() {
    var hidden = {};
    boxes.forEach(function (b) { if (!b.checked) { hidden[b.getAttribute('data-kind-toggle')] = true; } });
    document.querySelectorAll('[data-kind]').forEach(function (el) {
      el.style.display = hidden[el.getAttribute('data-kind')] ? 'none' : '';
    });
  }
  boxes.forEach(function (b) { b.addEventListener('change', apply); });
  apply();
  document.documentElement.setAttribute('data-ready', 'yes');
})();
"""

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.2em; } h2 { font-size: 1.05em; margin-top: 1.5em; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
.holds { color: #1a7f37; } .violated { color: #c00; font-weight: bold; } .vacuous { color: #777; }
svg text { font-size: 12px; } .round { fill: #555; } .node { font-weight: bold; }
.corrupted { fill: #c00; } .kinds label { margin-right: 1em; }
"""


def render_html(diagram: Diagram, view: View | None = None) -> str:
    view = view or make_view(diagram)
    cols = list(view.nodes)
    if len(cols) > MAX_HTML_NODES:
        raise ConfigError(
            f"{len(cols)} nodes make an unreadable page; choose at most {MAX_HTML_NODES} "
            f"with --nodes (e.g. --nodes 0-{MAX_HTML_NODES - 1})"
        )
    kinds = diagram.kinds()
    color = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(kinds)}
    spacing = max(70, min(150, 900 // max(len(cols), 1)))
    row = 70
    left, top = 70, 60
    x = {node: left + i * spacing for i, node in enumerate(cols)}
    rounds = list(range(view.first, view.last + 1))

    def y(r: int) -> float:
        return top + (r - view.first) * row

    width_px = left + spacing * len(cols) + 220
    height_px = top + row * (len(rounds) + 1) + 20
    esc = html.escape
    svg: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_px}" height="{height_px}" '
        f'viewBox="0 0 {width_px} {height_px}" role="img" aria-label="space-time diagram">',
        "<defs>",
    ]
    for kind in kinds:
        svg.append(
            f'<marker id="arrow-{_ident(kind)}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M 0 0 L 10 5 L 0 10 z" fill="{color[kind]}"/></marker>'
        )
    svg.append("</defs>")
    bottom = y(view.last + 1)
    for r in rounds:
        svg.append(
            f'<g class="row" data-round="{r}"><line x1="{left - 40}" y1="{y(r)}" '
            f'x2="{width_px - 20}" y2="{y(r)}" stroke="#eee"/>'
            f'<text class="round" x="8" y="{y(r) + 4}">r{r}</text></g>'
        )
    roles = (diagram.verdicts or {}).get("roles") or []
    for node in cols:
        cls = "node corrupted" if node in diagram.corrupted else "node"
        role = roles[node] if node < len(roles) else ""
        tag = " (corrupted)" if node in diagram.corrupted else ""
        svg.append(
            f'<g class="lifeline" data-node="{node}">'
            f"<title>node {node} {esc(role)}{tag}</title>"
            f'<line x1="{x[node]}" y1="{top - 15}" x2="{x[node]}" y2="{bottom}" stroke="#999"/>'
            f'<text class="{cls}" x="{x[node]}" y="{top - 30}" text-anchor="middle">n{node}</text>'
            f'<text x="{x[node]}" y="{top - 18}" text-anchor="middle" font-size="10">'
            f"{esc(role)}</text></g>"
        )
        for r in rounds:
            if node in diagram.down.get(r, set()):
                svg.append(
                    f'<rect x="{x[node] - 4}" y="{y(r)}" width="8" height="{row}" fill="#bbb">'
                    f"<title>node {node} down in round {r}</title></rect>"
                )
    for group in diagram.groups:
        if not view.first <= group.round <= view.last or group.src not in x:
            continue
        c = color[group.kind]
        for copy in group.copies:
            if copy.dst not in x:
                continue
            x1, y1, x2 = x[group.src], y(group.round), x[copy.dst]
            arrives = copy.arrives if copy.status == "delayed" else group.round + 1
            y2 = y(min(arrives or group.round + 1, view.last + 1))
            tip = f"r{group.round} n{group.src}->n{copy.dst} {group.summary} ({copy.status})"
            if copy.status == "dropped":
                mx, my = (x1 + x2) / 2, (y1 + y2) / 2
                svg.append(
                    f'<g data-kind="{esc(group.kind)}" class="msg dropped"><title>{esc(tip)}</title>'
                    f'<line x1="{x1}" y1="{y1}" x2="{mx}" y2="{my}" stroke="#c00" '
                    f'stroke-dasharray="4 3"/><text x="{mx}" y="{my + 4}" fill="#c00" '
                    f'text-anchor="middle">×</text></g>'
                )
                continue
            dash = ' stroke-dasharray="6 3"' if copy.status == "delayed" else ""
            svg.append(
                f'<g data-kind="{esc(group.kind)}" class="msg"><title>{esc(tip)}</title>'
                f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{c}"{dash} '
                f'marker-end="url(#arrow-{_ident(group.kind)})"/></g>'
            )
    stacked: dict[tuple[int, int], int] = {}  # (node, round) -> outputs labelled so far
    label_chars = max(8, spacing // 7 - 2)
    for mark in diagram.marks:
        if not view.first <= mark.round <= view.last or mark.node not in x:
            continue
        px, py = x[mark.node], y(mark.round)
        nth = stacked.get((mark.node, mark.round), 0)
        if mark.what == "output":
            stacked[(mark.node, mark.round)] = nth + 1
        fill = {"output": "#1a7f37", "reject": "#e69500"}.get(mark.what, "#c00")
        kind_attr = f' data-kind="{esc(mark.kind)}"' if mark.kind else ""
        svg.append(
            f'<g class="mark {mark.what}"{kind_attr}><title>r{mark.round} n{mark.node} '
            f"{esc(mark.label)}</title>"
            f'<circle cx="{px}" cy="{py}" r="5" fill="{fill}"/>'
            + (
                f'<text x="{px + 8}" y="{py - 6 + 12 * nth}" fill="{fill}">'
                f"{esc(_fit(mark.label, label_chars))}</text>"
                if mark.what == "output"
                else ""
            )
            + "</g>"
        )
    svg.append("</svg>")

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>bft show: {esc(diagram.header.get('protocol', '?'))}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{esc(diagram.title)}</h1>",
        '<p class="kinds">Message kinds: '
        + "".join(
            f'<label style="color:{color[k]}"><input type="checkbox" checked '
            f'data-kind-toggle="{esc(k)}"> {esc(k)}</label>'
            for k in kinds
        )
        + "</p>",
        "<p>Nodes are columns, rounds are rows; an arrow leaves its sender in the round it "
        "was sent and reaches the receiver in the round it is delivered. Red dashes end in "
        "× where the adversary dropped a message; grey bars mark a node that is down; "
        "dots mark outputs (green), rejected messages (orange) and node events (red). "
        "Hover for details.</p>",
        "\n".join(svg),
    ]
    parts.extend(_html_verdicts(diagram))
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts)


def _ident(kind: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in kind)


def _html_verdicts(diagram: Diagram) -> list[str]:
    esc = html.escape
    v = diagram.verdicts
    if not v:
        return ["<h2>Verdicts</h2><p>This trace records no verdicts.</p>"]
    rows = []
    for name, item in (v.get("properties") or {}).items():
        if not item.get("holds"):
            cls, status = "violated", "VIOLATED"
        elif not item.get("exercised", True):
            cls, status = "vacuous", "holds (vacuous)"
        else:
            cls, status = "holds", "holds"
        rows.append(
            f'<tr class="verdict" data-property="{esc(name)}"><td>{esc(name)}</td>'
            f'<td>{esc(str(item.get("kind")))}</td><td class="{cls}">{status}</td>'
            f"<td>{esc(item.get('witness') or '')}</td></tr>"
        )
    out = ["<h2>Verdicts</h2>"]
    if v.get("beyond_bound"):
        out.append(
            f'<p class="violated">Beyond the protocol\'s bound: {esc(v["beyond_bound"])}</p>'
        )
    if v.get("corrupted"):
        out.append(f"<p>Corrupted nodes: {esc(', '.join(map(str, v['corrupted'])))}</p>")
    out.append(
        "<table><tr><th>property</th><th>kind</th><th>verdict</th><th>witness</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    metrics: Mapping[str, Any] = v.get("metrics") or {}
    if metrics:
        out.append(
            "<h2>Metrics</h2><table>"
            + "".join(
                f"<tr><td>{esc(k)}</td><td>{esc(json.dumps(val))}</td></tr>"
                for k, val in metrics.items()
            )
            + "</table>"
        )
    return out
