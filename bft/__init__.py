"""bft: a deterministic lockstep testbed for Byzantine-fault-tolerant and failover protocols."""

from bft.core.errors import BftError, ConfigError
from bft.core.node import Context, Node

__all__ = ["BftError", "ConfigError", "Context", "Node", "__version__"]
__version__ = "0.1.0"
