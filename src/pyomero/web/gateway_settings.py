"""``/webgateway/`` routes for rendering settings and LUTs: saveImgRDef, getImgRDef,
copyImgRDef, resetRDef, applyOwnersRDef, get_image_rdefs_json, luts, luts_png.

OMERO.web keeps copied settings in the web session: either the id of the image they were
copied from (``fromid``) or an explicit ``c``/``m``/``maps`` set; pyomero keeps the same two
forms with the session.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from starlette.responses import Response
from starlette.routing import Route

from pyomero.errors import InvalidInput, NotFound, NotSupported
from pyomero.model.rendering import RenderingDef
from pyomero.services import rendering, rendering_settings
from pyomero.services.rendering import ImageView
from pyomero.web.gateway_view import GatewayCall, gateway
from pyomero.wire import imgdata
from pyomero.wire import render_params as rp
from pyomero.wire.params import parse_int

_COPIED_KEYS = ("c", "maps", "pixel_range", "m", "z", "t")


def _posted_lists(call: GatewayCall) -> dict[str, list[str]]:
    try:
        return parse_qs(call.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise InvalidInput("the form is not UTF-8", param="body") from None


def _ids(values: list[str], name: str) -> list[int]:
    """Ids given repeated (``toids=1&toids=2``) or comma-separated (``toids=1,2``)."""
    ids: list[int] = []
    for value in values:
        ids.extend(parse_int(name, part) for part in value.split(",") if part.strip())
    return ids


def _params(call: GatewayCall) -> dict[str, str]:
    """Query and form together (OMERO reads some of these from the query even on POST)."""
    return {**dict(call.query), **call.form}


# -- saving ---------------------------------------------------------------------------------


def save_img_rdef(call: GatewayCall) -> Any:
    params = _params(call)
    iid = call.path_id("iid")

    def make(view: ImageView) -> RenderingDef:
        return rp.parse_saved_rdef(
            params, view.rdef, size_z=view.record.size_z, size_t=view.record.size_t
        )

    rendering_settings.save(call.ctx, iid, make)
    return True


def _bulk(call: GatewayCall) -> tuple[str, list[int]]:
    lists = _posted_lists(call)
    ids = _ids(lists.get("toids", []), "toids")
    if not ids:
        raise NotFound("Need to specify objects in request, E.g. ?totype=dataset&toids=1&toids=2")
    to_type = (lists.get("to_type") or ["image"])[-1].lower()
    return to_type, ids


def reset_rdef(call: GatewayCall) -> Any:
    to_type, ids = _bulk(call)
    return rendering_settings.reset_defaults(call.ctx, to_type, ids)


def apply_owners_rdef(call: GatewayCall) -> Any:
    to_type, ids = _bulk(call)
    return rendering_settings.apply_owners(call.ctx, to_type, ids)


# -- copy and paste -------------------------------------------------------------------------


def _explicit(params: Mapping[str, str]) -> dict[str, Any] | None:
    if params.get("c") is None:
        return None
    return {key: params[key] for key in _COPIED_KEYS if params.get(key)}


def _paste_explicit(settings: Mapping[str, Any]) -> Any:
    """Apply a copied ``c``/``m``/``maps``/``z``/``t`` set to each target's settings."""
    query = {k: v for k, v in settings.items() if k in ("c", "m")}
    if "maps" in settings:
        maps = settings["maps"]
        query["maps"] = maps if isinstance(maps, str) else json.dumps(maps)

    def make(view: ImageView) -> RenderingDef | None:
        rdef = rp.apply_rendering_query(view.rdef, query, size_z=view.record.size_z).rdef
        z, t = settings.get("z"), settings.get("t")
        if z and str(z).isdigit() and 1 <= int(z) <= view.record.size_z:
            rdef = rdef.with_(default_z=int(z) - 1)
        if t and str(t).isdigit() and 1 <= int(t) <= view.record.size_t:
            rdef = rdef.with_(default_t=int(t) - 1)
        return rdef

    return make


def _paste_from(source: ImageView) -> Any:
    """Copy another image's settings onto images of the same channel count."""

    def make(view: ImageView) -> RenderingDef | None:
        if len(view.rdef.channels) != len(source.rdef.channels):
            return None
        return source.rdef.with_(
            id=None,
            owner_id=None,
            default_z=min(source.rdef.default_z, view.record.size_z - 1),
            default_t=min(source.rdef.default_t, view.record.size_t - 1),
        )

    return make


