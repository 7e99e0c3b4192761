"""Cheat (issue 17): overwrite the grader's judge so that everything passes, on an
otherwise untouched skeleton. The grader runs in another process; its judge is
untouched, the skeleton fails, and the change is reported."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

import bft.tools.labs
import bft.tools.labs.grader
from bft.core.node import Context, Inbox, Node

bft.tools.labs.judge = lambda *args, **kwargs: (True, "")
bft.tools.labs.grader.judge = lambda *args, **kwargs: (True, "")


@attrs.frozen
class Order:
    path: tuple[int, ...]
    value: int

    KIND = "om"


class General(Node):
    def __init__(self, node_id: int, params: Mapping[str, Any]) -> None:
        self.me = node_id

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        raise NotImplementedError("General.on_round: write OM(1) here (see the TODOs)")
