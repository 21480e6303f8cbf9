"""The SQL behind the webclient's data tree (``/webclient/api/...``).

OMERO.web builds its tree from projection queries (``omeroweb/webclient/tree.py``) that load
a handful of columns per object plus a child count, ordered by ``lower(name), id`` and paged
with ``page``/``limit``. The same shapes are built here, each one a single statement that
carries the visibility predicate of ``store/visibility.py`` on every table it reads, so a
page, its child counts and the orphan count never include a row the caller may not read.

The tag tree is in ``store/tags.py`` and the object a ``show=`` names in ``store/show.py``;
both build on the scope, rows and helpers defined here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, and_, exists, func, select

from pyomero.model.permissions import USER_GROUP_ID, Actor, GroupLevel
from pyomero.store.schema import (
    annotation_links,
    dataset,
    datasetimagelink,
    event,
    experimenter,
    experimentergroup,
    groupexperimentermap,
    image,
    pixels,
    plate,
    plateacquisition,
    project,
    projectdatasetlink,
    renderingdef,
    roi,
    screen,
    screenplatelink,
    shape,
    well,
    wellsample,
)
from pyomero.store.visibility import readable


@dataclass(frozen=True)
class Scope:
    """Who asks and which slice: the context group (None = all), an owner filter, a page."""

    actor: Actor
    group: int | None = None
    owner: int | None = None
    offset: int = 0
    limit: int | None = 200  # None: every row


@dataclass(frozen=True, slots=True)
class NodeRow:
    """A Project, Dataset, Screen or Plate as the tree shows it."""

    id: int
    name: str
    owner_id: int
    group_id: int
    child_count: int


@dataclass(frozen=True, slots=True)
class ImageRow:
    id: int
    name: str
    owner_id: int
    group_id: int
    archived: bool
    fileset_id: int | None
    size: tuple[int, int, int, int] | None = None  # x, y, z, t; only when asked for
    created: datetime | None = None  # only when dates are asked for
    acquired: datetime | None = None
    thumb_version: int | None = None


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    name: str | None
    owner_id: int
    group_id: int
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, slots=True)
class WellRow:
    """A Well with what its name needs: its plate's name and naming conventions."""

    id: int
    owner_id: int
    group_id: int
    plate_id: int
    row: int
    column: int
    plate_name: str
    row_naming: str | None
    column_naming: str | None


@dataclass(frozen=True, slots=True)
class GroupRow:
    id: int
    name: str
    perm: str


@dataclass(frozen=True, slots=True)
class ExperimenterRow:
    id: int
    omename: str
    first_name: str
    last_name: str


def visible(scope: Scope, table: Table | Any) -> ColumnElement[bool]:
    """The rows of ``table`` the scope's caller may read in its context group."""
    return readable(scope.actor, table, context_group=scope.group)


def _paged(statement: Select[Any], table: Table, scope: Scope) -> Select[Any]:
    """OMERO's order (``lower(name), id``) and page; the owner filter when one is given."""
    if scope.owner is not None:
        statement = statement.where(table.c.owner_id == scope.owner)
    return page(statement.order_by(func.lower(table.c.name), table.c.id), scope)


# ---------------------------------------------------------------------------- containers

#: kind -> (table, link to children, child table, the link column naming the parent) ;
#: plates count their runs, which hang off the plate without a link table.
_CHILDREN: dict[str, tuple[Table, Table | None, Table]] = {
    "project": (project, projectdatasetlink, dataset),
    "dataset": (dataset, datasetimagelink, image),
    "screen": (screen, screenplatelink, plate),
    "plate": (plate, None, plateacquisition),
}
#: kind -> (the link that has it as a child, the parent's table): for ``id=`` and orphans.
_PARENT: dict[str, tuple[Table, Table]] = {
    "dataset": (projectdatasetlink, project),
    "image": (datasetimagelink, dataset),
    "plate": (screenplatelink, screen),
}


