"""Random hits and the container routes of the IDR search engine (``container_images``,
``container_keys``, ``container_keyvalues``, ``container_filterkeyvalues``,
``sub_container_images``): projects and screens, what they hold and the key-value buckets
inside them, always through the compiled visibility predicate. Split from ``search.py``,
whose query conditions and documents they reuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    distinct,
    func,
    literal,
    select,
    true,
)

from pyomero.model.permissions import Actor
from pyomero.store.schema import (
    annotation,
    annotation_links,
    dataset,
    datasetimagelink,
    image,
    plate,
    projectdatasetlink,
    screenplatelink,
    well,
    wellsample,
)
from pyomero.store.search import (
    Bucket,
    Container,
    Document,
    Page,
    Query,
    complete_documents,
    document_columns,
    like_pattern,
    mv,
    query_conditions,
    resource_table,
)
from pyomero.store.visibility import readable

# -- random hits, containers ------------------------------------------------------------------


def random_hits(conn: Connection, actor: Actor, resource: str, query: Query, count: int) -> Page:
    """``random_results=N``: ``count`` hits drawn at random, and the total number of hits.

    Drawing orders every hit by ``random()``: this reads all the hits of the query (as the
    IDR's random script sort does), not one page of them.
    """
    table = resource_table(resource)
    where = query_conditions(conn, actor, resource, query)
    rows = conn.execute(
        select(*document_columns(table)).where(*where).order_by(func.random()).limit(count)
    ).all()
    size = conn.scalar(select(func.count()).select_from(table).where(*where)) or 0
    docs = {r[0]: Document(r[0], r[1], r[2], r[3], r[4]) for r in rows}
    complete_documents(conn, actor, resource, docs)
    return Page(list(docs.values()), size)


#: The containers the engine knows by name, and what each holds directly.
CONTAINER_TYPES = ("project", "screen")
SUB_CONTAINERS = {"project": "dataset", "screen": "plate"}


@dataclass(frozen=True, slots=True)
class Named:
    """A project or screen found by name."""

    id: int
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class KeyBuckets:
    """The key (or value) buckets of one container's objects."""

    container: Named
    buckets: list[Bucket]


@dataclass(frozen=True, slots=True)
class SubContainer:
    id: int
    name: str
    type: str  # "dataset" or "plate"
    images: int


def _name_matches(table: Table, needle: str | None) -> ColumnElement[bool]:
    if not needle:
        return true()
    pattern = func.lower(literal(like_pattern(needle)))
    return func.lower(table.c.name).like(pattern, escape="\\")


def _image_pairs(container_type: str) -> Select[Any]:
    """(container id, image id) for every image placed in a project or screen."""
    if container_type == "project":
        return select(
            projectdatasetlink.c.parent.label("cid"), datasetimagelink.c.child.label("mid")
        ).join(datasetimagelink, datasetimagelink.c.parent == projectdatasetlink.c.child)
    return (
        select(screenplatelink.c.parent.label("cid"), wellsample.c.image.label("mid"))
        .join(well, well.c.plate == screenplatelink.c.child)
        .join(wellsample, wellsample.c.well == well.c.id)
    )


def container_images(
    conn: Connection,
    actor: Actor,
    *,
    needle: str | None = None,
    container_type: str | None = None,
) -> list[Container]:
    """``container_images``: readable projects, then screens (name containing ``needle``),
    each with its number of readable images.

    One grouped query per container type; without ``needle`` it counts the images of every
    container, so it reads every project-dataset-image and screen-plate-well-sample link.
    """
    found: list[Container] = []
    for kind in CONTAINER_TYPES:
        if container_type is not None and kind != container_type:
            continue
        table = resource_table(kind)
        raw = _image_pairs(kind).subquery()
        pairs = (
            select(raw.c.cid, raw.c.mid)
            .select_from(raw.join(image, image.c.id == raw.c.mid))
            .where(readable(actor, image))
            .subquery()
        )
        statement = (
            select(table.c.id, table.c.name, table.c.description, func.count(distinct(pairs.c.mid)))
            .select_from(table.outerjoin(pairs, pairs.c.cid == table.c.id))
            .where(readable(actor, table), _name_matches(table, needle))
            .group_by(table.c.id, table.c.name, table.c.description)
            .order_by(table.c.id)
        )
        found += [Container(i, n, kind, d, c) for i, n, d, c in conn.execute(statement)]
    return found


def _named(conn: Connection, actor: Actor, needle: str) -> list[Named]:
    """Readable projects, then screens, whose name contains ``needle`` (any case), as the
    engine finds a container by name. Scans the (small) project and screen tables."""
    found: list[Named] = []
    for kind in CONTAINER_TYPES:
        table = resource_table(kind)
        rows = conn.execute(
            select(table.c.id, table.c.name)
            .where(readable(actor, table), _name_matches(table, needle))
            .order_by(table.c.id)
        )
        found += [Named(i, n, kind) for i, n in rows]
    return found


def _members(resource: str, container_type: str, ids: list[int]) -> Select[Any] | None:
    """(container id, object id) for the ``resource`` objects inside containers ``ids``;
    None when such a container holds no ``resource`` (a project holds no plates)."""
    if resource == container_type:
        table = resource_table(resource)
        return select(table.c.id.label("cid"), table.c.id.label("mid")).where(table.c.id.in_(ids))
    if resource == "image":
        pairs = _image_pairs(container_type)
        parent = (
            projectdatasetlink.c.parent if container_type == "project" else screenplatelink.c.parent
        )
        return pairs.where(parent.in_(ids))
    if container_type != "screen":
        return None
    if resource == "plate":
        return select(
            screenplatelink.c.parent.label("cid"), screenplatelink.c.child.label("mid")
        ).where(screenplatelink.c.parent.in_(ids))
    if resource == "well":
        return (
            select(screenplatelink.c.parent.label("cid"), well.c.id.label("mid"))
            .join(well, well.c.plate == screenplatelink.c.child)
            .where(screenplatelink.c.parent.in_(ids))
        )
    return None


def container_buckets(
    conn: Connection,
    actor: Actor,
    resource: str,
    needle: str,
    *,
    key: str | None = None,
    query: Query | None = None,
) -> list[KeyBuckets]:
    """``container_keys`` / ``container_keyvalues`` / ``container_filterkeyvalues``.

    For each readable project and screen whose name contains ``needle``: the keys of the
    readable pairs on the readable ``resource`` objects inside it (grouped without regard
    to case, as the engine's normalised key field), or with ``key`` the values of that key
    (as stored), each with its number of objects; only the objects ``query`` finds when it
    is given. Containers with no bucket are left out, as the engine leaves them out.

    One grouped query per container type over the containers' objects: it reads every pair
    of every object inside the named containers.
    """
    table = resource_table(resource)
    link = annotation_links[resource]
    named = _named(conn, actor, needle)
    found: list[KeyBuckets] = []
    for kind in CONTAINER_TYPES:
        of_kind = {n.id: n for n in named if n.type == kind}
        members = _members(resource, kind, list(of_kind)) if of_kind else None
        if members is None:
            continue
        m = members.subquery()
        where: list[ColumnElement[bool]] = [
            readable(actor, table),
            readable(actor, link),
            readable(actor, annotation),
        ]
        if query is not None:
            where.append(
                table.c.id.in_(
                    select(table.c.id).where(*query_conditions(conn, actor, resource, query))
                )
            )
        label: ColumnElement[Any]
        group: ColumnElement[Any]
        if key is None:
            label, group = func.min(mv.c.name), func.lower(mv.c.name)
        else:
            where.append(func.lower(mv.c.name) == func.lower(literal(key)))
            label, group = mv.c.value, mv.c.value
        statement = (
            select(m.c.cid, label, func.count(distinct(m.c.mid)))
            .select_from(
                m.join(table, table.c.id == m.c.mid)
                .join(link, link.c.parent == m.c.mid)
                .join(mv, mv.c.annotation_id == link.c.child)
                .join(annotation, annotation.c.id == link.c.child)
            )
            .where(*where)
            .group_by(m.c.cid, group)
        )
        by_container: dict[int, list[Bucket]] = {}
        for cid, text, count in conn.execute(statement):
            bucket = Bucket(text, "", count) if key is None else Bucket(key, text, count)
            by_container.setdefault(cid, []).append(bucket)
        for cid, container in of_kind.items():
            buckets = by_container.get(cid)
            if buckets:
                # Elasticsearch's terms order: fullest bucket first, then by term.
                buckets.sort(key=lambda b: (-b.count, b.key if key is None else b.value))
                found.append(KeyBuckets(container, buckets))
    return found


def sub_containers(
    conn: Connection, actor: Actor, needle: str, *, query: Query | None = None
) -> tuple[Named, list[SubContainer]] | None:
    """``sub_container_images``: the datasets of a project (plates of a screen) found by
    name, each with its number of readable images (those ``query`` finds, when given).

    The container is the one named exactly ``needle`` (any case), else the first whose name
    contains it, projects first; None when there is none. One grouped query.
    """
    named = _named(conn, actor, needle)
    if not named:
        return None
    exact = [n for n in named if n.name.lower() == needle.lower()]
    container = (exact or named)[0]
    if container.type == "project":
        sub, pairs = (
            dataset,
            (
                select(
                    datasetimagelink.c.parent.label("sid"), datasetimagelink.c.child.label("mid")
                )
                .join(projectdatasetlink, projectdatasetlink.c.child == datasetimagelink.c.parent)
                .where(projectdatasetlink.c.parent == container.id)
            ),
        )
    else:
        sub, pairs = (
            plate,
            (
                select(well.c.plate.label("sid"), wellsample.c.image.label("mid"))
                .join(wellsample, wellsample.c.well == well.c.id)
                .join(screenplatelink, screenplatelink.c.child == well.c.plate)
                .where(screenplatelink.c.parent == container.id)
            ),
        )
    p = pairs.subquery()
    where: list[ColumnElement[bool]] = [readable(actor, sub), readable(actor, image)]
    if query is not None:
        where.append(
            image.c.id.in_(select(image.c.id).where(*query_conditions(conn, actor, "image", query)))
        )
    statement = (
        select(sub.c.id, sub.c.name, func.count(distinct(p.c.mid)))
        .select_from(p.join(sub, sub.c.id == p.c.sid).join(image, image.c.id == p.c.mid))
        .where(*where)
        .group_by(sub.c.id, sub.c.name)
        .order_by(sub.c.id)
    )
    kind = SUB_CONTAINERS[container.type]
    return container, [SubContainer(i, n, kind, c) for i, n, c in conn.execute(statement)]
