"""The webclient's data tree: containers, images, runs, tags, groups, paths, the object a
``show=`` names; and the public user.

Each use case checks the ``group`` the caller names (OMERO.web answers a group the caller is
not in with 403 ``Not a member of Group: <id>``), reads one page through ``store/tree.py``
(``store/tags.py`` for tags, ``store/show.py`` for ``show=``) and says, per object, which
actions the caller may take (the ``permsCss`` of the tree), from the one policy in
``model/permissions.py``.

The public user (OMERO.web's ``omero.web.public.*``) is an ordinary account that anonymous
readers borrow; it is read-only whatever its groups allow, so its objects carry no actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pyomero.errors import NotFound, SecurityViolation
from pyomero.model.permissions import Action, Actor, GroupLevel, allowed
from pyomero.services.accounts import Context
from pyomero.store import show as show_store
from pyomero.store import tags as tag_store
from pyomero.store import tree as store
from pyomero.store.show import ShownRow
from pyomero.store.tags import TagRow
from pyomero.store.tree import (
    ExperimenterRow,
    GroupRow,
    ImageRow,
    LinkRow,
    NodeRow,
    RunRow,
    Scope,
    WellRow,
)

__all__ = [
    "Containers",
    "ExperimenterRow",
    "GroupRow",
    "ImageRow",
    "Item",
    "LinkRow",
    "NodeRow",
    "SHOW_KINDS",
    "RunRow",
    "ShownRow",
    "TagRow",
    "Tagged",
    "WellRow",
    "containers",
    "datasets",
    "delete_tags",
    "experimenter",
    "groups",
    "images",
    "is_public",
    "parent_links",
    "paths_to_object",
    "plates",
    "runs",
    "shown",
    "tagged",
    "tags",
]

R = TypeVar("R", NodeRow, ImageRow, RunRow, TagRow, WellRow)
_ACTIONS = (Action.EDIT, Action.ANNOTATE, Action.LINK, Action.DELETE, Action.CHGRP, Action.CHOWN)


@dataclass(frozen=True, slots=True)
class Item(Generic[R]):
    """One row of the tree with what the caller may do to it."""

    row: R
    allowed: frozenset[Action]
    owned: bool


@dataclass(frozen=True)
class Containers:
    projects: list[Item[NodeRow]]
    datasets: list[Item[NodeRow]]  # in no project
    screens: list[Item[NodeRow]]
    plates: list[Item[NodeRow]]  # in no screen
    orphaned_id: int  # the experimenter asked for, or -1
    orphaned_count: int  # images in no dataset and no well


def is_public(ctx: Context) -> bool:
    """Whether the caller is the configured public user (read-only everywhere)."""
    name = ctx.instance.settings.public_user
    return bool(name) and ctx.actor.user_name == name


def _check_group(actor: Actor, group: int | None) -> None:
    if group is not None and group >= 0 and not actor.is_admin and group not in actor.member_of:
        raise SecurityViolation(f"Not a member of Group: {group}")


def _scope(
    ctx: Context, group: int | None, owner: int | None, offset: int, limit: int | None
) -> Scope:
    _check_group(ctx.actor, group)
    return Scope(
        ctx.actor,
        group=None if group is None or group < 0 else group,
        owner=None if owner is None or owner < 0 else owner,
        offset=offset,
        limit=limit,
    )


def _items(ctx: Context, conn: Any, rows: Sequence[R]) -> list[Item[R]]:
    """Attach the caller's actions, computed once per (owner, group) pair."""
    actor = ctx.actor
    levels: dict[int, GroupLevel] = store.group_levels(conn, {r.group_id for r in rows})
    read_only = is_public(ctx)
    cache: dict[tuple[int, int], frozenset[Action]] = {}
    items = []
    for row in rows:
        key = (row.owner_id, row.group_id)
        if key not in cache:
            level = levels.get(row.group_id)
            cache[key] = (
                frozenset()
                if read_only or level is None
                else frozenset(
                    a
                    for a in _ACTIONS
                    if allowed(actor, a, owner_id=row.owner_id, group_id=row.group_id, level=level)
                )
            )
        items.append(Item(row, cache[key], row.owner_id == actor.user_id))
    return items


def containers(
    ctx: Context, *, group: int | None, experimenter_id: int | None, offset: int, limit: int | None
) -> Containers:
    """The top of the tree: projects, orphan datasets, screens, orphan plates, orphan images.

    As in OMERO.web, the page applies to each of the four lists separately.
    """
    scope = _scope(ctx, group, experimenter_id, offset, limit)
    with ctx.instance.db.read() as conn:
        return Containers(
            projects=_items(ctx, conn, store.containers(conn, "project", scope)),
            datasets=_items(ctx, conn, store.containers(conn, "dataset", scope, orphaned=True)),
            screens=_items(ctx, conn, store.containers(conn, "screen", scope)),
            plates=_items(ctx, conn, store.containers(conn, "plate", scope, orphaned=True)),
            orphaned_id=experimenter_id if experimenter_id is not None else -1,
            orphaned_count=store.orphan_count(conn, scope),
        )


