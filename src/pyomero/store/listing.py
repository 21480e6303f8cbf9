"""The image lists of the webgateway's ``dataset/<id>/children/`` and ``well/<id>/children/``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from pyomero.model.permissions import Actor
from pyomero.store.schema import (
    dataset,
    datasetimagelink,
    event,
    experimenter,
    image,
    pixels,
    plateacquisition,
    well,
    wellsample,
)
from pyomero.store.visibility import readable


@dataclass(frozen=True, slots=True)
class ImageRow:
    id: int
    name: str
    description: str | None
    author: str
    date: datetime  # acquisition date, else creation time
    size: tuple[int, int, int, int, int] | None  # x, y, z, t, c
    position: dict[str, Any] | None = None
    run_name: str | None = None


_COLUMNS = (
    image.c.id,
    image.c.name,
    image.c.description,
    image.c.acquisition_date,
    experimenter.c.firstname,
    experimenter.c.lastname,
    event.c.time.label("created"),
    pixels.c.sizex,
    pixels.c.sizey,
    pixels.c.sizez,
    pixels.c.sizet,
    pixels.c.sizec,
)


def _joined(base: Any) -> Any:
    return (
        base.join(experimenter, experimenter.c.id == image.c.owner_id)
        .join(event, event.c.id == image.c.creation_event_id)
        .outerjoin(pixels, pixels.c.image == image.c.id)
    )


def _row(r: Any, **extra: Any) -> ImageRow:
    size = None if r.sizex is None else (r.sizex, r.sizey, r.sizez, r.sizet, r.sizec)
    return ImageRow(
        id=r.id,
        name=r.name,
        description=r.description,
        author=f"{r.firstname} {r.lastname}".strip(),
        date=r.acquisition_date or r.created,
        size=size,
        **extra,
    )


def image_rows(conn: Connection, image_ids: Sequence[int]) -> dict[int, ImageRow]:
    """Image rows by id (the caller has checked that they may be read)."""
    rows = conn.execute(
        select(*_COLUMNS).select_from(_joined(image)).where(image.c.id.in_(list(image_ids)))
    )
    return {r.id: _row(r) for r in rows}


def dataset_images(conn: Connection, actor: Actor, dataset_id: int) -> list[ImageRow] | None:
    """The readable images of a readable dataset, by name; None if the dataset is not."""
    found = conn.scalar(
        select(dataset.c.id).where(dataset.c.id == dataset_id, readable(actor, dataset))
    )
    if found is None:
        return None
    statement = (
        select(*_COLUMNS)
        .select_from(_joined(image.join(datasetimagelink, datasetimagelink.c.child == image.c.id)))
        .where(datasetimagelink.c.parent == dataset_id, readable(actor, image))
        .order_by(image.c.name, image.c.id)
    )
    return [_row(r) for r in conn.execute(statement)]


def well_images(
    conn: Connection, actor: Actor, well_id: int, *, run: int | None
) -> list[ImageRow] | None:
    """The readable images of a readable well's samples, in sample order; None if no well."""
    found = conn.scalar(select(well.c.id).where(well.c.id == well_id, readable(actor, well)))
    if found is None:
        return None
    statement = (
        select(
            *_COLUMNS,
            wellsample.c.posx,
            wellsample.c.posxunit,
            wellsample.c.posy,
            wellsample.c.posyunit,
            wellsample.c.plateacquisition,
            plateacquisition.c.name.label("run_name"),
        )
        .select_from(
            _joined(image.join(wellsample, wellsample.c.image == image.c.id)).outerjoin(
                plateacquisition, plateacquisition.c.id == wellsample.c.plateacquisition
            )
        )
        .where(wellsample.c.well == well_id, readable(actor, image))
        .order_by(wellsample.c.well_index)
    )
    rows = []
    for r in conn.execute(statement):
        if run is not None and r.plateacquisition is not None and r.plateacquisition != run:
            continue
        position = {
            axis: {"value": value, "unit": unit or "REFERENCEFRAME"}
            for axis, value, unit in (("x", r.posx, r.posxunit), ("y", r.posy, r.posyunit))
            if value is not None
        }
        rows.append(_row(r, position=position or None, run_name=r.run_name))
    return rows
