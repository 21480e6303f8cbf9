"""Annotating as OMERO.web's clients do: key-value pairs, tags, comments, files, ratings;
unlinking and deleting them; reading the annotation panel and downloading attachments.

Every write checks OMERO's rules (spec/service-api.md 3.4) before touching a row, and runs
in one transaction: a refusal or a failure anywhere leaves no annotation, link or file.
New annotations go into the group of the objects they annotate, as OMERO.web sets the call
context from the first object; objects of several groups in one request are refused.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pyomero.errors import InvalidInput, NotFound, SecurityViolation, ValidationError
from pyomero.model.commands import AnnotationSaveRequest, AnnotationSpec
from pyomero.model.entities import Annotation, Experimenter, Paged
from pyomero.model.permissions import Action, Actor, allowed
from pyomero.services.accounts import Context, utcnow
from pyomero.services.downloads import Download
from pyomero.store import annotations as store
from pyomero.store import writes
from pyomero.store.accounts import get_group, new_event
from pyomero.store.annotations import PARENT_ORDER, RATING_NS, LinkRow, StoredFile
from pyomero.store.tags import TAGSET_NS

__all__ = [
    "CLIENT_MAP_NS",
    "PARENT_ORDER",
    "RATING_NS",
    "AnnotationPanel",
    "Targets",
    "annotate_comment",
    "annotate_file",
    "annotate_map",
    "annotate_rating",
    "annotate_tags",
    "delete_annotation",
    "download",
    "get_annotation",
    "list_annotations",
    "panel",
    "remove_links",
    "save_annotation",
]

#: ``omero.constants.metadata.NSCLIENTMAPANNOTATION``: key-value pairs users edit by hand.
CLIENT_MAP_NS = "openmicroscopy.org/omero/client/mapAnnotation"

#: Objects to annotate, by store kind (``image``, ``plateacquisition``...) -> ids.
Targets = dict[str, list[int]]

_CLASS = {
    "project": "Project",
    "dataset": "Dataset",
    "image": "Image",
    "screen": "Screen",
    "plate": "Plate",
    "plateacquisition": "PlateAcquisition",
    "well": "Well",
    "annotation": "TagAnnotation",
}


@dataclass
class AnnotationPanel:
    """What ``webclient/api/annotations/`` shows: links, their people, and optionally the
    annotations of the objects' containers with the lineage that leads to them."""

    links: list[LinkRow]
    experimenters: list[Experimenter]
    parents: AnnotationPanel | None = None
    lineage: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


# ---------------------------------------------------------------------------- reads


def panel(
    ctx: Context,
    *,
    targets: Targets,
    ann_type: str | None = None,
    ns: str | None = None,
    offset: int = 0,
    limit: int | None = None,
    with_parents: bool = False,
) -> AnnotationPanel:
    with ctx.instance.db.read() as conn:
        result = _panel(conn, ctx.actor, targets, ann_type, ns, offset, limit)
        if with_parents:
            lineage = store.lineage(conn, ctx.actor, targets)
            above: Targets = {}
            for chain in lineage.values():
                for kind, oid in chain:
                    above.setdefault(kind, []).append(oid)
            result.parents = _panel(conn, ctx.actor, above, ann_type, ns, offset, limit)
            result.lineage = lineage
    return result


def _panel(
    conn: Any,
    actor: Actor,
    targets: Targets,
    ann_type: str | None,
    ns: str | None,
    offset: int,
    limit: int | None,
) -> AnnotationPanel:
    links = store.list_links(
        conn, actor, targets, ann_type=ann_type, ns=ns, offset=offset, limit=limit
    )
    people = {row.owner_id for row in links}
    people |= {
        row.annotation.details.owner.id
        for row in links
        if row.annotation.details is not None and row.annotation.details.owner is not None
    }
    return AnnotationPanel(links, store.experimenters(conn, people))


def list_annotations(
    ctx: Context,
    *,
    kind: str | None,
    ns: str | None,
    parents: Targets,
    offset: int,
    limit: int | None,
) -> Paged[Annotation]:
    """One page of readable annotations of ``kind`` (``Tag``, ``Map``...; None: every kind),
    optionally only those linked to ``parents``, by id."""
    with ctx.instance.db.read() as conn:
        items, total = store.list_annotations(
            conn, ctx.actor, kind=kind, ns=ns, parents=parents, offset=offset, limit=limit
        )
    return Paged(items, total, offset, limit)


