"""Space-time (Lamport) diagrams of a run, from a trace file.

``model`` reads a trace into a ``Diagram`` (messages, marks, tags for tampered,
forged, replayed and rejected messages, view primaries, the violation);
``view`` holds the filters and the row plan; ``text`` draws for a terminal
(``render_text``, and ``render_focus`` for graders: a window centred on the
violation); ``html`` writes one self-contained page (``render_html``).
"""

from __future__ import annotations

from bft.tools.diagram.html import render_html
from bft.tools.diagram.model import Diagram, Focus, load, summarize, violation, witness_focus
from bft.tools.diagram.text import render_focus, render_text
from bft.tools.diagram.view import View, make_view, parse_nodes, parse_rounds

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
