"""bft: a deterministic lockstep testbed for Byzantine-fault-tolerant and failover protocols."""

from bft.errors import BftError, ConfigError
from bft.node import Context, Node

__all__ = ["BftError", "ConfigError", "Context", "Node", "__version__"]
__version__ = "0.1.0"
