"""The table layer alone: Parquet round trips, HDF5 import, the CSV rules and the query
language, whose parser must never evaluate anything (properties, with hypothesis)."""

from __future__ import annotations

import contextlib
import io
import math
import operator
import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyomero.errors import BadFile, InvalidInput
from pyomero.model.plates import row_index, row_letters
from pyomero.tables import query as tq
from pyomero.tables.csv_populate import (
    columns_from_csv,
    detect_types,
)
from pyomero.tables.storage import (
    SIZE_KEY,
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


def test_array_columns_round_trip() -> None:
    """FloatArrayColumn, DoubleArrayColumn and LongArrayColumn: fixed-size lists of their
    width, the width in the field metadata, float32 values read back as OMERO gives them."""
    table = build_table(
        [
            Column("Image", "ImageColumn", [1, 2]),
            Column("f", "FloatArrayColumn", [[0.1, 2], [3, 4]], "floats"),
            Column("d", "DoubleArrayColumn", [[0.1, 2.5, 3], None]),
            Column("l", "LongArrayColumn", [[7], [8]], size=1),
        ]
    )
    assert [(c.kind, c.size) for c in table.columns] == [
        ("ImageColumn", None), ("FloatArrayColumn", 2), ("DoubleArrayColumn", 3),
        ("LongArrayColumn", 1),
    ]  # fmt: skip
    back = read_parquet(io.BytesIO(to_parquet(table)))
    assert back.columns == table.columns
    assert back.data.schema.field("f").type == pa.list_(pa.float32(), 2)
    assert back.data.schema.field("d").metadata[SIZE_KEY] == b"3"
    assert back.column_values(1) == [[float(np.float32(0.1)), 2.0], [3.0, 4.0]]
    assert back.column_values(2, [1, 0]) == [None, [0.1, 2.5, 3.0]]
    assert back.column_values(3) == [[7], [8]]
    empty = build_table([Column("e", "DoubleArrayColumn", [], size=4)])
    assert read_parquet(io.BytesIO(to_parquet(empty))).columns[0].size == 4


def test_array_columns_refused_as_omero_refuses_them() -> None:
    with pytest.raises(InvalidInput, match="requires arrays of length 2"):
        build_table([Column("v", "LongArrayColumn", [[1, 2], [3]], size=2)])
    with pytest.raises(InvalidInput, match="requires arrays of one length, not 1, 2"):
        build_table([Column("v", "LongArrayColumn", [[1, 2], [3]])])
    with pytest.raises(InvalidInput, match="Array length must be > 0"):
        build_table([Column("v", "DoubleArrayColumn", [], size=0)])
    with pytest.raises(InvalidInput, match="needs a size"):
        build_table([Column("v", "FloatArrayColumn", [])])
    with pytest.raises(InvalidInput, match="holds arrays"):
        build_table([Column("v", "FloatArrayColumn", [1.0, 2.0])])
    with pytest.raises(InvalidInput, match="'v'"):
        build_table([Column("v", "LongArrayColumn", [["x"]])])
    with pytest.raises(InvalidInput, match="unsupported column type"):
        build_table([Column("m", "MaskColumn", [[1]])])


def test_foreign_parquet_lists_become_array_columns() -> None:
    sink = io.BytesIO()
    lists = pa.table({
        "ints": pa.array([[1, 2], [3, 4]], pa.list_(pa.int32())),
        "singles": pa.array([[1.5], [2.5]], pa.list_(pa.float32(), 1)),
        "doubles": pa.array([[1.5, 1.0, 0.0], None], pa.list_(pa.float64())),
    })  # fmt: skip
    pq.write_table(lists, sink)
    table = read_parquet(io.BytesIO(sink.getvalue()))
    assert [(c.kind, c.size) for c in table.columns] == [
        ("LongArrayColumn", 2), ("FloatArrayColumn", 1), ("DoubleArrayColumn", 3),
    ]  # fmt: skip
    assert table.column_values(0) == [[1, 2], [3, 4]]
    for ragged in (
        pa.array([[1, 2], [3]], pa.list_(pa.int64())),
        pa.array([["a"]], pa.list_(pa.string())),
    ):
        sink = io.BytesIO()
        pq.write_table(pa.table({"x": ragged}), sink)
        with pytest.raises(BadFile):
            read_parquet(io.BytesIO(sink.getvalue()))


def _omero_hdf5(path: Path, records: Any, types: list[str] | None, descriptions: list[str]) -> None:
    """An OMERO.tables file as omero-py's HdfStorage lays it out (``hdfstorageV2.py``):
    the rows at /OME/Measurements, the Ice column types and descriptions as string arrays."""
    with h5py.File(path, "w") as handle:
        ome = handle.create_group("OME")
        table = ome.create_dataset("Measurements", data=records)
        table.attrs["CLASS"] = np.bytes_(b"TABLE")
        table.attrs["__version"] = np.bytes_(b"2")
        if types is not None:
            ome.create_dataset("ColumnTypes", data=np.array([t.encode() for t in types]))
        ome.create_dataset("ColumnDescriptions", data=np.array([d.encode() for d in descriptions]))


def test_hdf5_import_array_columns(tmp_path: Path) -> None:
    """PyTables stores an array column as a field of shape (size,); the kinds are the Ice
    ids in /OME/ColumnTypes, or without them follow the element type."""
    dtype = np.dtype([("Roi", "<i8"), ("Centroid", "<f4", (2,)), ("Profile", "<f8", (3,)),
                      ("Counts", "<i8", (1,)), ("Name", "S4")])  # fmt: skip
    records = np.array(
        [(5, (0.5, 1.25), (1.0, 2.0, 3.0), (9,), b"r1"), (6, (2, 3), (4, 5, 6), (10,), b"r2")],
        dtype=dtype,
    )
    path = tmp_path / "arrays.h5"
    types = ["RoiColumn", "FloatArrayColumn", "DoubleArrayColumn", "LongArrayColumn",
             "StringColumn"]  # fmt: skip
    _omero_hdf5(path, records, [f"::omero::grid::{t}" for t in types], ["", "xy", "", "", "n"])
    table = read_hdf5(path)
    assert [(c.name, c.kind, c.size) for c in table.columns] == [
        ("Roi", "RoiColumn", None), ("Centroid", "FloatArrayColumn", 2),
        ("Profile", "DoubleArrayColumn", 3), ("Counts", "LongArrayColumn", 1),
        ("Name", "StringColumn", None),
    ]  # fmt: skip
    assert table.columns[1].description == "xy"
    assert table.column_values(1) == [[0.5, 1.25], [2.0, 3.0]]
    assert table.column_values(3) == [[9], [10]]
    assert tq.where("(Roi > 5) | (Name == 'r1')", table.data) == [0, 1]

    bare = tmp_path / "bare.h5"
    _omero_hdf5(bare, records, None, [])
    assert [c.kind for c in read_hdf5(bare).columns] == [
        "RoiColumn", "FloatArrayColumn", "DoubleArrayColumn", "LongArrayColumn", "StringColumn",
    ]  # fmt: skip
    # a width-1 array column stored as a scalar is read as arrays of one
    scalar = tmp_path / "scalar.h5"
    _omero_hdf5(scalar, np.array([(1.5,)], dtype=[("w", "<f8")]), ["DoubleArrayColumn"], [""])
    assert read_hdf5(scalar).column_values(0) == [[1.5]]


def test_hdf5_mask_and_odd_columns_are_refused(tmp_path: Path) -> None:
    """MaskColumn (a nested compound plus a separate mask array) is not stored."""
    mask = np.dtype([("i", "<i8"), ("z", "<i4"), ("t", "<i4"), ("x", "<f8"), ("y", "<f8"),
                     ("w", "<f8"), ("h", "<f8")])  # fmt: skip
    path = tmp_path / "mask.h5"
    records = np.zeros(2, dtype=[("Image", "<i8"), ("Mask", mask)])
    _omero_hdf5(path, records, ["::omero::grid::ImageColumn", "::omero::grid::MaskColumn"], [])
    with pytest.raises(BadFile, match="'Mask' is a MaskColumn"):
        read_hdf5(path)
    cube = tmp_path / "cube.h5"
    _omero_hdf5(cube, np.zeros(2, dtype=[("c", "<f8", (2, 2))]), None, [])
    with pytest.raises(BadFile, match="3 dimensions"):
        read_hdf5(cube)
    strings = tmp_path / "strings.h5"
    _omero_hdf5(strings, np.zeros(2, dtype=[("c", "S2", (2,))]), None, [])
    with pytest.raises(BadFile, match="not an array column"):
        read_hdf5(strings)


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


def test_functions_and_modulo() -> None:
    """numexpr's functions and ``%`` (service-api.md 6.3), on A, B, S and FLAGS above."""
    data = _table()
    assert tq.where("a % 3 == 1", data) == [2, 6]
    assert tq.where("a % -4 == -1", data) == [0, 1, 2, 6]  # floored, as numexpr and Python
    assert tq.where("a % 0 == 0", data) == list(range(8))  # numexpr: x % 0 is 0 for integers
    assert tq.where("b % 2 == 0.75", data) == [2]  # -3.25 - floor(-3.25 / 2) * 2
    assert tq.where("b % 0 == b % 0", data) == []  # NaN for floats
    assert tq.where("sqrt(abs(a)) == 3", data) == [7]
    assert tq.where("(sin(a) < -0.9) & (cos(0) == 1)", data) == [5]
    assert tq.where("arctan2(a, b) < 0", data) == [1]
    assert tq.where("log10(b) == 0", data) == [4]
    assert tq.where("exp(log(a)) > 8.99", data) == [4, 7]  # log(-1) is NaN, log(0) -inf
    assert tq.where("where(f, a, -a) < 0", data) == [4, 5, 7]
    assert tq.where("where(a > 5, b, 0) > 4", data) == [6, 7]
    assert tq.where("contains(s, 'x')", data) == [0, 2, 6]
    assert tq.where("contains('xyz', s) & ~(s == '')", data) == [0, 1, 2, 3, 5, 6]
    assert tq.where("contains(s, s)", data) == list(range(8))
    assert tq.where("~contains(s, 'y') & (a > 3)", data) == [2, 4, 6, 7]
    assert tq.where("contains('abc', 'b')", data) == list(range(8))
    for name in tq.MATHS:  # every function runs on integers and on floats
        args = "a, b" if tq.FUNCTIONS[name] == 2 else "a"
        assert tq.where(f"{name}({args}) > -1e300", data) == tq.where(
            f"{name}({args.replace('a', 'a * 1.0')}) > -1e300", data
        )


def test_functions_are_whitelisted_with_their_arity() -> None:
    columns = ["a", "b", "s"]
    assert tq.parse("where(a > 1, a, b)", columns) == tq.Call(
        "where",
        (tq.Compare(">", tq.ColumnRef("a"), tq.Literal(1)), tq.ColumnRef("a"), tq.ColumnRef("b")),
    )
    assert tq.parse("a % 2", columns) == tq.Arith("%", tq.ColumnRef("a"), tq.Literal(2))
    for text, message in [
        ("sin(a, b) > 0", "sin() takes 1 argument, not 2"),
        ("where(a > 1, a) > 0", "where() takes 3 arguments, not 2"),
        ("contains(s) ", "contains() takes 2 arguments, not 1"),
        ("sin(x=a) > 0", "no keyword arguments"),
        ("eval('1') > 0", "unknown function 'eval'"),
        ("real(a) > 0", "unknown function 'real'"),  # complex numbers: not in OMERO.tables
        ("a.sin() > 0", "plain name"),
        ("sin(*s) > 0", "Starred"),
        ("a == 99999999999999999999", "does not fit in 64 bits"),
    ]:
        with pytest.raises(tq.QueryError, match=re.escape(message)):
            tq.where(text, _table())


def test_array_columns_cannot_be_queried() -> None:
    data = build_table(
        [Column("Roi", "RoiColumn", [1, 2]), Column("xy", "DoubleArrayColumn", [[1, 2], [3, 4]])]
    ).data
    assert tq.where("Roi == 2", data) == [1]
    for text in ("xy == 1", "sin(xy) > 0", "(Roi == 1) & (xy > 0)", "contains(xy, 'a')"):
        with pytest.raises(tq.QueryError, match="'xy' is an array column"):
            tq.where(text, data)


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
        "eval('a') == 1",
        "getattr(a, 'real') > 0",
        "sin.__call__(a) > 0",
        "exec('1')",
        "sin(a)(b)",
        "sin()",
        "where(a, b, s, f)",
        "sin(a, key=1)",
        "sin(**a)",
        "a % b % ",
        "a // 2 == 1",
        "complex(a, b) == 0",
    ],
)
def test_rejected(text: str) -> None:
    with pytest.raises(tq.QueryError):
        tq.where(text, _table())


