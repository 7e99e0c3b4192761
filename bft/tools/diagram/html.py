"""The diagram as one self-contained HTML page (inline SVG, inline script, no fetches).

Theory of operation. The page opens on what matters: the title, then a
banner with the first violation (a link jumps to it), the faulty nodes, the
message kinds shown (each a checkbox), then the diagram in a scrolling box
whose script centres the violation's row on load, then the verdicts and
metrics. The diagram uses the same row plan as the terminal (``view.plan``):
a busy round gets a row tall enough for its labels, a run of idle rounds one
thin row, so a 250-round run is a few screens, not seventeen thousand pixels.
Only the kinds in the view are drawn (``--kind``).

Each arrow leaves its sender at the top of the round it was sent and reaches
the receiver at the top of the round it arrives; the sender's labels name
the kind and key fields of what it sent. A dropped copy is a red dashed line
ending in × at its destination; a delayed one is dashed. Tampered, forged
and replayed copies are drawn thick, purple or brown and their labels say
so; a copy its receiver rejected ends in an orange ⊘. A gold band on a
lifeline marks the primary of each view, from its first announcement.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from bft.core.errors import ConfigError
from bft.tools.diagram.model import Copy, Diagram, Focus, Group, Mark, violation
from bft.tools.diagram.view import Row, View, apply_event, down_before, make_view, plan

MAX_HTML_NODES = 64
PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
TAG_STYLE = {  # tag -> (colour, extra line attributes, label word)
    "tampered": ("#d62728", ' stroke-width="3"', "TAMPERED"),
    "forged": ("#8e24aa", ' stroke-width="2.5" stroke-dasharray="2 2"', "FORGED"),
    "replayed": ("#a0522d", ' stroke-width="2.5" stroke-dasharray="8 3"', "REPLAYED"),
}
LINE = 13  # px per label line
IDLE_ROW = 22
LEFT, TOP = 78, 8
CHAR = 6.4  # px per character at 11px

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
  function centre() {
    var target = document.getElementById('violation');
    var box = document.getElementById('diagram');
    if (!target || !box) { return; }
    var t = target.getBoundingClientRect(), b = box.getBoundingClientRect();
    box.scrollTop += (t.top - b.top) - (box.clientHeight - t.height) / 2;
  }
  centre();
  document.querySelectorAll('a[data-jump]').forEach(function (a) {
    a.addEventListener('click', function (e) { e.preventDefault(); centre(); });
  });
  document.documentElement.setAttribute('data-ready', 'yes');
})();
"""

STYLE = """
body { font-family: sans-serif; margin: 0.8em 1.2em; color: #222; }
h1 { font-size: 1.1em; margin: 0.2em 0 0.4em; } h2 { font-size: 1.0em; margin-top: 1.2em; }
p { margin: 0.3em 0; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
.holds { color: #1a7f37; } .violated { color: #c00; font-weight: bold; } .vacuous { color: #777; }
.banner { background: #fde8e8; border-left: 4px solid #c00; padding: 0.3em 0.6em; }
.banner.ok { background: #e8f5e9; border-color: #1a7f37; }
#diagram { max-height: 72vh; overflow: auto; border: 1px solid #ddd; }
#diagram .heads { position: sticky; top: 0; background: #fff; z-index: 1; display: block; }
svg { display: block; } svg text { font-size: 11px; }
svg text.lbl { paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.round { fill: #555; } .idle { fill: #999; font-style: italic; } .node { font-weight: bold; }
.corrupted { fill: #c00; } .crashed { fill: #666; } .kinds label { margin-right: 0.8em; }
.legend { font-size: 0.85em; color: #555; }
"""


def _ident(kind: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in kind)


def _fit(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(chars - 1, 1)] + "…"


def _tag_words(copies: list[Copy]) -> str:
    return " ".join(TAG_STYLE[t][2] for t in TAG_STYLE if any(t in c.tags for c in copies))


