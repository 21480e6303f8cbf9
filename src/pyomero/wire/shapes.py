"""ROIs and shapes as the webgateway's ``get_rois_json`` and ``get_shape_json`` send them.

This is OMERO.web's own small JSON form (``webgateway/marshal.py`` ``shapeMarshal``), not the
omero-marshal form of the JSON API: colours are CSS ``#rrggbb`` with a separate 0..1 alpha,
polygons and polylines are SVG path strings, the transform is an SVG ``matrix(...)`` and
``theC`` is never sent. Viewers written against OMERO.web read exactly these keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pyomero.model.entities import Roi, Shape

__all__ = ["css_color", "rois_json", "shape_json", "svg_points"]

#: OMERO.insight's old point lists, ``points[x,y, x,y] points1[...]``: the first list counts.
_INSIGHT_POINTS = re.compile(r"points\[([^\]]+)\]")
#: Point pairs of the OME model's ``"x,y x,y"``. OMERO's pattern has no sign, so a negative
#: coordinate loses its minus; clients see the same path from pyomero.
_POINT = re.compile(r"([\d.]+),([\d.]+)")

#: OME shape class -> the ``type`` OMERO.web writes (note ``PolyLine``).
_TYPE = {
    "Rectangle": "Rectangle",
    "Mask": "Mask",
    "Ellipse": "Ellipse",
    "Polyline": "PolyLine",
    "Line": "Line",
    "Point": "Point",
    "Polygon": "Polygon",
    "Label": "Label",
}
#: Only these classes have markers in the OME model, so only they ever report them.
_MARKED = frozenset({"Line", "Polyline"})


def css_color(rgba: int) -> tuple[str, float]:
    """OMERO's signed RGBA int as ``("#rrggbb", alpha 0..1)`` (``rgb_int2css``)."""
    alpha = rgba % 256 / 255
    b = rgba // 256 % 256
    g = rgba // 256 // 256 % 256
    r = rgba // 256 // 256 // 256 % 256
    return f"#{r:02x}{g:02x}{b:02x}", alpha


def svg_points(points: str) -> str:
    """``"x1,y1 x2,y2"`` as the SVG path ``"M x1 y1 L x2 y2"`` (``stringToSvg``); the
    coordinates keep their text as stored. Unrecognised text gives ``""``."""
    text = points.strip()
    old = _INSIGHT_POINTS.search(text)
    if old is not None:
        text = old.group(1)
    pairs = _POINT.findall(text)
    if not pairs:
        return ""
    return "M " + " L ".join(f"{x} {y}" for x, y in pairs)


def _geometry(shape: Shape) -> dict[str, Any]:
    kind = shape.kind
    if kind in ("Rectangle", "Mask"):
        return {"x": shape.x, "y": shape.y, "width": shape.width, "height": shape.height}
    if kind == "Ellipse":
        return {"x": shape.x, "y": shape.y, "radiusX": shape.radius_x, "radiusY": shape.radius_y}
    if kind == "Polyline":
        return {"points": svg_points(shape.points or "")}
    if kind == "Line":
        return {"x1": shape.x1, "x2": shape.x2, "y1": shape.y1, "y2": shape.y2}
    if kind in ("Point", "Label"):
        return {"x": shape.x, "y": shape.y}
    if kind == "Polygon":
        return {"points": svg_points(shape.points or "") + " z"}  # z: the path is closed
    return {}


def shape_json(shape: Shape) -> dict[str, Any]:
    """One shape as ``shapeMarshal`` writes it (keys absent where OMERO leaves them out)."""
    rv: dict[str, Any] = {"id": shape.id}
    if shape.the_t is not None:
        rv["theT"] = shape.the_t
    if shape.the_z is not None:
        rv["theZ"] = shape.the_z
    if shape.kind in _TYPE:
        rv["type"] = _TYPE[shape.kind]
    rv.update(_geometry(shape))
    if shape.text is not None:
        # OMERO sends font facts only with a text; units are dropped
        rv["textValue"] = shape.text
        if shape.font_size is not None:
            rv["fontSize"] = shape.font_size.value
        if shape.font_style is not None:
            rv["fontStyle"] = shape.font_style
        if shape.font_family is not None:
            rv["fontFamily"] = shape.font_family
    if shape.transform is not None:
        # the model's order (A00, A10, A01, A11, A02, A12) is SVG's matrix(a b c d e f)
        rv["transform"] = f"matrix({' '.join(str(float(v)) for v in shape.transform)})"
    if shape.fill_color is not None:
        rv["fillColor"], rv["fillAlpha"] = css_color(shape.fill_color)
    if shape.stroke_color is not None:
        rv["strokeColor"], rv["strokeAlpha"] = css_color(shape.stroke_color)
    if shape.stroke_width is not None:
        rv["strokeWidth"] = shape.stroke_width.value
    if shape.kind in _MARKED:
        if shape.marker_start is not None:
            rv["markerStart"] = shape.marker_start
        if shape.marker_end is not None:
            rv["markerEnd"] = shape.marker_end
    return rv


def _plane_key(shape: dict[str, Any]) -> str:
    """OMERO sorts a ROI's shapes by this text, not by numbers: a missing plane (-1) comes
    first, and Z >= 1000 sorts as text does. The sort is stable, so ties keep model order."""
    z, t = shape.get("theZ", -1), shape.get("theT", -1)
    return f"{z:03d}{t:03d}"


def rois_json(rois: Iterable[Roi]) -> list[dict[str, Any]]:
    """``get_rois_json``: ``[{"id", "shapes": [...]}]`` by ROI id, shapes by Z then T."""
    ordered = sorted(rois, key=lambda roi: roi.id)
    result: list[dict[str, Any]] = []
    for roi in ordered:
        shapes = sorted((shape_json(s) for s in roi.shapes or ()), key=_plane_key)
        result.append({"id": roi.id, "shapes": shapes})
    return result