def test_type_errors_are_query_errors() -> None:
    for text in ("s > 1", "a & b", "~a", "a", "sin(s) > 0", "sqrt(f) > 0", "s % 2 == 0",
                 "f + 1 > 0", "-s == 1", "where(a, a, b) > 0", "where(f, s, s) == 'x'",
                 "contains(a, 'x')", "contains(s, 1)", "sin(a)", "where(f, a, b)"):  # fmt: skip
        with pytest.raises(tq.QueryError):
            tq.where(text, _table())


_ALLOWED = (tq.ColumnRef, tq.Literal, tq.Compare, tq.Logical, tq.Not, tq.Arith, tq.Negate, tq.Call)


def _check_tree(node: Any, columns: list[str]) -> None:
    """Every node is one of the tree's types; calls are whitelisted with their arity."""
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        assert isinstance(item, _ALLOWED)
        if isinstance(item, tq.Call):
            assert len(item.args) == tq.FUNCTIONS[item.name]
            stack += item.args
        if isinstance(item, tq.ColumnRef):
            assert item.name in columns
        stack += [getattr(item, f) for f in ("left", "right", "operand") if hasattr(item, f)]


#: Pieces of conditions, allowed and not, that random text rarely makes.
_TOKENS = [
    "a", "b", "s", "f", "sin", "arctan2", "where", "contains", "abs", "eval", "__import__",
    "open", "getattr", "exec", "real", "x", "(", ")", ",", " ", "%", "+", "-", "*", "/", "**",
    "==", "<", ">=", "&", "|", "~", "'x'", "1", "2.5", "0", ".", "=", "[", "]", "lambda",
    ":", "*", "__class__", "True",
]  # fmt: skip


