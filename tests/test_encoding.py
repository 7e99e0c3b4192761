"""The canonical encoding: the direct writer agrees byte for byte with the plain form."""

from __future__ import annotations

import json
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from bft.core.crypto import Signed
from bft.core.encoding import canonical_bytes, canonical_json, dumps, to_plain


@attrs.frozen
class Pair:
    left: Any
    right: Any


@attrs.frozen
class Named:
    zeta: Any
    _hidden: Any
    Upper: Any
    é: Any  # a non-ASCII field name is escaped like any other key


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.binary(max_size=20)
)
keys = st.text(max_size=6)  # includes "" and keys starting with "$" (encoded as a $map)


def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    hashable = scalars
    return (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.frozensets(hashable, max_size=4)
        | st.dictionaries(keys, children, max_size=4)
        | st.dictionaries(st.integers(), children, max_size=3)
        | st.builds(Pair, children, children)
        | st.builds(Named, children, children, children, children)
        | st.builds(Signed, st.integers(0, 9), children, st.binary(max_size=8))
    )


values = st.recursive(scalars, extend, max_leaves=12)


@settings(max_examples=500)  # cheap: every signature and trace line depends on it
@given(values)
def test_direct_writer_matches_the_plain_form(value: Any) -> None:
    expected = dumps(to_plain(value))
    assert canonical_json(value) == expected
    assert canonical_bytes(value) == expected.encode()


def test_attrs_instances_carry_their_type_first_and_sorted_fields() -> None:
    text = canonical_json(Named(1, b"\x01", (True, None), "ü"))
    assert text == (
        '{"$type":"Named","Upper":[true,null],"_hidden":{"$bytes":"01"},'
        '"zeta":1,"\\u00e9":"\\u00fc"}'
    )
    assert json.loads(text)["$type"] == "Named"


def test_int_subclasses_and_dollar_keys_take_the_plain_path() -> None:
    assert canonical_json({"$x": 1}) == dumps(to_plain({"$x": 1}))
    assert canonical_json({"$x": 1}).startswith('{"$map":')
    assert canonical_json(True) == "true"  # bool is not encoded as the int 1
