"""Bulk-annotation tables: populate them from a CSV (or an OMERO.tables HDF5 file), find the
ones attached to an object, and query them as OMERO.web's ``/webgateway/table/`` does.

A table is an OriginalFile (mimetype ``OMERO.tables``) holding Parquet under ``DIR/files/``,
attached to its Screen, Plate, Project or Dataset by a FileAnnotation with the namespace
``openmicroscopy.org/omero/bulk_annotations``, as omero-metadata attaches it. Populating
writes the file, the OriginalFile, the annotation, its link and (``context="bulkmap"``) one
MapAnnotation per row on the row's Well and its images, or its Image, in one transaction;
the file is removed again if that transaction fails, so a bad CSV leaves nothing behind.

The SQL lives in ``store/tables.py``. Table errors are
:class:`TableError` (an ``InvalidInput``) because the table surface answers them with 200
and an ``error`` body, which the web layer builds from ``message`` and ``extra``.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from pyomero.errors import InvalidInput, NotFound, SecurityViolation
from pyomero.model.commands import AnnotationSpec
from pyomero.model.permissions import Action, Actor, allowed
from pyomero.services.accounts import Context, utcnow
from pyomero.services.instance import Instance
from pyomero.store import annotations as annotation_store
from pyomero.store import tables as store
from pyomero.store import writes
from pyomero.store.accounts import get_group, new_event
from pyomero.tables import query as tq
from pyomero.tables.bulkmap import (
    COLUMN_DEFAULTS,
    NS_BULK_CONFIG,
    BulkmapConfig,
    MapPlan,
    output_groups,
    parse_config,
)
from pyomero.tables.csv_populate import columns_from_csv
from pyomero.tables.storage import (
    ID_KINDS,
    BulkTable,
    build_table,
    is_hdf5,
    read_hdf5,
    read_parquet,
    to_parquet,
)

NS_BULK = store.NS_BULK
MIMETYPE = store.MIMETYPE
TABLE_NAME = "bulk_annotations"
#: omero.web.max_table_download_rows and omero.web.max_table_slice_size.
MAX_DOWNLOAD_ROWS = 10_000
MAX_SLICE_SIZE = 1_000_000
#: How many missing objects an error names before "and N more".
MAX_REPORTED = 10
TARGETS = ("Screen", "Plate", "Project", "Dataset")


class TableError(InvalidInput):
    """An error the table routes answer with 200 ``{"error": message, **extra}``."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message, param="query")
        self.extra = extra


# ---------------------------------------------------------------------------- results


#: A bulk-annotation file on an object; ``added_on`` is in ms since the epoch (the link's
#: creation), as OMERO.web sends it.
BulkAnnotation = store.BulkFileRow


@dataclass(frozen=True, slots=True)
class QueryResult:
    column_types: list[str]
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    total_count: int
    limit: int | None
    offset: int
    annotation: BulkAnnotation | None = None


@dataclass(frozen=True, slots=True)
class Populated:
    """What a populate made: the table's FileAnnotation and OriginalFile (None when a bulkmap
    used a table already attached), its rows, the MapAnnotations created, and existing ones
    (sharing a primary key) extended or linked, and those a deletemap deleted."""

    file_annotation: int | None
    original_file: int | None
    rows: int
    map_annotations: list[int] = field(default_factory=list)
    linked_annotations: list[int] = field(default_factory=list)
    deleted_annotations: list[int] = field(default_factory=list)


# ---------------------------------------------------------------------------- object paths


def _ms(when: Any) -> int:
    return int(when.replace(tzinfo=UTC).timestamp() * 1000)


def _bulk_annotations(
    conn: Connection, actor: Actor, objtype: str, object_id: int
) -> list[BulkAnnotation]:
    found = store.root_ids(conn, actor, objtype, object_id)
    if found is None:
        parts = objtype.split(".")
        raise TableError(f"{parts} cannot be queried", query=store.hql(parts))
    parent_type, ids = found
    return [
        replace(r, added_on=_ms(r.added_on))
        for r in store.bulk_files(conn, actor, parent_type, ids)
    ]


