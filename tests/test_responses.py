"""JSON encoding: byte-identical to OMERO.web's ``json.dumps(ensure_ascii=True)``."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pyomero.web.responses import dumps

values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)


def _reference(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode()


@settings(max_examples=300)
@given(values)
def test_same_bytes_as_ensure_ascii(value):
    assert dumps(value) == _reference(value)


@given(st.text(alphabet=st.sampled_from(["\\", "x", "U", "µ", "é", "😀", "0", "a", '"'])))
def test_backslashes_next_to_escapes(text):
    assert dumps({"k": text}) == _reference({"k": text})


def test_unit_symbols():
    assert dumps({"Symbol": "µm"}) == b'{"Symbol":"\\u00b5m"}'
    assert dumps(["Å", "日本", "😀"]) == b'["\\u00c5","\\u65e5\\u672c","\\ud83d\\ude00"]'