class _Page:
    """Geometry and drawing of one diagram."""

    def __init__(self, diagram: Diagram, view: View) -> None:
        self.d, self.view = diagram, view
        self.cols = list(view.nodes)
        self.spacing = max(96, min(150, 900 // max(len(self.cols), 1)))
        self.x = {node: LEFT + i * self.spacing for i, node in enumerate(self.cols)}
        self.notes_x = LEFT + self.spacing * len(self.cols) + 4  # right of the last labels
        self.width = self.notes_x + 240
        self.chars = int(self.spacing * 0.92 / CHAR)
        kinds = sorted({g.kind for g in diagram.groups if view.shows_kind(g.kind)})
        self.kinds = kinds
        self.color = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(kinds)}
        self.rows = plan(diagram, view, counts=False)
        self.top: dict[int, float] = {}  # row index -> y
        y = float(TOP)
        for i, row in enumerate(self.rows):
            self.top[i] = y
            y += self._height(row)
        self.bottom = y
        self.height = y + 12

    # -- geometry -----------------------------------------------------------------------

    def _groups(self, r: int) -> list[Group]:
        return [
            g
            for g in self.d.groups_by_round.get(r, [])
            if self.view.shows_kind(g.kind) and g.src in self.x
        ]

    def _height(self, row: Row) -> float:
        if not row.busy:
            return IDLE_ROW
        stack: dict[int | None, int] = {}
        for g in self._groups(row.first):
            stack[g.src] = stack.get(g.src, 0) + 1
        rejecting: set[int | None] = set()
        for m in self.d.marks_by_round.get(row.first, []):
            if m.what == "violation" or not self.view.shows_kind(m.kind):
                continue
            if m.node is None or m.node in self.x:
                if m.what == "reject":
                    if m.node in rejecting:
                        continue
                    rejecting.add(m.node)
                stack[m.node] = stack.get(m.node, 0) + 1
        return max(34.0, 22 + LINE * max(stack.values(), default=0))

    def y(self, r: int) -> float:
        """The top of the row holding round ``r`` (the bottom edge past the view)."""
        if r > self.view.last:
            return self.bottom
        lo, hi = 0, len(self.rows) - 1
        while lo < hi:  # rows are sorted and contiguous
            mid = (lo + hi + 1) // 2
            if self.rows[mid].first <= r:
                lo = mid
            else:
                hi = mid - 1
        return self.top[lo]

    # -- drawing ------------------------------------------------------------------------

    def heads(self) -> str:
        d, esc = self.d, html.escape
        roles = (d.verdicts or {}).get("roles") or []
        parts = [
            f'<svg class="heads" xmlns="http://www.w3.org/2000/svg" width="{self.width}" '
            f'height="40" viewBox="0 0 {self.width} 40">'
        ]
        for node in self.cols:
            role = str(roles[node]) if node < len(roles) else ""
            if node in d.crashed:
                cls, tag = "node crashed", " (crashed)"
            elif node in d.corrupted:
                cls, tag = "node corrupted", " (corrupted)"
            else:
                cls, tag = "node", ""
            parts.append(
                f'<g class="lifeline-head" data-node="{node}"><title>node {node} {esc(role)}'
                f"{tag}</title>"
                f'<text class="{cls}" x="{self.x[node]}" y="16" text-anchor="middle">n{node}'
                f"</text>"
                f'<text x="{self.x[node]}" y="30" text-anchor="middle" font-size="10">'
                f"{esc(_fit(role + tag, self.chars))}</text></g>"
            )
        parts.append("</svg>")
        return "".join(parts)

    def svg(self, focus: Focus | None) -> str:
        view = self.view
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" '
            f'height="{self.height:.0f}" viewBox="0 0 {self.width} {self.height:.0f}" '
            f'role="img" aria-label="space-time diagram"><defs>'
        ]
        for kind in self.kinds:
            out.append(
                f'<marker id="arrow-{_ident(kind)}" viewBox="0 0 10 10" refX="9" refY="5" '
                f'markerUnits="userSpaceOnUse" markerWidth="8" markerHeight="8" '
                f'orient="auto-start-reverse">'
                f'<path d="M 0 0 L 10 5 L 0 10 z" fill="{self.color[kind]}"/></marker>'
            )
        out.append("</defs>")
        right = self.width - 10
        for i, row in enumerate(self.rows):
            y = self.top[i]
            if row.busy:
                out.append(
                    f'<g class="row" data-round="{row.first}"><line x1="4" y1="{y}" '
                    f'x2="{right}" y2="{y}" stroke="#e4e4e4"/>'
                    f'<text class="round" x="6" y="{y + 12}">r{row.first}</text></g>'
                )
            else:
                span = f"r{row.first}" if row.first == row.last else f"r{row.first}–{row.last}"
                out.append(
                    f'<g class="row idle" data-rounds="{row.first}-{row.last}">'
                    f'<rect x="4" y="{y}" width="{right - 4}" height="{IDLE_ROW}" '
                    f'fill="#f7f7f7"/><text class="idle" x="6" y="{y + 15}">{span} idle</text></g>'
                )
        out.extend(self._lifelines())
        out.extend(self._primaries())
        labels: dict[int | None, int] = {}  # node -> label lines used in this round
        for row in self.rows:
            if not row.busy:
                continue
            labels.clear()
            for group in self._groups(row.first):
                out.extend(self._group(group, labels))
            out.extend(self._marks(row.first, labels))
        if focus is not None and focus.round is not None and view.first <= focus.round <= view.last:
            out.append(self._violation(focus))
        out.append("</svg>")
        return "\n".join(out)

    def _lifelines(self) -> list[str]:
        d, out = self.d, []
        down = down_before(d, self.view.first)
        spans: dict[int, list[tuple[float, float]]] = {}
        for i, row in enumerate(self.rows):
            for mark in d.marks_by_round.get(row.first, []) if row.busy else []:
                apply_event(mark, down)
            now = d.down.get(row.first, down) | down
            for node in now:
                if node in self.x:
                    spans.setdefault(node, []).append((self.top[i], self.top[i] + self._h(i)))
        for node in self.cols:
            x = self.x[node]
            out.append(
                f'<line class="lifeline" data-node="{node}" x1="{x}" y1="{TOP}" x2="{x}" '
                f'y2="{self.bottom}" stroke="#999"/>'
            )
            for y0, y1 in spans.get(node, []):
                out.append(
                    f'<rect class="down" x="{x - 4}" y="{y0}" width="8" height="{y1 - y0}" '
                    f'fill="#bbb"><title>node {node} down</title></rect>'
                )
        return out

    def _h(self, i: int) -> float:
        nxt = self.top.get(i + 1, self.bottom)
        return nxt - self.top[i]

    def _primaries(self) -> list[str]:
        out = []
        prims = self.d.primaries
        for k, p in enumerate(prims):
            if p.node not in self.x:
                continue
            end = prims[k + 1].round if k + 1 < len(prims) else self.view.last + 1
            if end <= self.view.first or p.round > self.view.last:
                continue
            y0, y1 = self.y(max(p.round, self.view.first)), self.y(end)
            x = self.x[p.node]
            view = "" if p.view is None else f" of view {p.view}"
            out.append(
                f'<g class="primary" data-node="{p.node}" data-view="{p.view}">'
                f"<title>node {p.node}: primary{view} from round {p.round}</title>"
                f'<rect x="{x - 3}" y="{y0}" width="6" height="{max(y1 - y0, 2)}" '
                f'fill="#e6b400" opacity="0.75"/>'
                f'<text class="lbl" x="{x - 6}" y="{y0 + 11}" text-anchor="end" fill="#8a6d00">'
                f"primary{'' if p.view is None else f' v{p.view}'}</text></g>"
            )
        return out

    def _label(self, node: int | None, labels: dict[int | None, int]) -> tuple[float, float]:
        k = labels.get(node, 0)
        labels[node] = k + 1
        return k, k * LINE

    def _group(self, group: Group, labels: dict[int | None, int]) -> list[str]:
        esc = html.escape
        r, src = group.round, group.src
        colour = self.color[group.kind]
        kind_attr = f'data-kind="{esc(group.kind)}"'
        out = []
        x1, y1 = self.x[src], self.y(r) + 4
        for copy in group.copies:
            if copy.dst not in self.x:
                continue
            x2 = self.x[copy.dst]
            arrives = copy.arrives if copy.status == "delayed" and copy.arrives else r + 1
            y2 = self.y(arrives)
            tags = [t for t in TAG_STYLE if t in copy.tags]
            tip = f"r{r} n{src}->n{copy.dst} {group.summary} ({copy.status})" + "".join(
                f"; {t}: {why}" for t, why in copy.tags.items()
            )
            classes = " ".join(["msg", copy.status, *copy.tags])
            if copy.status == "dropped":
                out.append(
                    f'<g {kind_attr} class="{classes}" data-dst="{copy.dst}">'
                    f"<title>{esc(tip)}</title>"
                    f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#c00" '
                    f'stroke-dasharray="4 3"/><text class="drop-x" x="{x2}" y="{y2 + 4}" '
                    f'fill="#c00" text-anchor="middle" font-size="15">×</text></g>'
                )
                continue
            stroke, extra = colour, ' stroke-dasharray="6 3"' if copy.status == "delayed" else ""
            if tags:
                stroke, extra, _ = TAG_STYLE[tags[0]]
            end = ""
            if "rejected" in copy.tags:
                end = (
                    f'<circle class="reject-end" cx="{x2}" cy="{y2}" r="5" fill="none" '
                    f'stroke="#e69500" stroke-width="2"/><line x1="{x2 - 3.5}" y1="{y2 + 3.5}" '
                    f'x2="{x2 + 3.5}" y2="{y2 - 3.5}" stroke="#e69500" stroke-width="2"/>'
                )
            out.append(
                f'<g {kind_attr} class="{classes}" data-dst="{copy.dst}">'
                f"<title>{esc(tip)}</title>"
                f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{stroke}"{extra} '
                f'marker-end="url(#arrow-{_ident(group.kind)})"/>{end}</g>'
            )
        _, dy = self._label(src, labels)
        words = _tag_words(group.copies)
        text = f"{words} {group.key}" if words else group.key
        fill = (
            TAG_STYLE[group.tags()[0]][0]
            if group.tags() and group.tags()[0] in TAG_STYLE
            else colour
        )
        out.append(
            f'<text class="lbl arrow-label" {kind_attr} x="{x1 + 5}" y="{y1 + 11 + dy}" '
            f'fill="{fill}"><title>{esc(group.summary)}</title>{esc(_fit(text, self.chars))}'
            f"</text>"
        )
        return out

    def _marks(self, r: int, labels: dict[int | None, int]) -> list[str]:
        esc = html.escape
        out = []
        shown = [
            m
            for m in self.d.marks_by_round.get(r, [])
            if self.view.shows_kind(m.kind) and m.what != "violation"
        ]
        rejects: dict[int, list[Mark]] = {}  # one label per node for its rejections
        for mark in shown:
            if mark.what == "reject" and mark.node in self.x:
                rejects.setdefault(mark.node, []).append(mark)
        for mark in shown:
            kind_attr = f' data-kind="{esc(mark.kind)}"' if mark.kind else ""
            if mark.node is None:
                _, dy = self._label(None, labels)
                out.append(
                    f'<text class="lbl note"{kind_attr} x="{self.notes_x}" '
                    f'y="{self.y(r) + 15 + dy}" fill="#555"><title>{esc(mark.label)}</title>'
                    f"{esc(_fit(mark.label, 46))}</text>"
                )
                continue
            if mark.node not in self.x:
                continue
            label, tip = mark.label, mark.label
            if mark.what == "reject":
                group = rejects[mark.node]
                if mark is not group[0]:
                    continue
                kinds = sorted({m.kind for m in group})
                label = f"rejected {len(group)}: {', '.join(kinds)}" if len(group) > 1 else label
                tip = "\n".join(m.label for m in group)
                kind_attr = f' data-kind="{esc(kinds[0])}"' if len(kinds) == 1 else ""
            px, py = self.x[mark.node], self.y(r) + 4
            _, dy = self._label(mark.node, labels)
            fill = {"output": "#1a7f37", "reject": "#e69500", "lost": "#777"}.get(mark.what, "#c00")
            out.append(
                f'<g class="mark {mark.what}"{kind_attr}><title>r{r} n{mark.node} '
                f"{esc(tip)}</title>"
                f'<circle cx="{px}" cy="{py}" r="4" fill="{fill}"/>'
                f'<text class="lbl" x="{px + 5}" y="{py + 11 + dy}" fill="{fill}">'
                f"{esc(_fit(label, self.chars))}</text></g>"
            )
        return out

    def _violation(self, focus: Focus) -> str:
        assert focus.round is not None
        y = self.y(focus.round)
        i = next(k for k, row in enumerate(self.rows) if row.first <= focus.round <= row.last)
        h = self._h(i)
        rings = "".join(
            f'<circle cx="{self.x[node]}" cy="{y + h / 2}" r="11" fill="none" stroke="#c00" '
            f'stroke-width="2"/>'
            for node in focus.nodes
            if node in self.x
        )
        return (
            f'<g id="violation" class="violation" data-round="{focus.round}">'
            f"<title>{html.escape(focus.prop)} VIOLATED: {html.escape(focus.witness)}</title>"
            f'<rect x="2" y="{y}" width="{self.width - 4}" height="{h}" fill="#c00" '
            f'fill-opacity="0.07" stroke="#c00" stroke-width="1.5"/>{rings}'
            f'<text class="lbl" x="{self.notes_x}" y="{y + h - 5}" fill="#c00" '
            f'font-weight="bold">{html.escape(_fit(focus.prop + " VIOLATED here", 46))}'
            f"</text></g>"
        )


