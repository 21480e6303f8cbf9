"""JSON responses: orjson on the hot path, OMERO's ASCII escaping, the API version header."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

API_VERSION = "0.2"
JSON = "application/json"


#: The non-ASCII characters pyomero's own vocabulary uses (unit symbols), pre-escaped.
_KNOWN = ((b"\xc2\xb5", b"\\u00b5"), (b"\xc3\x85", b"\\u00c5"))


def dumps(data: Any) -> bytes:
    """Compact JSON, non-ASCII escaped as OMERO.web (``ensure_ascii``) sends it: ``\\u00b5m``.

    orjson writes UTF-8 and has no ASCII mode, and the standard library is 20x slower on a
    200-image page, so the escaping is done on orjson's bytes: the unit symbols by plain
    replacement, anything else with the codec's ``backslashreplace`` rewritten into JSON's
    ``\\uXXXX`` form. The result is byte-identical to ``json.dumps(ensure_ascii=True)``.
    """
    raw = orjson.dumps(data)
    if b"\x7f" in raw:  # DEL is ASCII, but json.dumps escapes it; only strings can hold it
        raw = raw.replace(b"\x7f", b"\\u007f")
    if raw.isascii():
        return raw
    for char, escaped in _KNOWN:
        raw = raw.replace(char, escaped)
    if raw.isascii():
        return raw
    out = raw.decode("utf-8").encode("ascii", "backslashreplace")
    out = _rewrite(out, b"\\x", 2, lambda digits: b"\\u00" + digits)
    return _rewrite(out, b"\\U", 8, _surrogate_pair)


def _surrogate_pair(digits: bytes) -> bytes:
    code = int(digits, 16) - 0x10000
    return b"\\u%04x\\u%04x" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))


def _rewrite(out: bytes, marker: bytes, width: int, convert: Any) -> bytes:
    """Replace each ``marker`` + ``width`` hex digits that ``backslashreplace`` made.

    JSON text escapes a literal backslash as two, so a marker is the codec's own only when an
    even number of backslashes precede it.
    """
    parts: list[bytes] = []
    start = 0
    i = out.find(marker)
    while i != -1:
        j = i
        while j > 0 and out[j - 1] == 92:  # ord("\\")
            j -= 1
        if (i - j) % 2 == 0:
            parts += (out[start:i], convert(out[i + 2 : i + 2 + width]))
            start = i + 2 + width
            i = out.find(marker, start)
        else:
            i = out.find(marker, i + 2)
    if not parts:
        return out
    parts.append(out[start:])
    return b"".join(parts)


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