def copy_img_rdef(call: GatewayCall) -> Any:
    params = _params(call)
    lists = _posted_lists(call) if call.request.method == "POST" else {}
    toids = _ids(lists.get("toids", []), "toids")
    to_type = (lists.get("to_type") or ["image"])[-1].lower()
    raw_from = call.query.get("fromid") or call.form.get("fromid")
    fromid = None if raw_from is None else parse_int("fromid", raw_from)
    if fromid is not None and not toids:
        rendering.open_image(call.ctx, fromid)  # must be readable
        rendering_settings.remember_copy(call.ctx, {"fromid": fromid})
        return True
    explicit = _explicit(params)
    if explicit is not None and call.request.method == "GET":
        rendering_settings.remember_copy(call.ctx, {"rdef": explicit})
        return True
    session = rendering_settings.copied(call.ctx) or {}
    if fromid is None and explicit is None:
        fromid = session.get("fromid")
        explicit = session.get("rdef")
    if call.request.method == "GET" or (fromid is None and explicit is None):
        raise NotSupported("copyImgRDef: nothing to paste (copy an image's settings first)")
    if fromid is not None:
        source = rendering.open_image(call.ctx, fromid)
        done, failed = rendering_settings.copy_to(call.ctx, to_type, toids, _paste_from(source))
        return {"true": done, "false": failed}
    assert explicit is not None
    rendering_settings.copy_to(call.ctx, to_type, toids, _paste_explicit(explicit))
    return True


def get_img_rdef(call: GatewayCall) -> Any:
    session = rendering_settings.copied(call.ctx) or {}
    if "rdef" in session:
        return {"rdef": session["rdef"]}
    fromid = session.get("fromid")
    if fromid is None:
        return {"rdef": None}
    try:
        view = rendering.open_image(call.ctx, int(fromid))
    except NotFound:
        return {"rdef": None}
    low, high = imgdata.pixel_range(view.record.pixel_type)
    return {"rdef": rp.rdef_to_query(view.rdef, pixel_range=(low, high))}


def image_rdefs_json(call: GatewayCall) -> Any:
    try:
        listings = rendering_settings.image_rdefs(call.ctx, call.path_id("iid"))
    except NotFound as exc:
        return {"error": str(exc)}
    return {
        "rdefs": [
            {
                "id": item.rdef.id,
                "owner": {
                    "id": item.owner.id,
                    "firstName": item.owner.first_name,
                    "lastName": item.owner.last_name,
                },
                "z": item.rdef.default_z,
                "t": item.rdef.default_t,
                "model": item.rdef.model,
                "c": [_binding_json(b) for b in item.rdef.channels],
            }
            for item in listings
        ]
    }


def _binding_json(b: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "active": b.active,
        "start": b.start,
        "end": b.end,
        "color": b.color.hex,
        "inverted": b.inverted,
        "reverseIntensity": b.inverted,
        "family": b.family,
        "coefficient": b.coefficient,
        "rgb": {"red": b.color.red, "green": b.color.green, "blue": b.color.blue},
    }
    if b.lut:
        data["lut"] = b.lut
    return data


# -- LUTs -----------------------------------------------------------------------------------


def luts(call: GatewayCall) -> Any:
    with_rgb = call.query.get("rgb") == "true"
    listing = []
    for index, entry in enumerate(rendering_settings.luts()):
        item = {
            "id": index + 1,
            "path": entry["path"],
            "name": entry["name"],
            "size": 768,
            "png_index": entry["png_index"],
            "png_index_new": entry["png_index_new"],
        }
        if with_rgb:
            item["rgb"] = entry["rgb"]
        listing.append(item)
    return {
        "luts": listing,
        "png_luts": rendering_settings.legacy_lut_paths(),
        "png_luts_new": [f"{e['path']}{e['name']}" for e in rendering_settings.luts()]
        + ["gradient.png"],
    }


def luts_png(call: GatewayCall) -> Response:
    return Response(
        rendering_settings.luts_png(),
        media_type="image/png",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def routes() -> list[Route]:
    g = "/webgateway/"
    return [
        Route(
            f"{g}saveImgRDef/{{iid:int}}/", gateway(save_img_rdef, kind="json"), methods=["POST"]
        ),
        Route(f"{g}getImgRDef/", gateway(get_img_rdef, kind="json")),
        Route(f"{g}copyImgRDef/", gateway(copy_img_rdef, kind="json"), methods=["GET", "POST"]),
        Route(f"{g}resetRDef/", gateway(reset_rdef, kind="json"), methods=["POST"]),
        Route(f"{g}applyOwnersRDef/", gateway(apply_owners_rdef, kind="json"), methods=["POST"]),
        Route(f"{g}get_image_rdefs_json/{{iid:int}}/", gateway(image_rdefs_json, kind="json")),
        Route(f"{g}luts/", gateway(luts, kind="json")),
        Route(f"{g}luts_png/", gateway(luts_png)),
    ]