def get_annotation(ctx: Context, annotation_id: int, *, raw_id: str | None = None) -> Annotation:
    """A readable annotation; NotFound names the id as the client wrote it (``raw_id``)."""
    with ctx.instance.db.read() as conn:
        found = store.get_annotation(conn, ctx.actor, annotation_id)
    if found is None:
        raise NotFound(f"Annotation {raw_id or annotation_id} not found")
    return found


def download(ctx: Context, annotation_id: int) -> Download:
    """A FileAnnotation's file; NotFound when unreadable, not a file, or gone from disk."""
    with ctx.instance.db.read() as conn:
        ann = store.get_annotation(conn, ctx.actor, annotation_id)
        stored = None
        if ann is not None and ann.kind == "File" and ann.file_id is not None:
            stored = store.files(conn, [ann.file_id]).get(ann.file_id)
    if stored is None:
        raise NotFound(f"FileAnnotation {annotation_id} not found")
    path = _file_path(ctx, stored.location)
    if not path.is_file():
        raise NotFound(f"the file of FileAnnotation {annotation_id} is no longer on disk")
    return Download(path, stored.name, path.stat().st_size, stored.mimetype)


# ---------------------------------------------------------------------------- checks


@dataclass
class _Write:
    """One write transaction's caller, event and the group its new rows go into."""

    conn: Any
    actor: Actor
    event: int
    group_id: int


def _may(conn: Any, actor: Actor, action: Action, owner_id: int, group_id: int) -> bool:
    level = get_group(conn, group_id).level
    return allowed(actor, action, owner_id=owner_id, group_id=group_id, level=level)


def _readable(conn: Any, actor: Actor, owner_id: int, group_id: int) -> bool:
    return _may(conn, actor, Action.READ, owner_id, group_id)


def _check_targets(conn: Any, actor: Actor, targets: Targets) -> int:
    """Every target exists, is readable and annotatable by ``actor``; returns their group."""
    groups: set[int] = set()
    for kind, ids in targets.items():
        for oid in ids:
            row = store.object_row(conn, kind, oid)
            if row is None or not _readable(conn, actor, row.owner_id, row.group_id):
                raise NotFound(f"{_CLASS[kind]} {oid} not found")
            if not _may(conn, actor, Action.ANNOTATE, row.owner_id, row.group_id):
                raise SecurityViolation(f"Cannot annotate {_CLASS[kind]}:{oid}: not permitted")
            groups.add(row.group_id)
    if not groups:
        raise InvalidInput("Need to specify objects via e.g. image=1", param="image")
    if len(groups) > 1:
        raise ValidationError("the objects to annotate are in different groups")
    (group_id,) = groups
    _check_member(actor, group_id)
    return group_id


def _check_member(actor: Actor, group_id: int) -> None:
    """New rows go only into a group the caller belongs to (any group, for an admin)."""
    if actor.is_guest or (group_id not in actor.member_of and not actor.is_admin):
        raise SecurityViolation(f"You are not a member of group {group_id}")


@contextmanager
def _writing(ctx: Context, targets: Targets) -> Iterator[_Write]:
    with ctx.instance.db.write() as conn:
        group_id = _check_targets(conn, ctx.actor, targets)
        event = new_event(conn, ctx.actor, kind="User", now=utcnow(), session_id=ctx.session_id)
        yield _Write(conn, ctx.actor, event, group_id)


def _new(w: _Write, spec: AnnotationSpec) -> int:
    return writes.insert_annotation(
        w.conn, spec, owner_id=w.actor.user_id, group_id=w.group_id, event_id=w.event
    )


def _link(
    w: _Write, kind: str, oid: int, annotation_id: int, *, skip_existing: bool = False
) -> bool:
    if skip_existing and store.links_of(w.conn, annotation_id, [(kind, oid)]):
        return False
    writes.link_annotation(
        w.conn,
        kind,
        oid,
        annotation_id,
        owner_id=w.actor.user_id,
        group_id=w.group_id,
        event_id=w.event,
    )
    return True


def _each(targets: Targets) -> Iterator[tuple[str, int]]:
    for kind in PARENT_ORDER:
        for oid in dict.fromkeys(targets.get(kind, ())):
            yield kind, oid


def _existing(w: _Write, annotation_id: int, kind: str) -> Any:
    """An annotation of ``kind`` the caller may read and may use in the target group."""
    row = store.annotation_row(w.conn, annotation_id)
    if (
        row is None
        or row.discriminator != kind
        or not _readable(w.conn, w.actor, row.owner_id, row.group_id)
    ):
        raise NotFound(f"{kind}Annotation {annotation_id} not found")
    if row.group_id != w.group_id and row.group_id not in (0, 1):
        raise ValidationError(
            f"{kind}Annotation {annotation_id} is in another group than the objects"
        )
    return row


