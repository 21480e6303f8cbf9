"""The OMERO JSON API, ``/api/`` (spec/omero-json-api.md).

Routes are built from two declarative tables, ``LIST_ROUTES`` and ``SINGLE_ROUTES``; each
handler parses, calls one service, encodes with ``wire.marshal`` and returns. The annotation
routes (``/m/annotations/`` and its typed variants) are in ``web/api_annotations``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import Route

from pyomero.errors import InvalidInput, LoginFailed, NotLoggedIn
from pyomero.model.commands import AnnotationSaveRequest
from pyomero.model.entities import Paged
from pyomero.services import accounts, objects
from pyomero.services import annotations as annotation_service
from pyomero.services.objects import ListQuery
from pyomero.web import api_annotations
from pyomero.web.api_view import ApiCall, endpoint
from pyomero.web.csrf import COOKIE as CSRF_COOKIE
from pyomero.web.csrf import mask, new_secret, secret_from_cookie
from pyomero.web.responses import json_response
from pyomero.web.session import authenticate, set_session_cookie
from pyomero.wire import marshal, params

PREFIX = "/api/v0"

#: Every type filter OMERO parses on list routes (a non-integer is a 400 wherever it appears).
TYPE_FILTERS = (
    "project",
    "dataset",
    "image",
    "screen",
    "plate",
    "well",
    "experimenter",
    "experimentergroup",
)


@dataclass(frozen=True)
class ListRoute:
    path: str  # below /api/v0/m/
    kind: str
    path_filter: str | None = None  # the filter that the {parent_id} path part sets
    query_filters: tuple[str, ...] = ()


LIST_ROUTES = (
    ListRoute("projects/", "project", None, ("dataset",)),
    ListRoute("datasets/{parent_id:int}/projects/", "project", "dataset"),
    ListRoute("datasets/", "dataset", None, ("project", "image")),
    ListRoute("projects/{parent_id:int}/datasets/", "dataset", "project", ("image",)),
    ListRoute("images/{parent_id:int}/datasets/", "dataset", "image", ("project",)),
    ListRoute("images/", "image", None, ("dataset",)),
    ListRoute("datasets/{parent_id:int}/images/", "image", "dataset"),
    ListRoute("screens/", "screen", None, ("plate",)),
    ListRoute("plates/{parent_id:int}/screens/", "screen", "plate"),
    ListRoute("plates/", "plate", None, ("screen", "well")),
    ListRoute("screens/{parent_id:int}/plates/", "plate", "screen", ("well",)),
    ListRoute("wells/{parent_id:int}/plates/", "plate", "well", ("screen",)),
    ListRoute("plates/{parent_id:int}/plateacquisitions/", "plateacquisition", "plate"),
    ListRoute("wells/", "well", None, ("plate",)),
    ListRoute("plates/{parent_id:int}/wells/", "well", "plate"),
    ListRoute("plateacquisitions/{parent_id:int}/wells/", "well", "plateacquisition"),
    ListRoute("plates/{parent_id:int}/wellsampleindex/{index:int}/wells/", "well", "plate"),
    ListRoute(
        "plateacquisitions/{parent_id:int}/wellsampleindex/{index:int}/wells/",
        "well",
        "plateacquisition",
    ),
    ListRoute("rois/", "roi", None, ("image",)),
    ListRoute("images/{parent_id:int}/rois/", "roi", "image"),
    ListRoute("shapes/", "shape"),
    ListRoute("experimenters/", "experimenter", None, ("experimentergroup",)),
    ListRoute(
        "experimentergroups/{parent_id:int}/experimenters/", "experimenter", "experimentergroup"
    ),
    ListRoute("experimentergroups/", "experimentergroup", None, ("experimenter",)),
    ListRoute(
        "experimenters/{parent_id:int}/experimentergroups/", "experimentergroup", "experimenter"
    ),
)

#: The URL segment of each kind (``/m/<segment>/<id>/``).
SEGMENT = {
    "project": "projects",
    "dataset": "datasets",
    "image": "images",
    "screen": "screens",
    "plate": "plates",
    "plateacquisition": "plateacquisitions",
    "well": "wells",
    "roi": "rois",
    "shape": "shapes",
    "experimenter": "experimenters",
    "experimentergroup": "experimentergroups",
}

#: ``url:`` keys added to list items and to single objects (spec section 2.6).
LIST_URLS: dict[str, dict[str, str]] = {
    "project": {"url:project": "projects/{id}/", "url:datasets": "projects/{id}/datasets/"},
    "dataset": {
        "url:dataset": "datasets/{id}/",
        "url:images": "datasets/{id}/images/",
        "url:projects": "datasets/{id}/projects/",
    },
    "image": {"url:image": "images/{id}/", "url:datasets": "images/{id}/datasets/"},
    "screen": {"url:screen": "screens/{id}/", "url:plates": "screens/{id}/plates/"},
    "plate": {
        "url:plate": "plates/{id}/",
        "url:screens": "plates/{id}/screens/",
        "url:wells": "plates/{id}/wells/",
        "url:plateacquisitions": "plates/{id}/plateacquisitions/",
    },
    "plateacquisition": {"url:plateacquisition": "plateacquisitions/{id}/"},
    "well": {"url:well": "wells/{id}/", "url:plates": "wells/{id}/plates/"},
    "roi": {"url:roi": "rois/{id}/"},
    "shape": {},
    "experimenter": {
        "url:experimenter": "experimenters/{id}/",
        "url:experimentergroups": "experimenters/{id}/experimentergroups/",
    },
    "experimentergroup": {
        "url:experimentergroup": "experimentergroups/{id}/",
        "url:experimenters": "experimentergroups/{id}/experimenters/",
    },
}
SINGLE_URLS: dict[str, dict[str, str]] = {
    "project": {"url:datasets": "projects/{id}/datasets/"},
    "dataset": {"url:images": "datasets/{id}/images/", "url:projects": "datasets/{id}/projects/"},
    "image": {"url:datasets": "images/{id}/datasets/", "url:rois": "images/{id}/rois/"},
    "screen": {"url:plates": "screens/{id}/plates/"},
    "plate": {
        "url:screens": "plates/{id}/screens/",
        "url:wells": "plates/{id}/wells/",
        "url:plateacquisitions": "plates/{id}/plateacquisitions/",
    },
    "plateacquisition": {},
    "well": {"url:plates": "wells/{id}/plates/"},
    "roi": {},
    "shape": {},
    "experimenter": {"url:experimentergroups": "experimenters/{id}/experimentergroups/"},
    "experimentergroup": {"url:experimenters": "experimentergroups/{id}/experimenters/"},
}


# ---------------------------------------------------------------------------- encoding


def _encode(kind: str, obj: Any) -> dict[str, Any]:
    if kind == "experimenter":
        return marshal.encode_experimenter(obj)
    if kind == "experimentergroup":
        return marshal.encode_group(obj)
    return marshal.encode(obj)


def _encode_page(
    call: ApiCall, kind: str, page: Paged[Any], urls: dict[str, str]
) -> list[dict[str, Any]]:
    m = call.base_url() + PREFIX + "/m/"
    out = []
    for obj in page.items:
        item = _encode(kind, obj)
        for key, template in urls.items():
            item[key] = m + template.format(id=obj.id)
        if page.child_counts is not None:
            item["omero:childCount"] = page.child_counts.get(obj.id, 0)
        extra = page.extra.get(obj.id)
        if extra is not None and "wellsample_index" in extra:
            index: list[int] = extra["wellsample_index"]  # type: ignore[assignment]
            item["omero:wellsampleIndex"] = index
            item["url:wellsampleindex_wells"] = [
                f"{m}{SEGMENT[kind]}/{obj.id}/wellsampleindex/{i}/wells/"
                for i in (range(index[0], index[1] + 1) if index else ())
            ]
        if kind == "well":
            for sample in item.get("WellSamples", ()):
                image = sample.get("Image")
                if image is not None and "@id" in image:
                    image["url:image"] = f"{m}images/{image['@id']}/"
        out.append(item)
    return out


# ---------------------------------------------------------------------------- /m/ handlers


def _path_id(value: int) -> int:
    """A path id beyond a Java long names no row: -1, which no object has, finds nothing."""
    return value if params.fits_long(value) else -1


def _list_query(call: ApiCall, route: ListRoute) -> ListQuery:
    query = call.query
    page = params.page(
        query, default_limit=call.settings.api_limit, max_limit=call.settings.api_max_limit
    )
    owner = params.optional_int(query, "owner")
    group = params.optional_int(query, "group")
    parsed = {name: params.optional_int(query, name) for name in TYPE_FILTERS}
    filters: dict[str, int] = {
        name: value
        for name, value in parsed.items()
        if value is not None and name in route.query_filters
    }
    path = call.request.path_params
    if route.path_filter is not None:
        filters[route.path_filter] = _path_id(path["parent_id"])
    if "index" in path:
        filters["index"] = path["index"]
    system = route.kind in ("experimenter", "experimentergroup")
    return ListQuery(
        offset=page.offset,
        limit=page.limit,
        owner=None if system else owner,
        context_group=group,
        orphaned=params.flag(query, "orphaned"),
        filters=filters,
    )


def _list_handler(route: ListRoute):
    def handler(call: ApiCall) -> Any:
        query = _list_query(call, route)
        page = objects.list_objects(
            call.context, route.kind, query=query, child_count=params.flag(call.query, "childCount")
        )
        data = _encode_page(call, route.kind, page, LIST_URLS[route.kind])
        meta = {
            "offset": page.offset,
            "limit": page.total if page.limit is None else page.limit,
            "maxLimit": call.settings.api_max_limit,
            "totalCount": page.total,
        }
        if params.flag(call.query, "normalize"):
            experimenters, groups = marshal.normalize(data)
            return {
                "experimenters": experimenters,
                "experimenterGroups": groups,
                "data": data,
                "meta": meta,
            }
        return {"data": data, "meta": meta}

    handler.__name__ = f"list_{route.kind}"
    return handler


def _single_handler(kind: str):
    def handler(call: ApiCall) -> Any:
        raw_id = call.request.path_params["object_id"]
        object_id = _path_id(int(raw_id))
        if call.request.method == "DELETE":
            deleted = objects.delete_object(call.context, kind, object_id, raw_id=raw_id)
            return {"data": _encode(kind, deleted)}
        page = objects.get_object(
            call.context,
            kind,
            object_id,
            child_count=params.flag(call.query, "childCount"),
            raw_id=raw_id,
        )
        item = _encode_page(call, kind, page, SINGLE_URLS[kind])[0]
        if kind == "shape" and page.items[0].roi_id is not None:
            item["url:roi"] = f"{call.base_url()}{PREFIX}/m/rois/{page.items[0].roi_id}/"
        return {"data": item}

    handler.__name__ = f"single_{kind}"
    return handler


def save(call: ApiCall) -> Any:
    """POST creates (201), PUT replaces (200) a Project, Dataset or Screen, or (pyomero's
    extension) a standalone Map, Tag or Comment annotation.

    A container needs a group (``?group=`` or ``omero:details``), as in OMERO; a new
    annotation without one goes into the caller's current group.
    """
    try:
        body = orjson.loads(call.body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}", param="body") from None
    group = params.optional_int(call.query, "group")
    request = marshal.decode_save(body, method=call.request.method)
    if group is not None:
        request.group_id = group
    status = 201 if call.request.method == "POST" else 200
    if isinstance(request, AnnotationSaveRequest):
        saved_annotation = annotation_service.save_annotation(call.context, request)
        data = marshal.encode_annotation(saved_annotation)
        return json_response({"data": data}, status, callback=call.callback)
    if request.group_id is None:
        raise InvalidInput("Specify Group in omero:details or query parameters ?group=:id")
    saved = objects.save_container(call.context, request)
    return json_response({"data": marshal.encode(saved)}, status, callback=call.callback)


# ---------------------------------------------------------------------------- bootstrap


def versions(call: ApiCall) -> Any:
    return {"data": [{"version": "0", "url:base": f"{call.base_url()}/api/v0/"}]}


def base(call: ApiCall) -> Any:
    root = f"{call.base_url()}{PREFIX}/"
    links = {
        f"url:{name}": f"{root}m/{name}/"
        for name in (
            "experimenters",
            "experimentergroups",
            "projects",
            "datasets",
            "images",
            "screens",
            "plates",
            "rois",
        )
    }
    links.update(
        {
            "url:token": f"{root}token/",
            "url:servers": f"{root}servers/",
            "url:login": f"{root}login/",
            "url:save": f"{root}m/save/",
            "url:schema": marshal.SCHEMA_URL,
        }
    )
    return links


def token(call: ApiCall) -> Any:
    """A masked CSRF token; sets the ``csrftoken`` cookie when the client has none."""
    secret = secret_from_cookie(call.request)
    fresh = secret is None
    if secret is None:
        secret = new_secret()
    response = json_response({"data": mask(secret)}, callback=call.callback)
    if fresh:
        response.set_cookie(CSRF_COOKIE, secret, samesite="lax", path="/")
    return response


def servers(call: ApiCall) -> Any:
    entry: dict[str, Any] = {
        "id": 1,
        "host": call.settings.server_host,
        "port": call.settings.server_port,
    }
    if call.settings.server_name:
        entry["server"] = call.settings.server_name
    return {"data": [entry]}


def event_context_json(ctx: accounts.Context) -> dict[str, Any]:
    ec = accounts.event_context(ctx)
    return {
        "sessionId": ec.session_id,
        "sessionUuid": ec.session_uuid,
        "userId": ec.user_id,
        "userName": ec.user_name,
        "groupId": ec.group_id,
        "groupName": ec.group_name,
        "isAdmin": ec.is_admin,
        "eventId": -1,
        "eventType": "User",
        "memberOfGroups": ec.member_of,
        "leaderOfGroups": ec.leader_of,
    }


_LOGIN_FIELDS = (("username", "Username"), ("password", "Password"), ("server", "Server"))


def _login_form_errors(form: dict[str, Any]) -> list[str]:
    """OMERO.web's LoginForm validation, field by field in its order, with Django's messages."""
    errors = []
    for name, label in _LOGIN_FIELDS:
        value = form.get(name)
        text = "" if value is None else str(value)
        if name == "username" and text:
            text = text.strip()
        if not text:
            errors.append(f"{label}: This field is required.")
        elif name == "username" and len(text) > 255:
            errors.append(
                f"{label}: Ensure this value has at most 255 characters (it has {len(text)})."
            )
        elif name == "username" and text == "guest":
            errors.append(f"{label}: Guest account is not supported.")
        elif name == "server" and text != "1":
            errors.append(
                f"{label}: Select a valid choice. That choice is not one of the available choices."
            )
    return errors


def login(call: ApiCall) -> Any:
    """``POST /api/v0/login/``: form or JSON body; OMERO.web's messages and statuses."""
    if call.request.method != "POST":
        return json_response(
            {"message": "POST only with username, password, server and csrftoken"},
            405,
            api_version=False,
        )
    content_type = call.request.headers.get("content-type", "").split(";")[0].strip()
    form: dict[str, Any] | None
    if content_type == "application/json":
        try:
            loaded = orjson.loads(call.body)
            form = dict(loaded) if isinstance(loaded, dict) else None
        except orjson.JSONDecodeError:
            form = None
    else:
        form = dict(call.form)
    meaningful = {k: v for k, v in (form or {}).items() if k != "csrfmiddlewaretoken"}
    if not meaningful:
        try:
            ctx = authenticate(call.instance, call.request).ctx
        except NotLoggedIn:
            return json_response({"message": ""}, 403, api_version=False)
        return json_response(
            {"success": True, "eventContext": event_context_json(ctx)}, api_version=False
        )
    errors = _login_form_errors(meaningful)
    if errors:
        return json_response({"message": " ".join(errors)}, 403, api_version=False)
    try:
        ctx = accounts.login(
            call.instance,
            username=str(meaningful["username"]).strip(),
            password=str(meaningful["password"]),
            user_agent=call.request.headers.get("user-agent"),
        )
    except LoginFailed as exc:
        return json_response({"message": str(exc)}, 403, api_version=False)
    response = json_response(
        {"success": True, "eventContext": event_context_json(ctx)}, api_version=False
    )
    set_session_cookie(response, call.request, call.instance, ctx.session_uuid)
    return response


