"""``/webclient/``: the data-tree API (``api/containers/``, ``api/tags/`` ...), the index
and image pages.

These are OMERO.web's ``webclient`` views: login-required (an anonymous browser goes to the
login page, an AJAX call gets an empty 403, unless the public user applies), integer
parameters answered 400 ``Invalid parameter value`` when they do not parse, Django's plain
JSON (no JSON-P), and ``keepalive_ping/`` answering ``OK``. The pages the IDR notebook links
to (``?show=image-<id>``, ``img_detail/<id>/``) are simple real pages: the image's name, its
rendering and its key-value pairs, which the page fetches from ``api/annotations/``. Other
``show=`` types get a page naming the object with links into the tree API; as in OMERO.web,
a ``show`` that names nothing readable still gets the (index) page, saying so.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from pyomero.errors import InvalidInput, NotFound
from pyomero.services import objects, tree
from pyomero.web.gateway_view import GatewayCall, gateway
from pyomero.web.responses import dumps
from pyomero.wire import tree as wire
from pyomero.wire.params import fits_long, parse_int

#: OMERO.web's ``PAGE`` (``omero.web.page_size``): the default ``limit`` of the tree API.
PAGE = 200
INVALID = "Invalid parameter value"
#: OMERO.web's ``toBoolean``: anything but these (after strip/lower) is true.
_FALSE = frozenset({"false", "f", "no", "n", "none", "0", "[]", "{}", ""})
_ID = re.compile(r"-?[0-9]+")


# -- parameters (OMERO.web's get_long_or_default / get_bool_or_default) -----------------------


def _long(query: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        return parse_int(name, raw)
    except InvalidInput:
        raise InvalidInput(INVALID, param=name) from None


def _bool(query: Mapping[str, str], name: str) -> bool:
    raw = query.get(name)
    return raw is not None and raw.strip().lower() not in _FALSE


def _page(query: Mapping[str, str]) -> tuple[int, int | None]:
    """``page`` (1-based; 0 or less: no paging) and ``limit`` as an offset and a limit."""
    page = _long(query, "page", 1)
    limit = _long(query, "limit", PAGE)
    assert page is not None and limit is not None
    if limit <= 0:
        limit = PAGE
    if page <= 0:
        return 0, None
    return (page - 1) * limit, limit


def _longs(call: GatewayCall, name: str) -> list[int]:
    """Ids given as ``?name=1,2`` or ``?name=1&name=2`` (empty parts ignored, as OMERO does)."""
    found = []
    for raw in call.request.query_params.getlist(name):
        for part in raw.split(","):
            if part.strip():
                value = _long({name: part}, name)
                assert value is not None
                found.append(value)
    return found


def _json(data: Any) -> Response:
    """Django's ``JsonResponse``: no JSON-P here, unlike the webgateway's ``@jsonp``."""
    return Response(dumps(data), media_type="application/json")


# -- tree API ---------------------------------------------------------------------------------


def api_containers(call: GatewayCall) -> Response:
    offset, limit = _page(call.query)
    found = tree.containers(
        call.ctx,
        group=_long(call.query, "group", -1),
        experimenter_id=_long(call.query, "id", -1),
        offset=offset,
        limit=limit,
    )
    return _json(
        {
            "projects": [wire.node(i) for i in found.projects],
            "datasets": [wire.node(i) for i in found.datasets],
            "screens": [wire.node(i) for i in found.screens],
            "plates": [wire.node(i) for i in found.plates],
            "orphaned": wire.orphaned(found.orphaned_id, found.orphaned_count),
        }
    )


def api_datasets(call: GatewayCall) -> Response:
    offset, limit = _page(call.query)
    found = tree.datasets(
        call.ctx,
        project_id=_long(call.query, "id"),
        group=_long(call.query, "group", -1),
        offset=offset,
        limit=limit,
    )
    return _json({"datasets": [wire.node(i) for i in found]})


def api_images(call: GatewayCall) -> Response:
    query = call.query
    offset, limit = _page(query)
    dates = _bool(query, "date")
    found = tree.images(
        call.ctx,
        dataset_id=_long(query, "id"),
        orphaned=_bool(query, "orphaned"),
        experimenter_id=_long(query, "experimenter_id", -1),
        group=_long(query, "group", -1),
        offset=offset,
        limit=limit,
        sizes=_bool(query, "sizeXYZ"),
        dates=dates,
        thumb_versions=_bool(query, "thumbVersion"),
    )
    return _json({"images": [wire.image(i, dates=dates) for i in found]})


def api_plates(call: GatewayCall) -> Response:
    offset, limit = _page(call.query)
    found = tree.plates(
        call.ctx,
        screen_id=_long(call.query, "id"),
        group=_long(call.query, "group", -1),
        offset=offset,
        limit=limit,
    )
    return _json({"plates": [wire.node(i) for i in found]})


def api_plate_acquisitions(call: GatewayCall) -> Response:
    offset, limit = _page(call.query)
    plate_id = _long(call.query, "id")
    if plate_id is None:  # runs always belong to a plate
        raise InvalidInput("id (plate) must be specified", param="id")
    found = tree.runs(call.ctx, plate_id=plate_id, offset=offset, limit=limit)
    return _json({"acquisitions": [wire.run(i) for i in found]})


def api_groups(call: GatewayCall) -> Response:
    offset, limit = _page(call.query)
    found = tree.groups(
        call.ctx, member_id=_long(call.query, "member", -1), offset=offset, limit=limit
    )
    return _json({"groups": [wire.group(g) for g in found]})


def api_experimenter(call: GatewayCall) -> Response:
    raw = call.request.path_params["eid"]
    if not _ID.fullmatch(raw):  # OMERO.web's URL pattern is -?\d+
        raise NotFound(f"Experimenter {raw} not found")
    user_id = parse_int("experimenter_id", raw)
    if user_id < 0:
        return _json({"experimenter": wire.ALL_MEMBERS})
    return _json({"experimenter": wire.experimenter(tree.experimenter(call.ctx, user_id))})


#: ``paths_to_object`` parameters -> the tree's node types (``run`` is ``acquisition``).
_PATH_PARAMS = (
    "project",
    "dataset",
    "image",
    "screen",
    "plate",
    "run",
    "acquisition",
    "well",
    "tag",
    "tagset",
    "roi",
    "shape",
)


def api_paths_to_object(call: GatewayCall) -> Response:
    query = call.query
    ids: dict[str, int] = {}
    for name in _PATH_PARAMS:
        value = _long(query, name)
        if value is not None:
            ids["acquisition" if name == "run" else name] = value
    experimenter_id = _long(query, "experimenter")
    group = _long(query, "group")
    _long(query, "page_size", PAGE)
    found = tree.paths_to_object(call.ctx, ids=ids, experimenter_id=experimenter_id, group=group)
    return _json(wire.paths(found))


def api_tags(call: GatewayCall) -> Response:
    """GET: the tags (``id``: a set's tags and what the tag is on); DELETE: the ``id`` tags."""
    if call.request.method == "DELETE":
        tree.delete_tags(call.ctx, _longs(call, "id"))
        return _json("")  # OMERO.web's JsonResponse(""), which Django refuses with a 500
    query = call.query
    offset, limit = _page(query)
    tag_id = _long(query, "id")
    scope: dict[str, Any] = {
        "group": _long(query, "group", -1),
        "experimenter_id": _long(query, "experimenter_id", -1),
        "offset": offset,
        "limit": limit,
    }
    orphaned, sizes, dates = (_bool(query, n) for n in ("orphaned", "sizeXYZ", "date"))
    if tag_id is None:
        found = tree.tags(call.ctx, orphaned=orphaned, **scope)
        return _json({"tags": [wire.tag(i) for i in found]})
    tagged = tree.tagged(call.ctx, tag_id=tag_id, sizes=sizes, dates=dates, **scope)
    return _json(wire.tagged(tagged, dates=dates))


def api_parent_links(call: GatewayCall) -> Response:
    found = tree.parent_links(
        call.ctx,
        images_=_longs(call, "image"),
        datasets_=_longs(call, "dataset"),
        plates_=_longs(call, "plate"),
    )
    return _json(wire.links(found))


def keepalive_ping(call: GatewayCall) -> Response:
    """Reaching here has refreshed the session (``join_session`` touches it)."""
    return PlainTextResponse("OK")


# -- pages -------------------------------------------------------------------------------------

_PAGE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:1.5em}} img{{max-width:100%}}
table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}</style>
</head><body><p>Logged in as {user}. <a href="/webclient/">Data</a> ·
<a href="/webclient/logout/">Log out</a></p><h1>{title}</h1>{body}</body></html>"""

#: Fills the key-value table from ``api/annotations/`` when that endpoint answers.
_MAP_SCRIPT = """<script>
fetch({url}, {{credentials: "same-origin"}}).then(r => r.ok ? r.json() : null).then(data => {{
  const table = document.getElementById("kv");
  if (!data || !data.annotations) return;
  for (const ann of data.annotations) for (const [k, v] of ann.values || []) {{
    const row = table.insertRow(); row.insertCell().textContent = k; row.insertCell().textContent = v;
  }}
}}).catch(() => {{}});
</script>"""


def _html(call: GatewayCall, title: str, body: str) -> Response:
    user = html.escape(call.ctx.actor.user_name)
    return HTMLResponse(_PAGE_HTML.format(title=html.escape(title), user=user, body=body))


def _image_body(image_id: int, name: str, size: str) -> str:
    annotations = f"/webclient/api/annotations/?type=map&image={image_id}"
    return (
        f"<p>Image {image_id}{html.escape(size)} · "
        f'<a href="/webclient/img_detail/{image_id}/">viewer</a> · '
        f'<a href="/webclient/imgData/{image_id}/">imgData</a></p>'
        f'<p><img src="/webgateway/render_image/{image_id}/" alt="{html.escape(name)}"></p>'
        f'<h2>Key-value pairs</h2><table id="kv"><tr><th>Key</th><th>Value</th></tr></table>'
        f'<p><a href="{annotations}">all map annotations (JSON)</a></p>'
        + _MAP_SCRIPT.format(url=dumps(annotations).decode())
    )


def _image(call: GatewayCall, image_id: int) -> tuple[str, str]:
    """The image's name and a short size note; NotFound when the caller cannot read it."""
    image = objects.get_object(call.ctx, "image", image_id).items[0]
    px = image.pixels
    size = (
        ""
        if px is None
        else f" ({px.size_x} x {px.size_y}, Z={px.size_z}, C={px.size_c}, T={px.size_t})"
    )
    return image.name, size