@given(
    st.one_of(st.text(max_size=60), st.lists(st.sampled_from(_TOKENS), max_size=24).map("".join))
)
@settings(max_examples=500, deadline=None)
def test_parser_never_evaluates(text: str) -> None:
    """Any text either parses into the tree's node types or is refused; nothing runs."""
    marker = "__import__('builtins').print"
    with pytest.raises(tq.QueryError):
        tq.parse(marker + text, ["a", "b"])
    try:
        node = tq.parse(text, ["a", "b", "s", "f"])
    except tq.QueryError:
        return
    _check_tree(node, ["a", "b", "s", "f"])
    with contextlib.suppress(tq.QueryError):  # rows or a QueryError, never anything else
        tq.where(text, _table())


_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}  # fmt: skip


def _ieee(name: str) -> Any:
    """The Python function of a numexpr one, with NumPy's NaN and inf where ``math`` raises."""
    plain = getattr(math, {"arctan2": "atan2", "log": "log"}.get(name, name.replace("arc", "a")))

    def run(*xs: float) -> float:
        try:
            return float(plain(*xs))
        except (ValueError, OverflowError):
            with np.errstate(all="ignore"):
                return float(getattr(np, name)(*(np.float64(x) for x in xs)))

    return run


_PY_FUNCTIONS = {name: abs if name == "abs" else _ieee(name) for name in tq.MATHS}


