"""``/webgateway/`` (and the webclient's copies of its image routes): rendering and imgData.

Each handler parses its path and query (``wire.render_params``), calls the rendering
service, and answers; OMERO.web's URL forms, defaults and messages are kept
(spec webgateway-idr.md 3.1, 4.1-4.3, 5).
"""

from __future__ import annotations

import base64
from typing import Any

from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pyomero.errors import InvalidInput, NotFound
from pyomero.model.rendering import RenderingDef
from pyomero.services import rendering
from pyomero.services.rendering import ImageView
from pyomero.web.gateway_view import GatewayCall, gateway, image_response
from pyomero.wire import imgdata, plategrid
from pyomero.wire import render_params as rp
from pyomero.wire.params import parse_int

JPEG = "image/jpeg"
MAX_THUMBNAILS = 50


# -- helpers --------------------------------------------------------------------------------


def _plane(call: GatewayCall, view: ImageView) -> tuple[int, int]:
    z = call.path_int("z")
    t = call.path_int("t")
    return (view.rdef.default_z if z is None else z, view.rdef.default_t if t is None else t)


def _request(call: GatewayCall, view: ImageView) -> rp.RenderRequest:
    return rp.apply_rendering_query(view.rdef, call.query, size_z=view.record.size_z)


def _prepared(call: GatewayCall) -> tuple[ImageView, int, int, rp.RenderRequest]:
    """The image of the path, its plane (path z/t, else the settings' defaults) and the
    settings with this request's query applied."""
    view = rendering.open_image(call.ctx, call.path_id("iid"))
    z, t = _plane(call, view)
    return view, z, t, _request(call, view)


def _jpeg(
    call: GatewayCall,
    view: ImageView,
    rdef: RenderingDef,
    parts: tuple[Any, ...],
    produce: Any,
    media_type: str = JPEG,
) -> Response:
    etag = rendering.etag(view, rdef, *parts)
    return image_response(call.request, media_type, etag, produce)


# -- rendering --------------------------------------------------------------------------------


def render_image(call: GatewayCall) -> Response:
    view, z, t, req = _prepared(call)
    return _jpeg(
        call,
        view,
        req.rdef,
        ("image", z, t, req.projection, req.quality),
        lambda: rendering.render_image(
            view, req.rdef, z=z, t=t, projection=req.projection, quality=req.quality
        ),
    )


def render_image_rdef(call: GatewayCall) -> Response:
    rp.validate_rdef_query(call.query)
    if "region" in call.request.url.path:
        return render_image_region(call)
    return render_image(call)


def _region(call: GatewayCall, view: ImageView) -> tuple[int, tuple[int, int, int, int]]:
    """The engine level (0 = full size) and rectangle of ``tile`` or ``region``."""
    tile = call.query.get("tile")
    region = call.query.get("region")
    if tile:
        level, col, row, w, h = rp.parse_tile(tile)
        rp.check_level(level, len(view.levels))
        size = view.levels[level]
        rect = rp.tile_rectangle(
            level,
            col,
            row,
            w,
            h,
            default_tile=view.tile_size,
            max_tile_length=call.instance.settings.max_tile_length,
            level_size=(size.size_x, size.size_y),
        )
        return level, rect
    if region:
        x, y, w, h = rp.parse_region(region)
        full = view.levels[0]
        if x >= full.size_x or y >= full.size_y:
            raise InvalidInput(f"malformed region argument, region={region}", param="region")
        return 0, (x, y, min(w, full.size_x - x), min(h, full.size_y - y))
    raise InvalidInput("tile or region argument required", param="region")


def render_image_region(call: GatewayCall) -> Response:
    view, z, t, req = _prepared(call)
    level, rect = _region(call, view)
    return _jpeg(
        call,
        view,
        req.rdef,
        ("region", z, t, level, rect, req.quality),
        lambda: rendering.render_image(
            view, req.rdef, z=z, t=t, level=level, region=rect, quality=req.quality
        ),
    )


def render_split_channel(call: GatewayCall) -> Response:
    view, z, t, req = _prepared(call)
    return _jpeg(
        call,
        view,
        req.rdef,
        ("split", z, t, req.quality),
        lambda: rendering.render_split_channel(view, req.rdef, z=z, t=t, quality=req.quality),
    )


# -- thumbnails -------------------------------------------------------------------------------


def _optional_plane(call: GatewayCall) -> tuple[int | None, int | None]:
    z, t = call.query.get("z"), call.query.get("t")
    return (
        None if z is None else parse_int("z", z),
        None if t is None else parse_int("t", t),
    )


