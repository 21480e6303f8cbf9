"""Bulk-annotation tables on disk: Parquet written with pyarrow, OMERO.tables HDF5 read in.

A table is a list of typed columns, as OMERO.tables has them (``service-api.md`` 6.1). Each
column is stored as one Parquet column; its OMERO kind (``WellColumn``, ``DoubleColumn``...)
and description live in that field's metadata, and the table's user metadata (OMERO's
``setAllMetadata``) in the schema metadata, so that a file read back has exactly the headers
it was written with. Parquet rather than HDF5 because it is columnar, compressed, readable
by every data tool and needs no global lock; HDF5 files made by OMERO can still be imported
(:func:`read_hdf5`) and are converted on the way in.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
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
#: Every column kind pyomero stores, with its Arrow type.
KINDS: dict[str, pa.DataType] = {
    **dict.fromkeys(ID_KINDS, pa.int64()),
    "LongColumn": pa.int64(),
    "DoubleColumn": pa.float64(),
    "StringColumn": pa.string(),
    "BoolColumn": pa.bool_(),
}
#: Where a field keeps its OMERO kind and description, and the schema its user metadata.
KIND_KEY = b"omero:kind"
DESCRIPTION_KEY = b"omero:description"
USER_METADATA_KEY = b"omero:user_metadata"
#: The first bytes of every HDF5 file.
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """A column header as OMERO's ``getHeaders`` gives it: name, description and kind."""

    name: str
    kind: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Column:
    """A column with its values, for building a table."""

    name: str
    kind: str
    values: Sequence[Any]
    description: str = ""


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
    fields = []
    arrays = []
    for column in columns:
        if column.kind not in KINDS:
            raise InvalidInput(f"unsupported column type {column.kind!r}")
        if not column.name or column.name.startswith("__"):
            raise InvalidInput(
                f"invalid column name {column.name!r} (names starting __ are reserved)"
            )
        fields.append(_field(ColumnInfo(column.name, column.kind, column.description)))
        try:
            arrays.append(pa.array(list(column.values), type=KINDS[column.kind]))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise InvalidInput(f"column {column.name!r}: {exc}") from None
    schema = pa.schema(fields, metadata=_schema_metadata(user_metadata or {}))
    data = pa.Table.from_arrays(arrays, schema=schema)
    infos = [ColumnInfo(c.name, c.kind, c.description) for c in columns]
    return BulkTable(infos, data, dict(user_metadata or {}))


def _field(info: ColumnInfo) -> pa.Field:
    return pa.field(
        info.name,
        KINDS[info.kind],
        nullable=True,
        metadata={KIND_KEY: info.kind.encode(), DESCRIPTION_KEY: info.description.encode()},
    )


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
    infos = [_info(f) for f in data.schema]
    data = data.cast(pa.schema([_field(i) for i in infos], metadata=data.schema.metadata))
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


def _info(f: pa.Field) -> ColumnInfo:
    meta = f.metadata or {}
    kind = meta.get(KIND_KEY, b"").decode()
    if kind not in KINDS:
        kind = _kind_of_type(f.type, f.name)
    return ColumnInfo(f.name, kind, meta.get(DESCRIPTION_KEY, b"").decode())


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

    Only the column arrays are read. OMERO keeps the column classes and descriptions in
    PyTables attributes that are Python pickles; pickles are never loaded here (loading one
    runs arbitrary code), so the kinds come from the array types and the bulk-annotation
    column names (``Image``, ``Well``, ``Plate``, ``Roi``, ``Dataset`` hold ids), and from
    plain-string attributes when the file has them.
    """
    import h5py  # imported here: only imports of HDF5 tables need it

    try:
        with h5py.File(source, "r") as handle:
            node = handle.get("/OME/Measurements")
            if not isinstance(node, h5py.Dataset) or node.dtype.names is None:
                raise BadFile("not an OMERO.tables file: no /OME/Measurements table")
            records = node[()]
            kinds = _plain_strings(handle["/OME"].attrs.get("__types"))
            descriptions = _plain_strings(handle["/OME"].attrs.get("__descriptions"))
            names = list(node.dtype.names)
    except OSError as exc:
        raise BadFile(f"not a readable HDF5 file: {exc}") from None
    columns = []
    for i, name in enumerate(names):
        values = records[name]
        kind = kinds[i] if kinds and i < len(kinds) and kinds[i] in KINDS else None
        if values.ndim != 1:
            raise BadFile(f"column {name!r} is an array column, which pyomero does not store")
        if kind is None:
            kind = _kind_of_type(
                pa.from_numpy_dtype(values.dtype) if values.dtype.kind != "S" else pa.string(), name
            )
        if values.dtype.kind == "S":
            data: list[Any] = [v.decode("utf-8", "replace") for v in values.tolist()]
        else:
            data = values.tolist()
        description = descriptions[i] if descriptions and i < len(descriptions) else ""
        columns.append(Column(name, kind, data, description))
    return build_table(columns)


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