class DigitsConvertor(Convertor[str]):
    """An id as OMERO.web routes it (``[0-9]+``), kept as written for its 404 message."""

    regex = "[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


def routes() -> list[Route]:
    register_url_convertor("digits", DigitsConvertor())
    table = [
        Route("/api/", endpoint(versions, login=False), methods=["GET"]),
        Route(f"{PREFIX}/", endpoint(base, login=False), methods=["GET"]),
        Route(f"{PREFIX}/token/", endpoint(token, login=False), methods=["GET"]),
        Route(f"{PREFIX}/servers/", endpoint(servers, login=False), methods=["GET"]),
        Route(
            f"{PREFIX}/login/", endpoint(login, login=False, jsonp=False), methods=["GET", "POST"]
        ),
        Route(f"{PREFIX}/m/save/", endpoint(save), methods=["POST", "PUT"]),
    ]
    for route in LIST_ROUTES:
        table.append(
            Route(f"{PREFIX}/m/{route.path}", endpoint(_list_handler(route)), methods=["GET"])
        )
    for kind, segment in SEGMENT.items():
        table.append(
            Route(
                f"{PREFIX}/m/{segment}/{{object_id:digits}}/",
                endpoint(_single_handler(kind)),
                methods=["GET", "DELETE"],
            )
        )
    return table + api_annotations.routes()
