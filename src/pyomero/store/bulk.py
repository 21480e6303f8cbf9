"""Bulk insertion of object graphs: the demo, test fixtures and the 1 M image benchmark.

Ordinary writes go through one INSERT per object; that is far too slow for a million images.
Here every function takes an iterable of plain specs and writes them in chunks of
:data:`CHUNK` rows, with no round trip per row:

- Ids are allocated before the rows are built, so that child rows (Pixels -> Image,
  Channel -> Pixels, links, WellSamples) can point at their parents without reading anything
  back. On SQLite they come from ``max(id)`` inside the write transaction, which is safe
  because SQLite has one writer (``BEGIN IMMEDIATE``) and no sequence to advance. On
  PostgreSQL they are drawn from the table's own BIGSERIAL sequence in one statement
  (``nextval`` over ``generate_series``, reported back as a range): safe next to concurrent
  writers, and the sequence is already past every id used, so no ``setval`` is needed and
  later ordinary inserts never collide.
- Rows go straight to the driver: ``executemany`` on SQLite, ``COPY`` on PostgreSQL. On
  PostgreSQL the foreign-key checks are most of the cost (about two thirds).

Every object row gets its details (owner, group, creation and update event). Each call
records one ``event`` row unless the caller passes ``event_id`` to share one event between
calls. Specs use the column names of ``store/schema.py``; a unit column left out gets
OMERO's usual unit when its value is given (``MICROMETER`` for physical sizes, ``NANOMETER``
for wavelengths). Call these functions inside ``Database.write()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, func, insert, select, text

from pyomero.errors import InvalidInput
from pyomero.model.entities import SHAPE_KINDS
from pyomero.model.plates import row_letters
from pyomero.store.schema import (
    annotation,
    annotation_links,
    annotation_mapvalue,
    channel,
    dataset,
    datasetimagelink,
    event,
    image,
    pixels,
    plate,
    plateacquisition,
    project,
    projectdatasetlink,
    roi,
    screen,
    screenplatelink,
    shape,
    well,
    wellsample,
)
from pyomero.store.specs import (
    ChannelSpec,
    ContainerSpec,
    ImageSpec,
    PixelsSpec,
    PlateIds,
    PlateSpec,
    RoiIds,
    RoiSpec,
    ScreenSpec,
    Who,
)

#: Rows per executemany / COPY batch: large enough to amortise, small enough for memory.
CHUNK = 10_000

PIXELS_TYPES = {
    "bit": 1,
    "int8": 8,
    "uint8": 8,
    "int16": 16,
    "uint16": 16,
    "int32": 32,
    "uint32": 32,
    "float": 32,
    "double": 64,
    "complex": 64,
    "double-complex": 128,
}
DIMENSION_ORDERS = {"XYZCT", "XYZTC", "XYCTZ", "XYCZT", "XYTCZ", "XYTZC"}

T = TypeVar("T")


_DETAILS = ("id", "owner_id", "group_id", "creation_event_id", "update_event_id")

#: (value column, unit column, unit used when the value is given without one)
_UNITS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "pixels": (
        ("physicalsizex", "physicalsizexunit", "MICROMETER"),
        ("physicalsizey", "physicalsizeyunit", "MICROMETER"),
        ("physicalsizez", "physicalsizezunit", "MICROMETER"),
        ("timeincrement", "timeincrementunit", "SECOND"),
    ),
    "channel": (
        ("emissionwave", "emissionwaveunit", "NANOMETER"),
        ("excitationwave", "excitationwaveunit", "NANOMETER"),
        ("pinholesize", "pinholesizeunit", "MICROMETER"),
    ),
    "plate": (
        ("wellorigin_x", "wellorigin_xunit", "REFERENCEFRAME"),
        ("wellorigin_y", "wellorigin_yunit", "REFERENCEFRAME"),
    ),
    "wellsample": (
        ("posx", "posxunit", "REFERENCEFRAME"),
        ("posy", "posyunit", "REFERENCEFRAME"),
    ),
    "shape": (
        ("strokewidth", "strokewidthunit", "PIXEL"),
        ("fontsize", "fontsizeunit", "POINT"),
    ),
}


def _fields(table: Table, *internal: str) -> frozenset[str]:
    """The columns a spec may set: all but the id, the details and ``internal`` ones."""
    return frozenset(c.name for c in table.c if c.name not in _DETAILS and c.name not in internal)


_CONTAINER_FIELDS = _fields(project)
_SCREEN_FIELDS = _fields(screen)
_PLATE_FIELDS = _fields(plate)
_IMAGE_FIELDS = _fields(image) | {"pixels", "channels"}
_PIXELS_FIELDS = _fields(pixels, "image")
_CHANNEL_FIELDS = _fields(channel, "pixels", "index")
_ROI_FIELDS = _fields(roi, "image") | {"shapes"}
_SHAPE_FIELDS = _fields(shape, "roi", "roi_index", "discriminator") | {"kind"}


def _template(table: Table, details: Mapping[str, int], **defaults: Any) -> dict[str, Any]:
    """A full row of ``table`` (every key, so executemany sees one shape) with details."""
    row: dict[str, Any] = dict.fromkeys((c.name for c in table.c), None)
    row.update(details)
    row.update(defaults)
    return row


def _row(
    template: dict[str, Any],
    spec: Mapping[str, Any],
    allowed: frozenset[str],
    what: str,
    drop: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``template`` updated with ``spec``, less the ``drop`` keys (``pixels``...) that are
    not columns of this table."""
    if not allowed.issuperset(spec):
        unknown = ", ".join(sorted(spec.keys() - allowed))
        raise InvalidInput(f"unknown {what} field(s): {unknown}", param=what)
    row = {**template, **spec}
    for key in drop:
        row.pop(key, None)
    for value_col, unit_col, unit in _UNITS.get(what, ()):
        if row[value_col] is not None and row[unit_col] is None:
            row[unit_col] = unit
    return row


