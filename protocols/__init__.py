"""Built-in protocols. Each registers under the ``bft.protocols`` entry-point group."""
