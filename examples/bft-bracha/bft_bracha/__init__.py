"""Bracha's reliable broadcast as a bft plug-in package.

What it registers (see pyproject.toml): the protocol ``bracha``
(``bft_bracha.protocol``), the adversary ``bracha-split``
(``bft_bracha.adversary``), the action kind ``bracha-ready`` for ``bft check``
(``bft_bracha.actions``) and the scenarios in ``bft_bracha/scenarios``.
Everything is written against the public names of ``bft`` only.
"""

__version__ = "0.1.0"
