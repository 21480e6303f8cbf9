"""The ASGI application: ``create_app(instance)`` builds it; nothing happens at import time."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Match, Route

from pyomero.services.imports import sweep_incoming
from pyomero.services.instance import Instance, load_instance
from pyomero.web import (
    gateway_downloads,
    gateway_lists,
    gateway_rois,
    gateway_settings,
    gateway_tables,
    imports,
    json_api,
    searchengine,
    webclient,
    webclient_annotations,
    webclient_api,
    webgateway,
)
from pyomero.web.responses import json_response

log = logging.getLogger("pyomero.web")


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/api"


def create_app(instance: Instance) -> Starlette:
    """The whole server for one instance: JSON API, webclient pages, and what later issues add."""
    routes: list[Route] = [
        *json_api.routes(),
        *webclient.routes(),
        *webclient_api.routes(),
        *webclient_annotations.routes(),
        *imports.routes(),
        *webgateway.routes(),
        *gateway_settings.routes(),
        *gateway_downloads.routes(),
        *gateway_rois.routes(),
        *gateway_lists.routes(),
        *searchengine.routes(),
        *gateway_tables.routes(),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        # OMERO.web (Django's APPEND_SLASH) redirects a GET without its trailing slash.
        if request.method in ("GET", "HEAD") and not request.url.path.endswith("/"):
            scope = dict(request.scope, path=request.url.path + "/")
            if any(route.matches(scope)[0] is not Match.NONE for route in routes):
                target = request.url.replace(path=request.url.path + "/")
                return RedirectResponse(str(target), status_code=301)
        if _is_api(request.url.path):
            return json_response(
                {"message": f"Not found: {request.url.path}"}, 404, api_version=False
            )
        return PlainTextResponse("Not Found", status_code=404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        allow = getattr(exc, "headers", None) or {}
        message = f"Method {request.method} not allowed on {request.url.path}"
        if _is_api(request.url.path):
            return json_response({"message": message}, 405, headers=dict(allow))
        return PlainTextResponse(message, status_code=405, headers=dict(allow))

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        if status == 404:
            return await not_found(request, exc)
        if status == 405:
            return await not_allowed(request, exc)
        detail = getattr(exc, "detail", "error")
        if _is_api(request.url.path):
            return json_response({"message": str(detail)}, status)
        return PlainTextResponse(str(detail), status_code=status)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        maintenance = asyncio.create_task(_maintain(instance))
        try:
            yield
        finally:
            maintenance.cancel()
            instance.close()

    app = Starlette(
        debug=instance.settings.debug,
        routes=routes,
        exception_handlers={HTTPException: http_error, 404: not_found, 405: not_allowed},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.instance = instance
    return app


#: How often each worker refreshes the planner statistics, in seconds.
STATISTICS_INTERVAL = 600


async def _maintain(instance: Instance) -> None:
    """At start: remove what killed imports left behind. Then, every few minutes, refresh
    the planner statistics (a few ms, off the loop)."""
    try:
        await run_in_threadpool(sweep_incoming, instance)
    except Exception:  # noqa: BLE001 - maintenance must never take the server down
        log.warning("sweeping interrupted imports failed", exc_info=True)
    while True:
        try:
            await run_in_threadpool(instance.refresh_statistics)
        except Exception:  # noqa: BLE001 - maintenance must never take the server down
            log.warning("refreshing planner statistics failed", exc_info=True)
        await asyncio.sleep(STATISTICS_INTERVAL)


def app_factory() -> Starlette:
    """For ``uvicorn --factory``: the instance named by ``PYOMERO_DATA_DIR``."""
    data_dir = os.environ.get("PYOMERO_DATA_DIR")
    if not data_dir:
        raise RuntimeError("PYOMERO_DATA_DIR is not set")
    return create_app(load_instance(Path(data_dir)))