def _child_count(kind: str, scope: Scope) -> Any:
    """A correlated count of the readable children of each row."""
    table, link, child = _CHILDREN[kind]
    if link is None:
        where = and_(child.c.plate == table.c.id, visible(scope, child))
        return select(func.count()).select_from(child).where(where).scalar_subquery()
    return (
        select(func.count())
        .select_from(link.join(child, child.c.id == link.c.child))
        .where(link.c.parent == table.c.id, visible(scope, child))
        .scalar_subquery()
    )


def containers(
    conn: Connection,
    kind: str,
    scope: Scope,
    *,
    parent_id: int | None = None,
    orphaned: bool = False,
    tag_id: int | None = None,
) -> list[NodeRow]:
    """One page of readable ``kind`` objects, in ``parent_id`` or without any parent, or
    tagged with ``tag_id``."""
    table = _CHILDREN[kind][0]
    statement: Select[Any] = select(
        table.c.id,
        table.c.name,
        table.c.owner_id,
        table.c.group_id,
        _child_count(kind, scope).label("child_count"),
    ).where(visible(scope, table))
    statement = _filter_parent(statement, kind, table, parent_id, orphaned)
    statement = filter_tag(statement, kind, table, tag_id)
    rows = conn.execute(_paged(statement, table, scope))
    return [NodeRow(r.id, r.name, r.owner_id, r.group_id, r.child_count) for r in rows]


def _filter_parent(
    statement: Select[Any], kind: str, table: Table, parent_id: int | None, orphaned: bool
) -> Select[Any]:
    """``id=`` (children of one parent) wins over ``orphaned`` (no parent at all), as in OMERO."""
    if kind not in _PARENT or (parent_id is None and not orphaned):
        return statement
    link = _PARENT[kind][0]
    if parent_id is not None:
        linked = select(link.c.child).where(link.c.parent == parent_id)
        return statement.where(table.c.id.in_(linked))
    return statement.where(~exists().where(link.c.child == table.c.id))


def filter_tag(statement: Select[Any], kind: str, table: Table, tag_id: int | None) -> Select[Any]:
    """Objects linked to annotation ``tag_id`` (OMERO's ``join obj.annotationLinks``)."""
    if tag_id is None:
        return statement
    link = annotation_links[kind]
    return statement.where(table.c.id.in_(select(link.c.parent).where(link.c.child == tag_id)))


# ---------------------------------------------------------------------------- images


def images(
    conn: Connection,
    scope: Scope,
    *,
    dataset_id: int | None = None,
    orphaned: bool = False,
    sizes: bool = False,
    dates: bool = False,
    thumb_versions: bool = False,
    tag_id: int | None = None,
) -> list[ImageRow]:
    """One page of readable images of a dataset, or orphans (in no dataset and no well), or
    tagged with ``tag_id``."""
    columns: list[Any] = [
        image.c.id,
        image.c.name,
        image.c.owner_id,
        image.c.group_id,
        image.c.archived,
        image.c.fileset,
    ]
    source: Any = image
    if sizes:
        columns += [pixels.c.sizex, pixels.c.sizey, pixels.c.sizez, pixels.c.sizet]
        source = source.outerjoin(pixels, pixels.c.image == image.c.id)
    if dates:
        columns += [event.c.time.label("created"), image.c.acquisition_date]
        source = source.outerjoin(event, event.c.id == image.c.creation_event_id)
    statement = select(*columns).select_from(source).where(visible(scope, image))
    statement = _filter_parent(statement, "image", image, dataset_id, orphaned)
    statement = filter_tag(statement, "image", image, tag_id)
    if dataset_id is None and orphaned:
        statement = statement.where(~exists().where(wellsample.c.image == image.c.id))
    rows = list(conn.execute(_paged(statement, image, scope)))
    versions = (
        _thumb_versions(conn, scope.actor.user_id, [r.id for r in rows])
        if thumb_versions and rows
        else {}
    )
    return [
        ImageRow(
            id=r.id,
            name=r.name,
            owner_id=r.owner_id,
            group_id=r.group_id,
            archived=r.archived is True,
            fileset_id=r.fileset,
            size=(r.sizex, r.sizey, r.sizez, r.sizet) if sizes and r.sizex is not None else None,
            created=r.created if dates else None,
            acquired=r.acquisition_date if dates else None,
            thumb_version=versions.get(r.id),
        )
        for r in rows
    ]


