"""The request cycle of ``/webgateway/`` and the webclient's image routes.

OMERO.web answers these differently from the JSON API: an anonymous browser is redirected
to the login page (an AJAX call gets an empty 403), image routes answer errors as Django
does (400 with the plain message, 404), and JSON routes go through the ``@jsonp`` wrapper
(``?callback=name`` gives ``name(<json>)``; errors are ``{"message", "stacktrace"}``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pyomero.errors import InvalidInput, NotFound, NotLoggedIn, PyomeroError
from pyomero.services.accounts import Context
from pyomero.services.instance import Instance
from pyomero.web import csrf
from pyomero.web.api_view import form_fields
from pyomero.web.errors import api_error_body, status_of
from pyomero.web.responses import dumps
from pyomero.web.session import authenticate, set_session_cookie
from pyomero.wire.params import fits_long

LOGIN_URL = "/webclient/login/"
_CALLBACK = re.compile(r"[a-zA-Z_$][0-9a-zA-Z_$]*")
HTML = "text/html; charset=utf-8"


@dataclass
class GatewayCall:
    request: Request
    instance: Instance
    ctx: Context
    form: dict[str, str]
    body: bytes = b""

    @property
    def query(self) -> Any:
        return self.request.query_params

    def path_id(self, name: str) -> int:
        """An id from the path; ids beyond a Java long name nothing (404)."""
        value = int(self.request.path_params[name])
        if not fits_long(value):
            raise NotFound(f"{name} {value} not found")
        return value

    def path_int(self, name: str, default: int | None = None) -> int | None:
        raw = self.request.path_params.get(name)
        return default if raw is None else int(raw)


Handler = Callable[[GatewayCall], Any]


def jsonp_response(data: Any, request: Request, status: int = 200) -> Response:
    """OMERO.web's ``@jsonp``: JSON, or ``name(<json>)`` as JavaScript for ``?callback=``."""
    body = dumps(data)
    callback = request.query_params.get("callback")
    if callback is not None:
        return Response(
            callback.encode() + b"(" + body + b")", status, media_type="application/javascript"
        )
    return Response(body, status, media_type="application/json")


def _not_logged_in(request: Request) -> Response:
    if request.headers.get("x-requested-with") == "XMLHttpRequest":
        return Response(b"", 403)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{LOGIN_URL}?url={quote(target, safe='/')}", status_code=302)


def _error(exc: BaseException, kind: str, request: Request, instance: Instance) -> Response:
    if kind == "json":
        status, body = api_error_body(exc, debug=instance.settings.debug)
        return jsonp_response(body, request, status)
    status = status_of(exc)
    if status == 500:
        api_error_body(exc, debug=False)  # logs it
        return Response(b"Internal server error", 500, media_type="text/plain")
    message = str(exc) if isinstance(exc, PyomeroError) else "error"
    return Response(message.encode(), status, media_type=HTML)


def gateway(
    handler: Handler, *, kind: str = "image", unsafe: bool = False
) -> Callable[[Request], Any]:
    """Wrap ``handler`` (``kind`` "image" or "json") with login, CSRF for POSTs, errors."""

    async def view(request: Request) -> Response:
        instance: Instance = request.app.state.instance
        form: dict[str, str] = {}
        body = b""
        if request.method not in csrf.SAFE_METHODS:
            body = await request.body()
            form = form_fields(request, body)
            try:
                csrf.check(request, form.get(csrf.FORM_FIELD))
            except csrf.CsrfFailure as failure:
                return Response(f"CSRF Failed: {failure.reason}".encode(), 403, media_type=HTML)
        if kind == "json":
            callback = request.query_params.get("callback")
            if callback is not None and not _CALLBACK.fullmatch(callback):
                return Response(b"Invalid callback", 400, media_type=HTML)
        return await run_in_threadpool(_run, handler, request, instance, (form, body), kind)

    view.__name__ = handler.__name__
    return view


Posted = tuple[dict[str, str], bytes]


def _run(
    handler: Handler, request: Request, instance: Instance, form: Posted, kind: str
) -> Response:
    if request.method in ("GET", "HEAD"):
        with instance.read_scope():
            return _respond(handler, request, instance, form, kind)
    return _respond(handler, request, instance, form, kind)


def _respond(
    handler: Handler, request: Request, instance: Instance, form: Posted, kind: str
) -> Response:
    try:
        caller = authenticate(instance, request)
    except NotLoggedIn:
        return _not_logged_in(request)
    except PyomeroError as exc:
        return _error(exc, kind, request, instance)
    call = GatewayCall(request, instance, caller.ctx, form[0], form[1])
    try:
        result = handler(call)
        response = result if isinstance(result, Response) else jsonp_response(result, request)
    except InvalidInput as exc:
        response = _error(exc, kind, request, instance)
    except Exception as exc:  # noqa: BLE001 - mapped to a status, never a trace
        response = _error(exc, kind, request, instance)
    if caller.new_session:
        set_session_cookie(response, request, instance, caller.ctx.session_uuid)
    return response


def image_response(
    request: Request, media_type: str, etag: str | None, produce: Callable[[], bytes]
) -> Response:
    """An image with a validator; an ``If-None-Match`` that matches gets an empty 304 and
    the image is never rendered."""
    headers = {"Cache-Control": "private, no-cache"}
    if etag is not None:
        headers["ETag"] = etag
        if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
    return Response(produce(), media_type=media_type, headers=headers)
