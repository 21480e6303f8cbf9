"""ROIs for the webgateway: the ROIs of an image, one shape, shape thumbnails and masks.

The thumbnails follow OMERO.web's ``get_shape_thumbnail`` (``webgateway/views.py``) number
for number, because viewers lay them out by its sizes: a region around the shape's bounding
box, widened to 3:2 and to 1.5 times the box, at least 250 x 166, rendered at full
resolution on the shape's plane (or the image's default plane), padded with grey where it
leaves the image, scaled to 250 pixels wide, and the shape drawn on it two pixels wide in
one of six colours. OMERO ignores the shape's transform and draws nothing for labels and
masks; so does pyomero.

A mask is OMERO's packed bit array (one bit per pixel, row-major, most significant bit
first) of the shape's width x height, answered as an RGBA PNG in the fill colour.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from pyomero.errors import NotFound
from pyomero.model.entities import Roi, Shape
from pyomero.model.rendering import RenderingDef
from pyomero.pixels import shapes as drawing
from pyomero.services.accounts import Context
from pyomero.services.rendering import ImageView, open_image, render_rgb
from pyomero.store import objects as store
from pyomero.store.objects import ListQuery

__all__ = [
    "THUMBNAIL_WIDTH",
    "image_rois",
    "roi_thumbnail",
    "shape",
    "shape_mask",
    "shape_thumbnail",
]

#: OMERO's ``MAX_WIDTH``: every shape thumbnail is this wide.
THUMBNAIL_WIDTH = 250

#: How the web layer turns the saved settings into the ones of this request (``?c=``, ``?m=``).
Settings = Callable[[ImageView], RenderingDef]


# -- loading ------------------------------------------------------------------------------


def image_rois(ctx: Context, image_id: int) -> list[Roi]:
    """The readable ROIs of a readable image, by id, each with its shapes."""
    with ctx.instance.db.read() as conn:
        if store.get_object(conn, ctx.actor, "image", image_id) is None:
            raise NotFound(f"Image {image_id} not found")
        query = ListQuery(limit=None, filters={"image": image_id})
        rois, _ = store.list_objects(conn, ctx.actor, "roi", query)
    return rois


def _roi(conn: Connection, ctx: Context, roi_id: int) -> Roi:
    roi: Roi | None = store.get_object(conn, ctx.actor, "roi", roi_id)
    if roi is None:
        raise NotFound(f"Roi {roi_id} not found")
    return roi


def shape(ctx: Context, shape_id: int, *, roi_id: int | None = None) -> tuple[Shape, Roi]:
    """A readable shape and its readable ROI; with ``roi_id`` the shape must belong to it
    (``get_shape_json`` names both)."""
    with ctx.instance.db.read() as conn:
        found = store.get_object(conn, ctx.actor, "shape", shape_id)
        if found is None or (roi_id is not None and found.roi_id != roi_id):
            raise NotFound(f"Shape {shape_id} not found")
        return found, _roi(conn, ctx, found.roi_id)


def _mask_bytes(ctx: Context, shape_id: int) -> bytes | None:
    """The packed bits of a shape the caller has already been allowed to read."""
    with ctx.instance.db.read() as conn:
        return store.shape_bytes(conn, shape_id)


# -- choosing and framing -------------------------------------------------------------------


def _pick(shapes: list[Shape], default_z: int, default_t: int) -> Shape:
    """OMERO's choice of the shape that stands for a ROI: the only one; else the only one on
    the default T (or on every T); else the first of those on the default Z too; else the
    first."""
    if len(shapes) == 1:
        return shapes[0]
    on_t = [s for s in shapes if s.the_t is None or s.the_t == default_t]
    if len(on_t) == 1:
        return on_t[0]
    on_z = [s for s in on_t if s.the_z is None or s.the_z == default_z]
    return on_z[0] if on_z else shapes[0]


def _thumbnail(
    view: ImageView,
    s: Shape,
    *,
    width: int,
    color: str | None,
    settings: Settings | None,
) -> bytes:
    if view.source is None:
        raise NotFound(f"Image {view.image_id} has no pixel data")
    box = drawing.bbox(s)
    frame = drawing.frame(box, width)
    if frame is None:
        return drawing.too_large(width)
    rdef = view.rdef if settings is None else settings(view)
    z = rdef.default_z if s.the_z is None else s.the_z
    t = rdef.default_t if s.the_t is None else s.the_t
    size = (view.levels[0].size_x, view.levels[0].size_y)
    region = drawing.framed(frame, size, lambda rect: render_rgb(view, rdef, z=z, t=t, region=rect))
    return drawing.outlined(region, s, frame, box, width=width, colour=drawing.line_colour(color))


# -- the use cases ----------------------------------------------------------------------------


def roi_thumbnail(
    ctx: Context,
    roi_id: int,
    *,
    size: int = THUMBNAIL_WIDTH,
    color: str | None = None,
    settings: Settings | None = None,
) -> bytes:
    """A JPEG of the shape that stands for the ROI (``render_roi_thumbnail``)."""
    with ctx.instance.db.read() as conn:
        roi = _roi(conn, ctx, roi_id)
    if not roi.shapes:
        raise NotFound(f"No Shapes found for ROI {roi_id}")
    if roi.image_id is None:
        raise NotFound(f"Roi {roi_id} is on no image")
    view = open_image(ctx, roi.image_id)
    chosen = _pick(roi.shapes, view.rdef.default_z, view.rdef.default_t)
    return _thumbnail(view, chosen, width=size, color=color, settings=settings)


def shape_thumbnail(
    ctx: Context,
    shape_id: int,
    *,
    size: int = THUMBNAIL_WIDTH,
    color: str | None = None,
    settings: Settings | None = None,
) -> bytes:
    """A JPEG of the region around one shape with its outline (``render_shape_thumbnail``)."""
    found, roi = shape(ctx, shape_id)
    if roi.image_id is None:
        raise NotFound(f"Shape {shape_id} is on no image")
    view = open_image(ctx, roi.image_id)
    return _thumbnail(view, found, width=size, color=color, settings=settings)


def shape_mask(ctx: Context, shape_id: int) -> bytes:
    """A PNG of a Mask shape's bits (``render_shape_mask``): needs no pixels, only the shape."""
    with ctx.instance.db.read() as conn:
        found = store.get_object(conn, ctx.actor, "shape", shape_id)
    if found is None:
        raise NotFound(f"Shape ID: {shape_id} not found")
    width, height = int(found.width or 0), int(found.height or 0)
    bits = _mask_bytes(ctx, shape_id) if found.kind == "Mask" else None
    if bits is None or width <= 0 or height <= 0:
        raise NotFound(f"Shape ID: {shape_id} has no mask")
    return drawing.mask_png(bits, width, height, found.fill_color)
