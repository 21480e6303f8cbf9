"""Strict query-parameter parsing (wire/params.py)."""

from __future__ import annotations

import pytest

from pyomero.errors import InvalidInput
from pyomero.wire import params


@pytest.mark.parametrize("raw", ["foo", "", "1.5", "1 1", "1_0", "0x10", "１"])
def test_non_integers_are_refused_with_pythons_message(raw):
    with pytest.raises(InvalidInput) as info:
        params.parse_int("limit", raw)
    assert str(info.value) == f"invalid literal for int() with base 10: {raw!r}"
    assert info.value.param == "limit"


@pytest.mark.parametrize(
    ("raw", "value"), [("0", 0), ("-3", -3), ("+7", 7), ("0012", 12), (" 1", 1), ("2 ", 2)]
)
def test_integers(raw, value):
    assert params.parse_int("offset", raw) == value


@pytest.mark.parametrize(
    ("query", "offset", "limit"),
    [
        ({}, 0, 200),
        ({"limit": "-1"}, 0, 200),
        ({"limit": "9999"}, 0, 500),
        ({"limit": "0"}, 0, 0),
        ({"offset": "-3"}, 0, 200),
        ({"offset": "7", "limit": "3"}, 7, 3),
        ({"page": "1", "limit": "2"}, 0, 2),
        ({"page": "3", "limit": "2"}, 4, 2),
        ({"page": "3", "offset": "1", "limit": "2"}, 1, 2),
        ({"page": "0"}, 0, None),
    ],
)
def test_page_normalisation(query, offset, limit):
    assert params.page(query, default_limit=200, max_limit=500) == params.Page(offset, limit)


def test_negative_page_is_refused():
    with pytest.raises(InvalidInput) as info:
        params.page({"page": "-1"}, default_limit=200, max_limit=500)
    assert info.value.param == "page"


def test_flags_are_exact_true():
    assert params.flag({"childCount": "true"}, "childCount")
    for raw in ("True", "1", "yes", ""):
        assert not params.flag({"childCount": raw}, "childCount")


@pytest.mark.parametrize("name", ["cb", "jQuery123_456", "a.b.c", "$x"])
def test_callback_names(name):
    assert params.callback({"callback": name}) == name


@pytest.mark.parametrize("name", ["alert(1)", "a b", "1abc", "", "a..b", "x" * 200])
def test_bad_callback_names(name):
    with pytest.raises(InvalidInput):
        params.callback({"callback": name})


@pytest.mark.parametrize("raw", [str(2**63), str(-(2**63) - 1), "99999999999999999999"])
def test_integers_beyond_a_java_long_are_refused(raw):
    with pytest.raises(InvalidInput) as info:
        params.parse_int("owner", raw)
    assert info.value.param == "owner"
    assert str(info.value) == f"owner is out of range: {raw}"
