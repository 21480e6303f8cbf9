"""The webgateway's small browsing lists: a dataset's or a well's images."""

from __future__ import annotations

from pyomero.errors import NotFound
from pyomero.services.accounts import Context
from pyomero.store import listing
from pyomero.store.listing import ImageRow

__all__ = ["ImageRow", "dataset_images", "well_images"]


def dataset_images(ctx: Context, dataset_id: int) -> list[ImageRow]:
    with ctx.instance.db.read() as conn:
        rows = listing.dataset_images(conn, ctx.actor, dataset_id)
    if rows is None:
        raise NotFound(f"Dataset {dataset_id} not found")
    return rows


def well_images(ctx: Context, well_id: int, *, run: int | None = None) -> list[ImageRow]:
    with ctx.instance.db.read() as conn:
        rows = listing.well_images(conn, ctx.actor, well_id, run=run)
    if rows is None:
        raise NotFound(f"Well {well_id} not found")
    return rows
