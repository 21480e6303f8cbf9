"""The SQL behind the webclient's tag tree (``/webclient/api/tags/``, tag paths).

A tag set is a TagAnnotation with OMERO.insight's tag set namespace; it holds its tags
through AnnotationAnnotationLinks (parent the set, child the tag). As in ``store/tree.py``,
every statement carries the visibility predicate on each table it reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, delete, func, select

from pyomero.store.schema import (
    annotation,
    annotation_links,
    annotationannotationlink,
    image,
    plate,
    well,
)
from pyomero.store.tree import (
    Path,
    Scope,
    WellRow,
    filter_tag,
    page,
    visible,
    well_columns,
    well_row,
)

#: The namespace that makes a TagAnnotation a tag set (``omero.constants.metadata``).
TAGSET_NS = "openmicroscopy.org/omero/insight/tagset"
_TAG = "Tag"


@dataclass(frozen=True, slots=True)
class TagRow:
    """A TagAnnotation; ``child_count`` counts a set's tags, or the images a tag is on."""

    id: int
    value: str | None
    description: str | None
    owner_id: int
    group_id: int
    is_set: bool
    child_count: int


def _tag_child_count(scope: Scope) -> Any:
    """OMERO's ``tagChildCount`` for a set, its ``imageChildCount`` for any other tag."""
    child = annotation.alias("child_tag")
    link = annotationannotationlink
    in_set = (
        select(func.count())
        .select_from(link.join(child, child.c.id == link.c.child))
        .where(link.c.parent == annotation.c.id, child.c.discriminator == _TAG)
        .where(visible(scope, child))
        .scalar_subquery()
    )
    image_link = annotation_links["image"]
    on_images = (
        select(func.count())
        .select_from(image_link.join(image, image.c.id == image_link.c.parent))
        .where(image_link.c.child == annotation.c.id, visible(scope, image))
        .scalar_subquery()
    )
    return case((annotation.c.ns == TAGSET_NS, in_set), else_=on_images)


def tags(
    conn: Connection, scope: Scope, *, parent_id: int | None = None, orphaned: bool = False
) -> list[TagRow]:
    """One page of readable tags and tag sets by id: the tags of set ``parent_id``, or
    every tag, or (``orphaned``) those in no tag set."""
    statement = select(
        annotation.c.id,
        annotation.c.textvalue,
        annotation.c.description,
        annotation.c.owner_id,
        annotation.c.group_id,
        annotation.c.ns,
        _tag_child_count(scope).label("child_count"),
    ).where(annotation.c.discriminator == _TAG, visible(scope, annotation))
    link = annotationannotationlink
    parent = annotation.alias("tagset")
    in_parent = select(link.c.child).select_from(link.join(parent, parent.c.id == link.c.parent))
    if parent_id is not None:
        members = in_parent.where(
            link.c.parent == parent_id, parent.c.discriminator == _TAG, visible(scope, parent)
        )
        statement = statement.where(annotation.c.id.in_(members))
    elif orphaned:
        statement = statement.where(
            annotation.c.id.not_in(in_parent.where(parent.c.ns == TAGSET_NS))
        )
    if scope.owner is not None:
        statement = statement.where(annotation.c.owner_id == scope.owner)
    rows = conn.execute(page(statement.order_by(annotation.c.id), scope))
    return [
        TagRow(
            r.id,
            r.textvalue,
            r.description,
            r.owner_id,
            r.group_id,
            r.ns == TAGSET_NS,
            r.child_count,
        )
        for r in rows
    ]


def readable_tags(conn: Connection, scope: Scope, tag_ids: Sequence[int]) -> dict[int, Any]:
    """The readable TagAnnotations among ``tag_ids``: id -> row with owner and group."""
    if not tag_ids:
        return {}
    statement = select(annotation.c.id, annotation.c.owner_id, annotation.c.group_id).where(
        annotation.c.id.in_(sorted(set(tag_ids))),
        annotation.c.discriminator == _TAG,
        visible(scope, annotation),
    )
    return {r.id: r for r in conn.execute(statement)}


def delete_annotations(conn: Connection, annotation_ids: Sequence[int]) -> None:
    """Delete annotations; their links to objects and to other annotations cascade."""
    if annotation_ids:
        conn.execute(delete(annotation).where(annotation.c.id.in_(sorted(set(annotation_ids)))))


def tagged_wells(conn: Connection, scope: Scope, tag_id: int) -> list[WellRow]:
    """One page of readable wells (of readable plates) tagged with ``tag_id``, by row then
    column as OMERO sorts them (A1, A2, B1 ...; across plates), then id."""
    statement = (
        select(*well_columns())
        .select_from(well.join(plate, plate.c.id == well.c.plate))
        .where(visible(scope, well), visible(scope, plate))
    )
    statement = filter_tag(statement, "well", well, tag_id)
    if scope.owner is not None:
        statement = statement.where(well.c.owner_id == scope.owner)
    statement = statement.order_by(well.c.row, well.c.column, well.c.id)
    return [well_row(r) for r in conn.execute(page(statement, scope))]


def tag_paths(
    conn: Connection, scope: Scope, *, tag_id: int | None, tagset_id: int | None
) -> list[Path]:
    """experimenter > tagset > tag for each readable set holding the tag (the set's owner
    first); else, as OMERO falls back, experimenter > tag (or > tagset) alone."""
    if tag_id is not None:
        parent = annotation.alias("tagset")
        child = annotation.alias("tag")
        link = annotationannotationlink
        statement = (
            select(parent.c.id, parent.c.owner_id)
            .select_from(
                link.join(parent, parent.c.id == link.c.parent).join(
                    child, child.c.id == link.c.child
                )
            )
            .where(link.c.child == tag_id, parent.c.discriminator == _TAG)
            .where(child.c.discriminator == _TAG, visible(scope, parent), visible(scope, child))
            .order_by(parent.c.owner_id, parent.c.id)
        )
        if tagset_id is not None:
            statement = statement.where(parent.c.id == tagset_id)
        paths: list[Path] = [
            [("experimenter", r.owner_id), ("tagset", r.id), ("tag", tag_id)]
            for r in conn.execute(statement)
        ]
        if paths:
            return paths
    kind, target = ("tag", tag_id) if tag_id is not None else ("tagset", tagset_id)
    if target is None:
        return []
    found = readable_tags(conn, scope, [target]).get(target)
    return [] if found is None else [[("experimenter", found.owner_id), (kind, target)]]
