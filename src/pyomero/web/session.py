"""Who is calling: ``?bsession=``, ``?username=&password=``, or the session cookie.

The order is OMERO.web's ``login_required``. A login made here is remembered in the
session cookie, as OMERO.web stores the connector in the Django session.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from pyomero.errors import LoginFailed, NotLoggedIn
from pyomero.services import accounts
from pyomero.services.accounts import Context
from pyomero.services.instance import Instance


@dataclass
class Caller:
    ctx: Context
    new_session: bool  # the request logged in: set the cookie on the response


def authenticate(instance: Instance, request: Request) -> Caller:
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
        raise NotLoggedIn()
    return Caller(accounts.join_session(instance, cookie), False)


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
