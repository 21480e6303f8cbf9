"""The table layer alone: Parquet round trips, HDF5 import, the CSV rules and the query
language, whose parser must never evaluate anything (properties, with hypothesis)."""

from __future__ import annotations

import io
import operator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyomero.errors import InvalidInput
from pyomero.tables import query as tq
from pyomero.tables.csv_populate import (
    columns_from_csv,
    detect_types,
    row_index,
    row_letters,
)
from pyomero.tables.storage import (
    Column,
    build_table,
    is_hdf5,
    read_hdf5,
    read_parquet,
    to_parquet,
)

A = [3, -1, 7, 0, 12, 5, 7, 9]
B = [0.5, 2.0, -3.25, 7.0, 1.0, 0.0, 4.5, 9.5]
S = ["x", "y", "x", "z", "", "y", "x", "w"]
FLAGS = [True, False, True, True, False, False, True, False]


def _table() -> Any:
    return build_table(
        [
            Column("a", "LongColumn", A),
            Column("b", "DoubleColumn", B),
            Column("s", "StringColumn", S, "a string"),
            Column("f", "BoolColumn", FLAGS),
            Column("Well", "WellColumn", list(range(100, 108))),
        ],
        {"title": "t", "n": 2},
    ).data


def test_parquet_round_trip() -> None:
    table = build_table(
        [Column("Image", "ImageColumn", [1, 2]), Column("x", "DoubleColumn", [0.5, 1.5], "d")],
        {"k": [1, "v"]},
    )
    back = read_parquet(io.BytesIO(to_parquet(table)))
    assert back.columns == table.columns
    assert back.user_metadata == {"k": [1, "v"]}
    assert back.column_values(0, [1, 0]) == [2, 1]


def test_build_table_refuses_bad_columns() -> None:
    with pytest.raises(InvalidInput, match="twice"):
        build_table([Column("a", "LongColumn", [1]), Column("a", "LongColumn", [2])])
    with pytest.raises(InvalidInput, match="reserved"):
        build_table([Column("__a", "LongColumn", [1])])
    with pytest.raises(InvalidInput, match="unsupported column type"):
        build_table([Column("a", "MaskColumn", [1])])
    with pytest.raises(InvalidInput, match="same length"):
        build_table([Column("a", "LongColumn", [1]), Column("b", "LongColumn", [])])


def test_hdf5_import(tmp_path: Path) -> None:
    """The PyTables layout OMERO writes: a compound table at /OME/Measurements."""
    path = tmp_path / "table.h5"
    dtype = np.dtype([("Image", "<i8"), ("Score", "<f8"), ("Gene", "S8"), ("Hit", "?")])
    records = np.array([(11, 0.5, b"ECT2", True), (12, 1.5, b"ADE8", False)], dtype=dtype)
    with h5py.File(path, "w") as handle:
        handle.create_group("OME").create_dataset("Measurements", data=records)
        handle["OME"].attrs["__types"] = np.void(b"\x80\x04pickled")  # never unpickled
    assert is_hdf5(path.read_bytes()[:8])
    table = read_hdf5(path)
    assert [(c.name, c.kind) for c in table.columns] == [
        ("Image", "ImageColumn"), ("Score", "DoubleColumn"), ("Gene", "StringColumn"),
        ("Hit", "BoolColumn"),
    ]  # fmt: skip
    assert table.column_values(2) == ["ECT2", "ADE8"]
    with pytest.raises(InvalidInput, match="Measurements"):
        bad = tmp_path / "bad.h5"
        h5py.File(bad, "w").close()
        read_hdf5(bad)


# ---------------------------------------------------------------------------- query language


def test_shortcut() -> None:
    assert tq.expand_shortcut("Well-45217", ["Well"]) == "(Well==45217)"
    assert tq.expand_shortcut("Image-3", ["image"]) == "(image==3)"
    assert tq.expand_shortcut("Gene-3", ["gene"]) == "(Gene==3)"
    assert tq.expand_shortcut("Well-3 & junk", ["Well"]) == "(Well==3)"  # a prefix, as OMERO
    assert tq.expand_shortcut("(Well==3)", ["Well"]) == "(Well==3)"