def datasets(
    ctx: Context,
    *,
    project_id: int | None,
    group: int | None,
    offset: int,
    limit: int | None,
) -> list[Item[NodeRow]]:
    """A project's datasets, or every readable dataset when no project is named."""
    scope = _scope(ctx, group, None, offset, limit)
    with ctx.instance.db.read() as conn:
        rows = store.containers(conn, "dataset", scope, parent_id=project_id)
        return _items(ctx, conn, rows)


def plates(
    ctx: Context, *, screen_id: int | None, group: int | None, offset: int, limit: int | None
) -> list[Item[NodeRow]]:
    """A screen's plates, or every readable plate when no screen is named."""
    scope = _scope(ctx, group, None, offset, limit)
    with ctx.instance.db.read() as conn:
        return _items(ctx, conn, store.containers(conn, "plate", scope, parent_id=screen_id))


def images(
    ctx: Context,
    *,
    dataset_id: int | None,
    orphaned: bool,
    experimenter_id: int | None,
    group: int | None,
    offset: int,
    limit: int | None,
    sizes: bool = False,
    dates: bool = False,
    thumb_versions: bool = False,
) -> list[Item[ImageRow]]:
    scope = _scope(ctx, group, experimenter_id, offset, limit)
    with ctx.instance.db.read() as conn:
        rows = store.images(
            conn,
            scope,
            dataset_id=dataset_id,
            orphaned=orphaned,
            sizes=sizes,
            dates=dates,
            thumb_versions=thumb_versions,
        )
        return _items(ctx, conn, rows)


def runs(ctx: Context, *, plate_id: int, offset: int, limit: int | None) -> list[Item[RunRow]]:
    """A plate's runs in every group the caller reads (OMERO queries them with group -1)."""
    scope = _scope(ctx, None, None, offset, limit)
    with ctx.instance.db.read() as conn:
        return _items(ctx, conn, store.runs(conn, scope, plate_id))


def groups(
    ctx: Context, *, member_id: int | None, offset: int, limit: int | None
) -> list[GroupRow]:
    with ctx.instance.db.read() as conn:
        member = None if member_id is None or member_id < 0 else member_id
        return store.groups(conn, member_id=member, offset=offset, limit=limit)


def experimenter(ctx: Context, user_id: int) -> ExperimenterRow:
    """An experimenter the caller shares a group with (any, for an admin)."""
    with ctx.instance.db.read() as conn:
        row = store.experimenter_row(conn, ctx.actor, user_id)
    if row is None:
        raise NotFound(f"Experimenter {user_id} not found")
    return row


#: ``paths_to_object`` looks for the lowest of these that is given (OMERO's priority).
PATH_PRIORITY = ("image", "dataset", "project", "well", "acquisition", "plate", "screen")


def paths_to_object(
    ctx: Context, *, ids: dict[str, int], experimenter_id: int | None, group: int | None
) -> list[store.Path]:
    """Every path from an experimenter down to the lowest object named in ``ids``.

    Other ids given narrow the paths to those passing through them, as in OMERO. A ``tag``
    or ``tagset`` makes it a path in the tag tree; a ``roi`` or ``shape`` is shown on its
    image, so its paths are the image's with the ROI (and the shape) added at the end.
    """
    scope = _scope(ctx, group, None, 0, None)
    ids = dict(ids)
    wanted: set[tuple[str, int]] = set()
    if experimenter_id is not None:
        wanted.add(("experimenter", experimenter_id))
    with ctx.instance.db.read() as conn:
        if "tag" in ids or "tagset" in ids:
            found = tag_store.tag_paths(
                conn, scope, tag_id=ids.get("tag"), tagset_id=ids.get("tagset")
            )
            return [p for p in found if wanted <= set(p)]
        tail = _roi_tail(conn, scope, ids)
        if tail is None:
            return []
        lowest = next((kind for kind in PATH_PRIORITY if kind in ids), None)
        if lowest is None:
            return [[("experimenter", experimenter_id)]] if experimenter_id is not None else []
        if lowest == "image":
            found = store.image_paths(conn, scope, ids["image"])
        else:
            found = store.container_paths(conn, scope, lowest, ids[lowest])
    wanted |= {(k, v) for k, v in ids.items() if k != lowest}
    return [[*p, *tail] for p in found if wanted <= set(p)]


def _roi_tail(conn: Any, scope: Scope, ids: dict[str, int]) -> list[tuple[str, int]] | None:
    """Replace ``roi``/``shape`` in ``ids`` by their image; what to append to each path, or
    None when the ROI or shape is missing or unreadable."""
    shape_id = ids.pop("shape", None)
    roi_id = ids.pop("roi", None)
    if shape_id is not None:
        roi_id = store.shape_roi(conn, scope, shape_id=shape_id)
        if roi_id is None:
            return None
    if roi_id is None:
        return []
    image_id = store.roi_image(conn, scope, roi_id=roi_id)
    if image_id is None:
        return None
    ids["image"] = image_id
    return [("roi", roi_id)] + ([("shape", shape_id)] if shape_id is not None else [])


