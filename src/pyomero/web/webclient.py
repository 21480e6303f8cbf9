"""``/webclient/`` pages of the foundation: the login form and logout.

A session made by the login form is the same session the JSON API accepts, as with
OMERO.web. The index page and the tree API are in ``webclient_api.py``.
"""

from __future__ import annotations

import html

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from pyomero.errors import LoginFailed
from pyomero.services import accounts
from pyomero.services.instance import Instance
from pyomero.web import csrf
from pyomero.web.api_view import form_fields
from pyomero.web.session import clear_session_cookie, set_session_cookie

LOGIN_URL = "/webclient/login/"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200, *, secret: str | None = None) -> Response:
    response = HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status)
    if secret is not None:
        response.set_cookie(csrf.COOKIE, secret, samesite="lax", path="/")
    return response


def _token_field(request: Request) -> tuple[str, str | None]:
    """A hidden CSRF field, and the new secret to set when the client has no cookie yet."""
    secret = csrf.secret_from_cookie(request)
    fresh = None
    if secret is None:
        secret = fresh = csrf.new_secret()
    field = f'<input type="hidden" name="{csrf.FORM_FIELD}" value="{csrf.mask(secret)}">'
    return field, fresh


def _safe_next(target: str | None) -> str:
    """Only same-site relative redirects after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/webclient/"


def _login_form(request: Request, message: str = "", status: int = 200) -> Response:
    field, fresh = _token_field(request)
    nxt = html.escape(_safe_next(request.query_params.get("url")))
    error = f'<p class="error">{html.escape(message)}</p>' if message else ""
    body = (
        f'{error}<form method="post" action="{LOGIN_URL}?url={nxt}">{field}'
        '<input type="hidden" name="server" value="1">'
        '<label>Username <input name="username" autocomplete="username"></label> '
        '<label>Password <input name="password" type="password" autocomplete="current-password"></label> '
        '<button type="submit">Login</button></form>'
    )
    return _page("pyomero login", body, status, secret=fresh)


async def _checked_form(request: Request) -> dict[str, str] | Response:
    """The posted form, or the 403 page when its CSRF token does not check out."""
    form = form_fields(request, await request.body())
    try:
        csrf.check(request, form.get(csrf.FORM_FIELD))
    except csrf.CsrfFailure as failure:
        return _page("Forbidden", f"<p>CSRF Failed: {html.escape(failure.reason)}</p>", 403)
    return form


async def login(request: Request) -> Response:
    instance: Instance = request.app.state.instance
    if request.method == "GET":
        return _login_form(request)
    form = await _checked_form(request)
    if isinstance(form, Response):
        return form
    username, password = form.get("username", "").strip(), form.get("password", "")
    if not username or not password:
        return _login_form(request, "Username and password are required.", 403)
    try:
        ctx = await run_in_threadpool(
            accounts.login,
            instance,
            username=username,
            password=password,
            user_agent=request.headers.get("user-agent"),
        )
    except LoginFailed as exc:
        return _login_form(request, str(exc), 403)
    response = RedirectResponse(_safe_next(request.query_params.get("url")), status_code=302)
    set_session_cookie(response, request, instance, ctx.session_uuid)
    return response


async def logout(request: Request) -> Response:
    """GET shows a confirmation form; POST (with CSRF) closes the session and goes to login."""
    instance: Instance = request.app.state.instance
    if request.method == "GET":
        field, fresh = _token_field(request)
        body = f'<form method="post">{field}<button type="submit">Log out</button></form>'
        return _page("Log out", body, secret=fresh)
    checked = await _checked_form(request)
    if isinstance(checked, Response):
        return checked
    uuid = request.cookies.get(instance.settings.session_cookie_name)
    if uuid:
        await run_in_threadpool(accounts.logout, instance, uuid)
    response = RedirectResponse(LOGIN_URL, status_code=302)
    clear_session_cookie(response, instance)
    return response


def routes() -> list[Route]:
    return [
        Route(LOGIN_URL, login, methods=["GET", "POST"]),
        Route("/webclient/logout/", logout, methods=["GET", "POST"]),
    ]