def _named(spec: Mapping[str, Any], what: str) -> None:
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"every {what} needs a non-empty name", param="name")


def _chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


# -- ids, events, writes ------------------------------------------------------------------


_SEQUENCE = text("SELECT pg_get_serial_sequence(:table, 'id')")
_NEXTVALS = "SELECT nextval(CAST(:seq AS regclass)) AS v FROM generate_series(1, :n)"
# Take the ids and report their range: one small row instead of one row per id. The ids are
# consecutive unless another session drew from the same sequence meanwhile.
_RANGE = text(f"SELECT min(v), max(v) FROM ({_NEXTVALS}) AS ids")


def allocate_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """``count`` fresh ids of ``table`` (see the module docstring for why this is safe)."""
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        sequence = conn.scalar(_SEQUENCE, {"table": table.name})
        first, last = conn.execute(_RANGE, {"seq": sequence, "n": count}).one()
        if last - first + 1 == count:
            return list(range(first, last + 1))
        # interleaved with another writer: ours are in [first, last] but not all of them are
        # ours; draw a fresh set and take each id as it comes
        return list(conn.scalars(text(_NEXTVALS), {"seq": sequence, "n": count}))
    start = (conn.scalar(select(func.max(table.c.id))) or 0) + 1
    return list(range(start, start + count))


