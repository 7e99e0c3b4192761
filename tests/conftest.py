"""Shared test configuration.

The Hypothesis profiles (dev, ci, thorough) and the bft fixtures come from the
bft pytest plugin (``bft/pytest_plugin.py``, entry point group ``pytest11``),
so this suite and any other suite with bft installed use one definition.
"""