# ---------------------------------------------------------------------------- writes


def annotate_map(
    ctx: Context,
    *,
    pairs: list[tuple[str, str]],
    ns: str | None,
    annotation_ids: Sequence[int],
    targets: Targets,
    duplicate: bool = False,
) -> list[int] | None:
    """OMERO.web's ``annotate_map``: create (one per object for the client namespace or with
    ``duplicate``, else one shared), or replace the pairs of ``annotation_ids``; an empty
    list deletes those annotations. Returns the ids, or None after a delete."""
    ns = CLIENT_MAP_NS if ns is None else ns
    if annotation_ids:
        return _edit_maps(ctx, pairs, annotation_ids)
    if not pairs:
        return []
    created: list[int] = []
    with _writing(ctx, targets) as w:
        spec = AnnotationSpec(kind="Map", ns=ns, value=pairs)
        if duplicate or ns == CLIENT_MAP_NS:
            for kind, oid in _each(targets):
                created.append(_new(w, spec))
                _link(w, kind, oid, created[-1])
        else:
            created.append(_new(w, spec))
            for kind, oid in _each(targets):
                _link(w, kind, oid, created[-1])
    return created


def _edit_maps(
    ctx: Context, pairs: list[tuple[str, str]], annotation_ids: Sequence[int]
) -> list[int] | None:
    actor = ctx.actor
    doomed: list[StoredFile] = []
    with ctx.instance.db.write() as conn:
        event = new_event(conn, actor, kind="User", now=utcnow(), session_id=ctx.session_id)
        for aid in dict.fromkeys(annotation_ids):
            row = store.annotation_row(conn, aid)
            if (
                row is None
                or row.discriminator != "Map"
                or not _readable(conn, actor, row.owner_id, row.group_id)
            ):
                continue  # as OMERO.web: an id that names no map annotation is skipped
            action = Action.EDIT if pairs else Action.DELETE
            if not _may(conn, actor, action, row.owner_id, row.group_id):
                raise SecurityViolation(f"Cannot {action.value} MapAnnotation:{aid}: not permitted")
            if pairs:
                store.replace_map_values(conn, aid, pairs, event_id=event)
            else:
                doomed += [f for f in [store.delete_annotation(conn, aid)] if f]
    _remove_files(ctx, doomed)
    return list(dict.fromkeys(annotation_ids)) if pairs else None


def annotate_comment(ctx: Context, *, text: str, targets: Targets) -> int:
    """One CommentAnnotation linked to every object."""
    if not text.strip():
        raise InvalidInput("comment: This field is required.", param="comment")
    with _writing(ctx, targets) as w:
        aid = _new(w, AnnotationSpec(kind="Comment", value=text))
        for kind, oid in _each(targets):
            _link(w, kind, oid, aid)
    return aid


@dataclass(frozen=True)
class NewTag:
    text: str
    description: str | None = None
    tagset: int | None = None


def annotate_tags(
    ctx: Context, *, tag_ids: Sequence[int], new_tags: Sequence[NewTag], targets: Targets
) -> dict[str, list[int]]:
    """OMERO.web's tagging form: ``tag_ids`` is the whole set the caller wants linked; tags
    the caller linked before and left out are unlinked (only the caller's own links)."""
    added: list[int] = []
    removed: list[int] = []
    new: list[int] = []
    with _writing(ctx, targets) as w:
        wanted = list(dict.fromkeys(tag_ids))
        mine = {
            row.annotation.id
            for row in store.list_links(w.conn, w.actor, targets, ann_type="tag")
            if row.owner_id == w.actor.user_id
        }
        for tid in wanted:
            if tid in mine:
                continue
            _existing(w, tid, "Tag")
            for kind, oid in _each(targets):
                _link(w, kind, oid, tid, skip_existing=True)
            added.append(tid)
        for tid in sorted(mine - set(wanted)):
            for kind, link in store.links_of(w.conn, tid, list(_each(targets))):
                if link.owner_id == w.actor.user_id:
                    store.delete_link(w.conn, kind, link.id)
            removed.append(tid)
        for tag in new_tags:
            if not tag.text.strip():
                raise InvalidInput("tag: This field is required.", param="tag")
            tid = _new(w, AnnotationSpec(kind="Tag", value=tag.text, description=tag.description))
            if tag.tagset is not None:
                _put_in_tagset(w, tag.tagset, tid)
            for kind, oid in _each(targets):
                _link(w, kind, oid, tid)
            new.append(tid)
    return {"added": added, "removed": removed, "new": new}


