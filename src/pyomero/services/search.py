"""Key-value search (the IDR search engine API) and the webgateway's text search.

Every call reads one snapshot and is answered from the instance's own database with the
caller's read permissions compiled into the SQL (``store/search.py``).
"""

from __future__ import annotations

from pyomero.services.accounts import Context
from pyomero.store import search as store
from pyomero.store.listing import ImageRow
from pyomero.store.search import (
    OPERATORS,
    PAGE_SIZE,
    RESOURCES,
    Bucket,
    Container,
    Document,
    Filter,
    Page,
    Query,
    TextHits,
)

__all__ = [
    "OPERATORS",
    "PAGE_SIZE",
    "RESOURCES",
    "Bucket",
    "Container",
    "Document",
    "Filter",
    "ImageRow",
    "Page",
    "Query",
    "TextHits",
    "containers",
    "keys",
    "names",
    "search",
    "text_search",
    "value_buckets",
    "value_search",
]


def search(ctx: Context, *, resource: str, query: Query, bookmark: int | None = None) -> Page:
    with ctx.instance.db.read() as conn:
        return store.search(conn, ctx.actor, resource, query, bookmark=bookmark)


def containers(ctx: Context, *, query: Query) -> list[Container]:
    with ctx.instance.db.read() as conn:
        return store.containers_of_hits(conn, ctx.actor, query)


def value_buckets(ctx: Context, *, resource: str, key: str) -> tuple[list[Bucket], int]:
    with ctx.instance.db.read() as conn:
        return store.value_buckets(conn, ctx.actor, resource, key)


def value_search(
    ctx: Context, *, resource: str, value: str, key: str | None = None
) -> tuple[list[Bucket], int]:
    with ctx.instance.db.read() as conn:
        return store.value_search(conn, ctx.actor, resource, value, key=key)


def keys(ctx: Context, *, resource: str) -> list[str]:
    with ctx.instance.db.read() as conn:
        return store.keys(conn, ctx.actor, resource)


def names(
    ctx: Context, *, resource: str, value: str | None, use_description: bool = False
) -> list[Container]:
    with ctx.instance.db.read() as conn:
        return store.container_names(
            conn, ctx.actor, resource, value, use_description=use_description
        )


def text_search(
    ctx: Context, *, text: str, images_only: bool, limit: int, offset: int = 0
) -> TextHits:
    with ctx.instance.db.read() as conn:
        return store.text_hits(
            conn, ctx.actor, text, images_only=images_only, limit=limit, offset=offset
        )