def img_detail(call: GatewayCall) -> Response:
    image_id = call.path_id("iid")
    name, size = _image(call, image_id)
    return _html(call, name, _image_body(image_id, name, size))


def index(call: GatewayCall) -> Response:
    """The data browser's entry: ``?show=type-id|type-id`` (and the last item of ``path``)
    shows the first object that can be read; ``experimenter`` (-1: all members) is checked as
    OMERO.web does and otherwise only recorded."""
    _long(call.query, "experimenter")
    items = _show_items(call.query)
    for kind, object_id in items:
        try:
            return _show(call, kind, object_id)
        except NotFound:
            continue
    if items:
        kind, object_id = items[0]
        body = f"<p>{_LABELS[kind]} {object_id} was not found.</p>"
        return _html(call, "pyomero", body)
    body = (
        '<ul><li><a href="/webclient/api/containers/">containers (JSON)</a></li>'
        '<li><a href="/webclient/api/tags/">tags (JSON)</a></li>'
        '<li><a href="/webclient/api/groups/">groups (JSON)</a></li></ul>'
    )
    return _html(call, "pyomero", body)


#: How a page calls each type ``show=`` understands.
_LABELS = {
    "project": "Project",
    "dataset": "Dataset",
    "image": "Image",
    "screen": "Screen",
    "plate": "Plate",
    "acquisition": "Run",
    "well": "Well",
    "tag": "Tag",
    "tagset": "Tag set",
    "roi": "ROI",
    "shape": "Shape",
    "fileset": "Fileset",
}
#: OMERO.web's ``Show.PATH_REGEX``: ``type-id``, ``type.key-value`` or ``type=value``; only
#: the ``id`` key names something here.
_SHOW_ITEM = re.compile(r"(\w+)\.?(\w+)?[-=]([^|]*)")
#: Where a page links to for the children of each type (``api/...?id=<id>``).
_CHILD_LISTS = {
    "project": "datasets",
    "dataset": "images",
    "screen": "plates",
    "plate": "plate_acquisitions",
    "tag": "tags",
    "tagset": "tags",
}


