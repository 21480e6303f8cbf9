"""Who is calling: ``?bsession=``, ``?username=&password=``, the session cookie, or the
public user.

The order is OMERO.web's ``login_required``. A login made here is remembered in the
session cookie, as OMERO.web stores the connector in the Django session. When nothing else
applies, a request the public-user settings allow (``public_url_filter``, GET only) runs in a
new session of the public user, whose cookie later requests reuse; a public session never
serves a request outside those settings, so it cannot write or leave the filtered paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from starlette.requests import Request
from starlette.responses import Response

from pyomero.errors import LoginFailed, NotLoggedIn
from pyomero.services import accounts
from pyomero.services.accounts import Context, open_public_session
from pyomero.services.instance import Instance
from pyomero.services.tree import is_public


@dataclass
class Caller:
    ctx: Context
    new_session: bool  # the request logged in: set the cookie on the response


def authenticate(instance: Instance, request: Request) -> Caller:
    caller = _identified(instance, request)
    if caller is None:
        if not _public_allows(instance, request):
            raise NotLoggedIn()
        user_agent = request.headers.get("user-agent")
        return Caller(open_public_session(instance, user_agent=user_agent), True)
    if is_public(caller.ctx) and not _public_allows(instance, request):
        raise NotLoggedIn()
    return caller


def _identified(instance: Instance, request: Request) -> Caller | None:
    """The caller named by the request itself; None when it names nobody (or an expired
    cookie, so that the public user can take over)."""
    query = request.query_params
    bsession = query.get("bsession")
    if bsession is not None:
        return Caller(accounts.join_session(instance, bsession), True)
    username, password = query.get("username"), query.get("password")
    if username is not None and password is not None:
        try:
            ctx = accounts.login(
                instance,
                username=username,
                password=password,
                user_agent=request.headers.get("user-agent"),
            )
        except LoginFailed:
            raise NotLoggedIn() from None
        return Caller(ctx, True)
    cookie = request.cookies.get(instance.settings.session_cookie_name)
    if not cookie:
        return None
    try:
        return Caller(accounts.join_session(instance, cookie), False)
    except NotLoggedIn:
        return None


@lru_cache(maxsize=8)
def _url_filter(pattern: str) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None


def _public_allows(instance: Instance, request: Request) -> bool:
    """OMERO.web's public-user test: enabled, a path matching the filter, GET unless allowed."""
    settings = instance.settings
    if not settings.public_user:
        return False
    if settings.public_get_only and request.method not in ("GET", "HEAD"):
        return False
    url_filter = _url_filter(settings.public_url_filter)
    return url_filter is not None and url_filter.match(request.url.path) is not None


def set_session_cookie(response: Response, request: Request, instance: Instance, uuid: str) -> None:
    """A browser-session cookie (expires when the browser closes), HttpOnly, SameSite=Lax,
    and Secure when the request came over HTTPS."""
    response.set_cookie(
        instance.settings.session_cookie_name,
        uuid,
        httponly=True,
        samesite="lax",
        path="/",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(response: Response, instance: Instance) -> None:
    response.delete_cookie(instance.settings.session_cookie_name, path="/")
