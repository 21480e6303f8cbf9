"""``/searchengine/api/v1/resources/``: the IDR search engine API, and ``/webgateway/search/``.

The engine is a Flask app in the IDR; its habits are kept: logical errors are HTTP 200 with
``{"Error": ...}``, an unknown URL is a 404 in plain text that points at the API root, and
every response carries ``Access-Control-Allow-Headers: *``. Unlike the IDR's engine, every
answer is limited to what the caller may read: the caller is authenticated as on every other
route (the IDR's public user, once configured, makes this anonymous).

The POST routes only read, so they take no CSRF token (the engine has none).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Match, Route

from pyomero.errors import InvalidInput, NotLoggedIn, PyomeroError
from pyomero.services import search
from pyomero.services.accounts import Context
from pyomero.services.instance import Instance
from pyomero.web.gateway_lists import simple_marshal
from pyomero.web.gateway_view import GatewayCall, gateway
from pyomero.web.responses import dumps
from pyomero.web.session import authenticate, set_session_cookie
from pyomero.wire import searchengine as wire
from pyomero.wire.params import optional_int

log = logging.getLogger("pyomero.web")

PREFIX = wire.PREFIX.rstrip("/")
CORS = {"Access-Control-Allow-Headers": "*"}
SOMETHING_WRONG = "Something went wrong, please check your query and try again later."


@dataclass
class EngineCall:
    request: Request
    ctx: Context
    body: bytes

    @property
    def query(self) -> Any:
        return self.request.query_params

    @property
    def resource(self) -> str:
        return str(self.request.path_params.get("res", "image"))

    def json_body(self) -> Any:
        if not self.body.strip():
            return None
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise wire.SearchInputError(wire.NO_QUERY_DATA) from None


class NoTable(PyomeroError):
    """The engine's 404 ``No data for table <res>`` (plain text)."""


def _json(data: Any) -> Response:
    return Response(dumps(data), 200, media_type="application/json", headers=CORS)


def engine(handler: Callable[[EngineCall], Any]) -> Callable[[Request], Any]:
    async def view(request: Request) -> Response:
        instance: Instance = request.app.state.instance
        body = await request.body() if request.method == "POST" else b""
        return await run_in_threadpool(_run, handler, request, instance, body)

    view.__name__ = handler.__name__
    return view


def _run(
    handler: Callable[[EngineCall], Any], request: Request, instance: Instance, body: bytes
) -> Response:
    with instance.read_scope():
        try:
            caller = authenticate(instance, request)
        except NotLoggedIn as exc:
            return Response(
                dumps(wire.error(str(exc))), 403, media_type="application/json", headers=CORS
            )
        except PyomeroError as exc:
            return Response(
                dumps(wire.error(str(exc))), 403, media_type="application/json", headers=CORS
            )
        try:
            result = handler(EngineCall(request, caller.ctx, body))
            response = result if isinstance(result, Response) else _json(result)
        except NoTable as exc:
            response = PlainTextResponse(str(exc), 404, headers=CORS)
        except InvalidInput as exc:
            response = _json(wire.error(str(exc)))
        except Exception:  # noqa: BLE001 - the engine's catch-all answer, never a trace
            log.exception("search engine request failed: %s", request.url.path)
            response = _json(wire.error(SOMETHING_WRONG))
    if caller.new_session:
        set_session_cookie(response, request, instance, caller.ctx.session_uuid)
    return response


def _resource(call: EngineCall, *, plain: bool = False) -> str:
    resource = call.resource
    if resource not in search.RESOURCES:
        if plain:
            raise NoTable(f"No data for table {resource}")
        raise wire.SearchInputError(wire.not_a_resource(resource))
    return resource


def _filters(items: list[dict[str, Any]]) -> tuple[search.Filter, ...]:
    return tuple(search.Filter(**item) for item in items)


def _answer(
    call: EngineCall,
    resource: str,
    query: search.Query,
    details: Any,
    bookmark: int | None,
    *,
    submitted: bool = False,
) -> Any:
    started = time.perf_counter()
    if wire.flag(call.query.get("return_containers")):
        result: Any = wire.containers(search.containers(call.ctx, query=query))
    else:
        page = search.search(call.ctx, resource=resource, query=query, bookmark=bookmark)
        if submitted and page.size == 0:
            return wire.error(wire.NO_RESULTS)
        result = wire.results(
            page.documents,
            page.size,
            resource,
            page_size=search.PAGE_SIZE,
            bookmarked=bookmark is not None,
        )
    seconds = time.perf_counter() - started
    return wire.envelope(result, details, resource, seconds, submitted=submitted)


# -- routes ------------------------------------------------------------------------------------


def root(request: Request) -> Response:
    return Response(wire.ROOT_TEXT, media_type="text/html; charset=utf-8", headers=CORS)