def _show_items(query: Mapping[str, str]) -> list[tuple[str, int]]:
    """The ``(type, id)`` items of ``path`` (its last) and ``show``, in OMERO.web's order."""
    parts = [query.get("path", "").split("|")[-1], *query.get("show", "").split("|")]
    items = []
    for part in parts:
        match = _SHOW_ITEM.match(part)
        if match is None:
            continue
        kind, key, value = match.groups()
        kind = "acquisition" if kind == "run" else kind
        if kind not in _LABELS or key not in (None, "id") or not re.fullmatch(r"[0-9]+", value):
            continue
        if fits_long(int(value)):
            items.append((kind, int(value)))
    return items


def _show(call: GatewayCall, kind: str, object_id: int) -> Response:
    """The page of one object; NotFound when it is missing or the caller cannot read it."""
    if kind == "image":
        image_name, size = _image(call, object_id)
        return _html(call, image_name, _image_body(object_id, image_name, size))
    row = tree.shown(call.ctx, kind, object_id)
    label = _LABELS[kind]
    name = _shown_name(row)
    title = f"{label} {object_id}" + (f": {name}" if name else "")
    if row.image_id is not None:  # a ROI, a shape or a fileset: OMERO.web selects the image
        image_name, size = _image(call, row.image_id)
        intro = f"<p>On image {html.escape(image_name)}.</p>"
        return _html(call, title, intro + _image_body(row.image_id, image_name, size))
    links = [(f"/webclient/api/paths_to_object/?{kind}={object_id}", "paths (JSON)")]
    if kind in _CHILD_LISTS:
        links.insert(0, (f"/webclient/api/{_CHILD_LISTS[kind]}/?id={object_id}", "contents (JSON)"))
    items = "".join(f'<li><a href="{html.escape(u)}">{t}</a></li>' for u, t in links)
    body = f"<p>{label} {object_id}, owned by experimenter {row.owner_id}.</p><ul>{items}</ul>"
    return _html(call, name or title, body)