def _write(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert full rows through the driver itself: SQLAlchemy's per-row parameter handling
    costs more than the database's own work at this volume.

    Columns that are None in every row are left out (NULL, or the column's server default),
    which halves the width of typical Pixels and Channel rows.
    """
    if not rows:
        return
    columns, data = [], []
    for name in rows[0]:
        column = list(map(itemgetter(name), rows))
        if column.count(None) == len(column):
            continue
        processor = _processor(conn, table, name)
        if processor is not None:
            column = [None if v is None else processor(v) for v in column]
        columns.append(name)
        data.append(column)
    values = zip(*data, strict=True)
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    driver = conn.connection.driver_connection
    assert driver is not None
    if conn.dialect.name == "postgresql":
        statement = f"COPY {quote(table.name)} ({names}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for value in values:
                copy.write_row(value)
        return
    marks = ", ".join(["?"] * len(columns))
    cursor = driver.cursor()
    try:
        cursor.executemany(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", values)
    finally:
        cursor.close()


def _processor(conn: Connection, table: Table, name: str) -> Callable[[Any], Any] | None:
    """The dialect's bind processor of a column (DateTime as text on SQLite...), if any."""
    if conn.dialect.name == "postgresql":
        return None  # COPY adapts datetimes, booleans and bytes itself
    return table.c[name].type.bind_processor(conn.dialect)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_event(conn: Connection, *, owner_id: int, group_id: int, kind: str = "Internal") -> int:
    """Record one OMERO ``Event`` that bulk-created rows name as creation and update event."""
    key = conn.execute(
        insert(event).values(
            experimenter_id=owner_id, group_id=group_id, session_id=None, type=kind, time=utcnow()
        )
    ).inserted_primary_key
    assert key is not None
    return int(key[0])


def _details(
    conn: Connection, owner_id: int, group_id: int, event_id: int | None
) -> dict[str, int]:
    if event_id is None:
        event_id = new_event(conn, owner_id=owner_id, group_id=group_id)
    return {
        "owner_id": owner_id,
        "group_id": group_id,
        "creation_event_id": event_id,
        "update_event_id": event_id,
    }


def _insert_named(
    conn: Connection,
    table: Table,
    specs: Iterable[Mapping[str, Any]],
    *,
    details: Mapping[str, int],
    allowed: frozenset[str],
    what: str,
) -> list[int]:
    template = _template(table, details)
    ids: list[int] = []
    for chunk in _chunks(specs):
        new = allocate_ids(conn, table, len(chunk))
        rows = []
        for id_, spec in zip(new, chunk, strict=True):
            _named(spec, what)
            row = _row(template, spec, allowed, what)
            row["id"] = id_
            rows.append(row)
        _write(conn, table, rows)
        ids.extend(new)
    return ids


def _link(
    conn: Connection,
    table: Table,
    links: Iterable[tuple[int, int]],
    *,
    details: Mapping[str, int],
) -> list[int]:
    template = _template(table, details)
    ids: list[int] = []
    for chunk in _chunks(links):
        new = allocate_ids(conn, table, len(chunk))
        rows = [
            template | {"id": id_, "parent": parent, "child": child}
            for id_, (parent, child) in zip(new, chunk, strict=True)
        ]
        _write(conn, table, rows)
        ids.extend(new)
    return ids


# -- containers and links -----------------------------------------------------------------


def insert_projects(
    conn: Connection,
    *,
    owner_id: int,
    group_id: int,
    event_id: int | None = None,
    projects: Iterable[ContainerSpec],
) -> list[int]:
    details = _details(conn, owner_id, group_id, event_id)
    return _insert_named(
        conn, project, projects, details=details, allowed=_CONTAINER_FIELDS, what="project"
    )


def insert_datasets(
    conn: Connection,
    *,
    owner_id: int,
    group_id: int,
    event_id: int | None = None,
    datasets: Iterable[ContainerSpec],
) -> list[int]:
    details = _details(conn, owner_id, group_id, event_id)
    return _insert_named(
        conn, dataset, datasets, details=details, allowed=_CONTAINER_FIELDS, what="dataset"
    )


def insert_screens(
    conn: Connection,
    *,
    owner_id: int,
    group_id: int,
    event_id: int | None = None,
    screens: Iterable[ScreenSpec],
) -> list[int]:
    details = _details(conn, owner_id, group_id, event_id)
    return _insert_named(
        conn, screen, screens, details=details, allowed=_SCREEN_FIELDS, what="screen"
    )


def insert_plates(
    conn: Connection,
    *,
    owner_id: int,
    group_id: int,
    event_id: int | None = None,
    plates: Iterable[PlateSpec],
) -> list[int]:
    """Plate rows only; :func:`insert_plate` builds a whole plate with wells and images."""
    details = _details(conn, owner_id, group_id, event_id)
    return _insert_named(conn, plate, plates, details=details, allowed=_PLATE_FIELDS, what="plate")


def link_project_datasets(
    conn: Connection,
    *,
    owner_id: int,
    group_id: int,
    event_id: int | None = None,
    links: Iterable[tuple[int, int]],
) -> list[int]:
    """``links`` are (project id, dataset id) pairs; returns the link ids."""
    details = _details(conn, owner_id, group_id, event_id)
    return _link(conn, projectdatasetlink, links, details=details)


def link_dataset_images(
    conn: Connection,
    *,
    owner_id: int,
    group_id: int,
    event_id: int | None = None,
    links: Iterable[tuple[int, int]],
) -> list[int]:
    """``links`` are (dataset id, image id) pairs; returns the link ids."""
    details = _details(conn, owner_id, group_id, event_id)
    return _link(conn, datasetimagelink, links, details=details)


def link_screen_plates(
    conn: Connection,
    *,
    owner_id: int,
    group_id: int,
    event_id: int | None = None,
    links: Iterable[tuple[int, int]],
) -> list[int]:
    """``links`` are (screen id, plate id) pairs; returns the link ids."""
    details = _details(conn, owner_id, group_id, event_id)
    return _link(conn, screenplatelink, links, details=details)


# -- images -------------------------------------------------------------------------------


def _channel_specs(
    pixels_spec: Mapping[str, Any], channels: Sequence[ChannelSpec] | None
) -> Sequence[Mapping[str, Any]]:
    sizec = pixels_spec.get("sizec")
    if channels is None:
        return [{}] * (1 if sizec is None else sizec)
    if sizec is not None and sizec != len(channels):
        raise InvalidInput(
            f"sizec is {sizec} but {len(channels)} channels are given", param="sizec"
        )
    return channels


def _pixels_row(template: dict[str, Any], spec: Mapping[str, Any], size_c: int) -> dict[str, Any]:
    for key in ("sizex", "sizey"):
        if not isinstance(spec.get(key), int) or spec[key] < 1:
            raise InvalidInput(f"pixels need a positive integer {key}", param=key)
    row = _row(template, spec, _PIXELS_FIELDS, "pixels")
    row["sizec"] = size_c
    bits = PIXELS_TYPES.get(row["pixelstype"])
    if bits is None:
        raise InvalidInput(f"unknown pixels type {row['pixelstype']!r}", param="pixelstype")
    if row["dimensionorder"] not in DIMENSION_ORDERS:
        raise InvalidInput(
            f"unknown dimension order {row['dimensionorder']!r}", param="dimensionorder"
        )
    if row["significantbits"] is None:
        row["significantbits"] = bits
    return row


def insert_images(
    conn: Connection,
    *,
    owner_id: int,
    group_id: int,
    event_id: int | None = None,
    images: Iterable[ImageSpec],
) -> list[int]:
    """Images with their Pixels and Channels; returns the image ids in order.

    An image whose spec has no ``pixels`` gets neither Pixels nor Channels.
    """
    details = _details(conn, owner_id, group_id, event_id)
    image_template = _template(image, details, archived=False, partial=False, series=0)
    pixels_template = _template(
        pixels, details, sizez=1, sizet=1, pixelstype="uint8", dimensionorder="XYZCT"
    )
    channel_template = _template(channel, details)
    ids: list[int] = []
    for chunk in _chunks(images):
        image_ids = allocate_ids(conn, image, len(chunk))
        with_pixels = []
        for iid, spec in zip(image_ids, chunk, strict=True):
            pixels_spec = spec.get("pixels")
            if pixels_spec is not None:
                channel_specs = _channel_specs(pixels_spec, spec.get("channels"))
                with_pixels.append((iid, pixels_spec, channel_specs))
        pixels_ids = allocate_ids(conn, pixels, len(with_pixels))
        channel_ids = iter(allocate_ids(conn, channel, sum(len(c) for _, _, c in with_pixels)))
        image_rows = []
        for iid, spec in zip(image_ids, chunk, strict=True):
            _named(spec, "image")
            if spec.get("channels") is not None and spec.get("pixels") is None:
                raise InvalidInput("an image with channels needs pixels", param="pixels")
            row = _row(image_template, spec, _IMAGE_FIELDS, "image", ("pixels", "channels"))
            row["id"] = iid
            image_rows.append(row)
        pixels_rows = []
        channel_rows = []
        for pid, (iid, pixels_spec, channel_specs) in zip(pixels_ids, with_pixels, strict=True):
            row = _pixels_row(pixels_template, pixels_spec, len(channel_specs))
            row["id"], row["image"] = pid, iid
            pixels_rows.append(row)
            for index, channel_spec in enumerate(channel_specs):
                crow = _row(channel_template, channel_spec, _CHANNEL_FIELDS, "channel")
                crow["id"], crow["pixels"], crow["index"] = next(channel_ids), pid, index
                channel_rows.append(crow)
        _write(conn, image, image_rows)
        _write(conn, pixels, pixels_rows)
        _write(conn, channel, channel_rows)
        ids.extend(image_ids)
    return ids


# -- plates -------------------------------------------------------------------------------


def insert_plate(
    conn: Connection,
    *,
    owner_id: int,
    group_id: int,
    event_id: int | None = None,
    name: str,
    rows: int,
    columns: int,
    fields: int = 1,
    acquisitions: int = 1,
    pixels: PixelsSpec | None = None,
    channels: Sequence[ChannelSpec] | None = None,
    screen_id: int | None = None,
    description: str | None = None,
) -> PlateIds:
    """A whole plate: Plate, PlateAcquisitions, Wells, WellSamples and their Images.

    Each well holds ``fields`` samples per acquisition (OMERO's ``well_index`` runs over
    acquisitions, then fields). ``acquisitions=0`` leaves samples without a PlateAcquisition.
    Every image gets ``pixels`` (default 512x512 uint8, one channel) and ``channels``.
    """
    if rows < 1 or columns < 1 or fields < 1 or acquisitions < 0:
        raise InvalidInput("a plate needs rows, columns and fields >= 1, acquisitions >= 0")
    details = _details(conn, owner_id, group_id, event_id)
    who: Who = {
        "owner_id": owner_id,
        "group_id": group_id,
        "event_id": details["creation_event_id"],
    }
    spec: PlateSpec = {
        "name": name,
        "description": description,
        "rows": rows,
        "columns": columns,
        "rownamingconvention": "letter",
        "columnnamingconvention": "number",
        "defaultsample": 0,
    }
    (plate_id,) = insert_plates(conn, **who, plates=[spec])
    if screen_id is not None:
        link_screen_plates(conn, **who, links=[(screen_id, plate_id)])
    acquisition_ids = allocate_ids(conn, plateacquisition, acquisitions)
    template = _template(plateacquisition, details, plate=plate_id, maximumfieldcount=fields)
    _write(
        conn,
        plateacquisition,
        [template | {"id": aid, "name": f"Run {n + 1}"} for n, aid in enumerate(acquisition_ids)],
    )
    well_ids = allocate_ids(conn, well, rows * columns)
    template = _template(well, details, plate=plate_id)
    positions = [(r, c) for r in range(rows) for c in range(columns)]
    _write(
        conn,
        well,
        [
            template | {"id": wid, "row": r, "column": c}
            for wid, (r, c) in zip(well_ids, positions, strict=True)
        ],
    )
    runs: list[int | None] = list(acquisition_ids) or [None]
    samples = [
        (wid, r, c, k * fields + f, run, k, f)
        for wid, (r, c) in zip(well_ids, positions, strict=True)
        for k, run in enumerate(runs)
        for f in range(fields)
    ]
    image_pixels: PixelsSpec = pixels or {"sizex": 512, "sizey": 512}
    image_ids = insert_images(
        conn,
        **who,
        images=(
            {
                "name": f"{name} [Well {row_letters(r)}{c + 1}, Field {f + 1}]"
                + (f" (Run {k + 1})" if len(runs) > 1 else ""),
                "pixels": image_pixels,
                "channels": channels,
            }
            for _, r, c, _, _, k, f in samples
        ),
    )
    sample_ids = allocate_ids(conn, wellsample, len(samples))
    template = _template(wellsample, details)
    for chunk in _chunks(zip(sample_ids, samples, image_ids, strict=True)):
        _write(
            conn,
            wellsample,
            [
                template
                | {
                    "id": sid,
                    "well": wid,
                    "well_index": index,
                    "image": iid,
                    "plateacquisition": run,
                }
                for sid, (wid, _, _, index, run, _, _), iid in chunk
            ],
        )
    return PlateIds(plate_id, acquisition_ids, well_ids, sample_ids, image_ids)


# -- ROIs ---------------------------------------------------------------------------------


def _points(value: str | Sequence[tuple[float, float]] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return " ".join(f"{x:g},{y:g}" for x, y in value)


def insert_rois(
    conn: Connection,
    *,
    owner_id: int,
    group_id: int,
    event_id: int | None = None,
    image_id: int | None,
    rois: Iterable[RoiSpec],
) -> list[RoiIds]:
    """ROIs on ``image_id``, each with its shapes (``roi_index`` is the position in the list)."""
    details = _details(conn, owner_id, group_id, event_id)
    roi_template = _template(roi, details, image=image_id)
    shape_template = _template(shape, details)
    result: list[RoiIds] = []
    for chunk in _chunks(rois):
        roi_ids = allocate_ids(conn, roi, len(chunk))
        shape_ids = iter(allocate_ids(conn, shape, sum(len(r.get("shapes", ())) for r in chunk)))
        roi_rows, shape_rows = [], []
        for rid, spec in zip(roi_ids, chunk, strict=True):
            row = _row(roi_template, spec, _ROI_FIELDS, "roi", ("shapes",))
            row["id"] = rid
            roi_rows.append(row)
            ids = []
            for index, shape_spec in enumerate(spec.get("shapes", ())):
                kind = shape_spec.get("kind")
                if kind not in SHAPE_KINDS:
                    raise InvalidInput(f"unknown shape kind {kind!r}", param="kind")
                srow = _row(shape_template, shape_spec, _SHAPE_FIELDS, "shape", ("kind",))
                sid = next(shape_ids)
                srow.update(id=sid, roi=rid, roi_index=index, discriminator=kind)
                srow["points"] = _points(srow["points"])
                shape_rows.append(srow)
                ids.append(sid)
            result.append(RoiIds(rid, ids))
        _write(conn, roi, roi_rows)
        _write(conn, shape, shape_rows)
    return result


# -- key-value annotations -------------------------------------------------------------


def insert_map_annotations(
    conn: Connection,
    *,
    owner_id: int,
    group_id: int,
    event_id: int,
    resource: str,
    annotations: Iterable[tuple[int, Sequence[tuple[str, str]]]],
    ns: str | None = None,
    chunk: int = 10_000,
) -> int:
    """One Map annotation per ``(object id, pairs)``, linked to that object; returns how
    many were made. For test data and benchmarks: one statement per table and chunk."""
    link = annotation_links[resource]
    details = {
        "owner_id": owner_id,
        "group_id": group_id,
        "creation_event_id": event_id,
        "update_event_id": event_id,
    }
    made = 0
    batch = list(annotations)
    for start in range(0, len(batch), chunk):
        part = batch[start : start + chunk]
        ann_ids = allocate_ids(conn, annotation, len(part))
        link_ids = allocate_ids(conn, link, len(part))
        conn.execute(
            insert(annotation),
            [{"id": a, "discriminator": "Map", "ns": ns, **details} for a in ann_ids],
        )
        conn.execute(
            insert(annotation_mapvalue),
            [
                {"annotation_id": a, "index": i, "name": k, "value": v}
                for a, (_parent, pairs) in zip(ann_ids, part, strict=True)
                for i, (k, v) in enumerate(pairs)
            ],
        )
        conn.execute(
            insert(link),
            [
                {"id": lid, "parent": parent, "child": a, **details}
                for lid, a, (parent, _pairs) in zip(link_ids, ann_ids, part, strict=True)
            ],
        )
        made += len(part)
    return made


def load_map_annotations(
    conn: Connection,
    *,
    owner_id: int,
    group_id: int,
    event_id: int,
    resource: str,
    annotations: Iterable[tuple[int, Sequence[tuple[str, str]]]],
    ns: str | None = None,
) -> int:
    """:func:`insert_map_annotations` for millions of pairs (the search benchmark).

    Every table goes through the driver (COPY on PostgreSQL). On SQLite the pairs go in
    through one ``INSERT ... SELECT`` per chunk from a temporary table: the FTS5 index that
    triggers keep (migration 0003) flushes its pending terms at every statement's savepoint,
    so a pair per statement makes a segment per pair and the load slows to a crawl.
    """
    link = annotation_links[resource]
    details = {"owner_id": owner_id, "group_id": group_id,
               "creation_event_id": event_id, "update_event_id": event_id}  # fmt: skip
    template = _template(annotation, details, discriminator="Map", ns=ns)
    link_template = _template(link, details)
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        conn.exec_driver_sql(
            'CREATE TEMP TABLE IF NOT EXISTS bulk_mapvalue (annotation_id, "index", name, value)'
        )
    made = 0
    for part in _chunks(annotations):
        ann_ids = allocate_ids(conn, annotation, len(part))
        link_ids = allocate_ids(conn, link, len(part))
        _write(conn, annotation, [template | {"id": a} for a in ann_ids])
        pairs = [
            {"annotation_id": a, "index": i, "name": k, "value": v}
            for a, (_parent, items) in zip(ann_ids, part, strict=True)
            for i, (k, v) in enumerate(items)
        ]
        if sqlite:
            conn.exec_driver_sql("DELETE FROM bulk_mapvalue")
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.executemany(
                "INSERT INTO bulk_mapvalue VALUES (?, ?, ?, ?)",
                [(p["annotation_id"], p["index"], p["name"], p["value"]) for p in pairs],
            )
            conn.exec_driver_sql(
                'INSERT INTO annotation_mapvalue (annotation_id, "index", name, value) '
                'SELECT annotation_id, "index", name, value FROM bulk_mapvalue'
            )
        else:
            _write(conn, annotation_mapvalue, pairs)
        _write(
            conn,
            link,
            [
                link_template | {"id": lid, "parent": parent, "child": a}
                for lid, a, (parent, _items) in zip(link_ids, ann_ids, part, strict=True)
            ],
        )
        made += len(part)
    if sqlite:
        conn.exec_driver_sql("DROP TABLE bulk_mapvalue")
    return made