def bulk_annotations(ctx: Context, objtype: str, object_id: int) -> list[BulkAnnotation]:
    """The bulk-annotation files on the objects ``objtype`` reaches ``object_id`` from
    (``Screen.plateLinks.child.wells`` from a Well id): OMERO.web's ``annotations/``."""
    with ctx.instance.db.read() as conn:
        return _bulk_annotations(conn, ctx.actor, objtype, object_id)


# ---------------------------------------------------------------------------- reading tables

_CACHE: dict[tuple[str, int, int], BulkTable] = {}
_CACHE_SIZE = 8


def _files_dir(instance: Instance) -> Path:
    data_dir = instance.settings.data_dir
    if data_dir is None:
        raise NotFound("this instance has no files directory")
    return Path(data_dir) / "files"


def _load(path: Path) -> BulkTable:
    """The table in ``path``, from a small per-process cache keyed by size and mtime (a
    file is never rewritten in place, so this only saves reading it again)."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    table = _CACHE.get(key)
    if table is None:
        table = read_parquet(path)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = table
    return table


def open_table(ctx: Context, file_id: int) -> BulkTable:
    """A readable OMERO.tables file; ``Table <id> not found`` for anything else."""
    with ctx.instance.db.read() as conn:
        return _table_of(ctx, conn, file_id)


def _table_of(ctx: Context, conn: Connection, file_id: int) -> BulkTable:
    return _table_in(ctx, file_id, store.table_file(conn, ctx.actor, file_id))


def _table_in(ctx: Context, file_id: int, row: Any) -> BulkTable:
    """The table of a ``store.table_file`` row (None when unreadable)."""
    if row is None or row.mimetype != MIMETYPE:
        raise TableError(f"Table {file_id} not found")
    path = Path(row.location)
    if not path.is_absolute():
        path = _files_dir(ctx.instance) / row.location
    try:
        return _load(path)
    except (OSError, InvalidInput):
        raise TableError(f"Table {file_id} not found") from None


def _hits(table: BulkTable, condition: str) -> list[int]:
    try:
        return tq.where(condition, table.data)
    except tq.QueryError:
        raise TableError(f"Error executing query: {condition}") from None


def query_table(
    ctx: Context,
    file_id: int,
    *,
    query: str | None,
    col_names: Sequence[str] = (),
    offset: int = 0,
    limit: int | None = None,
) -> QueryResult:
    """OMERO.web's ``perform_table_query``: ``*``, ``Name-123`` or a condition, paged."""
    if not query:
        raise TableError("Must specify query parameter, use * to retrieve all")
    table = open_table(ctx, file_id)
    indices = list(range(len(table.columns)))
    if col_names:  # request order; unknown names are ignored
        by_name = {c.name: i for i, c in reversed(list(enumerate(table.columns)))}
        indices = [by_name[n] for n in col_names if n in by_name]
    rows = table.row_count
    end = min(rows, offset + (limit if limit is not None else rows))
    if query == "*":
        hits = list(range(offset, end))
        total = rows
    else:
        condition = tq.expand_shortcut(query, [table.columns[i].name for i in indices])
        matched = _hits(table, condition)
        total = len(matched)
        hits = matched[offset:end]
    if len(hits) > MAX_DOWNLOAD_ROWS:
        raise TableError(
            f"Trying to download {len(hits)} rows exceeds configured "
            f"omero.web.max_table_download_rows of {MAX_DOWNLOAD_ROWS}",
            status=404,
        )
    values = [table.column_values(i, hits) for i in indices]
    return QueryResult(
        column_types=[table.columns[i].kind for i in indices],
        columns=[table.columns[i].name for i in indices],
        rows=[list(r) for r in zip(*values, strict=True)] if values else [],
        row_count=rows,
        total_count=total,
        limit=limit,
        offset=offset,
    )


@dataclass(frozen=True, slots=True)
class TableExport:
    """Every row of a table matching a query, read in batches as they are written out."""

    name: str
    columns: list[str]
    rows: Iterator[list[Any]]


def table_name(ctx: Context, file_id: int) -> str:
    """The name of a readable table file (``Table <id> not found`` otherwise)."""
    with ctx.instance.db.read() as conn:
        row = store.table_file(conn, ctx.actor, file_id)
    if row is None or row.mimetype != MIMETYPE:
        raise TableError(f"Table {file_id} not found")
    return str(row.name)