def _put_in_tagset(w: _Write, tagset_id: int, tag_id: int) -> None:
    """Link a new tag into tag set ``tagset_id`` (an AnnotationAnnotationLink, parent the set).

    The set must be a readable tag set the caller may use in the objects' group; as for any
    annotation link, OMERO needs the annotate right on the annotated object, here the set.
    """
    row = _existing(w, tagset_id, "Tag")
    if row.ns != TAGSET_NS:
        raise ValidationError(f"TagAnnotation {tagset_id} is not a tag set")
    if not _may(w.conn, w.actor, Action.ANNOTATE, row.owner_id, row.group_id):
        raise SecurityViolation(f"Cannot annotate TagAnnotation:{tagset_id}: not permitted")
    _link(w, "annotation", tagset_id, tag_id)


def annotate_rating(ctx: Context, *, rating: int, targets: Targets) -> None:
    """Each object's rating by the caller (one LongAnnotation per user); 0 removes it."""
    if not 0 <= rating <= 5:
        raise InvalidInput(f"rating must be between 0 and 5, not {rating}", param="rating")
    with _writing(ctx, targets) as w:
        for kind, oid in _each(targets):
            existing = store.owned_rating(w.conn, kind, oid, w.actor.user_id)
            if existing is not None and rating == 0:
                for k, link in store.links_of(w.conn, existing.id, [(kind, oid)]):
                    store.delete_link(w.conn, k, link.id)
                if not store.is_linked(w.conn, existing.id):
                    store.delete_annotation(w.conn, existing.id)
            elif existing is not None:
                store.touch(w.conn, existing.id, event_id=w.event, longvalue=rating)
            elif rating:
                aid = _new(w, AnnotationSpec(kind="Long", ns=RATING_NS, value=rating))
                _link(w, kind, oid, aid)


def annotate_file(
    ctx: Context,
    *,
    upload: BinaryIO | None,
    name: str | None,
    mimetype: str | None,
    file_annotation_ids: Sequence[int],
    targets: Targets,
) -> list[int]:
    """Link existing FileAnnotations and/or attach an uploaded file as a new one.

    The bytes are written to a temporary file, then renamed into ``DIR/files/annotations/``
    inside the transaction; if the transaction fails the file is removed again.
    """
    placed: Path | None = None
    try:
        with _writing(ctx, targets) as w:
            ids: list[int] = []
            for fid in dict.fromkeys(file_annotation_ids):
                _existing(w, fid, "File")
                for kind, oid in _each(targets):
                    _link(w, kind, oid, fid, skip_existing=True)
                ids.append(fid)
            if upload is not None:
                clean = _file_name(name)
                placed, location, size, sha1 = _store_bytes(ctx, upload)
                file_id = store.insert_file(
                    w.conn,
                    name=clean,
                    size=size,
                    sha1=sha1,
                    mimetype=mimetype or "application/octet-stream",
                    location=location,
                    owner_id=w.actor.user_id,
                    group_id=w.group_id,
                    event_id=w.event,
                )
                aid = store.insert_file_annotation(
                    w.conn,
                    file_id,
                    ns=None,
                    description=None,
                    owner_id=w.actor.user_id,
                    group_id=w.group_id,
                    event_id=w.event,
                )
                for kind, oid in _each(targets):
                    _link(w, kind, oid, aid)
                ids.append(aid)
            if not ids:
                raise InvalidInput("No file was uploaded or chosen", param="annotation_file")
    except BaseException:
        if placed is not None:
            placed.unlink(missing_ok=True)
        raise
    return ids


def _file_name(name: str | None) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not base or base in (".", ".."):
        raise InvalidInput("the uploaded file has no name", param="annotation_file")
    return base[:255]


def _files_dir(ctx: Context) -> Path:
    data_dir = ctx.instance.settings.data_dir
    if data_dir is None:
        raise ValidationError("this instance has no data directory for attachments")
    return Path(data_dir) / "files"


def _file_path(ctx: Context, location: str) -> Path:
    path = Path(location)
    return path if path.is_absolute() else _files_dir(ctx) / location


