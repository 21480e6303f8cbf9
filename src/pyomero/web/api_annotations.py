"""The JSON API's annotations: ``/api/v0/m/annotations/`` as omero-web PR #682 proposes it
(spec/omero-json-api.md section 6), its typed variants ``/m/<type>annotations/``, and GET or
DELETE of one annotation. Creating and replacing go through ``/m/save/`` (``json_api.save``).

List items carry ``url:annotation`` as the other ``/m/`` lists carry ``url:<type>``; a single
annotation has no url key, as a single ROI has none (no child lists to point to).
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from pyomero.errors import InvalidInput
from pyomero.services import annotations as service
from pyomero.web.api_view import ApiCall, endpoint
from pyomero.wire import marshal, params

M = "/api/v0/m"

#: ``?type=`` values, each also a typed list ``/m/<type>annotations/``, -> annotation kind.
KINDS = {
    "comment": "Comment",
    "tag": "Tag",
    "long": "Long",
    "xml": "Xml",
    "double": "Double",
    "boolean": "Boolean",
    "timestamp": "Timestamp",
    "term": "Term",
    "map": "Map",
    "file": "File",
}

#: Parent filters, repeatable (``?image=1&image=2``); each names its link table.
PARENTS = (
    "project",
    "dataset",
    "image",
    "screen",
    "plate",
    "plateacquisition",
    "well",
    "roi",
    "experimentergroup",
)


def _kind(query: Any, typed: str | None) -> str | None:
    """The kind asked for by ``?type=`` or by a typed route; a contradiction is a 400."""
    raw = query.get("type")
    if raw is not None and raw not in KINDS:
        raise InvalidInput(f"type must be one of {', '.join(KINDS)}, not {raw!r}", param="type")
    if typed is not None:
        if raw is not None and raw != typed:
            raise InvalidInput(
                f"type={raw} contradicts the route /m/{typed}annotations/", param="type"
            )
        raw = typed
    return None if raw is None else KINDS[raw]


def _parents(query: Any) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for name in PARENTS:
        ids = [params.parse_int(name, raw) for raw in query.getlist(name)]
        if ids:
            out[name] = ids
    return out


def _list_handler(typed: str | None):
    def handler(call: ApiCall) -> Any:
        query = call.query
        page = params.page(
            query, default_limit=call.settings.api_limit, max_limit=call.settings.api_max_limit
        )
        result = service.list_annotations(
            call.context,
            kind=_kind(query, typed),
            ns=query.get("ns"),
            parents=_parents(query),
            offset=page.offset,
            limit=page.limit,
        )
        m = f"{call.base_url()}{M}/"
        data = []
        for annotation in result.items:
            item = marshal.encode_annotation(annotation)
            if item is not None:
                item["url:annotation"] = f"{m}annotations/{annotation.id}/"
            data.append(item)
        meta = {
            "offset": result.offset,
            "limit": result.total if result.limit is None else result.limit,
            "maxLimit": call.settings.api_max_limit,
            "totalCount": result.total,
        }
        return {"data": data, "meta": meta}

    handler.__name__ = f"list_{typed or 'all'}_annotations"
    return handler


def single(call: ApiCall) -> Any:
    raw = call.request.path_params["ann_id"]
    ann_id = int(raw) if params.fits_long(int(raw)) else -1
    if call.request.method == "DELETE":
        deleted = service.delete_annotation(call.context, ann_id, raw_id=raw)
        return {"data": marshal.encode_annotation(deleted)}
    return {
        "data": marshal.encode_annotation(service.get_annotation(call.context, ann_id, raw_id=raw))
    }


def routes() -> list[Route]:
    """Needs the ``digits`` convertor, which ``json_api.routes`` registers first."""
    table = [
        Route(f"{M}/annotations/", endpoint(_list_handler(None)), methods=["GET"]),
        Route(f"{M}/annotations/{{ann_id:digits}}/", endpoint(single), methods=["GET", "DELETE"]),
    ]
    for typed in KINDS:
        table.append(
            Route(f"{M}/{typed}annotations/", endpoint(_list_handler(typed)), methods=["GET"])
        )
    return table
