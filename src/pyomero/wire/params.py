"""Strict parsing of query parameters: one function per shape, each raising ``InvalidInput``.

Messages keep OMERO's wording (Python's ``int()`` error), and ``InvalidInput.param`` names
the parameter so that every surface can say which one was wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pyomero.errors import InvalidInput

_INT = re.compile(r"\s*[+-]?[0-9]+\s*")
#: OMERO ids and counts are Java longs.
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
_CALLBACK = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*")


def parse_int(name: str, raw: str) -> int:
    """Parse a decimal integer as OMERO does (Python ``int()``, surrounding blanks allowed),
    within a Java long; the message for a non-integer is Python's own."""
    if not _INT.fullmatch(raw):
        raise InvalidInput(f"invalid literal for int() with base 10: {raw!r}", param=name)
    value = int(raw)
    if not LONG_MIN <= value <= LONG_MAX:
        raise InvalidInput(f"{name} is out of range: {raw.strip()}", param=name)
    return value


def fits_long(value: int) -> bool:
    """Whether an id taken from a URL path can name a row at all."""
    return LONG_MIN <= value <= LONG_MAX


def optional_int(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    return None if raw is None else parse_int(name, raw)


def flag(params: Mapping[str, str], name: str) -> bool:
    """OMERO's booleans: only the exact string ``true`` is true."""
    return params.get(name) == "true"


def callback(params: Mapping[str, str]) -> str | None:
    """A JSON-P function name (the draft API's ``callback``), validated as a JS identifier path."""
    raw = params.get("callback")
    if raw is None:
        return None
    if len(raw) > 128 or not _CALLBACK.fullmatch(raw):
        raise InvalidInput(f"invalid callback name: {raw!r}", param="callback")
    return raw


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int | None  # None: every result (``page=0``)


def page(params: Mapping[str, str], *, default_limit: int, max_limit: int) -> Page:
    """``offset``/``limit`` as OMERO normalises them, plus the draft API's 1-based ``page``.

    A negative limit becomes the default, a large one the maximum, a negative offset 0.
    ``page=N`` (N >= 1) sets the offset to ``(N-1)*limit`` unless ``offset`` is given;
    ``page=0`` returns every result.
    """
    offset = optional_int(params, "offset")
    limit = optional_int(params, "limit")
    page_number = optional_int(params, "page")
    if limit is None or limit < 0:
        limit = default_limit
    limit = min(limit, max(1, max_limit))
    if page_number is not None and page_number < 0:
        raise InvalidInput(f"page must be 0 or more, got {page_number}", param="page")
    if offset is None:
        if page_number == 0:
            return Page(0, None)
        offset = 0 if page_number is None else (page_number - 1) * limit
    return Page(max(offset, 0), limit)
