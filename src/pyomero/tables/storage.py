"""Bulk-annotation tables on disk: Parquet written with pyarrow, OMERO.tables HDF5 read in.

A table is a list of typed columns, as OMERO.tables has them (``service-api.md`` 6.1). Each
column is stored as one Parquet column; its OMERO kind (``WellColumn``, ``DoubleColumn``...),
description and, for an array column, its width live in that field's metadata, and the table's user metadata (OMERO's
``setAllMetadata``) in the schema metadata, so that a file read back has exactly the headers
it was written with. Parquet rather than HDF5 because it is columnar, compressed, readable
by every data tool and needs no global lock; HDF5 files made by OMERO can still be imported
(:func:`read_hdf5`) and are converted on the way in.

The array columns (``FloatArrayColumn``, ``DoubleArrayColumn``, ``LongArrayColumn``) hold one
array of a fixed width (OMERO's ``size``) per row, so they are Arrow fixed-size lists. A
``MaskColumn`` (parallel arrays plus a separate HDF5 array of mask bytes) is not stored.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pyomero.errors import BadFile, InvalidInput

#: The OMERO class of a column whose values are object ids, and the object it names.
ID_KINDS = {
    "ImageColumn": "Image",
    "WellColumn": "Well",
    "PlateColumn": "Plate",
    "DatasetColumn": "Dataset",
    "RoiColumn": "Roi",
    "FileColumn": "OriginalFile",
}
#: Every scalar column kind pyomero stores, with its Arrow type.
KINDS: dict[str, pa.DataType] = {
    **dict.fromkeys(ID_KINDS, pa.int64()),
    "LongColumn": pa.int64(),
    "DoubleColumn": pa.float64(),
    "StringColumn": pa.string(),
    "BoolColumn": pa.bool_(),
}
#: The array column kinds, with the Arrow type of one element (PyTables' Float32Col,
#: Float64Col and Int64Col with ``shape=size`` in ``omero/columns.py``).
ARRAY_KINDS: dict[str, pa.DataType] = {
    "FloatArrayColumn": pa.float32(),
    "DoubleArrayColumn": pa.float64(),
    "LongArrayColumn": pa.int64(),
}
#: Where a field keeps its OMERO kind, description and array width, and the schema its
#: user metadata.
KIND_KEY = b"omero:kind"
DESCRIPTION_KEY = b"omero:description"
SIZE_KEY = b"omero:size"
USER_METADATA_KEY = b"omero:user_metadata"
#: The first bytes of every HDF5 file.
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: How OMERO.tables names column classes in ``/OME/ColumnTypes`` (Ice type ids).
ICE_PREFIX = "::omero::grid::"


def arrow_type(kind: str, size: int | None = None) -> pa.DataType:
    """The Arrow type of a column of ``kind`` (``size`` wide for an array kind)."""
    if kind in ARRAY_KINDS:
        if size is None or size < 1:
            raise InvalidInput(f"an array column needs a size of at least 1, not {size}")
        return pa.list_(ARRAY_KINDS[kind], size)
    return KINDS[kind]


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """A column header as OMERO's ``getHeaders`` gives it: name, description and kind, and
    for an array column its ``size`` (the array width; None for the other kinds)."""

    name: str
    kind: str
    description: str = ""
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Column:
    """A column with its values, for building a table. An array column's values are
    sequences of ``size`` numbers; without a ``size`` it is taken from the values."""

    name: str
    kind: str
    values: Sequence[Any]
    description: str = ""
    size: int | None = None


@dataclass(frozen=True)
class BulkTable:
    """A whole table in memory: its headers, its data and its user metadata."""

    columns: list[ColumnInfo]
    data: pa.Table
    user_metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        return int(self.data.num_rows)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column_values(self, index: int, rows: Sequence[int] | None = None) -> list[Any]:
        """The Python values of column ``index``, for all rows or for ``rows`` in that order."""
        array = self.data.column(index)
        if rows is not None:
            array = array.take(pa.array(rows, type=pa.int64()))
        return list(array.to_pylist())


def build_table(
    columns: Sequence[Column], user_metadata: Mapping[str, Any] | None = None
) -> BulkTable:
    """A table from columns of equal length; kinds and names are checked here, once."""
    if not columns:
        raise InvalidInput("a table needs at least one column")
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise InvalidInput(f"the column name {duplicate!r} is used twice")
    lengths = {len(c.values) for c in columns}
    if len(lengths) != 1:
        raise InvalidInput("the columns of a table must all have the same length")
    infos = []
    arrays = []
    for column in columns:
        if column.kind not in KINDS and column.kind not in ARRAY_KINDS:
            raise InvalidInput(f"unsupported column type {column.kind!r}")
        if not column.name or column.name.startswith("__"):
            raise InvalidInput(
                f"invalid column name {column.name!r} (names starting __ are reserved)"
            )
        size = _array_size(column) if column.kind in ARRAY_KINDS else None
        infos.append(ColumnInfo(column.name, column.kind, column.description, size))
        try:
            arrays.append(pa.array(list(column.values), type=arrow_type(column.kind, size)))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError) as exc:
            raise InvalidInput(f"column {column.name!r}: {exc}") from None
    schema = pa.schema([_field(i) for i in infos], metadata=_schema_metadata(user_metadata or {}))
    data = pa.Table.from_arrays(arrays, schema=schema)
    return BulkTable(infos, data, dict(user_metadata or {}))


def _array_size(column: Column) -> int:
    """The width of an array column, checked against every value as omero-py checks it."""
    try:
        widths = {len(v) for v in column.values if v is not None}
    except TypeError:
        raise InvalidInput(f"column {column.name!r} holds arrays, not single values") from None
    size = column.size
    if size is None:
        if len(widths) > 1:
            lengths = ", ".join(str(w) for w in sorted(widths))
            raise InvalidInput(f"Column {column.name} requires arrays of one length, not {lengths}")
        if not widths:
            raise InvalidInput(f"column {column.name!r} needs a size (the array width)")
        size = widths.pop()
    if size < 1:
        raise InvalidInput(f"Array length must be > 0 (Column: {column.name})")
    if widths - {size}:
        raise InvalidInput(f"Column {column.name} requires arrays of length {size}")
    return size


def _field(info: ColumnInfo) -> pa.Field:
    metadata = {KIND_KEY: info.kind.encode(), DESCRIPTION_KEY: info.description.encode()}
    if info.size is not None:
        metadata[SIZE_KEY] = str(info.size).encode()
    return pa.field(info.name, arrow_type(info.kind, info.size), nullable=True, metadata=metadata)


def _schema_metadata(user_metadata: Mapping[str, Any]) -> dict[bytes, bytes]:
    return {USER_METADATA_KEY: json.dumps(dict(user_metadata)).encode()}


def to_parquet(table: BulkTable) -> bytes:
    """The Parquet bytes of ``table`` (zstd, statistics on, so row-group pruning works)."""
    sink = io.BytesIO()
    pq.write_table(table.data, sink, compression="zstd")
    return sink.getvalue()


def read_parquet(source: Path | IO[bytes]) -> BulkTable:
    """A table written by :func:`to_parquet`; a Parquet file from elsewhere gets kinds
    from its Arrow types (integers are ``LongColumn``, floats ``DoubleColumn``...)."""
    try:
        data = pq.read_table(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise BadFile(f"not a readable Parquet table: {exc}") from None
    infos = [_info(f, data.column(i)) for i, f in enumerate(data.schema)]
    try:
        data = data.cast(pa.schema([_field(i) for i in infos], metadata=data.schema.metadata))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, InvalidInput) as exc:
        raise BadFile(f"not a readable Parquet table: {exc}") from None
    raw = (data.schema.metadata or {}).get(USER_METADATA_KEY)
    user_metadata: dict[str, Any] = {}
    if raw:
        try:
            loaded = json.loads(raw)
        except ValueError:
            loaded = {}
        if isinstance(loaded, dict):
            user_metadata = loaded
    return BulkTable(infos, data, user_metadata)


def _info(f: pa.Field, values: pa.ChunkedArray) -> ColumnInfo:
    meta = f.metadata or {}
    kind = meta.get(KIND_KEY, b"").decode()
    description = meta.get(DESCRIPTION_KEY, b"").decode()
    is_list = pa.types.is_fixed_size_list(f.type) or pa.types.is_list(f.type)
    if kind in ARRAY_KINDS and is_list:
        raw = meta.get(SIZE_KEY, b"").decode()
        size = int(raw) if raw.isdigit() else _list_width(f, values)
        return ColumnInfo(f.name, kind, description, size)
    if kind in KINDS and not is_list:
        return ColumnInfo(f.name, kind, description)
    if is_list:
        return ColumnInfo(f.name, _array_kind_of_type(f), description, _list_width(f, values))
    return ColumnInfo(f.name, _kind_of_type(f.type, f.name), description)


def _array_kind_of_type(f: pa.Field) -> str:
    item = f.type.value_type
    if pa.types.is_integer(item):
        return "LongArrayColumn"
    if pa.types.is_float16(item) or pa.types.is_float32(item):
        return "FloatArrayColumn"
    if pa.types.is_float64(item):
        return "DoubleArrayColumn"
    raise BadFile(f"column {f.name!r} has a type OMERO.tables cannot hold: {f.type}")


def _list_width(f: pa.Field, values: pa.ChunkedArray) -> int:
    """The one width of every list in a list column (OMERO's arrays are all one width)."""
    if pa.types.is_fixed_size_list(f.type):
        return int(f.type.list_size)
    widths = set(pc.unique(pc.list_value_length(values)).drop_null().to_pylist())
    if len(widths) != 1 or 0 in widths:
        raise BadFile(f"column {f.name!r} holds lists of several lengths, not arrays of one size")
    return int(widths.pop())


def _kind_of_type(arrow_type: pa.DataType, name: str) -> str:
    if pa.types.is_boolean(arrow_type):
        return "BoolColumn"
    if pa.types.is_integer(arrow_type):
        return _id_kind(name) or "LongColumn"
    if pa.types.is_floating(arrow_type):
        return "DoubleColumn"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "StringColumn"
    raise BadFile(f"column {name!r} has a type OMERO.tables cannot hold: {arrow_type}")


def _id_kind(name: str) -> str | None:
    """Integer columns named ``Image``, ``Well``... hold ids, as bulk annotations name them."""
    for kind, obj in ID_KINDS.items():
        if name.lower() == obj.lower():
            return kind
    return None


# ---------------------------------------------------------------------------- HDF5


def is_hdf5(head: bytes) -> bool:
    return head.startswith(HDF5_MAGIC)


def read_hdf5(source: Path | IO[bytes]) -> BulkTable:
    """The table of an OMERO.tables HDF5 file (PyTables layout: ``/OME/Measurements``).

    omero-py's ``HdfStorage`` writes the rows as one compound table, an array column as a
    field of shape ``(size,)``, and the column classes and descriptions as string arrays
    ``/OME/ColumnTypes`` (Ice ids such as ``::omero::grid::ImageColumn``) and
    ``/OME/ColumnDescriptions``. Those are read when they are plain strings; PyTables
    attributes that are Python pickles are never loaded (loading one runs arbitrary code).
    Without them the kinds come from the array types and the bulk-annotation column names
    (``Image``, ``Well``, ``Plate``, ``Roi``, ``Dataset`` hold ids).
    """
    import h5py  # imported here: only imports of HDF5 tables need it

    try:
        with h5py.File(source, "r") as handle:
            node = handle.get("/OME/Measurements")
            if not isinstance(node, h5py.Dataset) or node.dtype.names is None:
                raise BadFile("not an OMERO.tables file: no /OME/Measurements table")
            records = node[()]
            ome = handle["/OME"]
            kinds = _string_array(ome, "ColumnTypes") or _plain_strings(ome.attrs.get("__types"))
            descriptions = _string_array(ome, "ColumnDescriptions") or _plain_strings(
                ome.attrs.get("__descriptions")
            )
            names = list(node.dtype.names)
    except OSError as exc:
        raise BadFile(f"not a readable HDF5 file: {exc}") from None
    columns = []
    for i, name in enumerate(names):
        kind = kinds[i].removeprefix(ICE_PREFIX) if kinds and i < len(kinds) else None
        description = descriptions[i] if descriptions and i < len(descriptions) else ""
        columns.append(_hdf5_column(name, records[name], kind, description))
    return build_table(columns)


def _hdf5_column(name: str, values: Any, kind: str | None, description: str) -> Column:
    """One column of an OMERO.tables HDF5 file; ``kind`` as ``ColumnTypes`` names it."""
    if kind == "MaskColumn" or values.dtype.names is not None:
        raise BadFile(f"column {name!r} is a MaskColumn, which pyomero does not store")
    if kind in ARRAY_KINDS or values.ndim == 2:
        if values.ndim == 1:  # a width-1 array stored as a scalar
            values = values.reshape(-1, 1)
        if values.ndim != 2 or values.dtype.kind not in "iuf":
            raise BadFile(f"column {name!r} is not an array column OMERO.tables can hold")
        if kind not in ARRAY_KINDS:
            kind = _array_kind_of_dtype(values.dtype)
        return Column(name, kind, values.tolist(), description, int(values.shape[1]))
    if values.ndim != 1:
        raise BadFile(f"column {name!r} has {values.ndim} dimensions; OMERO.tables holds 1 or 2")
    if kind not in KINDS:
        arrow = pa.from_numpy_dtype(values.dtype) if values.dtype.kind != "S" else pa.string()
        kind = _kind_of_type(arrow, name)
    if values.dtype.kind == "S":
        return Column(
            name, kind, [v.decode("utf-8", "replace") for v in values.tolist()], description
        )
    return Column(name, kind, values.tolist(), description)


def _array_kind_of_dtype(dtype: Any) -> str:
    if dtype.kind == "f":
        return "FloatArrayColumn" if dtype.itemsize <= 4 else "DoubleArrayColumn"
    return "LongArrayColumn"


def _string_array(group: Any, name: str) -> list[str] | None:
    """The strings of a small dataset in ``group`` (how HdfStorage keeps the column types)."""
    import h5py

    node = group.get(name)
    if not isinstance(node, h5py.Dataset) or node.ndim != 1 or node.dtype.kind not in "SUO":
        return None
    return _plain_strings(node[()].tolist())


def _plain_strings(value: Any) -> list[str] | None:
    """A list of strings from an HDF5 attribute, or None for anything else (a pickle)."""
    if value is None:
        return None
    try:
        items = list(value)
    except TypeError:
        return None
    out = []
    for item in items:
        if isinstance(item, bytes):
            try:
                item = item.decode("utf-8")
            except UnicodeDecodeError:
                return None
        if not isinstance(item, str):
            return None
        out.append(item)
    return out
