"""Writing containers and their annotation links, and deleting objects, in SQL.

Permission checks happen in services before these run; every function here runs inside the
caller's write transaction, so a failure anywhere leaves the database as it was.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Connection, Row, Table, delete, exists, insert, select, update

from pyomero.errors import ValidationError
from pyomero.model.commands import AnnotationSpec
from pyomero.store.annotations import is_linked
from pyomero.store.db import inserted_id
from pyomero.store.schema import (
    ANNOTATABLE,
    annotation,
    annotation_links,
    annotation_mapvalue,
    annotationannotationlink,
    dataset,
    datasetimagelink,
    image,
    plateacquisition,
    shape,
    wellsample,
)

#: Model field name -> column name, per savable type.
COLUMNS: dict[str, dict[str, str]] = {
    "Project": {"name": "name", "description": "description"},
    "Dataset": {"name": "name", "description": "description"},
    "Screen": {
        "name": "name",
        "description": "description",
        "protocol_description": "protocoldescription",
        "protocol_identifier": "protocolidentifier",
        "reagent_set_description": "reagentsetdescription",
        "reagent_set_identifier": "reagentsetidentifier",
        "type": "type",
    },
}

#: Annotation kinds that a client delete keeps as orphans (OMERO's default excludes).
KEPT_WHEN_ORPHANED = ("Tag", "Term", "File")


def row_of(conn: Connection, table_name: str, object_id: int) -> Row | None:
    table = ANNOTATABLE.get(table_name)
    if table is None:
        raise KeyError(table_name)
    return conn.execute(select(table).where(table.c.id == object_id)).first()


def insert_container(
    conn: Connection,
    kind: str,
    values: dict[str, str | None],
    *,
    owner_id: int,
    group_id: int,
    event_id: int,
) -> int:
    table = ANNOTATABLE[kind.lower()]
    cols = {COLUMNS[kind][k]: v for k, v in values.items()}
    return inserted_id(
        conn.execute(
            insert(table).values(
                **cols,
                owner_id=owner_id,
                group_id=group_id,
                creation_event_id=event_id,
                update_event_id=event_id,
            )
        )
    )


def find_dataset(conn: Connection, *, name: str, owner_id: int, group_id: int) -> int | None:
    """The oldest dataset of this name that ``owner_id`` owns in ``group_id`` (import ``-T``)."""
    return conn.scalar(
        select(dataset.c.id)
        .where(
            dataset.c.name == name, dataset.c.owner_id == owner_id, dataset.c.group_id == group_id
        )
        .order_by(dataset.c.id)
        .limit(1)
    )


def update_container(
    conn: Connection, kind: str, object_id: int, values: dict[str, str | None], *, event_id: int
) -> None:
    table = ANNOTATABLE[kind.lower()]
    cols = {COLUMNS[kind][k]: v for k, v in values.items()}
    conn.execute(
        update(table).where(table.c.id == object_id).values(**cols, update_event_id=event_id)
    )


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


def _annotation_columns(spec: AnnotationSpec) -> dict[str, object]:
    """``ns``, ``description`` and the value column of ``spec.kind`` (none for a Map)."""
    values: dict[str, object] = {"ns": spec.ns, "description": spec.description}
    value = spec.value
    if spec.kind in ("Tag", "Comment", "Xml"):
        values["textvalue"] = value
    elif spec.kind == "Term":
        values["termvalue"] = value
    elif spec.kind == "Long":
        values["longvalue"] = value
    elif spec.kind == "Double":
        values["doublevalue"] = value
    elif spec.kind == "Boolean":
        values["boolvalue"] = value
    elif spec.kind == "Timestamp":
        values["timevalue"] = None if value is None else _time(int(value))  # type: ignore[call-overload]
    elif spec.kind != "Map":
        raise ValidationError(f"cannot write a {spec.kind}Annotation here")
    return values


def _insert_pairs(conn: Connection, annotation_id: int, value: object) -> None:
    pairs = cast(list[tuple[str, str]], value or [])
    if pairs:
        conn.execute(
            insert(annotation_mapvalue),
            [
                {"annotation_id": annotation_id, "index": i, "name": key, "value": text}
                for i, (key, text) in enumerate(pairs)
            ],
        )


def insert_annotation(
    conn: Connection, spec: AnnotationSpec, *, owner_id: int, group_id: int, event_id: int
) -> int:
    """Create a new annotation of any kind from a decoded spec."""
    aid = inserted_id(
        conn.execute(
            insert(annotation).values(
                discriminator=spec.kind,
                **_annotation_columns(spec),
                owner_id=owner_id,
                group_id=group_id,
                creation_event_id=event_id,
                update_event_id=event_id,
            )
        )
    )
    if spec.kind == "Map":
        _insert_pairs(conn, aid, spec.value)
    return aid


def update_annotation(conn: Connection, spec: AnnotationSpec, *, event_id: int) -> None:
    """Replace the namespace, description and value of annotation ``spec.id`` (a full
    replace: None clears a field; a Map's pairs are replaced in the given order)."""
    if spec.id is None:
        raise ValueError("update_annotation: the spec names no annotation")
    conn.execute(
        update(annotation)
        .where(annotation.c.id == spec.id, annotation.c.discriminator == spec.kind)
        .values(**_annotation_columns(spec), update_event_id=event_id)
    )
    if spec.kind == "Map":
        conn.execute(
            delete(annotation_mapvalue).where(annotation_mapvalue.c.annotation_id == spec.id)
        )
        _insert_pairs(conn, spec.id, spec.value)


def _link_table(parent_type: str) -> Table:
    """The links from ``parent_type`` objects to annotations; ``annotation`` names OMERO's
    AnnotationAnnotationLink, which holds a tag set's tags (parent the set, child the tag)."""
    if parent_type == "annotation":
        return annotationannotationlink
    return annotation_links[parent_type]


def link_annotation(
    conn: Connection,
    parent_type: str,
    parent_id: int,
    annotation_id: int,
    *,
    owner_id: int,
    group_id: int,
    event_id: int,
) -> int:
    """Link an annotation to an object (or, ``parent_type`` ``annotation``, a tag to its tag
    set); linking the same pair twice breaks OMERO's unique constraint."""
    link = _link_table(parent_type)
    if conn.scalar(
        select(link.c.id).where(link.c.parent == parent_id, link.c.child == annotation_id)
    ):
        raise ValidationError(
            f"Annotation:{annotation_id} is already linked to {parent_type}:{parent_id} "
            f"(unique constraint on {parent_type}annotationlink parent and child)"
        )
    return inserted_id(
        conn.execute(
            insert(link).values(
                parent=parent_id,
                child=annotation_id,
                owner_id=owner_id,
                group_id=group_id,
                creation_event_id=event_id,
                update_event_id=event_id,
            )
        )
    )


def annotation_row(conn: Connection, annotation_id: int) -> Row | None:
    return conn.execute(select(annotation).where(annotation.c.id == annotation_id)).first()


def _linked_annotations(conn: Connection, parent_type: str, parent_id: int) -> list[int]:
    """The annotations linked to one object (or, ``annotation``, the tags of a tag set)."""
    link = _link_table(parent_type)
    return list(conn.scalars(select(link.c.child).where(link.c.parent == parent_id)))


def delete_orphaned_annotations(conn: Connection, candidates: list[int]) -> None:
    """Delete annotations left without any link, except the kinds clients keep (tags, files).

    A link from a tag set counts (``store.annotations.is_linked``): an annotation that is
    still inside a set is not an orphan.
    """
    for aid in candidates:
        row = annotation_row(conn, aid)
        if row is None or row.discriminator in KEPT_WHEN_ORPHANED:
            continue
        if not is_linked(conn, aid):
            conn.execute(delete(annotation).where(annotation.c.id == aid))


def delete_object(conn: Connection, table_name: str, object_id: int) -> None:
    """Delete one object as BlitzGateway's ``deleteObject`` does (no child containers).

    Links go with it (ON DELETE CASCADE); annotations it leaves orphaned go too, except
    tags, terms and files. A run takes its WellSamples and the images only they used; a
    ROI takes its shapes.
    """
    table = ANNOTATABLE[table_name]
    candidates = _linked_annotations(conn, table_name, object_id)
    if table_name == "plateacquisition":
        images = list(
            conn.scalars(
                select(wellsample.c.image).where(wellsample.c.plateacquisition == object_id)
            )
        )
        conn.execute(delete(wellsample).where(wellsample.c.plateacquisition == object_id))
        for image_id in images:
            used = conn.scalar(
                select(
                    exists().where(wellsample.c.image == image_id)
                    | exists().where(datasetimagelink.c.child == image_id)
                )
            )
            if not used:
                candidates += _linked_annotations(conn, "image", image_id)
                conn.execute(delete(image).where(image.c.id == image_id))
        conn.execute(delete(plateacquisition).where(plateacquisition.c.id == object_id))
    else:
        if table_name == "roi":
            shape_ids = list(conn.scalars(select(shape.c.id).where(shape.c.roi == object_id)))
            for sid in shape_ids:
                candidates += _linked_annotations(conn, "shape", sid)
        conn.execute(delete(table).where(table.c.id == object_id))
    delete_orphaned_annotations(conn, candidates)