def _shown_name(row: tree.ShownRow) -> str | None:
    """A run and a well are named as the tree names them; other objects by their name."""
    if row.run is not None:
        return wire.run_name(row.run)
    if row.well is not None:
        return wire.well_name(row.well)
    return row.name


def routes() -> list[Route]:
    api = "/webclient/api/"
    return [
        Route("/webclient/", gateway(index), methods=["GET"]),
        Route("/webclient/img_detail/{iid:int}/", gateway(img_detail), methods=["GET"]),
        Route("/webclient/keepalive_ping/", gateway(keepalive_ping), methods=["GET"]),
        Route(f"{api}containers/", gateway(api_containers), methods=["GET"]),
        Route(f"{api}datasets/", gateway(api_datasets), methods=["GET"]),
        Route(f"{api}images/", gateway(api_images), methods=["GET"]),
        Route(f"{api}plates/", gateway(api_plates), methods=["GET"]),
        Route(f"{api}plate_acquisitions/", gateway(api_plate_acquisitions), methods=["GET"]),
        Route(f"{api}groups/", gateway(api_groups), methods=["GET"]),
        Route(f"{api}experimenters/{{eid}}/", gateway(api_experimenter), methods=["GET"]),
        Route(f"{api}paths_to_object/", gateway(api_paths_to_object), methods=["GET"]),
        Route(f"{api}tags/", gateway(api_tags), methods=["GET", "DELETE"]),
        Route(f"{api}parent_links/", gateway(api_parent_links), methods=["GET"]),
    ]
