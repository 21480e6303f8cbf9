"""Annotations and their links in SQL: what the webclient's annotation panel and the JSON API
read, and the rows the annotate_* use cases write.

Reads filter with ``visibility.readable`` inside the query (on the annotation, its link and
its parent), so paging never counts a row the caller may not see. Writes run inside the
caller's write transaction; permission checks happen in services first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, exists, func, insert, or_, select, update

from pyomero.model.entities import Annotation, Experimenter
from pyomero.model.permissions import Actor, Permissions
from pyomero.model.plates import row_letters
from pyomero.store.accounts import experimenter_from_row
from pyomero.store.db import inserted_id
from pyomero.store.details import DetailsResolver
from pyomero.store.pixels import StoredFile
from pyomero.store.schema import (
    ANNOTATABLE,
    annotation,
    annotation_links,
    annotation_mapvalue,
    annotationannotationlink,
    datasetimagelink,
    event,
    experimenter,
    originalfile,
    plate,
    projectdatasetlink,
    screenplatelink,
    well,
)
from pyomero.store.visibility import readable

#: OMERO's rating namespace (``omero.constants.metadata.NSINSIGHTRATING``).
RATING_NS = "openmicroscopy.org/omero/insight/rating"

#: The parent types of the annotation panel, in OMERO.web's order (tree.marshal_annotations).
PARENT_ORDER = ("project", "dataset", "image", "screen", "plate", "plateacquisition", "well")

#: ``type=`` of ``webclient/api/annotations`` -> annotation discriminator.
_TYPE_KINDS = {"tag": "Tag", "file": "File", "comment": "Comment", "map": "Map", "rating": "Long"}


@dataclass(frozen=True, slots=True)
class LinkRow:
    """One annotation as linked to one parent, with what the panel shows of both."""

    id: int
    owner_id: int
    group_id: int
    time: datetime | None
    parent_type: str
    parent_id: int
    parent_name: str
    annotation: Annotation
    annotation_time: datetime | None
    file: StoredFile | None
    permissions: Permissions | None = None  # the caller's, on the link


def _type_filter(ann_type: str | None) -> Any:
    """The WHERE clause of OMERO.web's ``type`` filter (absent or unknown: every class)."""
    d, ns = annotation.c.discriminator, annotation.c.ns
    if ann_type == "rating":
        return and_(d == "Long", ns == RATING_NS)
    if ann_type == "custom":
        return and_(
            d.not_in(("Tag", "File", "Comment", "Map")),
            or_(d != "Long", ns.is_(None), ns != RATING_NS),
        )
    kind = _TYPE_KINDS.get(ann_type or "")
    return None if kind is None else d == kind


def _annotation(row: Any, resolver: DetailsResolver, pairs: dict[int, list[tuple[str, str]]]):
    kind = row.discriminator
    return Annotation(
        id=row.id,
        kind=kind,
        ns=row.ns,
        description=row.description,
        text_value=row.textvalue,
        long_value=row.longvalue,
        double_value=row.doublevalue,
        bool_value=row.boolvalue,
        time_value=row.timevalue,
        term_value=row.termvalue,
        map_value=pairs.get(row.id, []) if kind == "Map" else None,
        file_id=row.file,
        details=resolver.details(row.owner_id, row.group_id),
    )