def test_conditions() -> None:
    data = _table()
    assert tq.where("(a==7)", data) == [2, 6]
    assert tq.where("(a>3) & (b<5)", data) == [2, 4, 5, 6]
    assert tq.where("~(a>=0) | (s=='z')", data) == [1, 3]
    assert tq.where("f", data) == [0, 2, 3, 6]
    assert tq.where("(a*2+1 > 14) & (b/2 != 0.5)", data) == [2, 6, 7]
    assert tq.where("a == -1", data) == [1]
    assert tq.where("Well<=101", data) == [0, 1]


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "a.__class__",
        "a[0]",
        "(lambda: 1)()",
        "[x for x in a]",
        "a if b else s",
        "a == 1 == 1",
        "a and b",
        "not a",
        "open('/etc/passwd')",
        "globals",
        "a @ b",
        "a << 1",
        "f'{a}'",
        "(a := 1)",
        "a > ",
        "",
        "(" * 200 + "a" + ")" * 200,
        "a" + "+a" * 3000,
    ],
)
def test_rejected(text: str) -> None:
    with pytest.raises(tq.QueryError):
        tq.where(text, _table())


def test_type_errors_are_query_errors() -> None:
    for text in ("s > 1", "a & b", "~a", "a"):
        with pytest.raises(tq.QueryError):
            tq.where(text, _table())


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_parser_never_evaluates(text: str) -> None:
    """Any text either parses into the tree's node types or is refused; nothing runs."""
    called = []
    marker = "__import__('builtins').print"
    try:
        node = tq.parse(marker + text, ["a", "b"])
    except tq.QueryError:
        node = None
    assert node is None
    try:
        node = tq.parse(text, ["a", "b", "s", "f"])
    except tq.QueryError:
        return
    allowed = (tq.ColumnRef, tq.Literal, tq.Compare, tq.Logical, tq.Not, tq.Arith, tq.Negate)
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        assert isinstance(item, allowed)
        stack += [getattr(item, f) for f in ("left", "right", "operand") if hasattr(item, f)]
    assert not called


_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}  # fmt: skip

comparisons = st.builds(
    lambda column, op, value: (f"({column}{op}{value!r})", column, op, value),
    st.sampled_from(["a", "b"]),
    st.sampled_from(sorted(_OPS)),
    st.one_of(st.integers(-5, 15), st.floats(-5, 15, allow_nan=False).map(lambda v: round(v, 2))),
)


def _conditions() -> Any:
    def extend(children: Any) -> Any:
        return st.one_of(
            st.tuples(st.just("&"), children, children),
            st.tuples(st.just("|"), children, children),
            st.tuples(st.just("~"), children),
        )

    return st.recursive(comparisons, extend, max_leaves=8)


def _render(tree: Any) -> str:
    if tree[0] == "~":
        return f"~({_render(tree[1])})"
    if tree[0] in ("&", "|"):
        return f"({_render(tree[1])} {tree[0]} {_render(tree[2])})"
    return str(tree[0])


def _python(tree: Any, row: dict[str, Any]) -> bool:
    if tree[0] == "~":
        return not _python(tree[1], row)
    if tree[0] == "&":
        return _python(tree[1], row) and _python(tree[2], row)
    if tree[0] == "|":
        return _python(tree[1], row) or _python(tree[2], row)
    _, column, op, value = tree
    return bool(_OPS[op](row[column], value))


@given(_conditions())
@settings(max_examples=200, deadline=None)
def test_conditions_agree_with_python(tree: Any) -> None:
    data = _table()
    rows = [{"a": a, "b": b} for a, b in zip(A, B, strict=True)]
    expected = [i for i, row in enumerate(rows) if _python(tree, row)]
    assert tq.where(_render(tree), data) == expected


# ---------------------------------------------------------------------------- CSV rules


class FakePlate:
    """One plate ``P1`` (id 1) of 2 x 3 wells (ids 10 + 3 * row + column), one image each."""

    def plate(self, value: str) -> tuple[int, str] | None:
        return (1, "P1") if value in ("P1", "1") else None

    def well(self, plate_id: int | None, row: int, column: int) -> int | None:
        return 10 + 3 * row + column if 0 <= row < 2 and 0 <= column < 3 else None

    def well_position(self, well_id: int, plate_id: int | None) -> tuple[int, int] | None:
        return divmod(well_id - 10, 3) if 10 <= well_id < 16 else None

    def image(self, value: str, *, plate_id: int | None, dataset_id: int | None) -> Any:
        return (int(value), f"img{value}") if value.isdigit() and 100 <= int(value) < 106 else None

    def dataset(self, value: str) -> tuple[int, str] | None:
        return None

    def roi(self, value: str) -> tuple[int, str] | None:
        return None


