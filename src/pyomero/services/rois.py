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
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from sqlalchemy import Connection

from pyomero.errors import NotFound
from pyomero.model.entities import Roi, Shape
from pyomero.model.rendering import RenderingDef
from pyomero.pixels import encode
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

#: OMERO's ``omero.pixeldata.max_plane_width`` and ``_height``: larger regions get a placeholder.
MAX_PLANE_SIDE = 3192
#: OMERO's ``MAX_WIDTH``: every shape thumbnail is this wide.
THUMBNAIL_WIDTH = 250
#: ``?color=`` values OMERO knows; anything else draws red. The default is white.
LINE_COLOURS = {
    "f00": (255, 0, 0),
    "0f0": (0, 255, 0),
    "00f": (0, 0, 255),
    "ff0": (255, 255, 0),
    "fff": (255, 255, 255),
    "000": (0, 0, 0),
}
DEFAULT_COLOUR = "fff"
#: Where the region leaves the image, and the "too large" placeholder.
BACKGROUND = (221, 221, 221)
#: OMERO re-encodes the drawn thumbnail at quality 0.9 whatever ``q`` asked for.
JPEG_QUALITY = 0.9
#: A mask without a fill colour is opaque yellow.
MASK_FILL = (255, 255, 0, 255)

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


def _points(text: str | None) -> list[tuple[float, float]]:
    """``"x,y x,y"`` (also with OMERO.insight's ``points[x,y, x,y]``) as pairs."""
    text = (text or "").strip()
    if "points" in text:
        text = text.split("points")[1].strip(" []").replace(", ", " ")
    pairs = []
    try:
        for item in text.split():
            x, _, y = item.strip(",").partition(",")
            pairs.append((float(x), float(y)))
    except ValueError:
        raise NotFound(f"unreadable points {text!r}") from None
    if not pairs:
        raise NotFound("the shape has no points")
    return pairs


def _bbox(s: Shape) -> tuple[float, float, float, float]:
    """The box OMERO frames: exact for rectangles and masks, whole pixels for ellipses and
    lines, 100 x 100 around points and labels."""
    kind = s.kind
    if kind in ("Rectangle", "Mask"):
        return (s.x or 0.0, s.y or 0.0, s.width or 0.0, s.height or 0.0)
    if kind == "Ellipse":
        x, y, rx, ry = int(s.x or 0), int(s.y or 0), int(s.radius_x or 0), int(s.radius_y or 0)
        return (x - rx, y - ry, 2 * rx, 2 * ry)
    if kind == "Line":
        x1, y1, x2, y2 = int(s.x1 or 0), int(s.y1 or 0), int(s.x2 or 0), int(s.y2 or 0)
        return (min(x1, x2), min(y1, y2), abs(x2 - x1), abs(y2 - y1))
    if kind in ("Point", "Label"):
        return ((s.x or 0.0) - 50, (s.y or 0.0) - 50, 100, 100)
    if kind in ("Polygon", "Polyline"):
        xs, ys = zip(*_points(s.points), strict=True)
        return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    raise NotFound(f"Shape {s.id} of kind {kind} has no thumbnail")


@dataclass(frozen=True, slots=True)
class _Frame:
    """The region around a shape: ``x, y`` its corner in the image (possibly outside),
    ``width x height`` its size, ``x_offset, y_offset`` the box's corner inside it."""

    x: int
    y: int
    width: int
    height: int
    x_offset: float
    y_offset: float