def _thumb_versions(conn: Connection, user_id: int, image_ids: list[int]) -> dict[int, int]:
    """The version of the caller's own rendering settings per image.

    OMERO reports the version of the newest thumbnail the caller owns; pyomero caches
    thumbnails by content, and what changes them for a user is that user's rendering
    settings, whose version plays the same part (a client appends it to bust its cache).
    """
    statement = (
        select(pixels.c.image, renderingdef.c.version)
        .select_from(pixels.join(renderingdef, renderingdef.c.pixels == pixels.c.id))
        .where(pixels.c.image.in_(image_ids), renderingdef.c.owner_id == user_id)
    )
    return {r.image: r.version for r in conn.execute(statement)}


def orphan_count(conn: Connection, scope: Scope) -> int:
    """How many readable images are in no dataset and no well (the "Orphaned Images" node)."""
    statement = (
        select(func.count())
        .select_from(image)
        .where(
            visible(scope, image),
            ~exists().where(datasetimagelink.c.child == image.c.id),
            ~exists().where(wellsample.c.image == image.c.id),
        )
    )
    if scope.owner is not None:
        statement = statement.where(image.c.owner_id == scope.owner)
    return int(conn.scalar(statement) or 0)


def runs(
    conn: Connection, scope: Scope, plate_id: int | None = None, *, tag_id: int | None = None
) -> list[RunRow]:
    """A plate's readable PlateAcquisitions by id (OMERO's order), or those tagged with
    ``tag_id`` by ``lower(name), id`` (the order of OMERO's tagged lists), paged."""
    pa = plateacquisition
    statement = select(pa).where(visible(scope, pa))
    if plate_id is not None:
        statement = statement.where(pa.c.plate == plate_id).order_by(pa.c.id)
    else:
        statement = filter_tag(statement, "plateacquisition", pa, tag_id)
        if scope.owner is not None:
            statement = statement.where(pa.c.owner_id == scope.owner)
        # an unnamed run sorts last, as NULL does on OMERO's PostgreSQL
        statement = statement.order_by(func.lower(pa.c.name).asc().nulls_last(), pa.c.id)
    return [run_row(r) for r in conn.execute(page(statement, scope))]


def run_row(r: Any) -> RunRow:
    """A RunRow from a ``plateacquisition`` row."""
    return RunRow(r.id, r.name, r.owner_id, r.group_id, r.starttime, r.endtime)


def well_columns() -> list[Any]:
    """What a WellRow needs, from ``well`` joined to its ``plate``."""
    return [
        well.c.id,
        well.c.owner_id,
        well.c.group_id,
        well.c.plate.label("plate_id"),
        well.c.row,
        well.c.column,
        plate.c.name.label("plate_name"),
        plate.c.rownamingconvention,
        plate.c.columnnamingconvention,
    ]


def well_row(r: Any) -> WellRow:
    return WellRow(
        r.id,
        r.owner_id,
        r.group_id,
        r.plate_id,
        r.row,
        r.column,
        r.plate_name,
        r.rownamingconvention,
        r.columnnamingconvention,
    )


def page(statement: Select[Any], scope: Scope) -> Select[Any]:
    """The scope's page of an ordered statement."""
    if scope.limit is not None:
        statement = statement.limit(scope.limit)
    if scope.offset:
        statement = statement.offset(scope.offset)
    return statement


# ---------------------------------------------------------------------------- accounts


def group_levels(conn: Connection, group_ids: Iterable[int]) -> dict[int, GroupLevel]:
    """The permission level of each group, for the ``permsCss`` of objects in them."""
    ids = sorted(set(group_ids))
    if not ids:
        return {}
    statement = select(experimentergroup.c.id, experimentergroup.c.permissions).where(
        experimentergroup.c.id.in_(ids)
    )
    return {r.id: GroupLevel(r.permissions) for r in conn.execute(statement)}


