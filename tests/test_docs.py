"""The generated reference page matches the registries it documents."""

from __future__ import annotations

from pathlib import Path

from bft.tools.reference import render

PAGE = Path(__file__).resolve().parent.parent / "docs" / "reference.md"


def test_reference_page_is_up_to_date() -> None:
    assert PAGE.read_text() == render(), (
        "docs/reference.md is stale: regenerate it with "
        "'python -m bft.tools.reference > docs/reference.md'"
    )


def test_reference_names_every_builtin_protocol_and_adversary() -> None:
    from bft.core import registry

    text = PAGE.read_text()
    for kind in ("protocol", "adversary"):
        for name in registry.builtin_names(kind):
            assert f"### `{name}`" in text