def _frame(box: tuple[float, float, float, float], width: int) -> _Frame | None:
    """OMERO's region around ``box`` (floor divisions as in its Python 3 code); None when it
    exceeds the largest plane the server renders."""
    x, y, w, h = box
    required_w = max(w, h * 3 // 2)
    required_h = required_w * 2 // 3
    new_w, new_h = int(required_w * 1.5), int(required_h * 1.5)
    if new_w < width:
        new_w, new_h = width, width * 2 // 3
    if new_w > MAX_PLANE_SIDE or new_h > MAX_PLANE_SIDE:
        return None
    x_offset = (new_w - w) // 2
    y_offset = (new_h - h) // 2
    return _Frame(int(x - x_offset), int(y - y_offset), new_w, new_h, x_offset, y_offset)


# -- drawing ----------------------------------------------------------------------------------


def _region(view: ImageView, rdef: RenderingDef, frame: _Frame, z: int, t: int) -> Image.Image:
    """The frame rendered at full resolution, grey where it lies outside the image."""
    size_x, size_y = view.levels[0].size_x, view.levels[0].size_y
    left, top = max(frame.x, 0), max(frame.y, 0)
    right = min(frame.x + frame.width, size_x)
    bottom = min(frame.y + frame.height, size_y)
    canvas = Image.new("RGB", (frame.width, frame.height), BACKGROUND)
    if right > left and bottom > top:
        rgb = render_rgb(view, rdef, z=z, t=t, region=(left, top, right - left, bottom - top))
        canvas.paste(Image.fromarray(np.ascontiguousarray(rgb)), (left - frame.x, top - frame.y))
    return canvas


def _draw(
    draw: ImageDraw.ImageDraw,
    s: Shape,
    frame: _Frame,
    box: tuple[float, float, float, float],
    factor: float,
    size: tuple[int, int],
    colour: tuple[int, int, int],
) -> None:
    """The outline, two pixels wide, where OMERO draws it (nothing for labels and masks)."""
    _, _, w, h = box
    if s.kind in ("Rectangle", "Ellipse"):
        corners = (
            int(frame.x_offset * factor),
            int(frame.y_offset * factor),
            int((w + frame.x_offset) * factor),
            int((h + frame.y_offset) * factor),
        )
        shape_of = draw.rectangle if s.kind == "Rectangle" else draw.ellipse
        _double(shape_of, corners, colour)
    elif s.kind == "Line":
        ends = [
            ((int(s.x1 or 0) - frame.x) * factor, (int(s.y1 or 0) - frame.y) * factor),
            ((int(s.x2 or 0) - frame.x) * factor, (int(s.y2 or 0) - frame.y) * factor),
        ]
        draw.line(ends, fill=colour, width=2)
    elif s.kind == "Point":
        cx, cy = size[0] // 2, size[1] // 2  # the point is always in the middle
        _double(draw.ellipse, (cx - 2, cy - 2, cx + 2, cy + 2), colour)
    elif s.kind in ("Polygon", "Polyline"):
        xy = [
            (int((px - frame.x) * factor), int((py - frame.y) * factor))
            for px, py in _points(s.points)
        ]
        for start, end in zip(xy, xy[1:], strict=False):
            draw.line([start, end], fill=colour, width=2)
        if s.kind == "Polygon":
            last = xy[-1] if len(xy) > 1 else (xy[0][0] + 1, xy[0][1] + 1)  # a visible dot
            draw.line([last, xy[0]], fill=colour, width=2)


def _double(
    figure: Callable[..., None], corners: tuple[int, int, int, int], colour: tuple[int, int, int]
) -> None:
    """OMERO's two-pixel outline: the figure and the same one pixel larger."""
    x0, y0, x1, y1 = corners
    figure((x0, y0, max(x0, x1), max(y0, y1)), outline=colour)
    figure((x0 - 1, y0 - 1, max(x0, x1) + 1, max(y0, y1) + 1), outline=colour)


def _jpeg(picture: Image.Image) -> bytes:
    return encode.jpeg(np.asarray(picture.convert("RGB")), JPEG_QUALITY)


def _too_large(width: int) -> bytes:
    """OMERO's placeholder for a shape whose region exceeds the largest renderable plane."""
    picture = Image.new("RGB", (width, width * 2 // 3), BACKGROUND)
    ImageDraw.Draw(picture).text(
        (10, 30), "Shape too large to \ngenerate thumbnail", fill=(255, 0, 0)
    )
    return _jpeg(picture)


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
    colour = LINE_COLOURS.get(DEFAULT_COLOUR if color is None else color, LINE_COLOURS["f00"])
    box = _bbox(s)
    frame = _frame(box, width)
    if frame is None:
        return _too_large(width)
    rdef = view.rdef if settings is None else settings(view)
    z = rdef.default_z if s.the_z is None else s.the_z
    t = rdef.default_t if s.the_t is None else s.the_t
    region = _region(view, rdef, frame, z, t)
    factor = width / region.width
    size = (width, int(region.height * factor))
    picture = region.resize(size, Image.Resampling.BICUBIC)
    _draw(ImageDraw.Draw(picture), s, frame, box, factor, size, colour)
    return _jpeg(picture)


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


def mask_rgba(bits: bytes, width: int, height: int, fill: tuple[int, int, int, int]) -> np.ndarray:
    """(height, width, 4) uint8: ``fill`` where a bit is set, transparent black elsewhere.
    Bits past width x height are ignored; missing ones count as unset."""
    unpacked = np.unpackbits(np.frombuffer(bits, dtype=np.uint8))[: width * height]
    flags = np.zeros(width * height, dtype=bool)
    flags[: unpacked.size] = unpacked.astype(bool)
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    rgba[flags.reshape(height, width)] = fill
    return rgba


def _mask_fill(fill_color: int | None) -> tuple[int, int, int, int]:
    if fill_color is None:
        return MASK_FILL
    r = fill_color // 256 // 256 // 256 % 256
    g = fill_color // 256 // 256 % 256
    b = fill_color // 256 % 256
    return (r, g, b, int(fill_color % 256 / 255 * 255))  # OMERO's round trip through 0..1


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
    return encode.png(mask_rgba(bits, width, height, _mask_fill(found.fill_color)))
