"""Fast Byzantine Paxos (Martin and Alvisi 2006), parameterised, and a corrected variant."""

from bft.protocols.fab.spec import FaB, FaBFixed

__all__ = ["FaB", "FaBFixed"]
