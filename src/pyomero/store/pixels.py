"""Pixels' storage locations, filesets, imported plates and users' rendering settings.

The rendering hot path (a tile, a thumbnail) needs one image's pixel location, sizes,
channel statistics and the caller's rendering settings: :func:`pixels_record` fetches the
first three in one query that also applies the read permission, :func:`rendering_def` the last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update

from pyomero.model.permissions import Actor
from pyomero.model.rendering import ChannelBinding, ChannelInfo, Color, PixelsInfo, RenderingDef
from pyomero.store import bulk
from pyomero.store.schema import (
    channel,
    channelbinding,
    dataset,
    datasetimagelink,
    event,
    experimenter,
    fileset,
    filesetentry,
    image,
    originalfile,
    pixels,
    plate,
    plateacquisition,
    project,
    projectdatasetlink,
    renderingdef,
    well,
    wellsample,
)
from pyomero.store.specs import PlateSpec, Who
from pyomero.store.visibility import readable, readable_clause, readable_params


@dataclass(frozen=True, slots=True)
class PixelsRecord:
    """What rendering needs of one image: where its pixels are, their shape, channel facts."""

    image_id: int
    image_name: str
    owner_id: int
    group_id: int
    pixels_id: int
    store: str | None  # "ome-zarr", or the format of a file registered in place
    path: str | None
    series: int
    size_x: int
    size_y: int
    size_z: int
    size_c: int
    size_t: int
    pixel_type: str
    significant_bits: int | None
    channel_names: tuple[str | None, ...]
    emission: tuple[float | None, ...]
    info: PixelsInfo

    @property
    def has_pixels(self) -> bool:
        return self.store is not None and self.path is not None


_RECORD_COLUMNS = [
    image.c.id.label("image_id"),
    image.c.name.label("image_name"),
    image.c.owner_id,
    image.c.group_id,
    pixels.c.id.label("pixels_id"),
    pixels.c.pixelstore,
    pixels.c.pixelpath,
    pixels.c.pixelseries,
    pixels.c.sizex,
    pixels.c.sizey,
    pixels.c.sizez,
    pixels.c.sizec,
    pixels.c.sizet,
    pixels.c.pixelstype,
    pixels.c.significantbits,
]
_CHANNEL_COLUMNS = [
    channel.c.pixels,
    channel.c.index,
    channel.c.name,
    channel.c.red,
    channel.c.green,
    channel.c.blue,
    channel.c.alpha,
    channel.c.lookuptable,
    channel.c.emissionwave,
    channel.c.excitationwave,
    channel.c.statsmin,
    channel.c.statsmax,
]
_STATEMENTS: dict[Any, Any] = {}


def _records_statement(mode: Any) -> Any:
    """Images with their Pixels and Channels in one statement: one row per channel."""
    key = ("records", mode)
    if key not in _STATEMENTS:
        _STATEMENTS[key] = (
            select(*_RECORD_COLUMNS, *_CHANNEL_COLUMNS)
            .select_from(
                image.join(pixels, pixels.c.image == image.c.id).outerjoin(
                    channel, channel.c.pixels == pixels.c.id
                )
            )
            .where(image.c.id.in_(bindparam("image_ids", expanding=True)))
            .where(readable_clause(image, mode))
            .order_by(image.c.id, channel.c.index)
        )
    return _STATEMENTS[key]


def pixels_records(
    conn: Connection, actor: Actor, image_ids: Sequence[int]
) -> dict[int, PixelsRecord]:
    """The readable images among ``image_ids`` that have Pixels, by image id (one query:
    this runs for every tile and thumbnail)."""
    if not image_ids:
        return {}
    mode, values = readable_params(actor)
    rows = conn.execute(_records_statement(mode), {**values, "image_ids": list(image_ids)}).all()
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.image_id, []).append(row)
    return {
        image_id: _record(found[0], [r for r in found if r.index is not None])
        for image_id, found in grouped.items()
    }


def pixels_record(conn: Connection, actor: Actor, image_id: int) -> PixelsRecord | None:
    return pixels_records(conn, actor, [image_id]).get(image_id)


def _channel_color(c: Any) -> Color | None:
    if c.red is None or c.green is None or c.blue is None:
        return None
    return Color(c.red, c.green, c.blue, 255 if c.alpha is None else c.alpha)


def _record(row: Any, channels: list[Any]) -> PixelsRecord:
    infos = tuple(
        ChannelInfo(
            color=_channel_color(c),
            emission_wavelength=c.emissionwave,
            excitation_wavelength=c.excitationwave,
            lut=c.lookuptable,
            stats_min=c.statsmin,
            stats_max=c.statsmax,
        )
        for c in channels
    )
    return PixelsRecord(
        image_id=row.image_id,
        image_name=row.image_name,
        owner_id=row.owner_id,
        group_id=row.group_id,
        pixels_id=row.pixels_id,
        store=row.pixelstore,
        path=row.pixelpath,
        series=row.pixelseries or 0,
        size_x=row.sizex,
        size_y=row.sizey,
        size_z=row.sizez,
        size_c=row.sizec,
        size_t=row.sizet,
        pixel_type=row.pixelstype,
        significant_bits=row.significantbits,
        channel_names=tuple(c.name for c in channels),
        emission=tuple(c.emissionwave for c in channels),
        info=PixelsInfo(
            size_z=row.sizez,
            size_c=row.sizec,
            size_t=row.sizet,
            pixel_type=row.pixelstype,
            significant_bits=row.significantbits,
            channels=infos,
        ),
    )


# -- rendering settings -------------------------------------------------------------------

_RDEF = select(renderingdef).where(
    renderingdef.c.pixels == bindparam("pixels_id"),
    renderingdef.c.owner_id.in_(bindparam("owners", expanding=True)),
)
_RDEFS_OF = select(renderingdef).where(renderingdef.c.pixels == bindparam("pixels_id"))
_BINDINGS = (
    select(channelbinding)
    .where(channelbinding.c.renderingdef.in_(bindparam("rdef_ids", expanding=True)))
    .order_by(channelbinding.c.renderingdef, channelbinding.c.index)
)


def _binding(b: Any) -> ChannelBinding:
    return ChannelBinding(
        active=bool(b.active),
        start=float(b.inputstart),
        end=float(b.inputend),
        color=Color(b.red, b.green, b.blue, b.alpha),
        family=b.family,
        coefficient=float(b.coefficient),
        inverted=bool(b.reverseintensity),
        lut=b.lookuptable,
        noise_reduction=bool(b.noisereduction),
    )


def _rdefs(conn: Connection, rows: Sequence[Any]) -> list[RenderingDef]:
    if not rows:
        return []
    bindings: dict[int, list[ChannelBinding]] = {r.id: [] for r in rows}
    for b in conn.execute(_BINDINGS, {"rdef_ids": list(bindings)}):
        bindings[b.renderingdef].append(_binding(b))
    return [
        RenderingDef(
            model=r.model,
            default_z=r.defaultz,
            default_t=r.defaultt,
            channels=tuple(bindings[r.id]),
            id=r.id,
            owner_id=r.owner_id,
            invert_axis=bool(r.invertaxis),
        )
        for r in rows
    ]


def rendering_def(conn: Connection, pixels_id: int, owner_id: int) -> RenderingDef | None:
    """``owner_id``'s saved settings of one image, if any."""
    return first_rendering_def(conn, pixels_id, [owner_id])


