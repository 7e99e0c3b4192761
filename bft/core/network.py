"""Network models: which drops and delays an adversary may cause.

A message sent in round r is delivered at round r+1 unless the adversary drops
or delays it. A delay of d extra rounds delivers it at r+1+d. The engine asks
the model before applying any such action; an action outside the model is
refused and recorded, so an adversary can never exceed the powers the
properties assume.

* ``synchronous``: no drops, no delays.
* ``partial-synchrony`` (Dwork, Lynch, Stockmeyer 1988): before round ``gst``
  messages may be dropped or delayed, but a delayed message sent before GST
  arrives by round ``gst + delta``; a message sent at or after GST is delivered
  at most ``delta`` rounds late and never dropped.
* ``lossy``: any message may be dropped; delays up to ``delta`` rounds.

Messages whose sender is corrupted are the adversary's own: it may always
withhold or postpone them (within the run), whatever the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from bft.core.errors import ConfigError, choices
from bft.core.params import Param, resolve

MODELS = ("synchronous", "partial-synchrony", "lossy")

NETWORK_PARAMS = (
    Param("model", str, default="synchronous", doc="network model", choices=MODELS),
    Param("gst", int, default=0, doc="global stabilisation round (partial-synchrony)", min=0),
    Param("delta", int, default=0, doc="largest delay after GST, or any delay when lossy", min=0),
)


@attrs.frozen
class Network:
    model: str = "synchronous"
    gst: int = 0
    delta: int = 0

    @classmethod
    def from_mapping(cls, given: Mapping[str, Any]) -> Network:
        values = resolve("network", NETWORK_PARAMS, given)
        if values["model"] == "synchronous" and (values["gst"] or values["delta"]):
            raise ConfigError(
                "network: 'gst' and 'delta' have no meaning in the synchronous model "
                f"(got gst={values['gst']}, delta={values['delta']}); "
                f"use model 'partial-synchrony' or 'lossy' (valid models: {choices(MODELS)})"
            )
        return cls(**values)

    def refuse_drop(self, sent_round: int) -> str | None:
        """Why a drop of an honest node's message sent at ``sent_round`` is refused."""
        if self.model == "lossy":
            return None
        if self.model == "partial-synchrony":
            if sent_round < self.gst:
                return None
            return f"partial synchrony forbids drops after GST (gst={self.gst}, message sent in round {sent_round})"
        return "the synchronous model forbids dropping messages"

    def refuse_delay(self, sent_round: int, extra: int) -> str | None:
        """Why delaying an honest node's message by ``extra`` rounds is refused."""
        if extra < 1:
            return f"a delay must be at least 1 round (got {extra})"
        if self.model == "synchronous":
            return "the synchronous model forbids delaying messages"
        if self.model == "lossy":
            if extra <= self.delta:
                return None
            return f"the lossy model allows delays of at most delta={self.delta} rounds (asked {extra})"
        arrival = sent_round + 1 + extra
        if sent_round < self.gst:
            if arrival <= self.gst + self.delta:
                return None
            return (
                f"a message sent before GST must arrive by round gst+delta={self.gst + self.delta} "
                f"(sent in round {sent_round}, asked for round {arrival})"
            )
        if extra <= self.delta:
            return None
        return f"partial synchrony allows at most delta={self.delta} rounds of delay after GST (asked {extra})"

    def describe(self) -> str:
        if self.model == "synchronous":
            return "synchronous"
        if self.model == "lossy":
            return f"lossy (delta={self.delta})"
        return f"partial-synchrony (gst={self.gst}, delta={self.delta})"
