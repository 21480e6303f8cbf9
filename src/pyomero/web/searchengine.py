"""``/searchengine/api/v1/resources/``: the IDR search engine API, and ``/webgateway/search/``.

The engine is a Flask app in the IDR; its habits are kept: logical errors are HTTP 200 with
``{"Error": ...}``, an unknown URL is a 404 in plain text that points at the API root, and
every response carries ``Access-Control-Allow-Headers: *``. Unlike the IDR's engine, every
answer is limited to what the caller may read: the caller is authenticated as on every other
route (the IDR's public user, once configured, makes this anonymous).

The POST routes only read, so they take no CSRF token (the engine has none).

Not served: the engine's asynchronous jobs (``async_submitquery``, ``check_query_job``,
``return_query_results``) and its BioFile Finder exports (``container_bff_data``); they
answer the engine's 404. ``data_source`` is accepted and not checked: there is one source.
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

    def json_body(self, invalid: str = wire.NO_QUERY_DATA) -> Any:
        if not self.body.strip():
            return None
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise wire.SearchInputError(invalid) from None


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


def _query(parsed: dict[str, Any]) -> search.Query:
    return search.Query(
        _filters(parsed["and_filters"]),
        tuple(_filters(group) for group in parsed["or_filters"]),
        parsed["case_sensitive"],
    )


def _answer(
    call: EngineCall,
    resource: str,
    query: search.Query,
    details: Any,
    bookmark: int | None,
    *,
    submitted: bool = False,
    containers: bool | None = None,
    random_count: int = 0,
    pagination: dict[str, Any] | None = None,
) -> Any:
    started = time.perf_counter()
    if containers is None:
        containers = wire.flag(call.query.get("return_containers"))
    if containers:
        result: Any = wire.containers(search.containers(call.ctx, query=query))
    elif random_count > 0:
        page = search.random_search(call.ctx, resource=resource, query=query, count=random_count)
        if submitted and page.size == 0:
            return wire.error(wire.NO_RESULTS)
        result = wire.random_results(page.documents, page.size, resource)
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
            pagination=pagination,
        )
    seconds = time.perf_counter() - started
    return wire.envelope(result, details, resource, seconds, submitted=submitted)


# -- routes ------------------------------------------------------------------------------------


def root(request: Request) -> Response:
    return Response(wire.ROOT_TEXT, media_type="text/html; charset=utf-8", headers=CORS)


def data_sources(request: Request) -> Response:
    """The one data source: this instance's database (no login needed, as for the root)."""
    return _json(wire.DATA_SOURCES)


def search_get(call: EngineCall) -> Any:
    resource = _resource(call)
    flt = wire.get_filter(call.query)
    case_sensitive = wire.case_sensitive_param(call.query.get("case_sensitive"))
    study = call.query.get("study") or None
    query = search.Query(_filters([flt]), (), case_sensitive, study)
    bookmark = wire.bookmark_param(call.query.get("bookmark"))
    random_count = wire.random_results_param(call.query.get("random_results"))
    details = wire.get_query_details(flt, case_sensitive)
    return _answer(call, resource, query, details, bookmark, random_count=random_count)


def _posted(
    call: EngineCall, resource: str, *, submitted: bool, containers: bool | None = None
) -> Any:
    body = call.json_body()
    if submitted:
        body = wire.expand_container_filters(body)
    parsed = wire.query_details(body)
    return _answer(
        call,
        resource,
        _query(parsed),
        parsed["query_details"],
        parsed["bookmark"],
        submitted=submitted,
        containers=containers,
    )


def search_annotation(call: EngineCall) -> Any:
    return _posted(call, _resource(call), submitted=False)


def search_annotation_page(call: EngineCall) -> Any:
    """The next page of a ``searchannotation``: by ``bookmark``, or by the ``pagination``
    the previous page carried (which comes back moved on one page)."""
    resource = _resource(call, plain=True)
    parsed = wire.page_body(call.json_body(wire.NO_PROPER_QUERY_DATA))
    return _answer(
        call,
        resource,
        _query(parsed),
        parsed["query_details"],
        parsed["bookmark"],
        containers=parsed["return_containers"],
        pagination=parsed["pagination"] if parsed["paginate"] else None,
    )


def submit_query(call: EngineCall) -> Any:
    return _posted(call, "image", submitted=True)


def submit_query_containers(call: EngineCall) -> Any:
    """``submitquery/containers/``: the projects and screens holding the image hits."""
    return _posted(call, "image", submitted=True, containers=True)


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