def render_html(diagram: Diagram, view: View | None = None) -> str:
    view = view or make_view(diagram)
    if len(view.nodes) > MAX_HTML_NODES:
        raise ConfigError(
            f"{len(view.nodes)} nodes make an unreadable page; choose at most {MAX_HTML_NODES} "
            f"with --nodes (e.g. --nodes 0-{MAX_HTML_NODES - 1})"
        )
    esc = html.escape
    page = _Page(diagram, view)
    focus = violation(diagram)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>bft show: {esc(str(diagram.header.get('protocol', '?')))}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{esc(_heading(diagram))}</h1>",
        f'<p class="legend">{esc(diagram.title)}</p>',
        *_banner(diagram, view, focus),
        '<p class="kinds">Message kinds: '
        + "".join(
            f'<label style="color:{page.color[k]}"><input type="checkbox" checked '
            f'data-kind-toggle="{esc(k)}"> {esc(k)}</label>'
            for k in page.kinds
        )
        + ("(none in this view)" if not page.kinds else "")
        + "</p>",
        '<p class="legend">Nodes are columns, rounds rows (idle rounds folded into one grey '
        "row). An arrow leaves its sender in the round it was sent and reaches the receiver "
        "in the round it arrives, labelled with its kind and key fields at the sender. "
        "Red dashes end in × at the destination of a dropped message; thick red: tampered; "
        "purple dots: forged; brown dashes: replayed; ⊘ the receiver rejected it. A gold "
        "band marks each view's primary; grey bars a node that is down; dots mark outputs "
        "(green), rejections (orange) and node events (red). Hover for details.</p>",
        f'<div id="diagram">{page.heads()}{page.svg(focus)}</div>',
    ]
    parts.extend(_html_verdicts(diagram))
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts)