def first_rendering_def(
    conn: Connection, pixels_id: int, owners: Sequence[int]
) -> RenderingDef | None:
    """The saved settings of the first of ``owners`` who has some (one query, or two when
    found): the caller's own, else the image owner's, as OMERO falls back."""
    rows = conn.execute(_RDEF, {"pixels_id": pixels_id, "owners": list(owners)}).all()
    if not rows:
        return None
    rank = {owner: index for index, owner in enumerate(owners)}
    best = min(rows, key=lambda r: rank[r.owner_id])
    return _rdefs(conn, [best])[0]


def rendering_defs(conn: Connection, pixels_id: int) -> list[RenderingDef]:
    """Every user's settings of one image, oldest first."""
    rows = conn.execute(_RDEFS_OF.order_by(renderingdef.c.id), {"pixels_id": pixels_id}).all()
    return _rdefs(conn, rows)


def save_rendering_def(
    conn: Connection,
    pixels_id: int,
    rdef: RenderingDef,
    *,
    owner_id: int,
    group_id: int,
    event_id: int,
) -> int:
    """Insert or replace ``owner_id``'s settings of one image; returns the RenderingDef id."""
    existing = conn.scalar(
        select(renderingdef.c.id).where(
            renderingdef.c.pixels == pixels_id, renderingdef.c.owner_id == owner_id
        )
    )
    values = {
        "defaultz": rdef.default_z,
        "defaultt": rdef.default_t,
        "model": rdef.model,
        "invertaxis": rdef.invert_axis,
        "update_event_id": event_id,
    }
    if existing is None:
        rdef_id = int(
            conn.execute(
                insert(renderingdef).values(
                    pixels=pixels_id,
                    owner_id=owner_id,
                    group_id=group_id,
                    creation_event_id=event_id,
                    version=0,
                    **values,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
    else:
        rdef_id = int(existing)
        conn.execute(
            update(renderingdef)
            .where(renderingdef.c.id == rdef_id)
            .values(version=renderingdef.c.version + 1, **values)
        )
        conn.execute(delete(channelbinding).where(channelbinding.c.renderingdef == rdef_id))
    conn.execute(
        insert(channelbinding),
        [
            {
                "renderingdef": rdef_id,
                "index": index,
                "active": b.active,
                "inputstart": b.start,
                "inputend": b.end,
                "family": b.family,
                "coefficient": b.coefficient,
                "noisereduction": b.noise_reduction,
                "red": b.color.red,
                "green": b.color.green,
                "blue": b.color.blue,
                "alpha": b.color.alpha,
                "lookuptable": b.lut,
                "reverseintensity": b.inverted,
            }
            for index, b in enumerate(rdef.channels)
        ],
    )
    return rdef_id


def delete_rendering_defs(conn: Connection, pixels_id: int, *, except_owner: int | None) -> None:
    statement = delete(renderingdef).where(renderingdef.c.pixels == pixels_id)
    if except_owner is not None:
        statement = statement.where(renderingdef.c.owner_id != except_owner)
    conn.execute(statement)


# -- filesets -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One original file of a fileset: its name and client directory, and where it is kept."""

    name: str
    path: str  # the client's directory of the file, as OMERO records it
    size: int
    sha1: str | None
    mimetype: str | None
    location: str  # relative to files/, or absolute (in place)
    client_path: str


def insert_fileset(
    conn: Connection, *, who: Who, template_prefix: str, files: Sequence[FileSpec]
) -> int:
    """A Fileset with its OriginalFiles and entries; returns the fileset id."""
    details = {
        "owner_id": who["owner_id"],
        "group_id": who["group_id"],
        "creation_event_id": who["event_id"],
        "update_event_id": who["event_id"],
    }
    fileset_id = int(
        conn.execute(
            insert(fileset).values(templateprefix=template_prefix, **details)
        ).inserted_primary_key[0]  # type: ignore[index]
    )
    for index, spec in enumerate(files):
        file_id = int(
            conn.execute(
                insert(originalfile).values(
                    name=spec.name,
                    path=spec.path,
                    size=spec.size,
                    hash=spec.sha1,
                    hasher="SHA1-160" if spec.sha1 else None,
                    mimetype=spec.mimetype,
                    location=spec.location,
                    **details,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        conn.execute(
            insert(filesetentry).values(
                fileset=fileset_id,
                originalfile=file_id,
                fileset_index=index,
                clientpath=spec.client_path,
            )
        )
    return fileset_id


def fileset_referenced(conn: Connection, template_prefix: str) -> bool:
    """Whether a fileset was recorded under this prefix (an import that did commit)."""
    found = conn.scalar(
        select(func.count()).select_from(fileset).where(fileset.c.templateprefix == template_prefix)
    )
    return bool(found)


@dataclass(frozen=True, slots=True)
class StoredFile:
    """An OriginalFile on disk: a fileset's original or an attachment's file."""

    id: int
    name: str
    path: str
    size: int
    mimetype: str | None
    location: str


def image_files(
    conn: Connection, actor: Actor, image_id: int
) -> tuple[int, list[StoredFile]] | None:
    """The fileset id and original files of a readable image (None: no such image, or none)."""
    row = conn.execute(
        select(image.c.fileset).where(image.c.id == image_id, readable(actor, image))
    ).first()
    if row is None or row.fileset is None:
        return None
    rows = conn.execute(
        select(originalfile)
        .join(filesetentry, filesetentry.c.originalfile == originalfile.c.id)
        .where(filesetentry.c.fileset == row.fileset)
        .order_by(filesetentry.c.fileset_index)
    ).all()
    return row.fileset, [
        StoredFile(r.id, r.name, r.path, r.size, r.mimetype, r.location) for r in rows
    ]


def original_file(conn: Connection, actor: Actor, file_id: int) -> StoredFile | None:
    r = conn.execute(
        select(originalfile).where(originalfile.c.id == file_id, readable(actor, originalfile))
    ).first()
    return None if r is None else StoredFile(r.id, r.name, r.path, r.size, r.mimetype, r.location)


# -- imported plates ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SampleSpec:
    image_id: int
    acquisition: int | None  # index into the plate's acquisitions
    position_x: float | None = None
    position_y: float | None = None


def insert_imported_plate(
    conn: Connection,
    *,
    who: Who,
    spec: PlateSpec,
    acquisitions: Sequence[dict[str, Any]],
    wells: Sequence[tuple[int, int, Sequence[SampleSpec]]],
) -> int:
    """A Plate with its PlateAcquisitions, Wells and WellSamples over existing images."""
    (plate_id,) = bulk.insert_plates(conn, **who, plates=[spec])
    details = {
        "owner_id": who["owner_id"],
        "group_id": who["group_id"],
        "creation_event_id": who["event_id"],
        "update_event_id": who["event_id"],
    }
    run_ids = []
    for run in acquisitions:
        key = conn.execute(insert(plateacquisition).values(plate=plate_id, **run, **details))
        run_ids.append(int(key.inserted_primary_key[0]))  # type: ignore[index]
    for row, column, samples in wells:
        key = conn.execute(insert(well).values(plate=plate_id, row=row, column=column, **details))
        well_id = int(key.inserted_primary_key[0])  # type: ignore[index]
        conn.execute(
            insert(wellsample),
            [
                {
                    "well": well_id,
                    "well_index": index,
                    "image": s.image_id,
                    "plateacquisition": None if s.acquisition is None else run_ids[s.acquisition],
                    "posx": s.position_x,
                    "posxunit": None if s.position_x is None else "REFERENCEFRAME",
                    "posy": s.position_y,
                    "posyunit": None if s.position_y is None else "REFERENCEFRAME",
                    **details,
                }
                for index, s in enumerate(samples)
            ],
        )
    return plate_id


# -- image context (imgData) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageParents:
    """The containers imgData names: exactly one project/dataset/well, or None for Multiple."""

    project: tuple[int, str, str | None] | None
    dataset: tuple[int, str, str | None] | None
    well_id: int | None
    author: str
    created: Any  # datetime of the creation event


def image_parents(conn: Connection, actor: Actor, image_id: int) -> ImageParents:
    datasets = conn.execute(
        select(dataset.c.id, dataset.c.name, dataset.c.description)
        .join(datasetimagelink, datasetimagelink.c.parent == dataset.c.id)
        .where(datasetimagelink.c.child == image_id, readable(actor, dataset))
        .limit(2)
    ).all()
    one_dataset = datasets[0] if len(datasets) == 1 else None
    one_project = None
    if one_dataset is not None:
        projects = conn.execute(
            select(project.c.id, project.c.name, project.c.description)
            .join(projectdatasetlink, projectdatasetlink.c.parent == project.c.id)
            .where(projectdatasetlink.c.child == one_dataset.id, readable(actor, project))
            .limit(2)
        ).all()
        one_project = projects[0] if len(projects) == 1 else None
    wells = conn.execute(
        select(wellsample.c.well).where(wellsample.c.image == image_id).limit(2)
    ).all()
    owner = conn.execute(
        select(experimenter.c.firstname, experimenter.c.lastname, event.c.time)
        .select_from(image)
        .join(experimenter, experimenter.c.id == image.c.owner_id)
        .join(event, event.c.id == image.c.creation_event_id)
        .where(image.c.id == image_id)
    ).one()
    return ImageParents(
        project=None if one_project is None else tuple(one_project),  # type: ignore[arg-type]
        dataset=None if one_dataset is None else tuple(one_dataset),  # type: ignore[arg-type]
        well_id=wells[0].well if len(wells) == 1 else None,
        author=f"{owner.firstname} {owner.lastname}".strip(),
        created=owner.time,
    )


# -- plate grid ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GridRow:
    row: int
    column: int
    well_id: int
    image_id: int
    name: str
    description: str | None
    first_name: str
    last_name: str
    acquisition_date: Any
    created: Any
    size_x: int | None
    size_y: int | None


def plate_info(conn: Connection, actor: Actor, plate_id: int) -> Any | None:
    return conn.execute(select(plate).where(plate.c.id == plate_id, readable(actor, plate))).first()


def plate_grid_rows(
    conn: Connection, actor: Actor, plate_id: int, *, field: int, acquisition_id: int | None
) -> list[GridRow]:
    """The image at sample index ``field`` of every well of a plate (relative to the lowest
    index of ``acquisition_id`` in each well when given)."""
    ws: Any = wellsample
    index = ws.c.well_index
    conditions = [well.c.plate == plate_id, readable(actor, image)]
    if acquisition_id is not None:
        ws = wellsample.alias("ws")
        index = ws.c.well_index
        lowest = (
            select(func.min(wellsample.c.well_index))
            .where(
                wellsample.c.well == ws.c.well,
                wellsample.c.plateacquisition == acquisition_id,
            )
            .scalar_subquery()
        )
        conditions += [ws.c.plateacquisition == acquisition_id, index - lowest == field]
    else:
        conditions.append(index == field)
    statement = (
        select(
            well.c.row,
            well.c.column,
            well.c.id.label("well_id"),
            image.c.id.label("image_id"),
            image.c.name,
            image.c.description,
            experimenter.c.firstname,
            experimenter.c.lastname,
            image.c.acquisition_date,
            event.c.time.label("created"),
            pixels.c.sizex,
            pixels.c.sizey,
        )
        .select_from(
            well.join(ws, ws.c.well == well.c.id)
            .join(image, image.c.id == ws.c.image)
            .join(experimenter, experimenter.c.id == image.c.owner_id)
            .join(event, event.c.id == image.c.creation_event_id)
            .outerjoin(pixels, pixels.c.image == image.c.id)
        )
        .where(and_(*conditions))
        .order_by(well.c.row, well.c.column)
    )
    return [
        GridRow(
            row=r.row,
            column=r.column,
            well_id=r.well_id,
            image_id=r.image_id,
            name=r.name,
            description=r.description,
            first_name=r.firstname,
            last_name=r.lastname,
            acquisition_date=r.acquisition_date,
            created=r.created,
            size_x=r.sizex,
            size_y=r.sizey,
        )
        for r in conn.execute(statement)
    ]


def plate_well_positions(conn: Connection, plate_id: int) -> list[tuple[int, int]]:
    return [
        (r.row, r.column)
        for r in conn.execute(select(well.c.row, well.c.column).where(well.c.plate == plate_id))
    ]


def fileset_client_paths(conn: Connection, fileset_id: int) -> list[str]:
    """The paths the files had on the importing client, in fileset order."""
    return list(
        conn.scalars(
            select(filesetentry.c.clientpath)
            .where(filesetentry.c.fileset == fileset_id)
            .order_by(filesetentry.c.fileset_index)
        )
    )
