"""Misbehaviour at run time (issue 17): on_round never returns. The grader stops
the process after its time limit and fails the grade; it does not hang."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bft.core.node import Context, Inbox, Node


class General(Node):
    def __init__(self, node_id: int, params: Mapping[str, Any]) -> None:
        self.me = node_id

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        while True:
            pass