def _store_bytes(ctx: Context, upload: BinaryIO) -> tuple[Path, str, int, str]:
    """Copy ``upload`` to a fresh file under ``files/annotations/`` atomically (temp + rename)."""
    key = secrets.token_hex(16)
    location = f"annotations/{key[:2]}/{key}"
    final = _files_dir(ctx) / location
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(f".{key}.part")
    digest = hashlib.sha1(usedforsecurity=False)
    size = 0
    try:
        with open(temp, "wb") as out:
            while chunk := upload.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return final, location, size, digest.hexdigest()


def _remove_files(ctx: Context, stored: Sequence[StoredFile]) -> None:
    """After a commit: remove the bytes of deleted FileAnnotations kept under ``files/``."""
    for f in stored:
        if not Path(f.location).is_absolute():
            _file_path(ctx, f.location).unlink(missing_ok=True)


def save_annotation(ctx: Context, request: AnnotationSaveRequest) -> Annotation:
    """Create or fully replace a standalone annotation (``/api/v0/m/save/``).

    A new one goes into the group asked for, else the caller's current group, unlinked. A
    replace needs OMERO's edit permission; a group named in the request must be the
    annotation's own, or OMERO's "Cannot read" follows. One transaction: a refusal writes
    nothing.
    """
    spec, actor = request.annotation, ctx.actor
    name = f"{spec.kind}Annotation"
    with ctx.instance.db.write() as conn:
        if spec.id is None:
            group_id = actor.group_id if request.group_id is None else request.group_id
            _check_member(actor, group_id)
            get_group(conn, group_id)  # NotFound for a group that does not exist
            event = new_event(conn, actor, kind="User", now=utcnow(), session_id=ctx.session_id)
            annotation_id = writes.insert_annotation(
                conn, spec, owner_id=actor.user_id, group_id=group_id, event_id=event
            )
        else:
            annotation_id = spec.id
            row = store.annotation_row(conn, annotation_id)
            if (
                row is None
                or row.discriminator != spec.kind
                or not _readable(conn, actor, row.owner_id, row.group_id)
            ):
                raise NotFound(f"{name} {annotation_id} not found")
            if request.group_id is not None and request.group_id != row.group_id:
                raise SecurityViolation(
                    f"Cannot read ome.model.annotations.{name}:Id_{annotation_id}"
                )
            if not _may(conn, actor, Action.EDIT, row.owner_id, row.group_id):
                raise SecurityViolation(
                    f"Cannot update ome.model.annotations.{name}:Id_{annotation_id}"
                )
            event = new_event(conn, actor, kind="User", now=utcnow(), session_id=ctx.session_id)
            writes.update_annotation(conn, spec, event_id=event)
        saved = store.get_annotation(conn, actor, annotation_id)
    if saved is None:  # the caller wrote it, so reads it; kept for the type checker
        raise NotFound(f"{name} {annotation_id} not found")
    return saved


# ---------------------------------------------------------------------------- unlink, delete


def remove_links(ctx: Context, *, annotation_id: int, parents: Sequence[tuple[str, int]]) -> None:
    """Unlink an annotation from objects (``action/remove/``): allowed on links the caller
    owns, or may delete; the annotation itself stays, even when orphaned."""
    actor = ctx.actor
    with ctx.instance.db.write() as conn:
        row = store.annotation_row(conn, annotation_id)
        if row is None or not _readable(conn, actor, row.owner_id, row.group_id):
            raise NotFound(f"Annotation {annotation_id} not found")
        for kind, link in store.links_of(conn, annotation_id, parents):
            if link.owner_id != actor.user_id and not _may(
                conn, actor, Action.DELETE, link.owner_id, link.group_id
            ):
                raise SecurityViolation(
                    f"Cannot unlink Annotation:{annotation_id} from {_CLASS[kind]}:{link.parent}"
                )
            store.delete_link(conn, kind, link.id)


def delete_annotation(ctx: Context, annotation_id: int, *, raw_id: str | None = None) -> Annotation:
    """Delete an annotation with its links (and a file annotation's file); returns it as it was."""
    actor = ctx.actor
    with ctx.instance.db.write() as conn:
        ann = store.get_annotation(conn, actor, annotation_id)
        if ann is None:
            raise NotFound(f"Annotation {raw_id or annotation_id} not found")
        row = store.annotation_row(conn, annotation_id)
        if row is None or not _may(conn, actor, Action.DELETE, row.owner_id, row.group_id):
            raise SecurityViolation(f"Cannot delete Annotation:{annotation_id}: not permitted")
        stored = store.delete_annotation(conn, annotation_id)
    _remove_files(ctx, [stored] if stored else [])
    return ann
