"""The one place that knows HTTP statuses and each surface's error body.

The JSON API answers ``{"message": ..., "stacktrace": ...}`` as OMERO.web does. OMERO sends
its Python traceback there; pyomero sends a short trace that names the error (the key is
what clients look for) and the real traceback only when ``debug`` is on.
"""

from __future__ import annotations

import logging
import traceback

from pyomero.errors import (
    Conflict,
    InvalidInput,
    LoginFailed,
    NotFound,
    NotLoggedIn,
    NotSupported,
    PyomeroError,
    SecurityViolation,
    ValidationError,
)

log = logging.getLogger("pyomero.web")

_STATUS: list[tuple[type[PyomeroError], int]] = [
    (InvalidInput, 400),
    (NotFound, 404),
    (NotLoggedIn, 403),
    (LoginFailed, 403),
    (SecurityViolation, 403),
    (NotSupported, 405),
    (ValidationError, 400),
    (Conflict, 400),
]

#: OMERO's server exception names, which clients find in messages of these errors.
_OMERO_PREFIX = {
    ValidationError: "omero.ValidationException",
    Conflict: "omero.ValidationException",
    SecurityViolation: "omero.SecurityViolation",
}


def status_of(exc: BaseException) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def _short_trace(exc: BaseException, message: str) -> str:
    return f"Traceback (most recent call last):\n  pyomero: {type(exc).__name__}: {message}"


def api_error_body(exc: BaseException, *, debug: bool) -> tuple[int, dict[str, object]]:
    """Status and body of a JSON API error; unexpected errors are logged, never detailed."""
    status = status_of(exc)
    if status == 500:
        log.error("unexpected error", exc_info=exc)
        body: dict[str, object] = {"message": "Internal server error"}
        body["stacktrace"] = (
            "".join(traceback.format_exception(exc))
            if debug
            else _short_trace(exc, "see server log")
        )
        return status, body
    message = str(exc)
    prefix = next((p for cls, p in _OMERO_PREFIX.items() if isinstance(exc, cls)), None)
    if prefix:
        message = f"{prefix}: {message}"
    body = {"message": message}
    if isinstance(exc, InvalidInput):
        if exc.param:
            body["parameter"] = exc.param
        stacktrace = getattr(exc, "stacktrace", None)
        if stacktrace:
            body["stacktrace"] = stacktrace if debug else _short_trace(exc, message)
    elif not isinstance(exc, (NotLoggedIn, LoginFailed)):
        body["stacktrace"] = (
            "".join(traceback.format_exception(exc)) if debug else _short_trace(exc, message)
        )
    return status, body