def map_values(conn: Connection, ids: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
    """Ordered key-value pairs of map annotations (duplicate keys kept, in their order)."""
    out: dict[int, list[tuple[str, str]]] = {}
    wanted = list(set(ids))
    if not wanted:
        return out
    rows = conn.execute(
        select(annotation_mapvalue)
        .where(annotation_mapvalue.c.annotation_id.in_(wanted))
        .order_by(annotation_mapvalue.c.annotation_id, annotation_mapvalue.c.index)
    )
    for r in rows:
        out.setdefault(r.annotation_id, []).append((r.name, r.value))
    return out


def files(conn: Connection, ids: Iterable[int]) -> dict[int, StoredFile]:
    wanted = [i for i in set(ids) if i is not None]
    if not wanted:
        return {}
    rows = conn.execute(select(originalfile).where(originalfile.c.id.in_(wanted)))
    return {r.id: StoredFile(r.id, r.name, r.path, r.size, r.mimetype, r.location) for r in rows}


def _parent_names(conn: Connection, kind: str, ids: list[int]) -> dict[int, str]:
    """What the panel calls a parent: its name; ``A1`` for a well; ``Run <id>`` for a nameless run."""
    if not ids:
        return {}
    if kind == "well":
        rows = conn.execute(
            select(
                well.c.id,
                well.c.row,
                well.c.column,
                plate.c.rownamingconvention,
                plate.c.columnnamingconvention,
            )
            .join(plate, plate.c.id == well.c.plate)
            .where(well.c.id.in_(ids))
        )
        return {r.id: _well_label(r) for r in rows}
    table = ANNOTATABLE[kind]
    rows = conn.execute(select(table.c.id, table.c.name).where(table.c.id.in_(ids)))
    if kind == "plateacquisition":
        return {r.id: r.name or f"Run {r.id}" for r in rows}
    return {r.id: r.name for r in rows}


def _well_label(r: Any) -> str:
    rows = str(r.row + 1) if r.rownamingconvention == "number" else row_letters(r.row)
    cols = row_letters(r.column) if r.columnnamingconvention == "letter" else str(r.column + 1)
    return f"{rows}{cols}"


def list_links(
    conn: Connection,
    actor: Actor,
    parents: Mapping[str, Sequence[int]],
    *,
    ann_type: str | None = None,
    ns: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[LinkRow]:
    """Readable annotations linked to readable parents, per parent type in OMERO.web's order.

    As OMERO.web, each parent type is one query ordered by namespace and paged on its own.
    """
    resolver = DetailsResolver(conn, actor)
    found: list[tuple[str, Any]] = []
    type_clause = _type_filter(ann_type)
    for kind in PARENT_ORDER:
        ids = list(dict.fromkeys(parents.get(kind, ())))
        if not ids:
            continue
        link, parent = annotation_links[kind], ANNOTATABLE[kind]
        query = (
            select(
                link.c.id.label("link_id"),
                link.c.owner_id.label("link_owner"),
                link.c.group_id.label("link_group"),
                link.c.parent.label("parent_id"),
                link.c.creation_event_id.label("link_event"),
                annotation,
            )
            .join(annotation, annotation.c.id == link.c.child)
            .join(parent, parent.c.id == link.c.parent)
            .where(
                link.c.parent.in_(ids),
                readable(actor, annotation),
                readable(actor, link),
                readable(actor, parent),
            )
            .order_by(annotation.c.ns, annotation.c.id, link.c.id)
            .offset(offset)
        )
        if type_clause is not None:
            query = query.where(type_clause)
        if ns is not None:
            query = query.where(annotation.c.ns == ns)
        if limit is not None:
            query = query.limit(limit)
        found += [(kind, r) for r in conn.execute(query)]
    return _link_rows(conn, resolver, found)


def _link_rows(
    conn: Connection, resolver: DetailsResolver, found: list[tuple[str, Any]]
) -> list[LinkRow]:
    resolver.prefetch((r.owner_id, r.group_id) for _, r in found)
    resolver.prefetch((r.link_owner, r.link_group) for _, r in found)
    pairs = map_values(conn, (r.id for _, r in found if r.discriminator == "Map"))
    stored = files(conn, (r.file for _, r in found if r.discriminator == "File"))
    times = event_times(conn, [e for _, r in found for e in (r.link_event, r.creation_event_id)])
    names: dict[str, dict[int, str]] = {}
    for kind in PARENT_ORDER:
        ids = [r.parent_id for k, r in found if k == kind]
        names[kind] = _parent_names(conn, kind, ids)
    return [
        LinkRow(
            id=r.link_id,
            owner_id=r.link_owner,
            group_id=r.link_group,
            time=times.get(r.link_event),
            parent_type=kind,
            parent_id=r.parent_id,
            parent_name=names[kind].get(r.parent_id, ""),
            annotation=_annotation(r, resolver, pairs),
            annotation_time=times.get(r.creation_event_id),
            file=stored.get(r.file) if r.file is not None else None,
            permissions=resolver.details(r.link_owner, r.link_group).permissions,
        )
        for kind, r in found
    ]


def event_times(conn: Connection, ids: Iterable[int]) -> dict[int, datetime]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(select(event.c.id, event.c.time).where(event.c.id.in_(wanted)))
    return {r.id: r.time for r in rows}


def experimenters(conn: Connection, ids: Iterable[int]) -> list[Experimenter]:
    """The experimenters named by ``ids``, sorted by id."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows = conn.execute(
        select(experimenter).where(experimenter.c.id.in_(wanted)).order_by(experimenter.c.id)
    )
    return [experimenter_from_row(r) for r in rows]


def list_annotations(
    conn: Connection,
    actor: Actor,
    *,
    kind: str | None = None,
    ns: str | None = None,
    parents: Mapping[str, Sequence[int]] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[list[Annotation], int]:
    """Readable annotations of one ``kind`` (discriminator: ``Tag``, ``Map``...; None: any),
    optionally only those linked to given parents, by id, and their count.

    A parent filter counts only readable links from readable parents, so that an annotation
    the caller may read never reveals that it is on an object the caller may not.
    """
    clauses = [readable(actor, annotation)]
    if kind is not None:
        clauses.append(annotation.c.discriminator == kind)
    if ns is not None:
        clauses.append(annotation.c.ns == ns)
    for parent_kind, ids in (parents or {}).items():
        clauses.append(_linked_to(actor, parent_kind, ids))
    total = conn.scalar(select(func.count()).select_from(annotation).where(*clauses)) or 0
    query = select(annotation).where(*clauses).order_by(annotation.c.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = list(conn.execute(query))
    resolver = DetailsResolver(conn, actor)
    pairs = map_values(conn, (r.id for r in rows if r.discriminator == "Map"))
    return [_annotation(r, resolver, pairs) for r in rows], total


def _linked_to(actor: Actor, parent_kind: str, ids: Sequence[int]) -> Any:
    """EXISTS a readable link from one of the readable ``parent_kind`` objects ``ids``.

    Experimenters and groups have no owner or group: OMERO shows them to every user.
    """
    link, parent = annotation_links[parent_kind], ANNOTATABLE[parent_kind]
    query = select(link.c.id).where(
        link.c.child == annotation.c.id,
        link.c.parent.in_(list(ids)),
        readable(actor, link),
    )
    if "group_id" in parent.c:
        query = query.join(parent, parent.c.id == link.c.parent).where(readable(actor, parent))
    return query.exists()


def get_annotation(conn: Connection, actor: Actor, annotation_id: int) -> Annotation | None:
    row = conn.execute(
        select(annotation).where(annotation.c.id == annotation_id, readable(actor, annotation))
    ).first()
    if row is None:
        return None
    pairs = map_values(conn, [row.id]) if row.discriminator == "Map" else {}
    return _annotation(row, DetailsResolver(conn, actor), pairs)


# ---------------------------------------------------------------------------- lineage


def lineage(
    conn: Connection, actor: Actor, parents: Mapping[str, Sequence[int]]
) -> dict[str, list[tuple[str, int]]]:
    """The readable containers above each object: ``{"image-1": [("dataset", 2), ("project", 3)]}``."""
    out: dict[str, list[tuple[str, int]]] = {}
    steps = {
        "image": [("dataset", datasetimagelink), ("project", projectdatasetlink)],
        "dataset": [("project", projectdatasetlink)],
        "plate": [("screen", screenplatelink)],
    }
    for kind, ids in parents.items():
        for oid in ids:
            chain: list[tuple[str, int]] = []
            current = [oid]
            if kind in ("well", "plateacquisition"):
                table = ANNOTATABLE[kind]
                current = list(
                    conn.scalars(
                        select(table.c.plate).where(table.c.id == oid, readable(actor, table))
                    )
                )
                chain += [("plate", p) for p in current]
                path = [("screen", screenplatelink)]
            else:
                path = steps.get(kind, [])
            for up, link in path:
                table = ANNOTATABLE[up]
                current = list(
                    conn.scalars(
                        select(link.c.parent)
                        .join(table, table.c.id == link.c.parent)
                        .where(link.c.child.in_(current), readable(actor, table))
                        .order_by(link.c.parent)
                    )
                )
                chain += [(up, p) for p in current]
            out[f"{kind}-{oid}"] = chain
    return out


# ---------------------------------------------------------------------------- rows for checks


def object_row(conn: Connection, kind: str, object_id: int) -> Row | None:
    table = ANNOTATABLE[kind]
    return conn.execute(
        select(table.c.id, table.c.owner_id, table.c.group_id).where(table.c.id == object_id)
    ).first()


def annotation_row(conn: Connection, annotation_id: int) -> Row | None:
    return conn.execute(select(annotation).where(annotation.c.id == annotation_id)).first()


def links_of(
    conn: Connection, annotation_id: int, parents: Sequence[tuple[str, int]] | None = None
) -> list[tuple[str, Row]]:
    """Links to ``annotation_id`` (from the given parents only, if given)."""
    out: list[tuple[str, Row]] = []
    kinds = {k for k, _ in parents} if parents is not None else set(PARENT_ORDER)
    for kind in kinds:
        link = _link_table(kind)
        query = select(link).where(link.c.child == annotation_id)
        if parents is not None:
            query = query.where(link.c.parent.in_([i for k, i in parents if k == kind]))
        out += [(kind, r) for r in conn.execute(query)]
    return out


def is_linked(conn: Connection, annotation_id: int) -> bool:
    """Whether anything still links to the annotation as its child: an object, or a tag set
    holding it (an AnnotationAnnotationLink). As in OMERO's orphan test, the links where the
    annotation is the parent (a set's links to its tags) do not count."""
    return any(
        conn.scalar(select(exists().where(link.c.child == annotation_id)))
        for link in (*annotation_links.values(), annotationannotationlink)
    )


def owned_rating(conn: Connection, kind: str, parent_id: int, owner_id: int) -> Row | None:
    """The rating ``owner_id`` gave the object (OMERO keeps one per user)."""
    link = annotation_links[kind]
    return conn.execute(
        select(annotation)
        .join(link, link.c.child == annotation.c.id)
        .where(
            link.c.parent == parent_id,
            annotation.c.owner_id == owner_id,
            annotation.c.discriminator == "Long",
            annotation.c.ns == RATING_NS,
        )
        .limit(1)
    ).first()


# ---------------------------------------------------------------------------- writes


def _details(owner_id: int, group_id: int, event_id: int) -> dict[str, int]:
    return {
        "owner_id": owner_id,
        "group_id": group_id,
        "creation_event_id": event_id,
        "update_event_id": event_id,
    }


def insert_file(
    conn: Connection,
    *,
    name: str,
    size: int,
    sha1: str,
    mimetype: str,
    location: str,
    owner_id: int,
    group_id: int,
    event_id: int,
) -> int:
    return inserted_id(
        conn.execute(
            insert(originalfile).values(
                name=name,
                path="/",
                size=size,
                hash=sha1,
                hasher="SHA1-160",
                mimetype=mimetype,
                location=location,
                **_details(owner_id, group_id, event_id),
            )
        )
    )


def replace_map_values(
    conn: Connection, annotation_id: int, pairs: Sequence[tuple[str, str]], *, event_id: int
) -> None:
    conn.execute(
        delete(annotation_mapvalue).where(annotation_mapvalue.c.annotation_id == annotation_id)
    )
    if pairs:
        conn.execute(
            insert(annotation_mapvalue),
            [
                {"annotation_id": annotation_id, "index": i, "name": k, "value": v}
                for i, (k, v) in enumerate(pairs)
            ],
        )
    touch(conn, annotation_id, event_id=event_id)


def touch(conn: Connection, annotation_id: int, *, event_id: int, **values: Any) -> None:
    conn.execute(
        update(annotation)
        .where(annotation.c.id == annotation_id)
        .values(update_event_id=event_id, **values)
    )


def _link_table(kind: str) -> Any:
    """An object kind's annotation link table; ``annotation`` is a tag set's hold on a tag."""
    return annotationannotationlink if kind == "annotation" else annotation_links[kind]


def delete_link(conn: Connection, kind: str, link_id: int) -> None:
    link = _link_table(kind)
    conn.execute(delete(link).where(link.c.id == link_id))


def delete_annotation(conn: Connection, annotation_id: int) -> StoredFile | None:
    """Delete an annotation (its links and pairs cascade) and a FileAnnotation's OriginalFile.

    Returns the deleted file, whose bytes the caller removes after the commit.
    """
    row = annotation_row(conn, annotation_id)
    if row is None:
        return None
    conn.execute(delete(annotation).where(annotation.c.id == annotation_id))
    if row.file is None:
        return None
    stored = files(conn, [row.file]).get(row.file)
    conn.execute(delete(originalfile).where(originalfile.c.id == row.file))
    return stored


def insert_file_annotation(
    conn: Connection,
    file_id: int,
    *,
    ns: str | None,
    description: str | None,
    owner_id: int,
    group_id: int,
    event_id: int,
) -> int:
    return inserted_id(
        conn.execute(
            insert(annotation).values(
                discriminator="File",
                ns=ns,
                description=description,
                file=file_id,
                **_details(owner_id, group_id, event_id),
            )
        )
    )
