"""Built-in adversaries. Each registers under the ``bft.adversaries`` entry-point group.

Protocols never import from here; adversaries may know protocol message shapes.
"""
