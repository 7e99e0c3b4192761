"""SWIM-style failure detection (Das, Gupta, Motivala 2002) with Lifeguard options.

Modules: ``messages`` (probe messages and piggybacked updates), ``config``
(parameters), ``member`` (one member's state machine, reusable inside other
protocols), ``analysis`` (properties and metrics), ``spec`` (the ``swim``
protocol plug-in).
"""

from bft.protocols.swim.spec import Swim

__all__ = ["Swim"]
