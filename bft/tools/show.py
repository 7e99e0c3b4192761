"""``bft show``'s drawing functions, kept at their old import path.

The implementation lives in ``bft.tools.diagram`` (``model``: reading a trace;
``view``: filters and rows; ``text``: the terminal diagram and ``render_focus``
for graders; ``html``: the self-contained page).
"""

from __future__ import annotations

from bft.tools.diagram import (
    Diagram,
    Focus,
    View,
    load,
    make_view,
    parse_nodes,
    parse_rounds,
    render_focus,
    render_html,
    render_text,
    summarize,
    violation,
    witness_focus,
)

__all__ = [
    "Diagram",
    "Focus",
    "View",
    "load",
    "make_view",
    "parse_nodes",
    "parse_rounds",
    "render_focus",
    "render_html",
    "render_text",
    "summarize",
    "violation",
    "witness_focus",
]