def search_get(call: EngineCall) -> Any:
    resource = _resource(call)
    flt = wire.get_filter(call.query)
    case_sensitive = wire.case_sensitive_param(call.query.get("case_sensitive"))
    study = call.query.get("study") or None
    query = search.Query(_filters([flt]), (), case_sensitive, study)
    bookmark = wire.bookmark_param(call.query.get("bookmark"))
    details = wire.get_query_details(flt, case_sensitive)
    return _answer(call, resource, query, details, bookmark)


def _posted(call: EngineCall, resource: str, *, submitted: bool) -> Any:
    parsed = wire.query_details(call.json_body())
    query = search.Query(
        _filters(parsed["and_filters"]),
        tuple(_filters(group) for group in parsed["or_filters"]),
        parsed["case_sensitive"],
    )
    return _answer(
        call, resource, query, parsed["query_details"], parsed["bookmark"], submitted=submitted
    )


def search_annotation(call: EngineCall) -> Any:
    return _posted(call, _resource(call), submitted=False)


def submit_query(call: EngineCall) -> Any:
    return _posted(call, "image", submitted=True)


def values_using_key(call: EngineCall) -> Any:
    key = call.query.get("key")
    if not key:
        raise wire.SearchInputError(wire.NO_KEY)
    resource = _resource(call)
    found, total = search.value_buckets(call.ctx, resource=resource, key=key)
    if wire.flag(call.query.get("csv")):
        return Response(
            wire.buckets_csv(found, resource),
            media_type="text/csv",
            headers={
                **CORS,
                "Content-Disposition": f'attachment; filename="{key}_{resource}.csv"',
            },
        )
    return wire.buckets(found, total, resource)


def search_values(call: EngineCall) -> Any:
    resource = _resource(call, plain=True)
    value = call.query.get("value")
    if not value:
        raise wire.SearchInputError(wire.NO_VALUE)
    key = call.query.get("key") or None
    found, total = search.value_search(call.ctx, resource=resource, value=value, key=key)
    return wire.value_buckets(found, total, resource)


def keys(call: EngineCall) -> Any:
    resource = _resource(call)
    return wire.keys(search.keys(call.ctx, resource=resource), resource)


def names(call: EngineCall) -> Any:
    resource = call.resource
    if resource not in ("project", "screen"):
        raise NoTable(f"No data for table {resource}")
    found = search.names(
        call.ctx,
        resource=resource,
        value=call.query.get("value") or None,
        use_description=wire.flag(call.query.get("use_description")),
    )
    return wire.names(found)


def gateway_search(call: GatewayCall) -> Any:
    """``/webgateway/search/?text=``: images, datasets and projects as simpleMarshal lists."""
    text = (call.query.get("text") or "").strip()
    if not text:
        return []
    limit = optional_int(call.query, "limit") or 100
    start = optional_int(call.query, "start") or 0
    images_only = call.query.get("ctx") == "imgs"
    hits = search.text_search(
        call.ctx, text=text, images_only=images_only, limit=limit, offset=start
    )
    listed: list[dict[str, Any]] = [simple_marshal(row) for row in hits.images]
    for kind, rows in (("Dataset", hits.datasets), ("Project", hits.projects)):
        listed += [
            {"type": kind, "id": i, "name": name, "description": description or ""}
            for i, name, description in rows
        ]
    return listed


_ENGINE_ROUTES: list[Route] = [
    Route(f"{PREFIX}/", root),
    Route(f"{PREFIX}/submitquery/", engine(submit_query), methods=["POST"]),
    Route(f"{PREFIX}/{{res}}/search/", engine(search_get)),
    Route(f"{PREFIX}/{{res}}/searchannotation/", engine(search_annotation), methods=["POST"]),
    Route(f"{PREFIX}/{{res}}/searchvaluesusingkey/", engine(values_using_key)),
    Route(f"{PREFIX}/{{res}}/searchvalues/", engine(search_values)),
    Route(f"{PREFIX}/{{res}}/keys/", engine(keys)),
    Route(f"{PREFIX}/{{res}}/names/", engine(names)),
]


async def not_found(request: Request) -> Response:
    """The engine's 404 for any other URL under ``/searchengine/`` (after a slash redirect,
    as Flask's strict slashes give)."""
    path = request.url.path
    if request.method in ("GET", "HEAD") and not path.endswith("/"):
        scope = dict(request.scope, path=path + "/")
        if any(route.matches(scope)[0] is Match.FULL for route in _ENGINE_ROUTES):
            return RedirectResponse(str(request.url.replace(path=path + "/")), 308)
    return PlainTextResponse(wire.NOT_FOUND_TEXT, 404, headers=CORS)


def routes() -> list[Route]:
    return [
        *_ENGINE_ROUTES,
        Route("/searchengine/{rest:path}", not_found, methods=["GET", "HEAD", "POST"]),
        Route("/webgateway/search/", gateway(gateway_search, kind="json")),
    ]
