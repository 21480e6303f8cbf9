"""The request cycle shared by every JSON endpoint.

An endpoint is a plain function ``handler(call: ApiCall) -> Response | data``. The wrapper
reads the body, checks CSRF on unsafe methods, then runs authentication, the handler and
the error mapping in one worker thread, so the event loop never waits on the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from pyomero.errors import NotLoggedIn, PyomeroError
from pyomero.services.accounts import Context
from pyomero.services.instance import Instance
from pyomero.web import csrf
from pyomero.web.errors import api_error_body
from pyomero.web.responses import json_response
from pyomero.web.session import authenticate, set_session_cookie
from pyomero.wire import params

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass
class ApiCall:
    request: Request
    instance: Instance
    body: bytes
    form: dict[str, str]
    ctx: Context | None = None
    callback: str | None = None

    @property
    def query(self) -> Any:
        return self.request.query_params

    @property
    def settings(self) -> Any:
        return self.instance.settings

    @property
    def context(self) -> Context:
        assert self.ctx is not None, "endpoint declared without login"
        return self.ctx

    def base_url(self) -> str:
        """Prefix for ``url:`` values: the configured absolute URL, or this request's origin."""
        configured = self.settings.api_absolute_url
        if configured:
            return configured.rstrip("/")
        return str(self.request.base_url).rstrip("/")


def form_fields(request: Request, body: bytes) -> dict[str, str]:
    """The fields of a form-encoded body (last value wins); {} for any other body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPES[0]:
        return {}
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        return {}
    return {k: v[-1] for k, v in parsed.items()}


def error_response(exc: BaseException, instance: Instance, *, version: bool = True) -> Response:
    status, body = api_error_body(exc, debug=instance.settings.debug)
    return json_response(body, status, api_version=version and not isinstance(exc, NotLoggedIn))


def endpoint(
    handler: Callable[[ApiCall], Any],
    *,
    login: bool = True,
    jsonp: bool = True,
    read_body: bool = True,
) -> Callable[[Request], Any]:
    """Wrap ``handler`` into a Starlette endpoint with CSRF, login and error mapping.

    ``read_body=False`` leaves the body unread for the handler to stream (large uploads);
    CSRF then comes from the header only, since there is no form to look in.
    """

    async def view(request: Request) -> Response:
        instance: Instance = request.app.state.instance
        body = b""
        form: dict[str, str] = {}
        if request.method not in csrf.SAFE_METHODS:
            if read_body:
                body = await request.body()
                form = form_fields(request, body)
            try:
                csrf.check(request, form.get(csrf.FORM_FIELD))
            except csrf.CsrfFailure as failure:
                return json_response(
                    {"message": f"CSRF Failed: {failure.reason}"}, 403, api_version=False
                )
        call = ApiCall(request=request, instance=instance, body=body, form=form)
        return await run_in_threadpool(_run, handler, call, login, jsonp)

    view.__name__ = handler.__name__
    return view


def _run(handler: Callable[[ApiCall], Any], call: ApiCall, login: bool, jsonp: bool) -> Response:
    if call.request.method in ("GET", "HEAD"):
        with call.instance.read_scope():
            return _respond(handler, call, login, jsonp)
    return _respond(handler, call, login, jsonp)


def _respond(
    handler: Callable[[ApiCall], Any], call: ApiCall, login: bool, jsonp: bool
) -> Response:
    try:
        if jsonp:
            call.callback = params.callback(call.query)
        new_session = False
        if login:
            caller = authenticate(call.instance, call.request)
            call.ctx, new_session = caller.ctx, caller.new_session
        result = handler(call)
        response = (
            result
            if isinstance(result, Response)
            else json_response(result, callback=call.callback)
        )
        if new_session and call.ctx is not None:
            set_session_cookie(response, call.request, call.instance, call.ctx.session_uuid)
        return response
    except PyomeroError as exc:
        return error_response(exc, call.instance)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a 500, never a trace
        return error_response(exc, call.instance)