def test_csv_columns_by_name_and_type() -> None:
    text = "Well,Row%%desc=1,Gene\nA1,1,x\nb3,2,y\n"
    columns = columns_from_csv(text, target="Plate", resolver=FakePlate(), target_name="P1")
    assert [(c.name, c.kind) for c in columns] == [
        ("Well", "WellColumn"), ("Row", "LongColumn"), ("Gene", "StringColumn"),
        ("Well Name", "StringColumn"),
    ]  # fmt: skip
    assert columns[0].values == [10, 15] and columns[1].values == [0, 1]
    assert columns[1].description == '{"desc": "1"}'
    assert columns[3].values == ["a1", "b3"]
    text = "# header image,d,b\nImage,Score,Hit\n100,0.5,Yes\n101,1,0\n"
    columns = columns_from_csv(text, target="Plate", resolver=FakePlate(), target_name="P1")
    assert [c.values for c in columns] == [[100, 101], [0.5, 1.0], [True, False],
                                           ["img100", "img101"]]  # fmt: skip


def test_csv_types_detected_as_omero_metadata_does() -> None:
    """``detect_headers``: object columns by name in its spellings, the rest by their values;
    ``manual_header`` keeps the old rule (the target's names only, the rest text)."""
    names = [
        "plate_name", "Well Name", "image id", "DatasetID", "roi_id", "project", "count",
        "ratio", "label", "hit", "mixed", "gaps",
    ]  # fmt: skip
    data = [
        ["P1", "A1", "1", "2", "3", "4", "11", "0.1", "a", "True", "11", "1"],
        ["P1", "A2", "5", "6", "7", "8", "-22", "2e3", "b", "false", "0.1", ""],
        ["P1", "B1", "9", "1", "2", "3", "+33", "3", "c", "FALSE", "True", "3"],
    ]
    assert detect_types(names, data) == [
        "plate", "well", "image", "dataset", "roi", "l", "l", "d", "s", "b", "s", "s",
    ]  # fmt: skip
    text = "Well,Score,Count,Hit\nA1,0.5,3,true\nB3,1.5,4,false\n"
    columns = columns_from_csv(text, target="Plate", resolver=FakePlate(), target_name="P1")
    assert [(c.kind, c.values) for c in columns[1:4]] == [
        ("DoubleColumn", [0.5, 1.5]), ("LongColumn", [3, 4]), ("BoolColumn", [True, False]),
    ]  # fmt: skip
    manual = columns_from_csv(
        text, target="Plate", resolver=FakePlate(), target_name="P1", manual_header=True
    )
    assert [(c.kind, c.values) for c in manual[1:4]] == [
        ("StringColumn", ["0.5", "1.5"]), ("StringColumn", ["3", "4"]),
        ("StringColumn", ["true", "false"]),
    ]  # fmt: skip
    assert manual[0].kind == "WellColumn"


def test_csv_errors_name_the_lines() -> None:
    text = "Well,Gene\nA1,x\nZ9,y\nC1,z\n"
    with pytest.raises(InvalidInput) as error:
        columns_from_csv(text, target="Plate", resolver=FakePlate(), target_name="P1")
    assert "line 3: Well 'Z9'" in error.value.message
    assert "line 4: Well 'C1'" in error.value.message
    with pytest.raises(InvalidInput, match="line 2 has 1 fields"):
        columns_from_csv("Well,Gene\nA1\n", target="Plate", resolver=FakePlate(), target_name="P")
    with pytest.raises(InvalidInput, match="cannot populate"):
        columns_from_csv("a\n1\n", target="Image", resolver=FakePlate(), target_name="P")


@given(st.integers(0, 5000))
def test_row_letters_round_trip(index: int) -> None:
    assert row_index(row_letters(index)) == index
    assert row_index(row_letters(index).lower()) == index