def groups(
    conn: Connection, *, member_id: int | None, offset: int, limit: int | None
) -> list[GroupRow]:
    """Every group but ``user`` (or those of one member), by lower-cased name.

    Group names and levels are public in OMERO: any logged-in user may list them.
    """
    statement = select(
        experimentergroup.c.id, experimentergroup.c.name, experimentergroup.c.permissions
    ).where(experimentergroup.c.id != USER_GROUP_ID)
    if member_id is not None:
        members = select(groupexperimentermap.c.parent).where(
            groupexperimentermap.c.child == member_id
        )
        statement = statement.where(experimentergroup.c.id.in_(members))
    statement = statement.order_by(func.lower(experimentergroup.c.name), experimentergroup.c.id)
    if limit is not None:
        statement = statement.limit(limit)
    if offset:
        statement = statement.offset(offset)
    return [GroupRow(r.id, r.name, r.permissions) for r in conn.execute(statement)]


def experimenter_row(conn: Connection, actor: Actor, user_id: int) -> ExperimenterRow | None:
    """One experimenter, if an admin asks or the caller shares a group (other than ``user``)."""
    statement = select(
        experimenter.c.id, experimenter.c.omename, experimenter.c.firstname, experimenter.c.lastname
    ).where(experimenter.c.id == user_id)
    if not actor.is_admin:
        shared = sorted(set(actor.member_of) - {USER_GROUP_ID})
        statement = statement.where(
            exists().where(
                groupexperimentermap.c.child == experimenter.c.id,
                groupexperimentermap.c.parent.in_(shared or [-1]),
            )
        )
    r = conn.execute(statement).first()
    return None if r is None else ExperimenterRow(r.id, r.omename, r.firstname, r.lastname)


# ---------------------------------------------------------------------------- paths and links

Path = list[tuple[str, int]]


def image_paths(conn: Connection, scope: Scope, image_id: int) -> list[Path]:
    """Where an image sits in the tree: experimenter > [project >] dataset > image for each
    readable dataset holding it, experimenter > [screen >] plate > [run >] well > image for
    a well sample, or experimenter > orphaned > image. The experimenter is the owner of the
    topmost container, as OMERO's ``coalesce(powner, downer, iowner)``."""
    owner = conn.scalar(
        select(image.c.owner_id).where(image.c.id == image_id, visible(scope, image))
    )
    if owner is None:
        return []
    paths: list[Path] = []
    statement = (
        select(
            dataset.c.id,
            dataset.c.owner_id,
            project.c.id.label("pid"),
            project.c.owner_id.label("powner"),
        )
        .select_from(
            datasetimagelink.join(dataset, dataset.c.id == datasetimagelink.c.parent)
            .outerjoin(projectdatasetlink, projectdatasetlink.c.child == dataset.c.id)
            .outerjoin(
                project, and_(project.c.id == projectdatasetlink.c.parent, visible(scope, project))
            )
        )
        .where(datasetimagelink.c.child == image_id, visible(scope, dataset))
        .order_by(project.c.owner_id, project.c.id, dataset.c.id)
    )
    for r in conn.execute(statement):
        top = r.powner if r.pid is not None else r.owner_id
        path: Path = [("experimenter", top)]
        if r.pid is not None:
            path.append(("project", r.pid))
        paths.append([*path, ("dataset", r.id), ("image", image_id)])
    for plate_path in _well_paths(conn, scope, wellsample.c.image == image_id):
        paths.append([*plate_path, ("image", image_id)])
    if not paths:
        paths.append([("experimenter", owner), ("orphaned", owner), ("image", image_id)])
    return paths


def _well_paths(conn: Connection, scope: Scope, where: ColumnElement[bool]) -> list[Path]:
    statement = (
        select(
            well.c.id.label("wid"),
            plate.c.id.label("plid"),
            plate.c.owner_id.label("plowner"),
            wellsample.c.plateacquisition.label("aid"),
            screen.c.id.label("sid"),
            screen.c.owner_id.label("sowner"),
        )
        .select_from(
            wellsample.join(well, well.c.id == wellsample.c.well)
            .join(plate, plate.c.id == well.c.plate)
            .outerjoin(screenplatelink, screenplatelink.c.child == plate.c.id)
            .outerjoin(
                screen, and_(screen.c.id == screenplatelink.c.parent, visible(scope, screen))
            )
        )
        .where(where, visible(scope, well), visible(scope, plate))
        .distinct()
        .order_by(screen.c.id, plate.c.id, wellsample.c.plateacquisition, well.c.id)
    )
    paths = []
    for r in conn.execute(statement):
        path: Path = [("experimenter", r.sowner if r.sid is not None else r.plowner)]
        if r.sid is not None:
            path.append(("screen", r.sid))
        path.append(("plate", r.plid))
        if r.aid is not None:
            path.append(("acquisition", r.aid))
        paths.append([*path, ("well", r.wid)])
    return paths