def parent_links(
    ctx: Context, *, images_: Sequence[int], datasets_: Sequence[int], plates_: Sequence[int]
) -> list[LinkRow]:
    scope = _scope(ctx, None, None, 0, None)
    with ctx.instance.db.read() as conn:
        return store.parent_links(conn, scope, images_=images_, datasets=datasets_, plates=plates_)


# ---------------------------------------------------------------------------- tags


@dataclass(frozen=True)
class Tagged:
    """What ``api/tags/?id=`` lists: a set's tags and the objects the tag is on."""

    tags: list[Item[TagRow]]
    projects: list[Item[NodeRow]]
    datasets: list[Item[NodeRow]]
    images: list[Item[ImageRow]]
    screens: list[Item[NodeRow]]
    plates: list[Item[NodeRow]]
    acquisitions: list[Item[RunRow]]
    wells: list[Item[WellRow]]


def tags(
    ctx: Context,
    *,
    group: int | None,
    experimenter_id: int | None,
    orphaned: bool,
    offset: int,
    limit: int | None,
) -> list[Item[TagRow]]:
    """Tags and tag sets by id; ``orphaned``: only those in no tag set."""
    scope = _scope(ctx, group, experimenter_id, offset, limit)
    with ctx.instance.db.read() as conn:
        return _items(ctx, conn, tag_store.tags(conn, scope, orphaned=orphaned))


def tagged(
    ctx: Context,
    *,
    tag_id: int,
    group: int | None,
    experimenter_id: int | None,
    offset: int,
    limit: int | None,
    sizes: bool = False,
    dates: bool = False,
) -> Tagged:
    """The tags of set ``tag_id`` and the objects tagged with it, each list paged alone
    (as OMERO.web pages each of its queries); all empty when the tag cannot be read."""
    scope = _scope(ctx, group, experimenter_id, offset, limit)
    with ctx.instance.db.read() as conn:
        if not tag_store.readable_tags(conn, scope, [tag_id]):
            return Tagged([], [], [], [], [], [], [], [])

        def nodes(kind: str) -> list[Item[NodeRow]]:
            return _items(ctx, conn, store.containers(conn, kind, scope, tag_id=tag_id))

        images_ = store.images(conn, scope, tag_id=tag_id, sizes=sizes, dates=dates)
        return Tagged(
            tags=_items(ctx, conn, tag_store.tags(conn, scope, parent_id=tag_id)),
            projects=nodes("project"),
            datasets=nodes("dataset"),
            images=_items(ctx, conn, images_),
            screens=nodes("screen"),
            plates=nodes("plate"),
            acquisitions=_items(ctx, conn, store.runs(conn, scope, tag_id=tag_id)),
            wells=_items(ctx, conn, tag_store.tagged_wells(conn, scope, tag_id)),
        )


def delete_tags(ctx: Context, tag_ids: Sequence[int]) -> None:
    """Delete tags (and tag sets) with their links, all or none, as OMERO's ``DoAll`` of
    ``Delete("/Annotation")``. The tags of a deleted set stay; only their links to it go."""
    if not tag_ids:
        return
    scope = _scope(ctx, None, None, 0, None)
    with ctx.instance.db.write() as conn:
        found = tag_store.readable_tags(conn, scope, tag_ids)
        levels = store.group_levels(conn, {r.group_id for r in found.values()})
        for tag_id in dict.fromkeys(tag_ids):
            row = found.get(tag_id)
            if row is None:
                raise NotFound(f"Tag {tag_id} not found")
            level = levels[row.group_id]
            if is_public(ctx) or not allowed(
                ctx.actor, Action.DELETE, owner_id=row.owner_id, group_id=row.group_id, level=level
            ):
                raise SecurityViolation(f"Cannot delete TagAnnotation:{tag_id}: not permitted")
        tag_store.delete_annotations(conn, list(found))


# ---------------------------------------------------------------------------- show=

#: The types ``show=`` understands (OMERO.web's ``Show.SUPPORTED_OBJECT_TYPES`` and shapes);
#: ``run`` is another name for ``acquisition``.
SHOW_KINDS = frozenset(
    {
        "project",
        "dataset",
        "image",
        "screen",
        "plate",
        "acquisition",
        "well",
        "tag",
        "tagset",
        "roi",
        "shape",
        "fileset",
    }
)


def shown(ctx: Context, kind: str, object_id: int) -> ShownRow:
    """The object a ``show=`` names, looked up across every group the caller reads (OMERO
    switches to group -1 for it); NotFound when it is missing or unreadable."""
    if kind not in SHOW_KINDS:
        raise NotFound(f"{kind} {object_id} not found")
    scope = _scope(ctx, None, None, 0, None)
    with ctx.instance.db.read() as conn:
        row = show_store.shown(conn, scope, kind, object_id)
    if row is None:
        raise NotFound(f"{kind} {object_id} not found")
    return row
