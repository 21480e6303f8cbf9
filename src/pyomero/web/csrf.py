"""CSRF protection compatible with Django's, which OMERO.web clients already speak.

The ``csrftoken`` cookie holds a 32-character secret. Tokens handed out (``/api/v0/token/``)
are 64 characters: a random mask followed by the secret shifted by it, so every page gets
a different token for the same secret. Either form is accepted in the ``X-CSRFToken``
header or the ``csrfmiddlewaretoken`` form field. The reasons are Django's own strings,
which OMERO.web returns as ``CSRF Failed: <reason>``.
"""

from __future__ import annotations

import secrets
import string
from urllib.parse import urlsplit

from starlette.requests import Request

COOKIE = "csrftoken"
HEADER = "x-csrftoken"
FORM_FIELD = "csrfmiddlewaretoken"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_CHARS = string.ascii_letters + string.digits
_SECRET_LENGTH = 32
_TOKEN_LENGTH = 64


class CsrfFailure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def new_secret() -> str:
    return "".join(secrets.choice(_CHARS) for _ in range(_SECRET_LENGTH))


def mask(secret: str) -> str:
    """A 64-character token for ``secret`` (a fresh random mask each time)."""
    pad = "".join(secrets.choice(_CHARS) for _ in range(_SECRET_LENGTH))
    shifted = "".join(
        _CHARS[(_CHARS.index(s) + _CHARS.index(p)) % len(_CHARS)]
        for s, p in zip(secret, pad, strict=True)
    )
    return pad + shifted


def unmask(token: str) -> str:
    pad, shifted = token[:_SECRET_LENGTH], token[_SECRET_LENGTH:]
    return "".join(
        _CHARS[(_CHARS.index(s) - _CHARS.index(p)) % len(_CHARS)]
        for s, p in zip(shifted, pad, strict=True)
    )


def _well_formed(value: str) -> bool:
    return all(c in _CHARS for c in value)


def secret_from_cookie(request: Request) -> str | None:
    """The secret in the request's cookie if it is well formed, else None."""
    value = request.cookies.get(COOKIE)
    if value is None:
        return None
    if len(value) == _TOKEN_LENGTH and _well_formed(value):
        return unmask(value)
    if len(value) == _SECRET_LENGTH and _well_formed(value):
        return value
    return None


def _check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is None:
        return
    host = request.headers.get("host", "")
    if origin != f"{request.url.scheme}://{host}":
        raise CsrfFailure(f"Origin checking failed - {origin} does not match any trusted origins.")


def _check_referer(request: Request) -> None:
    """On HTTPS a same-origin ``Referer`` is required too, as Django does."""
    if request.url.scheme != "https" or "origin" in request.headers:
        return
    referer = request.headers.get("referer")
    if referer is None:
        raise CsrfFailure("Referer checking failed - no Referer.")
    parts = urlsplit(referer)
    if not parts.scheme or not parts.netloc:
        raise CsrfFailure("Referer checking failed - Referer is malformed.")
    if parts.scheme != "https":
        raise CsrfFailure("Referer checking failed - Referer is insecure while host is secure.")
    if parts.netloc != request.headers.get("host", ""):
        raise CsrfFailure(
            f"Referer checking failed - {referer} does not match any trusted origins."
        )


def check(request: Request, form_token: str | None) -> None:
    """Raise ``CsrfFailure`` unless an unsafe request carries a valid token.

    ``form_token`` is the ``csrfmiddlewaretoken`` field of a form-encoded POST, if any.
    """
    if request.method in SAFE_METHODS:
        return
    _check_origin(request)
    _check_referer(request)
    raw_cookie = request.cookies.get(COOKIE)
    if raw_cookie is None:
        raise CsrfFailure("CSRF cookie not set.")
    if len(raw_cookie) not in (_SECRET_LENGTH, _TOKEN_LENGTH):
        raise CsrfFailure("CSRF cookie has incorrect length.")
    secret = secret_from_cookie(request)
    if secret is None:
        raise CsrfFailure("CSRF cookie has invalid characters.")
    token = request.headers.get(HEADER)
    source = "the 'X-Csrftoken' HTTP header"
    if token is None:
        token = form_token if request.method == "POST" else None
        source = "POST"
    if not token:
        raise CsrfFailure("CSRF token missing.")
    if len(token) not in (_SECRET_LENGTH, _TOKEN_LENGTH):
        raise CsrfFailure(f"CSRF token from {source} has incorrect length.")
    if not _well_formed(token):
        raise CsrfFailure(f"CSRF token from {source} has invalid characters.")
    candidate = unmask(token) if len(token) == _TOKEN_LENGTH else token
    if not secrets.compare_digest(candidate, secret):
        raise CsrfFailure(f"CSRF token from {source} incorrect.")
