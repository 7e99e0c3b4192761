"""Value mutations reach every field a corrupted sender could change: scalars, and the
last element of a tuple of scalars (a relay path), without moving the scalars' indexes."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from bft.protocols.om import OMMessage
from bft.search.actions.values import mutate, scalar_fields


@attrs.frozen
class Relay:
    path: tuple[int, ...]
    value: int
    tag: str = "x"


def test_tuples_of_scalars_come_after_the_scalar_fields() -> None:
    assert scalar_fields(Relay((0, 2), 1)) == ["value", "tag", "path"]
    assert scalar_fields(Relay((), 1)) == ["value", "tag"]  # nothing to change in ()


@given(
    st.lists(st.integers(0, 9), min_size=1, max_size=4).map(tuple),
    st.sampled_from(["flip", "inc", "dec"]),
)
def test_a_path_mutation_changes_only_its_newest_hop(path: tuple[int, ...], how: str) -> None:
    changed = mutate(OMMessage(path, 1), "path", how, None)
    assert changed is not None
    message, note = changed
    assert message.path[:-1] == path[:-1] and message.path[-1] != path[-1]
    assert message.value == 1 and "path" in note


def test_a_numbered_field_still_names_the_same_scalar() -> None:
    # index 0 is the first scalar whether or not the message also carries a tuple
    assert mutate(Relay((0, 2), 1), 0, "inc", None)[0] == Relay((0, 2), 2)  # type: ignore[index]
    assert mutate(Relay((0, 2), 1), 2, "inc", None)[0] == Relay((0, 3), 1)  # type: ignore[index]
