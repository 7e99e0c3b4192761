"""Named scenarios: every ``*.toml`` file here (entry-point group ``bft.scenarios``)."""
