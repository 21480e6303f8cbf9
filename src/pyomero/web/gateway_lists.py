"""``dataset/<id>/children/``, ``well/<id>/children/`` and ``open_with/`` of the webgateway.

Images are listed as omero-py's ``simpleMarshal`` writes them: type, id, name, description,
author, date (seconds) and the thumbnail URL; ``?tiled=true`` adds the size and whether the
image is tiled. A missing dataset or well is a 404 (OMERO answers a 500 with ``""``).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from starlette.routing import Route

from pyomero.services import browse
from pyomero.services.browse import ImageRow
from pyomero.web.gateway_view import GatewayCall, gateway
from pyomero.wire.params import parse_int

THUMB_PREFIX = "/webgateway/render_thumbnail/"
#: A side above this makes OMERO build (and report) a pyramid (``requiresPixelsPyramid``).
_PYRAMID_PLANE = 3192 * 3192


def simple_marshal(row: ImageRow, *, tiled: bool = False) -> dict[str, Any]:
    date = row.date if row.date.tzinfo else row.date.replace(tzinfo=UTC)
    data: dict[str, Any] = {
        "type": "Image",
        "id": row.id,
        "name": row.name,
        "description": row.description or "",
        "author": row.author,
        "date": date.timestamp(),
        "thumb_url": f"{THUMB_PREFIX}{row.id}/",
    }
    if tiled and row.size is not None:
        x, y, z, t, c = row.size
        data["size"] = {"width": x, "height": y, "z": z, "t": t, "c": c}
        data["tiled"] = x * y > _PYRAMID_PLANE
    return data


def dataset_children(call: GatewayCall) -> Any:
    tiled = call.query.get("tiled", "").lower() in ("true", "1")
    rows = browse.dataset_images(call.ctx, call.path_id("did"))
    return [simple_marshal(row, tiled=tiled) for row in rows]


def well_children(call: GatewayCall) -> Any:
    raw = call.query.get("run")
    run = None if raw in (None, "") else parse_int("run", raw)
    listed = []
    for row in browse.well_images(call.ctx, call.path_id("wid"), run=run):
        data = simple_marshal(row)
        if row.run_name:
            data["name"] = f"{row.name} [Run: {row.run_name}]"
        if row.position:
            data["position"] = row.position
        listed.append(data)
    return listed


def open_with(call: GatewayCall) -> Any:
    """The viewers a client may offer for an object (omero.web.open_with defaults)."""
    return {
        "open_with_options": [
            {"id": "Image viewer", "url": "/webgateway/", "supported_objects": ["image"]}
        ]
    }


def routes() -> list[Route]:
    g = "/webgateway/"
    return [
        Route(f"{g}dataset/{{did:int}}/children/", gateway(dataset_children, kind="json")),
        Route(f"{g}well/{{wid:int}}/children/", gateway(well_children, kind="json")),
        Route(f"{g}open_with/", gateway(open_with, kind="json")),
    ]