def _heading(diagram: Diagram) -> str:
    h = diagram.header
    advs = ", ".join(str(a[0]) for a in h.get("adversaries") or []) or "no adversary"
    n = (diagram.verdicts or {}).get("n", diagram.n)
    return (
        f"{h.get('protocol', '?')}: {n} nodes, {diagram.rounds} rounds, seed {h.get('seed')}, "
        f"{advs}"
    )


def _banner(diagram: Diagram, view: View, focus: Focus | None) -> list[str]:
    esc = html.escape
    out = []
    if focus is not None:
        jump = ""
        if focus.round is not None and view.first <= focus.round <= view.last:
            jump = f' <a href="#violation" data-jump="1">show round {focus.round}</a>'
        out.append(
            f'<p class="banner" id="verdict">{esc(focus.prop)} <span class="violated">'
            f"VIOLATED</span>: {esc(focus.witness)}{jump}</p>"
        )
    elif diagram.verdicts:
        out.append('<p class="banner ok" id="verdict">Every property holds.</p>')
    faulty = []
    corrupted = sorted(set(diagram.corrupted) - diagram.crashed)
    if corrupted:
        faulty.append("corrupted (Byzantine): " + ", ".join(f"n{x}" for x in corrupted))
    if diagram.crashed:
        faulty.append("crashed: " + ", ".join(f"n{x}" for x in sorted(diagram.crashed)))
    if (diagram.verdicts or {}).get("beyond_bound"):
        faulty.append(f"beyond the protocol's bound: {diagram.verdicts['beyond_bound']}")  # type: ignore[index]
    if faulty:
        out.append(f"<p>Faulty nodes: {esc('; '.join(faulty))}</p>")
    return out


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
            f'<tr class="verdict" data-property="{esc(str(name))}"><td>{esc(str(name))}</td>'
            f'<td>{esc(str(item.get("kind")))}</td><td class="{cls}">{status}</td>'
            f"<td>{esc(str(item.get('witness') or ''))}</td></tr>"
        )
    out = [
        "<h2>Verdicts</h2>",
        "<table><tr><th>property</th><th>kind</th><th>verdict</th><th>witness</th></tr>"
        + "".join(rows)
        + "</table>",
    ]
    metrics: Mapping[str, Any] = v.get("metrics") or {}
    if metrics:
        out.append(
            "<h2>Metrics</h2><table>"
            + "".join(
                f"<tr><td>{esc(str(k))}</td><td>{esc(json.dumps(val))}</td></tr>"
                for k, val in metrics.items()
            )
            + "</table>"
        )
    return out