def export_table(ctx: Context, file_id: int, *, query: str = "*", batch: int = 1000) -> TableExport:
    """OMERO.web's ``omero_table/<id>/csv/``: the whole table, or the rows a query matches,
    with no download limit (the rows are produced a batch at a time)."""
    with ctx.instance.db.read() as conn:
        row = store.table_file(conn, ctx.actor, file_id)
    table = _table_in(ctx, file_id, row)
    name = row.name
    names = [c.name for c in table.columns]
    hits = (
        list(range(table.row_count))
        if query == "*"
        else _hits(table, tq.expand_shortcut(query, names))
    )

    def rows() -> Iterator[list[Any]]:
        for start in range(0, len(hits), batch):
            chunk = hits[start : start + batch]
            values = [table.column_values(i, chunk) for i in range(len(names))]
            yield from (list(r) for r in zip(*values, strict=True))

    return TableExport(name, names, rows())


def query_object_table(ctx: Context, objtype: str, object_id: int, **params: Any) -> QueryResult:
    """``object_table_query``: the newest bulk table on the path's objects that answers."""
    annotations = bulk_annotations(ctx, objtype, object_id)
    if not annotations:
        raise TableError("Could not retrieve bulk annotations table")
    error: TableError | None = None
    for ann in sorted(annotations, key=lambda a: a.file, reverse=True):
        try:
            result = query_table(ctx, ann.file, **params)
        except TableError as exc:
            error = error or exc
            continue
        return replace(result, annotation=ann)
    assert error is not None
    raise error