def container_paths(conn: Connection, scope: Scope, kind: str, object_id: int) -> list[Path]:
    """Paths to a dataset, project, screen, plate, run or well (see :func:`image_paths`)."""
    if kind == "well":
        # OMERO's path to a well stops at its run (or plate): the tree has no well nodes.
        return [p[:-1] for p in _well_paths(conn, scope, well.c.id == object_id)]
    if kind == "acquisition":
        plate_id = conn.scalar(
            select(plateacquisition.c.plate).where(
                plateacquisition.c.id == object_id, visible(scope, plateacquisition)
            )
        )
        if plate_id is None:
            return []
        return [
            [*p, ("acquisition", object_id)]
            for p in container_paths(conn, scope, "plate", plate_id)
        ]
    table = {"project": project, "dataset": dataset, "screen": screen, "plate": plate}[kind]
    owner = conn.scalar(
        select(table.c.owner_id).where(table.c.id == object_id, visible(scope, table))
    )
    if owner is None:
        return []
    if kind not in _PARENT:
        return [[("experimenter", owner), (kind, object_id)]]
    link, parent = _PARENT[kind]
    parent_kind = "project" if kind == "dataset" else "screen"
    statement = (
        select(parent.c.id, parent.c.owner_id)
        .select_from(link.join(parent, parent.c.id == link.c.parent))
        .where(link.c.child == object_id, visible(scope, parent))
        .order_by(parent.c.owner_id, parent.c.id)
    )
    paths = [
        [("experimenter", r.owner_id), (parent_kind, r.id), (kind, object_id)]
        for r in conn.execute(statement)
    ]
    return paths or [[("experimenter", owner), (kind, object_id)]]


def roi_image(conn: Connection, scope: Scope, *, roi_id: int) -> int | None:
    """The image of a readable ROI (on a readable image)."""
    statement = (
        select(roi.c.image)
        .select_from(roi.join(image, image.c.id == roi.c.image))
        .where(roi.c.id == roi_id, visible(scope, roi), visible(scope, image))
    )
    return conn.scalar(statement)


def shape_roi(conn: Connection, scope: Scope, *, shape_id: int) -> int | None:
    """The ROI of a readable shape."""
    return conn.scalar(select(shape.c.roi).where(shape.c.id == shape_id, visible(scope, shape)))


@dataclass(frozen=True, slots=True)
class LinkRow:
    id: int
    parent: tuple[str, int]
    child: tuple[str, int]


def parent_links(
    conn: Connection,
    scope: Scope,
    *,
    images_: Sequence[int],
    datasets: Sequence[int],
    plates: Sequence[int],
) -> list[LinkRow]:
    """The readable links from readable parents to the given children, by link id."""
    found: list[LinkRow] = []
    for kind, ids in (("image", images_), ("dataset", datasets), ("plate", plates)):
        if not ids:
            continue
        link, parent = _PARENT[kind]
        parent_kind = {"image": "dataset", "dataset": "project", "plate": "screen"}[kind]
        child = _CHILDREN[parent_kind][2]
        statement = (
            select(link.c.id, link.c.parent, link.c.child)
            .select_from(
                link.join(parent, parent.c.id == link.c.parent).join(
                    child, child.c.id == link.c.child
                )
            )
            .where(
                link.c.child.in_(sorted(set(ids))),
                visible(scope, link),
                visible(scope, parent),
                visible(scope, child),
            )
            .order_by(link.c.id)
        )
        found += [
            LinkRow(r.id, (parent_kind, r.parent), (kind, r.child)) for r in conn.execute(statement)
        ]
    return found
