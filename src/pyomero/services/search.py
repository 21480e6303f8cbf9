"""Key-value search (the IDR search engine API) and the webgateway's text search.

Every call reads one snapshot and is answered from the instance's own database with the
caller's read permissions compiled into the SQL (``store/search.py``).
"""

from __future__ import annotations

from pyomero.services.accounts import Context
from pyomero.store import search as store
from pyomero.store import search_containers
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
from pyomero.store.search_containers import CONTAINER_TYPES, KeyBuckets, Named, SubContainer

__all__ = [
    "CONTAINER_TYPES",
    "OPERATORS",
    "PAGE_SIZE",
    "RESOURCES",
    "Bucket",
    "Container",
    "Document",
    "Filter",
    "ImageRow",
    "KeyBuckets",
    "Named",
    "Page",
    "Query",
    "SubContainer",
    "TextHits",
    "container_buckets",
    "container_images",
    "containers",
    "keys",
    "names",
    "random_search",
    "search",
    "sub_containers",
    "text_search",
    "value_buckets",
    "value_search",
]


def search(ctx: Context, *, resource: str, query: Query, bookmark: int | None = None) -> Page:
    with ctx.instance.db.read() as conn:
        return store.search(conn, ctx.actor, resource, query, bookmark=bookmark)


def random_search(ctx: Context, *, resource: str, query: Query, count: int) -> Page:
    with ctx.instance.db.read() as conn:
        return search_containers.random_hits(conn, ctx.actor, resource, query, count)


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


def container_images(
    ctx: Context, *, name: str | None = None, container_type: str | None = None
) -> list[Container]:
    with ctx.instance.db.read() as conn:
        return search_containers.container_images(
            conn, ctx.actor, needle=name, container_type=container_type
        )


def container_buckets(
    ctx: Context,
    *,
    resource: str,
    container_name: str,
    key: str | None = None,
    query: Query | None = None,
) -> list[KeyBuckets]:
    with ctx.instance.db.read() as conn:
        return search_containers.container_buckets(
            conn, ctx.actor, resource, container_name, key=key, query=query
        )


def sub_containers(
    ctx: Context, *, container_name: str, query: Query | None = None
) -> tuple[Named, list[SubContainer]] | None:
    with ctx.instance.db.read() as conn:
        return search_containers.sub_containers(conn, ctx.actor, container_name, query=query)