def _thumbnail(call: GatewayCall, iid: int, w: int | None, h: int | None) -> Any:
    """(etag, produce) of a thumbnail: the validator is known before anything is rendered."""
    view = rendering.open_image(call.ctx, iid)
    z, t = _optional_plane(call)
    longest = w if w is not None else call.instance.settings.thumb_default_size
    width = w if h is not None else None
    etag = rendering.etag(view, view.rdef, "thumbnail", longest, width, h, z, t)

    def produce() -> bytes:
        return rendering.thumbnail(
            call.instance, view, longest=longest, width=width, height=h, z=z, t=t
        )

    return etag, produce


def _thumbnail_bytes(call: GatewayCall, iid: int, w: int | None, h: int | None) -> bytes:
    return _thumbnail(call, iid, w, h)[1]()


def render_thumbnail(call: GatewayCall) -> Response:
    iid = call.path_id("iid")
    w, h = call.path_int("w"), call.path_int("h")
    try:
        etag, produce = _thumbnail(call, iid, w, h)
    except NotFound:
        return PlainTextResponse("Failed to render thumbnail", 404)
    return image_response(call.request, JPEG, etag, produce)


def webclient_thumbnail(call: GatewayCall) -> Response:
    """The webclient form answers a missing image with a placeholder (a real JPEG here,
    where OMERO sends PNG bytes labelled image/jpeg)."""
    iid = call.path_id("iid")
    w = call.path_int("w")
    try:
        body = _thumbnail_bytes(call, iid, w, None)
    except NotFound:
        size = w or call.instance.settings.thumb_default_size
        body = rendering.placeholder_thumbnail(size)
    return Response(body, media_type=JPEG, headers={"Cache-Control": "private, no-cache"})


def _data_uri(body: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(body).decode("ascii")


def get_thumbnail(call: GatewayCall) -> Any:
    iid = call.path_id("iid")
    body = _thumbnail_bytes(call, iid, call.path_int("w"), call.path_int("h"))
    return _data_uri(body)


def get_thumbnails(call: GatewayCall) -> Any:
    ids: list[int] = []
    for raw in call.query.getlist("id"):
        value = parse_int("id", raw)
        if value not in ids:
            ids.append(value)
    if len(ids) > MAX_THUMBNAILS:
        # OMERO answers HttpJavascriptResponseServerError: a 500 (spec 3.1, assertion 51)
        return Response(b"Max 50 thumbnails at a time.", 500, media_type="text/javascript")
    if not ids:
        return {}
    longest = call.path_int("w") or call.instance.settings.thumb_default_size
    found = rendering.thumbnails(call.ctx, ids, longest=longest)
    return {str(iid): None if body is None else _data_uri(body) for iid, body in found.items()}


# -- JSON -------------------------------------------------------------------------------------


def img_data(call: GatewayCall) -> Any:
    facts = rendering.image_facts(call.ctx, call.path_id("iid"))
    view = facts.view
    rdef = (
        rendering.default_settings(view) if call.query.get("getDefaults") == "true" else view.rdef
    )
    settings = call.instance.settings
    data = imgdata.image_data(
        image=facts.image,
        parents=facts.parents,
        record=view.record,
        rdef=rdef,
        levels=view.levels,
        tile_size=view.tile_size,
        interpolate=settings.interpolate_pixels,
        init_zoom=settings.initial_zoom_level,
    )
    key = call.request.path_params.get("key")
    return data if key is None else imgdata.lookup(data, key)


def plate_grid(call: GatewayCall) -> Any:
    plate_id = call.path_id("pid")
    field = call.path_int("field", 0) or 0
    acquisition = call.path_int("acquisition")
    layout = plategrid.parse_plate_layout(
        call.query.get("layout"), call.instance.settings.plate_layout
    )
    size = call.query.get("size")
    thumb_size = None if size is None else parse_int("size", size)
    facts = rendering.plate_facts(call.ctx, plate_id, field=field, acquisition_id=acquisition)
    cells = [
        plategrid.GridCell(
            row=c.row,
            column=c.column,
            well_id=c.well_id,
            image_id=c.image_id,
            name=c.name,
            description=c.description,
            author=f"{c.first_name} {c.last_name}".strip(),
            date_seconds=_seconds(c.acquisition_date or c.created),
            size_x=c.size_x,
            size_y=c.size_y,
        )
        for c in facts.cells
    ]
    plate = facts.plate
    return plategrid.plate_grid(
        cells,
        layout=layout,
        row_naming=plate.rownamingconvention,
        column_naming=plate.columnnamingconvention,
        plate_rows=plate.rows,
        plate_columns=plate.columns,
        field=field,
        thumb_size=thumb_size,
        wells=facts.wells,
    )


def _seconds(value: Any) -> int:
    from datetime import UTC

    if value is None:
        return 0
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def histogram_json(call: GatewayCall) -> Any:
    view = rendering.open_image(call.ctx, call.path_id("iid"))
    c = call.path_int("c") or 0
    q = call.query
    z = parse_int("theZ", q["theZ"]) if "theZ" in q else 0
    t = parse_int("theT", q["theT"]) if "theT" in q else 0
    bins = parse_int("bins", q["bins"]) if "bins" in q else 256
    if not (0 <= z < view.record.size_z and 0 <= t < view.record.size_t):
        raise NotFound("plane out of range")
    return {"data": rendering.histogram(view, c=c, z=z, t=t, bins=bins)}


def index(call: GatewayCall) -> Response:
    return Response(b"Welcome to webgateway", media_type="text/html; charset=utf-8")


# -- routes -----------------------------------------------------------------------------------

_IID = "{iid:int}"


def _image_routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}render_image/{_IID}/", gateway(render_image)),
        Route(f"{prefix}render_image/{_IID}/{{z:int}}/", gateway(render_image)),
        Route(f"{prefix}render_image/{_IID}/{{z:int}}/{{t:int}}/", gateway(render_image)),
        Route(
            f"{prefix}render_image_region/{_IID}/{{z:int}}/{{t:int}}/",
            gateway(render_image_region),
        ),
        Route(
            f"{prefix}render_split_channel/{_IID}/{{z:int}}/{{t:int}}/",
            gateway(render_split_channel),
        ),
        Route(f"{prefix}render_birds_eye_view/{_IID}/", gateway(render_thumbnail)),
        Route(f"{prefix}render_birds_eye_view/{_IID}/{{w:int}}/", gateway(render_thumbnail)),
    ]


