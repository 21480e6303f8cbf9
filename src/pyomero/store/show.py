"""The SQL behind ``/webclient/?show=<kind>-<id>``: the one object a link names.

OMERO.web looks the object up across every group the caller reads; so do these queries,
with the visibility predicate on each table they read.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Table, select

from pyomero.store.schema import (
    annotation,
    dataset,
    fileset,
    image,
    plate,
    plateacquisition,
    project,
    roi,
    screen,
    shape,
    well,
)
from pyomero.store.tree import RunRow, Scope, WellRow, run_row, visible, well_columns, well_row


@dataclass(frozen=True, slots=True)
class ShownRow:
    """What ``/webclient/?show=<kind>-<id>`` found: the object's name (None when it has
    none), its owner and, for an image, ROI, shape or fileset, the image to show."""

    kind: str
    id: int
    name: str | None
    owner_id: int
    image_id: int | None = None
    run: RunRow | None = None
    well: WellRow | None = None


_NAMED: dict[str, Table] = {
    "project": project,
    "dataset": dataset,
    "image": image,
    "screen": screen,
    "plate": plate,
}


def shown(conn: Connection, scope: Scope, kind: str, object_id: int) -> ShownRow | None:
    """The readable object ``kind``/``object_id`` as the show page names it, or None."""
    if kind in _NAMED:
        table = _NAMED[kind]
        r = conn.execute(
            select(table.c.name, table.c.owner_id).where(
                table.c.id == object_id, visible(scope, table)
            )
        ).first()
        if r is None:
            return None
        image_id = object_id if kind == "image" else None
        return ShownRow(kind, object_id, r.name, r.owner_id, image_id=image_id)
    if kind == "acquisition":
        pa = plateacquisition
        r = conn.execute(select(pa).where(pa.c.id == object_id, visible(scope, pa))).first()
        return None if r is None else ShownRow(kind, object_id, r.name, r.owner_id, run=run_row(r))
    if kind == "well":
        r = conn.execute(
            select(*well_columns())
            .select_from(well.join(plate, plate.c.id == well.c.plate))
            .where(well.c.id == object_id, visible(scope, well), visible(scope, plate))
        ).first()
        return None if r is None else ShownRow(kind, object_id, None, r.owner_id, well=well_row(r))
    if kind in ("tag", "tagset"):
        r = conn.execute(
            select(annotation.c.textvalue, annotation.c.owner_id).where(
                annotation.c.id == object_id,
                annotation.c.discriminator == "Tag",
                visible(scope, annotation),
            )
        ).first()
        return None if r is None else ShownRow(kind, object_id, r.textvalue, r.owner_id)
    return _shown_image_of(conn, scope, kind, object_id)


def _shown_image_of(conn: Connection, scope: Scope, kind: str, object_id: int) -> ShownRow | None:
    """A ROI, shape or fileset, which the tree shows as its (first) image."""
    if kind == "roi":
        statement = select(roi.c.name, roi.c.owner_id, roi.c.image).where(
            roi.c.id == object_id, visible(scope, roi)
        )
    elif kind == "shape":
        statement = (
            select(shape.c.textvalue.label("name"), shape.c.owner_id, roi.c.image)
            .select_from(shape.join(roi, roi.c.id == shape.c.roi))
            .where(shape.c.id == object_id, visible(scope, shape), visible(scope, roi))
        )
    elif kind == "fileset":
        first = (
            select(image.c.id)
            .where(image.c.fileset == fileset.c.id, visible(scope, image))
            .order_by(image.c.id)
            .limit(1)
            .scalar_subquery()
        )
        statement = select(
            fileset.c.templateprefix.label("name"), fileset.c.owner_id, first.label("image")
        ).where(fileset.c.id == object_id, visible(scope, fileset))
    else:
        return None
    r = conn.execute(statement).first()
    if r is None or r.image is None:
        return None
    return ShownRow(kind, object_id, r.name, r.owner_id, image_id=r.image)
