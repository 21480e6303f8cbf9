"""Browsing, saving and deleting the OME hierarchy: the use cases of the JSON API's /m/ routes."""

from __future__ import annotations

from typing import Any

from pyomero.errors import NotFound, NotSupported, SecurityViolation, ValidationError
from pyomero.model.commands import SaveRequest
from pyomero.model.entities import Paged
from pyomero.model.permissions import Action, Actor, allowed
from pyomero.services.accounts import Context, utcnow
from pyomero.store import objects as store
from pyomero.store import writes
from pyomero.store.accounts import get_group, new_event
from pyomero.store.objects import ListQuery

__all__ = [
    "DELETABLE",
    "KIND_NAMES",
    "ListQuery",
    "delete_object",
    "get_object",
    "list_objects",
    "save_container",
]

#: kind -> OMERO class name used in messages ("Project 12 not found").
KIND_NAMES = {key: kind.name for key, kind in store.KINDS.items()}
DELETABLE = frozenset({"project", "dataset", "screen", "plateacquisition", "roi", "shape"})

#: The Java class names OMERO puts in security messages.
_JAVA_CLASS = {
    "Project": "ome.model.containers.Project",
    "Dataset": "ome.model.containers.Dataset",
    "Screen": "ome.model.screen.Screen",
}


def list_objects(
    ctx: Context, kind: str, *, query: ListQuery, child_count: bool = False
) -> Paged[Any]:
    """One page of readable ``kind`` objects; ``child_counts`` only for the page's ids."""
    with ctx.instance.db.read() as conn:
        items, total = store.list_objects(conn, ctx.actor, kind, query)
        counts = (
            store.child_counts(conn, ctx.actor, kind, [o.id for o in items])
            if child_count
            else None
        )
        extra = _extras(conn, kind, items, single=False)
    return Paged(items, total, query.offset, query.limit, child_counts=counts, extra=extra)


def get_object(
    ctx: Context, kind: str, object_id: int, *, child_count: bool = False, raw_id: str | None = None
) -> Paged[Any]:
    """A single object as a one-item page (for its childCount and extras); NotFound if unreadable."""
    with ctx.instance.db.read() as conn:
        obj = store.get_object(conn, ctx.actor, kind, object_id)
        if obj is None:
            raise NotFound(f"{KIND_NAMES[kind]} {raw_id or object_id} not found")
        counts = store.child_counts(conn, ctx.actor, kind, [obj.id]) if child_count else None
        extra = _extras(conn, kind, [obj], single=True)
    return Paged([obj], 1, 0, 1, child_counts=counts, extra=extra)


def _extras(
    conn: Any, kind: str, items: list[Any], *, single: bool
) -> dict[int, dict[str, object]]:
    """``omero:wellsampleIndex`` where OMERO adds it: single plates, and every run."""
    if kind == "plate" and single:
        return {
            items[0].id: {"wellsample_index": store.wellsample_index(conn, plate_id=items[0].id)}
        }
    if kind == "plateacquisition":
        return {
            o.id: {"wellsample_index": store.wellsample_index(conn, run_id=o.id)} for o in items
        }
    return {}


def _check_group(actor: Actor, group_id: int) -> None:
    if actor.is_guest:
        raise SecurityViolation("the guest user may not create objects")
    if group_id not in actor.member_of and not actor.is_admin:
        raise SecurityViolation(
            f"You are not a member of group {group_id}; cannot create objects in it"
        )


def save_container(ctx: Context, request: SaveRequest) -> Any:
    """Create (POST) or fully replace (PUT) a Project, Dataset or Screen, then link annotations.

    All in one transaction: a failure in any annotation leaves no object and no link behind.
    """
    actor = ctx.actor
    kind = request.kind
    table = kind.lower()
    name = request.values.get("name")
    if not isinstance(name, str):
        raise ValidationError(f"{_JAVA_CLASS[kind]}.name is a required field (null given)")
    if request.group_id is None:
        raise ValidationError("a group is needed")  # the web layer asks for it first
    now = utcnow()
    with ctx.instance.db.write() as conn:
        if request.id is None:
            _check_group(actor, request.group_id)
            event = new_event(conn, actor, kind="Internal", now=now, session_id=ctx.session_id)
            object_id = writes.insert_container(
                conn,
                kind,
                request.values,
                owner_id=actor.user_id,
                group_id=request.group_id,
                event_id=event,
            )
            owner_id, group_id = actor.user_id, request.group_id
        else:
            object_id = request.id
            row = writes.row_of(conn, table, object_id)
            cannot_read = SecurityViolation(f"Cannot read {_JAVA_CLASS[kind]}:Id_{object_id}")
            if row is None:
                raise NotFound(f"{kind} {object_id} not found")
            if row.group_id != request.group_id or not _may(actor, Action.READ, row, conn):
                raise cannot_read
            if not _may(actor, Action.EDIT, row, conn):
                raise SecurityViolation(f"Cannot update {_JAVA_CLASS[kind]}:Id_{object_id}")
            event = new_event(conn, actor, kind="Internal", now=now, session_id=ctx.session_id)
            writes.update_container(conn, kind, object_id, request.values, event_id=event)
            owner_id, group_id = row.owner_id, row.group_id
        annotations = request.annotations or []
        if annotations and not _may_ids(actor, Action.ANNOTATE, owner_id, group_id, conn):
            raise SecurityViolation(f"Cannot annotate {_JAVA_CLASS[kind]}:Id_{object_id}")
        for spec in annotations:
            if spec.id is None:
                _check_group(actor, group_id)
                annotation_id = writes.insert_annotation(
                    conn, spec, owner_id=actor.user_id, group_id=group_id, event_id=event
                )
            else:
                annotation_id = spec.id
                ann = writes.annotation_row(conn, annotation_id)
                if ann is None or not _may(actor, Action.READ, ann, conn):
                    raise SecurityViolation(
                        f"Cannot read ome.model.annotations.Annotation:Id_{spec.id}"
                    )
            writes.link_annotation(
                conn,
                table,
                object_id,
                annotation_id,
                owner_id=actor.user_id,
                group_id=group_id,
                event_id=event,
            )
        obj = store.get_object(conn, actor, table, object_id)
    return obj


def _may(actor: Actor, action: Action, row: Any, conn: Any) -> bool:
    return _may_ids(actor, action, row.owner_id, row.group_id, conn)


def _may_ids(actor: Actor, action: Action, owner_id: int, group_id: int, conn: Any) -> bool:
    level = get_group(conn, group_id).level
    return allowed(actor, action, owner_id=owner_id, group_id=group_id, level=level)


def delete_object(ctx: Context, kind: str, object_id: int, *, raw_id: str | None = None) -> Any:
    """Delete one object (no child containers; tags and files survive as orphans).

    Returns the object as it was, encoded by the caller. Types OMERO's API cannot delete are
    refused before the object is even looked up, as OMERO does.
    """
    name = KIND_NAMES[kind]
    if kind not in DELETABLE:
        raise NotSupported(f"Delete of {name} not supported")
    with ctx.instance.db.write() as conn:
        obj = store.get_object(conn, ctx.actor, kind, object_id)
        if obj is None:
            raise NotFound(f"{name} {raw_id or object_id} not found")
        row = writes.row_of(conn, kind, object_id)
        if not _may(ctx.actor, Action.DELETE, row, conn):
            raise SecurityViolation(f"Cannot delete {name}:{object_id}: not permitted")
        writes.delete_object(conn, kind, object_id)
    return obj