def annotation_values_key(call: EngineCall) -> Any:
    """``getannotationvalueskey``: the values of ``key``; ``key=name``, the container names."""
    key = call.query.get("key")
    if not key:
        raise wire.SearchInputError(wire.NO_KEY_PLAIN)
    resource = _resource(call)
    if key == "name":
        return {
            kind: wire.names(search.names(call.ctx, resource=kind, value=None))
            for kind in search.CONTAINER_TYPES
        }
    found, _total = search.value_buckets(call.ctx, resource=resource, key=key)
    return wire.annotation_values(found)


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


# -- containers ------------------------------------------------------------------------------


def _container_name(call: EngineCall) -> str:
    name = (call.query.get("container_name") or "").strip()
    if not name:
        raise wire.SearchInputError(wire.CONTAINER_NAME_REQUIRED)
    return name


def _optional_query(call: EngineCall) -> search.Query | None:
    """The query a container route may carry in its body; none, or no filters, is all."""
    body = call.json_body()
    if body is None:
        return None
    parsed = wire.query_details(body, required=False)
    if not parsed["and_filters"] and not any(parsed["or_filters"]):
        return None
    return _query(parsed)


def container_images(call: EngineCall) -> Any:
    found = search.container_images(
        call.ctx,
        name=(call.query.get("container_name") or "").strip() or None,
        container_type=wire.container_type_param(call.query.get("container_type")),
    )
    return wire.container_images(found)


def _container_buckets(
    call: EngineCall, name: str, key: str | None, query: search.Query | None
) -> Any:
    resource = _resource(call)
    found = search.container_buckets(
        call.ctx, resource=resource, container_name=name, key=key, query=query
    )
    keyed = key is not None
    if wire.flag(call.query.get("csv")):
        filename = wire.container_csv_name(name, key)
        return Response(
            wire.container_buckets_csv(found, resource, keyed=keyed),
            media_type="text/csv",
            headers={**CORS, "Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return wire.container_buckets(found, resource, keyed=keyed)


def _name_and_key(call: EngineCall) -> tuple[str, str]:
    name = (call.query.get("container_name") or "").strip()
    key = (call.query.get("key") or "").strip()
    if not name or not key:
        raise wire.SearchInputError(wire.CONTAINER_NAME_AND_KEY)
    return name, key


def container_keys(call: EngineCall) -> Any:
    return _container_buckets(call, _container_name(call), None, None)


def container_key_values(call: EngineCall) -> Any:
    name, key = _name_and_key(call)
    return _container_buckets(call, name, key, None)


def container_filter_key_values(call: EngineCall) -> Any:
    name, key = _name_and_key(call)
    return _container_buckets(call, name, key, _optional_query(call))


def sub_container_images(call: EngineCall) -> Any:
    name = _container_name(call)
    found = search.sub_containers(call.ctx, container_name=name, query=_optional_query(call))
    if found is None:
        raise wire.SearchInputError(wire.container_not_found(name))
    return wire.sub_containers(found[1])


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
    Route(f"{PREFIX}/data_sources/", data_sources),
    Route(f"{PREFIX}/data_resources/", data_sources),  # the engine's earlier name
    Route(f"{PREFIX}/submitquery/", engine(submit_query), methods=["POST"]),
    Route(f"{PREFIX}/submitquery/containers/", engine(submit_query_containers), methods=["POST"]),
    Route(f"{PREFIX}/container_images/", engine(container_images)),
    Route(f"{PREFIX}/sub_container_images/", engine(sub_container_images), methods=["POST"]),
    Route(f"{PREFIX}/{{res}}/search/", engine(search_get)),
    Route(f"{PREFIX}/{{res}}/searchannotation/", engine(search_annotation), methods=["POST"]),
    Route(
        f"{PREFIX}/{{res}}/searchannotation_page/",
        engine(search_annotation_page),
        methods=["POST"],
    ),
    Route(f"{PREFIX}/{{res}}/searchvaluesusingkey/", engine(values_using_key)),
    Route(f"{PREFIX}/{{res}}/searchvalues/", engine(search_values)),
    Route(f"{PREFIX}/{{res}}/keys/", engine(keys)),
    Route(f"{PREFIX}/{{res}}/getannotationvalueskey/", engine(annotation_values_key)),
    Route(f"{PREFIX}/{{res}}/names/", engine(names)),
    Route(f"{PREFIX}/{{res}}/container_keys/", engine(container_keys)),
    Route(f"{PREFIX}/{{res}}/container_keyvalues/", engine(container_key_values)),
    Route(
        f"{PREFIX}/{{res}}/container_filterkeyvalues/",
        engine(container_filter_key_values),
        methods=["POST"],
    ),
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
