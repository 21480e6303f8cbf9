"""The images inside containers that bulk actions (copy/reset settings) address."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from pyomero.model.permissions import Actor
from pyomero.store.schema import datasetimagelink, image, well, wellsample
from pyomero.store.visibility import readable


def images_in(conn: Connection, actor: Actor, kind: str, ids: Sequence[int]) -> list[int]:
    """Readable image ids in the given datasets, plates or plate acquisitions, by id."""
    if not ids:
        return []
    if kind == "dataset":
        statement = (
            select(image.c.id)
            .join(datasetimagelink, datasetimagelink.c.child == image.c.id)
            .where(datasetimagelink.c.parent.in_(list(ids)))
        )
    elif kind == "plate":
        statement = (
            select(image.c.id)
            .join(wellsample, wellsample.c.image == image.c.id)
            .join(well, well.c.id == wellsample.c.well)
            .where(well.c.plate.in_(list(ids)))
        )
    elif kind == "acquisition":
        statement = (
            select(image.c.id)
            .join(wellsample, wellsample.c.image == image.c.id)
            .where(wellsample.c.plateacquisition.in_(list(ids)))
        )
    else:
        raise ValueError(kind)
    statement = statement.where(readable(actor, image)).distinct().order_by(image.c.id)
    return list(conn.scalars(statement))


def images_in_wells(conn: Connection, actor: Actor, well_ids: Sequence[int]) -> list[int]:
    """Readable image ids of the samples of the given wells."""
    if not well_ids:
        return []
    statement = (
        select(image.c.id)
        .join(wellsample, wellsample.c.image == image.c.id)
        .where(wellsample.c.well.in_(list(well_ids)), readable(actor, image))
        .distinct()
        .order_by(image.c.id)
    )
    return list(conn.scalars(statement))
