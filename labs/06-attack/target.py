"""The protocol under attack in lab 6: "fast Dolev-Strong" (read this, do not edit it).

Its author's pitch: "In Dolev-Strong, what arrives in the last round t+1 is
never relayed, so that round only adds values nobody else will hear about.
Decide at the end of round t instead: one round faster, same guarantees,
still any t < n corrupted nodes." The spec below claims exactly that bound
(``tolerance`` is t) and checks the same properties as Dolev-Strong.
"""

from __future__ import annotations

from bft.protocols.dolev_strong import DolevStrong, DolevStrongNode


class FastNode(DolevStrongNode):
    def decision_round(self) -> int:
        return max(self.t, 1)


class FastDolevStrong(DolevStrong):
    name = "ds-fast"
    summary = "Dolev-Strong that decides one round early (lab 6's target)"
    node_class = FastNode

    def default_rounds(self, p: dict) -> int:  # type: ignore[override]
        return max(p["t"], 1) + 1
