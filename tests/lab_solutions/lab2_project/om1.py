"""Lab 2 graded against the project's own OM(m) implementation (protocols/om.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bft.protocols.om import General as ProjectGeneral


class General(ProjectGeneral):
    def __init__(self, node_id: int, params: Mapping[str, Any]) -> None:
        super().__init__(
            node_id,
            int(params["n"]),
            int(params["m"]),
            int(params["commander"]),
            params["value"],
        )