def _expressions() -> Any:
    """Numeric expressions over ``a`` (integers) and ``b`` (floats), as (text, row -> value)."""
    column = st.sampled_from(["a", "b"]).map(lambda c: (c, lambda row, c=c: row[c]))
    unary = st.builds(
        lambda name, col: (
            f"{name}({col[0]})",
            lambda row: _PY_FUNCTIONS[name](float(col[1](row))),
        ),
        st.sampled_from(sorted(n for n in tq.MATHS if tq.FUNCTIONS[n] == 1)),
        column,
    )
    arctan2 = st.builds(
        lambda y, x: (f"arctan2({y[0]}, {x[0]})", lambda row: math.atan2(y[1](row), x[1](row))),
        column,
        column,
    )
    modulo = st.builds(
        lambda col, k: (f"({col[0]} % {k})", lambda row: _numexpr_mod(col[1](row), k)),
        column,
        st.integers(-3, 3),
    )
    where = st.builds(
        lambda col, limit, yes, no: (
            f"where({col[0]} > {limit}, {yes[0]}, {no[0]})",
            lambda row: yes[1](row) if col[1](row) > limit else no[1](row),
        ),
        column,
        st.integers(-2, 10),
        column,
        column,
    )
    return st.one_of(column, unary, arctan2, modulo, where)


def _numexpr_mod(x: float, k: int) -> float:
    if isinstance(x, int):
        return 0 if k == 0 else x % k
    with np.errstate(all="ignore"):
        return float(np.float64(x) - np.floor(np.float64(x) / k) * k)


comparisons = st.builds(
    lambda expr, op, value: (f"({expr[0]}{op}{value!r})", expr[1], op, value),
    _expressions(),
    st.sampled_from(sorted(_OPS)),
    st.one_of(st.integers(-5, 15), st.floats(-5, 15, allow_nan=False).map(lambda v: round(v, 2))),
)
contains = st.builds(
    lambda needle: (f"contains(s, {needle!r})", lambda row: needle in row["s"], "is", True),
    st.sampled_from(["x", "y", "", "w", "q", "xy"]),
)


def _conditions() -> Any:
    def extend(children: Any) -> Any:
        return st.one_of(
            st.tuples(st.just("&"), children, children),
            st.tuples(st.just("|"), children, children),
            st.tuples(st.just("~"), children),
        )

    return st.recursive(st.one_of(comparisons, contains), extend, max_leaves=8)


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
    _, value_of, op, value = tree
    if op == "is":
        return bool(value_of(row))
    return bool(_OPS[op](value_of(row), value))


@given(_conditions())
@settings(max_examples=300, deadline=None)
def test_conditions_agree_with_python(tree: Any) -> None:
    """Comparisons of columns, numexpr's functions, ``%`` and ``where`` on them, and
    ``contains``, combined with ``& | ~``, select the rows Python selects."""
    data = _table()
    rows = [{"a": a, "b": b, "s": v} for a, b, v in zip(A, B, S, strict=True)]
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
