"""Drawing shapes for thumbnails and masks, as OMERO.web's ``get_shape_thumbnail`` and
``render_shape_mask`` do: the region framed around a shape, its outline, the mask bitmap.

Pure pixel work on rendered RGB arrays; services choose the shape and render the region.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from pyomero.errors import NotFound
from pyomero.model.entities import Shape
from pyomero.pixels import encode

#: OMERO's ``omero.pixeldata.max_plane_width`` and ``_height``: larger regions get a placeholder.
MAX_PLANE_SIDE = 3192
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


def line_colour(name: str | None) -> tuple[int, int, int]:
    return LINE_COLOURS.get(DEFAULT_COLOUR if name is None else name, LINE_COLOURS["f00"])


def points(text: str | None) -> list[tuple[float, float]]:
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


def bbox(s: Shape) -> tuple[float, float, float, float]:
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
        xs, ys = zip(*points(s.points), strict=True)
        return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    raise NotFound(f"Shape {s.id} of kind {kind} has no thumbnail")


@dataclass(frozen=True, slots=True)
class Frame:
    """The region around a shape: ``x, y`` its corner in the image (possibly outside),
    ``width x height`` its size, ``x_offset, y_offset`` the box's corner inside it."""

    x: int
    y: int
    width: int
    height: int
    x_offset: float
    y_offset: float


def frame(box: tuple[float, float, float, float], width: int) -> Frame | None:
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
    return Frame(int(x - x_offset), int(y - y_offset), new_w, new_h, x_offset, y_offset)


def framed(
    frame: Frame,
    image_size: tuple[int, int],
    render: Callable[[tuple[int, int, int, int]], np.ndarray],
) -> Image.Image:
    """The frame as a picture: ``render(region)`` where it overlaps the image, grey elsewhere."""
    size_x, size_y = image_size
    left, top = max(frame.x, 0), max(frame.y, 0)
    right = min(frame.x + frame.width, size_x)
    bottom = min(frame.y + frame.height, size_y)
    canvas = Image.new("RGB", (frame.width, frame.height), BACKGROUND)
    if right > left and bottom > top:
        rgb = render((left, top, right - left, bottom - top))
        canvas.paste(Image.fromarray(np.ascontiguousarray(rgb)), (left - frame.x, top - frame.y))
    return canvas


def outlined(
    region: Image.Image,
    s: Shape,
    frame: Frame,
    box: tuple[float, float, float, float],
    *,
    width: int,
    colour: tuple[int, int, int],
) -> bytes:
    """The region scaled to ``width`` with the shape drawn on it, as a JPEG."""
    factor = width / region.width
    size = (width, int(region.height * factor))
    picture = region.resize(size, Image.Resampling.BICUBIC)
    _draw(ImageDraw.Draw(picture), s, frame, box, factor, size, colour)
    return _jpeg(picture)


def _draw(
    draw: ImageDraw.ImageDraw,
    s: Shape,
    frame: Frame,
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
            for px, py in points(s.points)
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


def too_large(width: int) -> bytes:
    """OMERO's placeholder for a shape whose region exceeds the largest renderable plane."""
    picture = Image.new("RGB", (width, width * 2 // 3), BACKGROUND)
    ImageDraw.Draw(picture).text(
        (10, 30), "Shape too large to \ngenerate thumbnail", fill=(255, 0, 0)
    )
    return _jpeg(picture)


def mask_rgba(bits: bytes, width: int, height: int, fill: tuple[int, int, int, int]) -> np.ndarray:
    """(height, width, 4) uint8: ``fill`` where a bit is set, transparent black elsewhere.
    Bits past width x height are ignored; missing ones count as unset."""
    unpacked = np.unpackbits(np.frombuffer(bits, dtype=np.uint8))[: width * height]
    flags = np.zeros(width * height, dtype=bool)
    flags[: unpacked.size] = unpacked.astype(bool)
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    rgba[flags.reshape(height, width)] = fill
    return rgba


def mask_fill(fill_color: int | None) -> tuple[int, int, int, int]:
    if fill_color is None:
        return MASK_FILL
    r = fill_color // 256 // 256 // 256 % 256
    g = fill_color // 256 // 256 % 256
    b = fill_color // 256 % 256
    return (r, g, b, int(fill_color % 256 / 255 * 255))  # OMERO's round trip through 0..1


def mask_png(bits: bytes, width: int, height: int, fill_color: int | None) -> bytes:
    return encode.png(mask_rgba(bits, width, height, mask_fill(fill_color)))