def id_bitmask(ctx: Context, file_id: int, *, query: str | None, col_name: str = "object") -> bytes:
    """``obj_id_bitmask``: bit n (big-endian within each byte) set iff n is in the column
    among the matching rows; one zero byte when nothing matches."""
    if not query:
        raise TableError("Must specify query parameter, use * to retrieve all")
    table = open_table(ctx, file_id)
    names = table.names
    index = names.index(col_name) if col_name in names else 0
    try:
        hits = list(range(table.row_count)) if query == "*" else tq.where(query, table.data)
    except tq.QueryError:
        raise TableError("Unexpected error getting obj_id_bitmask") from None
    if not hits:
        return b"\x00"
    if table.columns[index].kind in ("DoubleColumn", "BoolColumn"):
        raise TableError("Specified column has invalid type")
    try:
        values = [int(v) for v in table.column_values(index, hits)]
    except (TypeError, ValueError):
        raise TableError("Specified column has invalid type") from None
    if min(values) < 0:
        raise TableError("Specified column has invalid type")
    bits = bytearray((max(values) + 8) // 8)
    for v in values:
        bits[v // 8] |= 0x80 >> (v % 8)
    return bytes(bits)


def where_rows(ctx: Context, file_id: int, *, query: str | None, start: int = 0) -> dict[str, Any]:
    """``table/<id>/rows/``: the matching row numbers from ``start``, at most one slice."""
    if not query:
        raise TableError("Must specify query")
    table = open_table(ctx, file_id)
    rows = table.row_count
    end = min(rows, start + MAX_SLICE_SIZE)
    hits = [h for h in _hits(table, query) if start <= h < end] if start < rows else []
    return {
        "rows": hits,
        "meta": {
            "partialCount": len(hits),
            "rowCount": rows,
            "columnCount": len(table.columns),
            "start": start,
            "end": end,
            "maxCells": MAX_SLICE_SIZE,
        },
    }


def slice_table(
    ctx: Context, file_id: int, *, rows: list[int], columns: list[int]
) -> dict[str, Any]:
    """``table/<id>/slice/``: the given columns over the given rows, in the order given."""
    table = open_table(ctx, file_id)
    if not all(0 <= c < len(table.columns) for c in columns):
        raise TableError("Columns out of range")
    if not all(0 <= r < table.row_count for r in rows):
        raise TableError("Rows out of range")
    if len(rows) * len(columns) > MAX_SLICE_SIZE:
        raise TableError(f"Cannot return more than {MAX_SLICE_SIZE} cells")
    return {
        "columns": [table.column_values(c, rows) for c in columns],
        "meta": {
            "columns": [table.columns[c].name for c in columns],
            "rowCount": table.row_count,
            "columnCount": len(table.columns),
            "maxCells": MAX_SLICE_SIZE,
        },
    }


def table_metadata(ctx: Context, file_id: int) -> dict[str, Any]:
    table = open_table(ctx, file_id)
    return {
        "columns": [
            {"name": c.name, "description": c.description, "type": c.kind} for c in table.columns
        ],
        "totalCount": table.row_count,
        "user_metadata": table.user_metadata,
    }


# ---------------------------------------------------------------------------- populating


def _may(conn: Connection, actor: Actor, action: Action, owner_id: int, group_id: int) -> bool:
    level = get_group(conn, group_id).level
    return allowed(actor, action, owner_id=owner_id, group_id=group_id, level=level)


def _check_target(conn: Connection, actor: Actor, kind: str, target_id: int) -> Any:
    if kind not in TARGETS:
        raise InvalidInput(
            f"cannot populate a {kind}; use one of {', '.join(TARGETS)}", param="target"
        )
    row = writes.row_of(conn, kind.lower(), target_id)
    if row is None or not _may(conn, actor, Action.READ, row.owner_id, row.group_id):
        raise NotFound(f"{kind} {target_id} not found")
    if not _may(conn, actor, Action.ANNOTATE, row.owner_id, row.group_id):
        raise SecurityViolation(f"Cannot annotate {kind}:{target_id}")
    return row


CONTEXTS = ("csv", "table", "bulkmap", "deletemap")


def populate(
    ctx: Context,
    *,
    target: str,
    target_id: int,
    content: bytes | None,
    context: str = "csv",
    manual_header: bool = False,
    config: bytes | None = None,
) -> Populated:
    """omero-metadata's ``populate`` on ``target``, in one transaction.

    ``csv`` (or ``table``) attaches a bulk-annotation table made from ``content`` (a CSV, or
    an OMERO.tables HDF5 file); a CSV without a ``# header`` row has its column types
    detected, unless ``manual_header``. ``bulkmap`` writes map annotations from a table:
    from ``content`` (attached first, as with ``csv``) or else from the newest table already
    on the target, as the YAML ``config`` says (see :mod:`pyomero.tables.bulkmap`), or
    without one each row's value columns in the bulk-annotation namespace. ``deletemap``
    deletes the MapAnnotations of the bulk-annotation namespaces (and the ``config``'s
    group namespaces) on the target and everything under it, as omero-metadata does.
    """
    if context not in CONTEXTS:
        raise InvalidInput(
            f"unknown context {context!r}; use {', '.join(CONTEXTS)}", param="context"
        )
    rules = _bulkmap_config(config, context)
    if context == "deletemap":
        if content:
            raise InvalidInput("deletemap takes no file, only a configuration", param="file")
        return _deletemap(ctx, target, target_id, rules)
    if not content and context != "bulkmap":
        raise InvalidInput("the file is empty", param="file")
    table: BulkTable | None = None
    csv_text = ""
    if content and is_hdf5(content):
        table = read_hdf5(io.BytesIO(content))
    elif content:
        try:
            csv_text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("the CSV is not UTF-8 text", param="file") from None
    files = _files_dir(ctx.instance)
    location = f"tables/{uuid.uuid4().hex}.parquet"
    path = files / location
    try:
        with ctx.instance.db.write() as conn:
            row = _check_target(conn, ctx.actor, target, target_id)
            event = new_event(
                conn, ctx.actor, kind="Internal", now=utcnow(), session_id=ctx.session_id
            )
            who = {"owner_id": ctx.actor.user_id, "group_id": row.group_id, "event_id": event}
            done = Populated(None, None, 0)
            if content:
                if table is None:
                    resolver = store.TargetObjects(conn, ctx.actor, target, target_id)
                    columns = columns_from_csv(
                        csv_text, target=target, resolver=resolver, target_name=row.name,
                        manual_header=manual_header,
                    )  # fmt: skip
                    table = build_table(columns)
                data = to_parquet(table)
                path.parent.mkdir(parents=True, exist_ok=True)
                temporary = path.with_suffix(".part")
                temporary.write_bytes(data)
                os.replace(temporary, path)
                done = _attach(conn, row, target, table, data, location, who)
            if context == "bulkmap":
                if table is None:
                    table = _newest_table(ctx, conn, target, target_id)
                created, linked = _bulkmap(conn, ctx.actor, table, who, rules)
                done = replace(done, map_annotations=created, linked_annotations=linked)
            return done
    except BaseException:
        path.unlink(missing_ok=True)
        path.with_suffix(".part").unlink(missing_ok=True)
        raise


def _bulkmap_config(config: bytes | None, context: str) -> BulkmapConfig | None:
    if config is None:
        return None
    if context not in ("bulkmap", "deletemap"):
        raise InvalidInput(
            "a bulkmap configuration needs the bulkmap or deletemap context", param="cfg"
        )
    try:
        return parse_config(config.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InvalidInput("the bulkmap configuration is not UTF-8 text", param="cfg") from None


def _deletemap(ctx: Context, target: str, target_id: int, rules: BulkmapConfig | None) -> Populated:
    """Delete, all or nothing, the bulk-namespace MapAnnotations under the target."""
    namespaces = dict.fromkeys([NS_BULK, NS_BULK_CONFIG, *(rules.namespaces if rules else [])])
    with ctx.instance.db.write() as conn:
        _check_target(conn, ctx.actor, target, target_id)
        found = store.maps_under(conn, ctx.actor, target, target_id, list(namespaces))
        for row in found:
            if not _may(conn, ctx.actor, Action.DELETE, row.owner_id, row.group_id):
                raise SecurityViolation(
                    f"Cannot delete MapAnnotation:{row.id} under {target}:{target_id}: "
                    "not permitted; nothing was deleted"
                )
        for row in found:
            annotation_store.delete_annotation(conn, row.id)
    return Populated(None, None, 0, deleted_annotations=[row.id for row in found])


def _attach(
    conn: Connection, target_row: Any, target: str, table: BulkTable, data: bytes,
    location: str, who: dict[str, int],
) -> Populated:  # fmt: skip
    details = {"owner_id": who["owner_id"], "group_id": who["group_id"],
               "creation_event_id": who["event_id"], "update_event_id": who["event_id"]}  # fmt: skip
    file_id, annotation_id = store.insert_table_file(
        conn, name=TABLE_NAME, size=len(data), sha1=hashlib.sha1(data).hexdigest(),
        location=location, details=details,
    )  # fmt: skip
    writes.link_annotation(conn, target.lower(), target_row.id, annotation_id, **who)
    return Populated(annotation_id, file_id, table.row_count)


def _newest_table(ctx: Context, conn: Connection, target: str, target_id: int) -> BulkTable:
    """The table of the newest bulk-annotation file on the target (omero-metadata's
    ``get_bulk_annotation_file``)."""
    found = store.bulk_files(conn, ctx.actor, target, [target_id])
    if not found:
        raise InvalidInput(
            f"no bulk-annotation table is attached to {target}:{target_id}; "
            "populate one first or give --file",
            param="file",
        )
    return _table_of(ctx, conn, found[-1].file)


def _default_rules(table: BulkTable) -> BulkmapConfig:
    """Without a configuration: every value column (not the id columns) in the bulk
    namespace, wells sharing their annotation with their images."""
    excluded = tuple(
        {**COLUMN_DEFAULTS, "name": c.name, "include": False, "includeclient": False}
        for c in table.columns
        if c.kind in ID_KINDS
    )
    return BulkmapConfig(
        defaults=dict(COLUMN_DEFAULTS), columns=excluded, groups=(), primary_keys={},
        well_to_images=True,
    )  # fmt: skip


def _bulkmap(
    conn: Connection, actor: Actor, table: BulkTable, who: dict[str, int],
    rules: BulkmapConfig | None,
) -> tuple[list[int], list[int]]:  # fmt: skip
    """omero-metadata's ``BulkToMapAnnotationContext``: map annotations on the Wells and
    Images each row names. Returns the created and the extended-or-linked annotations."""
    rules = rules or _default_rules(table)
    groups = output_groups(rules, [c.name for c in table.columns])
    id_columns = [
        (c.kind, table.column_values(i))
        for i, c in enumerate(table.columns)
        if c.kind in ("WellColumn", "ImageColumn")
    ]
    if not id_columns:
        return [], []
    wells = {int(v) for kind, values in id_columns if kind == "WellColumn" for v in values}
    images = {int(v) for kind, values in id_columns if kind == "ImageColumn" for v in values}
    well_images = store.well_images(conn, list(wells)) if rules.well_to_images else {}
    images |= {i for ids in well_images.values() for i in ids}
    for kind, ids in (("Well", wells), ("Image", images)):
        gone = sorted(ids - store.existing_ids(conn, kind.lower(), ids))
        if gone:
            shown = ", ".join(f"{kind}:{i}" for i in gone[:MAX_REPORTED])
            more = f" (and {len(gone) - MAX_REPORTED} more)" if len(gone) > MAX_REPORTED else ""
            raise InvalidInput(
                f"the table names objects that no longer exist: {shown}{more}; nothing was created",
                param="file",
            )
    _check_annotatable(conn, actor, wells, images)
    plan = MapPlan(rules.primary_keys)
    existing = store.maps_in_namespaces(conn, actor, who["group_id"], list(rules.primary_keys))
    for found in existing:
        plan.seed(found.id, found.ns, found.pairs)
    owners = {found.id: found.owner_id for found in existing}
    columns = [table.column_values(i) for i in range(len(table.columns))]
    for n in range(table.row_count):
        targets: list[tuple[str, int]] = []
        for kind, values in id_columns:
            oid = int(values[n])
            if oid <= 0:
                continue
            if kind == "WellColumn":
                targets.append(("well", oid))
                targets += [("image", i) for i in well_images.get(oid, [])]
            else:
                targets.append(("image", oid))
        if not targets:
            continue
        row = [values[n] for values in columns]
        for group in groups:
            try:
                plan.add(group.namespace, group.pairs(row), targets)
            except KeyError as missing:
                if rules.ignore_missing_primary_key:
                    continue
                raise InvalidInput(
                    f"row {n + 1}: no value for the primary key(s) {missing.args[0]} of "
                    f"{group.namespace}; nothing was created",
                    param="cfg",
                ) from None
    return _write_plan(conn, actor, plan, owners, who)


def _write_plan(
    conn: Connection, actor: Actor, plan: MapPlan, owners: dict[int, int], who: dict[str, int]
) -> tuple[list[int], list[int]]:
    created: list[int] = []
    linked: list[int] = []
    details = {k: who[k] for k in ("owner_id", "group_id", "event_id")}
    for planned in plan.annotations():
        if planned.existing_id is None:
            spec = AnnotationSpec(kind="Map", ns=planned.namespace, value=planned.pairs)
            annotation_id = writes.insert_annotation(conn, spec, **details)
            created.append(annotation_id)
            already: set[tuple[str, int]] = set()
        else:
            annotation_id = planned.existing_id
            if planned.changed:
                if not _may(conn, actor, Action.EDIT, owners[annotation_id], who["group_id"]):
                    raise SecurityViolation(
                        f"Cannot add pairs to MapAnnotation:{annotation_id} of "
                        f"{planned.namespace}: not permitted"
                    )
                annotation_store.replace_map_values(
                    conn, annotation_id, planned.pairs, event_id=who["event_id"]
                )
            already = store.linked_parents(conn, annotation_id)
            linked.append(annotation_id)
        for parent_type, parent_id in planned.parents:
            if (parent_type, parent_id) not in already:
                writes.link_annotation(conn, parent_type, parent_id, annotation_id, **who)
    return created, linked


def _check_annotatable(conn: Connection, actor: Actor, wells: set[int], images: set[int]) -> None:
    """Map annotations go on wells and images the caller may annotate, checked once per
    (owner, group) pair rather than per object."""
    for owner_id, group_id in store.owner_group_pairs(conn, list(wells), list(images)):
        if not _may(conn, actor, Action.ANNOTATE, owner_id, group_id):
            raise SecurityViolation("Cannot annotate the wells and images this table names")
