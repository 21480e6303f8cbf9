"""JSON responses: orjson on the hot path, OMERO's ASCII escaping, the API version header."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import Response

API_VERSION = "0.2"
JSON = "application/json"


def dumps(data: Any) -> bytes:
    """Compact JSON, non-ASCII escaped as OMERO.web (``ensure_ascii``) sends it: ``\\u00b5m``."""
    raw = orjson.dumps(data)
    if raw.isascii():
        return raw
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode()


def json_response(
    data: Any,
    status: int = 200,
    *,
    api_version: bool = True,
    callback: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = dumps(data)
    media_type = JSON
    if callback is not None:
        body = b"/**/" + callback.encode() + b"(" + body + b");"
        media_type = "application/javascript"
    response = Response(body, status_code=status, media_type=media_type, headers=headers)
    if api_version:
        response.headers["X-OMERO-ApiVersion"] = API_VERSION
    return response