def routes() -> list[Route]:
    g = "/webgateway/"
    return [
        Route(g, gateway(index)),
        *_image_routes(g),
        *_image_routes("/webclient/"),
        Route(f"{g}render_image_rdef/{_IID}/", gateway(render_image_rdef)),
        Route(f"{g}render_image_rdef/{_IID}/{{z:int}}/", gateway(render_image_rdef)),
        Route(f"{g}render_image_rdef/{_IID}/{{z:int}}/{{t:int}}/", gateway(render_image_rdef)),
        Route(
            f"{g}render_image_region_rdef/{_IID}/{{z:int}}/{{t:int}}/",
            gateway(render_image_rdef),
        ),
        Route(f"{g}render_thumbnail/{_IID}/", gateway(render_thumbnail)),
        Route(f"{g}render_thumbnail/{_IID}/{{w:int}}/", gateway(render_thumbnail)),
        Route(f"{g}render_thumbnail/{_IID}/{{w:int}}/{{h:int}}/", gateway(render_thumbnail)),
        Route(f"/webclient/render_thumbnail/{_IID}/", gateway(webclient_thumbnail)),
        Route(f"/webclient/render_thumbnail/size/{{w:int}}/{_IID}/", gateway(webclient_thumbnail)),
        Route(f"{g}get_thumbnail/{_IID}/", gateway(get_thumbnail, kind="json")),
        Route(f"{g}get_thumbnail/{_IID}/{{w:int}}/", gateway(get_thumbnail, kind="json")),
        Route(f"{g}get_thumbnail/{_IID}/{{w:int}}/{{h:int}}/", gateway(get_thumbnail, kind="json")),
        Route(f"/webclient/get_thumbnail/{_IID}/", gateway(get_thumbnail, kind="json")),
        Route(f"{g}get_thumbnails/", gateway(get_thumbnails, kind="json")),
        Route(f"{g}get_thumbnails/{{w:int}}/", gateway(get_thumbnails, kind="json")),
        Route("/webclient/get_thumbnails/", gateway(get_thumbnails, kind="json")),
        Route(f"{g}imgData/{_IID}/", gateway(img_data, kind="json")),
        Route(f"{g}imgData/{_IID}/{{key}}/", gateway(img_data, kind="json")),
        Route(f"/webclient/imgData/{_IID}/", gateway(img_data, kind="json")),
        Route(f"{g}plate/{{pid:int}}/", gateway(plate_grid, kind="json")),
        Route(f"{g}plate/{{pid:int}}/{{field:int}}/", gateway(plate_grid, kind="json")),
        Route(
            f"{g}plate/{{pid:int}}/{{field:int}}/{{acquisition:int}}/",
            gateway(plate_grid, kind="json"),
        ),
        Route(f"{g}histogram_json/{_IID}/channel/{{c:int}}/", gateway(histogram_json, kind="json")),
    ]
