"""Basic HotStuff (Yin, Malkhi, Reiter, Gueta, Abraham, PODC 2019)."""

from bft.protocols.hotstuff.spec import HotStuff

__all__ = ["HotStuff"]
