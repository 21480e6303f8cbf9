"""``/webgateway/``'s ROI routes: ROI and shape JSON, shape thumbnails and masks.

URL forms follow OMERO.web's ``webgateway/urls.py``: the two thumbnail routes end in ``/?``
(both forms answer), the others in ``/`` (a GET without it is redirected by the app).
OMERO.web's webclient has no copies of these routes. The thumbnails honour ``?color=`` and
the rendering parameters (``c``, ``m``, ``maps``) as OMERO's ``_get_prepared_image`` does.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from pyomero.model.rendering import RenderingDef
from pyomero.services import rois
from pyomero.services.rendering import ImageView
from pyomero.web.gateway_view import GatewayCall, gateway
from pyomero.web.responses import dumps
from pyomero.wire import render_params as rp
from pyomero.wire import shapes

_HEADERS = {"Cache-Control": "private, no-cache"}


def _settings(call: GatewayCall) -> rois.Settings:
    def settings(view: ImageView) -> RenderingDef:
        return rp.apply_rendering_query(view.rdef, call.query, size_z=view.record.size_z).rdef

    return settings


def get_rois_json(call: GatewayCall) -> Any:
    return shapes.rois_json(rois.image_rois(call.ctx, call.path_id("imageId")))


def get_shape_json(call: GatewayCall) -> Response:
    """OMERO's view returns a ``JsonResponse`` itself, so ``?callback=`` never wraps it."""
    found, _ = rois.shape(call.ctx, call.path_id("shapeId"), roi_id=call.path_id("roiId"))
    return Response(dumps(shapes.shape_json(found)), media_type="application/json")


def render_roi_thumbnail(call: GatewayCall) -> Response:
    body = rois.roi_thumbnail(
        call.ctx,
        call.path_id("roiId"),
        color=call.query.get("color"),
        settings=_settings(call),
    )
    return Response(body, media_type="image/jpeg", headers=_HEADERS)


def render_shape_thumbnail(call: GatewayCall) -> Response:
    body = rois.shape_thumbnail(
        call.ctx,
        call.path_id("shapeId"),
        color=call.query.get("color"),
        settings=_settings(call),
    )
    return Response(body, media_type="image/jpeg", headers=_HEADERS)


def render_shape_mask(call: GatewayCall) -> Response:
    body = rois.shape_mask(call.ctx, call.path_id("shapeId"))
    return Response(body, media_type="image/png", headers=_HEADERS)


def routes() -> list[Route]:
    g = "/webgateway/"
    roi_thumb = gateway(render_roi_thumbnail)
    shape_thumb = gateway(render_shape_thumbnail)
    return [
        Route(f"{g}get_rois_json/{{imageId:int}}/", gateway(get_rois_json, kind="json")),
        Route(
            f"{g}get_shape_json/{{roiId:int}}/{{shapeId:int}}/",
            gateway(get_shape_json, kind="json"),
        ),
        Route(f"{g}render_roi_thumbnail/{{roiId:int}}/", roi_thumb),
        Route(f"{g}render_roi_thumbnail/{{roiId:int}}", roi_thumb),
        Route(f"{g}render_shape_thumbnail/{{shapeId:int}}/", shape_thumb),
        Route(f"{g}render_shape_thumbnail/{{shapeId:int}}", shape_thumb),
        Route(f"{g}render_shape_mask/{{shapeId:int}}/", gateway(render_shape_mask)),
    ]
