"""Reading the OME hierarchy: filtered, permission-aware, paged lists and single objects.

Each listed type is described once in ``KINDS`` (its table, its order, its parent and child
filters, how a row becomes a model object). Filters are ``IN`` subqueries, so a page and its
count never see duplicates, and every query carries the visibility predicate of
``store/visibility.py`` so that a LIMIT never counts a row the caller may not read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    exists,
    func,
    select,
)

from pyomero.model.entities import (
    Channel,
    Dataset,
    Experimenter,
    ExperimenterGroup,
    Image,
    Length,
    Pixels,
    Plate,
    PlateAcquisition,
    Project,
    Roi,
    Screen,
    Shape,
    Time,
    Well,
    WellSample,
)
from pyomero.model.permissions import Actor
from pyomero.store.accounts import experimenter_from_row, group_from_row
from pyomero.store.details import GROUP, GROUP_COLUMNS, OWNER, OWNER_COLUMNS, DetailsResolver
from pyomero.store.schema import (
    channel,
    dataset,
    datasetimagelink,
    experimenter,
    experimentergroup,
    groupexperimentermap,
    image,
    pixels,
    plate,
    plateacquisition,
    project,
    projectdatasetlink,
    roi,
    screen,
    screenplatelink,
    shape,
    well,
    wellsample,
)
from pyomero.store.visibility import Mode, readable, readable_clause, readable_params


@dataclass
class ListQuery:
    """The already validated parameters of one list request."""

    offset: int = 0
    limit: int | None = 200  # None: every row (the draft API's page=0)
    owner: int | None = None
    context_group: int | None = None
    orphaned: bool = False
    filters: dict[str, int] = field(default_factory=dict)


def _length(value: float | None, unit: str | None) -> Length | None:
    return None if value is None else Length(float(value), unit or "MICROMETER")


# ---------------------------------------------------------------------------- row -> model


def _dicts(result: Any) -> list[dict[str, Any]]:
    """Rows as plain dicts: several times faster to read field by field than ``Row`` objects."""
    keys = list(result.keys())
    return [dict(zip(keys, values, strict=True)) for values in result]


def _container(
    cls: type[Project] | type[Dataset],
) -> Callable[[dict[str, Any], DetailsResolver], Any]:
    """Projects and Datasets: a name, a description and details."""

    def build(row: dict[str, Any], details: DetailsResolver) -> Project | Dataset:
        return cls(
            id=row["id"],
            name=row["name"],
            description=row["description"],
            details=details.details(row["owner_id"], row["group_id"]),
        )

    return build


def _screen(row: dict[str, Any], details: DetailsResolver) -> Screen:
    return Screen(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        protocol_description=row["protocoldescription"],
        protocol_identifier=row["protocolidentifier"],
        reagent_set_description=row["reagentsetdescription"],
        reagent_set_identifier=row["reagentsetidentifier"],
        type=row["type"],
        details=details.details(row["owner_id"], row["group_id"]),
    )


def _plate(row: dict[str, Any], details: DetailsResolver) -> Plate:
    return Plate(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        column_naming_convention=row["columnnamingconvention"],
        row_naming_convention=row["rownamingconvention"],
        columns=row["columns"],
        rows=row["rows"],
        default_sample=row["defaultsample"],
        external_identifier=row["externalidentifier"],
        status=row["status"],
        well_origin_x=_length(row["wellorigin_x"], row["wellorigin_xunit"]),
        well_origin_y=_length(row["wellorigin_y"], row["wellorigin_yunit"]),
        details=details.details(row["owner_id"], row["group_id"]),
    )


def _plateacquisition(row: dict[str, Any], details: DetailsResolver) -> PlateAcquisition:
    return PlateAcquisition(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        maximum_field_count=row["maximumfieldcount"],
        start_time=row["starttime"],
        end_time=row["endtime"],
        plate_id=row["plate"],
        details=details.details(row["owner_id"], row["group_id"]),
    )


_PIXEL_COLUMNS = [c.label(f"px_{c.name}") for c in pixels.c]


def _pixels(row: dict[str, Any], details: DetailsResolver | None) -> Pixels | None:
    if row["px_id"] is None:
        return None
    return Pixels(
        id=row["px_id"],
        size_x=row["px_sizex"],
        size_y=row["px_sizey"],
        size_z=row["px_sizez"],
        size_c=row["px_sizec"],
        size_t=row["px_sizet"],
        pixels_type=row["px_pixelstype"],
        dimension_order=row["px_dimensionorder"],
        physical_size_x=_length(row["px_physicalsizex"], row["px_physicalsizexunit"]),
        physical_size_y=_length(row["px_physicalsizey"], row["px_physicalsizeyunit"]),
        physical_size_z=_length(row["px_physicalsizez"], row["px_physicalsizezunit"]),
        significant_bits=row["px_significantbits"],
        sha1=row["px_sha1"],
        time_increment=(
            None
            if row["px_timeincrement"] is None
            else Time(float(row["px_timeincrement"]), row["px_timeincrementunit"] or "SECOND")
        ),
        methodology=row["px_methodology"],
        wave_increment=row["px_waveincrement"],
        wave_start=row["px_wavestart"],
        details=None
        if details is None
        else details.details(row["px_owner_id"], row["px_group_id"]),
    )


def _image(row: dict[str, Any], details: DetailsResolver) -> Image:
    return Image(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        acquisition_date=row["acquisition_date"],
        archived=row["archived"],
        partial=row["partial"],
        series=row["series"],
        format=row["format"],
        pixels=_pixels(row, details),
        details=details.details(row["owner_id"], row["group_id"]),
    )


def _channel(row: dict[str, Any], details: DetailsResolver) -> Channel:
    return Channel(
        id=row["id"],
        index=row["index"],
        red=row["red"],
        green=row["green"],
        blue=row["blue"],
        alpha=row["alpha"],
        lookup_table=row["lookuptable"],
        name=row["name"],
        emission_wavelength=_length(row["emissionwave"], row["emissionwaveunit"]),
        excitation_wavelength=_length(row["excitationwave"], row["excitationwaveunit"]),
        fluor=row["fluor"],
        nd_filter=row["ndfilter"],
        pinhole_size=_length(row["pinholesize"], row["pinholesizeunit"]),
        pockel_cell_setting=row["pockelcellsetting"],
        samples_per_pixel=row["samplesperpixel"],
        contrast_method=row["contrastmethod"],
        illumination=row["illumination"],
        acquisition_mode=row["mode"],
        photometric_interpretation=row["photometricinterpretation"],
        details=details.details(row["owner_id"], row["group_id"]),
    )


def _well(row: dict[str, Any], details: DetailsResolver) -> Well:
    return Well(
        id=row["id"],
        column=row["column"],
        row=row["row"],
        external_description=row["externaldescription"],
        external_identifier=row["externalidentifier"],
        type=row["type"],
        red=row["red"],
        green=row["green"],
        blue=row["blue"],
        alpha=row["alpha"],
        status=row["status"],
        plate_id=row["plate"],
        details=details.details(row["owner_id"], row["group_id"]),
    )


def _roi(row: dict[str, Any], details: DetailsResolver) -> Roi:
    return Roi(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        image_id=row["image"],
        details=details.details(row["owner_id"], row["group_id"]),
    )


def parse_transform(text: str | None) -> tuple[float, ...] | None:
    if not text:
        return None
    return tuple(float(v) for v in text.split(","))


def _shape(row: dict[str, Any], details: DetailsResolver) -> Shape:
    return Shape(
        id=row["id"],
        kind=row["discriminator"],
        roi_id=row["roi"],
        the_z=row["thez"],
        the_t=row["thet"],
        the_c=row["thec"],
        fill_color=row["fillcolor"],
        fill_rule=row["fillrule"],
        stroke_color=row["strokecolor"],
        stroke_width=_length(row["strokewidth"], row["strokewidthunit"] or "PIXEL"),
        stroke_dash_array=row["strokedasharray"],
        font_family=row["fontfamily"],
        font_size=_length(row["fontsize"], row["fontsizeunit"] or "POINT"),
        font_style=row["fontstyle"],
        locked=row["locked"],
        text=row["textvalue"],
        transform=parse_transform(row["transform"]),  # type: ignore[arg-type]
        x=row["x"],
        y=row["y"],
        width=row["width"],
        height=row["height"],
        radius_x=row["radiusx"],
        radius_y=row["radiusy"],
        x1=row["x1"],
        y1=row["y1"],
        x2=row["x2"],
        y2=row["y2"],
        points=row["points"],
        marker_start=row["markerstart"],
        marker_end=row["markerend"],
        details=details.details(row["owner_id"], row["group_id"]),
    )


def _experimenter(row: dict[str, Any], _details: DetailsResolver) -> Experimenter:
    return experimenter_from_row(row)


def _group(row: dict[str, Any], _details: DetailsResolver) -> ExperimenterGroup:
    return group_from_row(row)


# ---------------------------------------------------------------------------- kinds


def _in(column: Any, sub: Select) -> ColumnElement[bool]:
    return column.in_(sub.scalar_subquery())


def _parent_of(link: Table, child_id: int) -> Select:
    return select(link.c.parent).where(link.c.child == child_id)


def _children_of(link: Table, parent_id: int) -> Select:
    return select(link.c.child).where(link.c.parent == parent_id)


Filter = Callable[[Any], ColumnElement[bool]]  # a value or a bound parameter


@dataclass(frozen=True)
class Kind:
    """One listed OME type: its table, the OMERO name used in messages, order and filters."""

    name: str
    table: Table
    build: Callable[[dict[str, Any], DetailsResolver], Any]
    order: Callable[[], list[Any]]
    filters: dict[str, Filter]
    link: Table | None = None  # the LINK_CLASS whose links childCount counts
    orphan: Callable[[], ColumnElement[bool]] | None = None
    columns: Callable[[], Select] | None = None  # a custom SELECT (joins) for the rows
    system: bool = False  # Experimenter/ExperimenterGroup: visible to every user, no owner


def _by_name(table: Table) -> Callable[[], list[Any]]:
    return lambda: [func.lower(table.c.name), table.c.id]


def _wells_with_samples(filters: dict[str, Any]) -> ColumnElement[bool]:
    """Wells having one WellSample that meets every sample filter (run and/or index) at once."""
    sample = select(wellsample.c.well)
    if "plateacquisition" in filters:
        sample = sample.where(wellsample.c.plateacquisition == filters["plateacquisition"])
    if "index" in filters:
        sample = sample.where(wellsample.c.well_index == filters["index"])
    return _in(well.c.id, sample)


#: Filters on a Well's samples, combined into one condition by ``_wells_with_samples``.
_SAMPLE_FILTERS = ("plateacquisition", "index")


KINDS: dict[str, Kind] = {
    "project": Kind(
        "Project",
        project,
        _container(Project),
        _by_name(project),
        {"dataset": lambda i: _in(project.c.id, _parent_of(projectdatasetlink, i))},
        link=projectdatasetlink,
    ),
    "dataset": Kind(
        "Dataset",
        dataset,
        _container(Dataset),
        _by_name(dataset),
        {
            "project": lambda i: _in(dataset.c.id, _children_of(projectdatasetlink, i)),
            "image": lambda i: _in(dataset.c.id, _parent_of(datasetimagelink, i)),
        },
        link=datasetimagelink,
        orphan=lambda: ~exists().where(projectdatasetlink.c.child == dataset.c.id),
    ),
    "image": Kind(
        "Image",
        image,
        _image,
        _by_name(image),
        {"dataset": lambda i: _in(image.c.id, _children_of(datasetimagelink, i))},
        orphan=lambda: and_(
            ~exists().where(datasetimagelink.c.child == image.c.id),
            ~exists().where(wellsample.c.image == image.c.id),
        ),
        columns=lambda: select(image, *_PIXEL_COLUMNS).outerjoin(
            pixels, pixels.c.image == image.c.id
        ),
    ),
    "screen": Kind(
        "Screen",
        screen,
        _screen,
        _by_name(screen),
        {"plate": lambda i: _in(screen.c.id, _parent_of(screenplatelink, i))},
        link=screenplatelink,
    ),
    "plate": Kind(
        "Plate",
        plate,
        _plate,
        _by_name(plate),
        {
            "screen": lambda i: _in(plate.c.id, _children_of(screenplatelink, i)),
            "well": lambda i: _in(plate.c.id, select(well.c.plate).where(well.c.id == i)),
        },
        orphan=lambda: ~exists().where(screenplatelink.c.child == plate.c.id),
    ),
    "plateacquisition": Kind(
        "PlateAcquisition",
        plateacquisition,
        _plateacquisition,
        _by_name(plateacquisition),
        {"plate": lambda i: plateacquisition.c.plate == i},
    ),
    "well": Kind(
        "Well",
        well,
        _well,
        lambda: [well.c.column, well.c.row, well.c.id],
        {
            "plate": lambda i: well.c.plate == i,
        },
    ),
    "roi": Kind("Roi", roi, _roi, lambda: [roi.c.id], {"image": lambda i: roi.c.image == i}),
    "shape": Kind("Shape", shape, _shape, lambda: [shape.c.id], {}),
    "experimenter": Kind(
        "Experimenter",
        experimenter,
        _experimenter,
        lambda: [
            func.lower(experimenter.c.lastname),
            func.lower(experimenter.c.firstname),
            experimenter.c.id,
        ],
        {
            "experimentergroup": lambda i: _in(
                experimenter.c.id,
                select(groupexperimentermap.c.child).where(groupexperimentermap.c.parent == i),
            )
        },
        system=True,
    ),
    "experimentergroup": Kind(
        "ExperimenterGroup",
        experimentergroup,
        _group,
        _by_name(experimentergroup),
        {
            "experimenter": lambda i: _in(
                experimentergroup.c.id,
                select(groupexperimentermap.c.parent).where(groupexperimentermap.c.child == i),
            )
        },
        system=True,
    ),
}


def _select(kind: Kind) -> Select:
    """The rows of ``kind`` with their owner and group joined in (``ow_*``/``gr_*`` columns),
    as OMERO's ``join fetch obj.details.owner`` does, so details cost no extra queries."""
    base = kind.columns() if kind.columns else select(kind.table)
    if kind.system:
        return base
    return (
        base.add_columns(*OWNER_COLUMNS, *GROUP_COLUMNS)
        .join(OWNER, OWNER.c.id == kind.table.c.owner_id)
        .join(GROUP, GROUP.c.id == kind.table.c.group_id)
    )


def _conditions(kind: Kind, mode: Mode, query: ListQuery) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a list, as bound parameters (values come from ``_values``)."""
    conds: list[ColumnElement[bool]] = []
    if not kind.system:
        conds.append(readable_clause(kind.table, mode))
        if query.owner is not None:
            conds.append(kind.table.c.owner_id == bindparam("q_owner"))
        if query.orphaned and kind.orphan is not None:
            conds.append(kind.orphan())
    names = sorted(query.filters)
    for name in names:
        if name not in _SAMPLE_FILTERS:
            conds.append(kind.filters[name](bindparam(f"f_{name}")))
    if kind.table is well and any(name in query.filters for name in _SAMPLE_FILTERS):
        conds.append(_wells_with_samples({n: bindparam(f"f_{n}") for n in names}))
    return conds


def _values(actor: Actor, query: ListQuery) -> tuple[Mode, dict[str, Any]]:
    mode, values = readable_params(actor, query.context_group)
    if query.owner is not None:
        values["q_owner"] = query.owner
    values.update({f"f_{name}": value for name, value in query.filters.items()})
    return mode, values


#: Statements built once per shape (kind, visibility mode, which filters); the values are
#: bound at execution, so SQLAlchemy neither rebuilds nor recompiles them per request.
_STATEMENTS: dict[tuple[Any, ...], Select] = {}


def _statement(key: tuple[Any, ...], build: Callable[[], Select]) -> Select:
    found = _STATEMENTS.get(key)
    if found is None:
        found = _STATEMENTS[key] = build()
    return found


def list_objects(
    conn: Connection, actor: Actor, kind_name: str, query: ListQuery
) -> tuple[list[Any], int]:
    """One page of ``kind_name`` objects the caller may read, and how many there are in all."""
    kind = KINDS[kind_name]
    mode, values = _values(actor, query)
    shape = (
        kind_name,
        mode,
        query.owner is not None,
        query.orphaned and kind.orphan is not None,
        tuple(sorted(query.filters)),
    )
    count = _statement(
        ("count", *shape),
        lambda: select(func.count()).select_from(kind.table).where(*_conditions(kind, mode, query)),
    )
    total = conn.scalar(count, values) or 0
    if query.limit == 0 or query.offset >= total:
        return [], total
    page = _statement(
        ("page", *shape),
        lambda: _select(kind).where(*_conditions(kind, mode, query)).order_by(*kind.order()),
    )
    rows = _dicts(conn.execute(page.offset(query.offset).limit(query.limit), values))
    resolver = DetailsResolver(conn, actor)
    if not kind.system:
        resolver.remember(rows)
    items = [kind.build(r, resolver) for r in rows]
    if kind_name == "well":
        attach_well_samples(conn, actor, items, resolver, query.filters, with_pixels=False)
    elif kind_name == "roi":
        attach_shapes(conn, items, resolver)
    return items, total


def get_object(
    conn: Connection,
    actor: Actor,
    kind_name: str,
    object_id: int,
    *,
    context_group: int | None = None,
) -> Any | None:
    """A single readable object with what its single GET loads, or None."""
    kind = KINDS[kind_name]
    query = ListQuery(context_group=context_group)
    mode, values = _values(actor, query)
    statement = _statement(
        ("get", kind_name, mode),
        lambda: _select(kind).where(
            kind.table.c.id == bindparam("object_id"), *_conditions(kind, mode, query)
        ),
    )
    found = _dicts(conn.execute(statement, {**values, "object_id": object_id}))
    if not found:
        return None
    row = found[0]
    resolver = DetailsResolver(conn, actor)
    if not kind.system:
        resolver.remember(found)
    obj = kind.build(row, resolver)
    if kind_name == "image" and obj.pixels is not None:
        obj.pixels.channels = load_channels(conn, obj.pixels.id, resolver)
    elif kind_name == "well":
        attach_well_samples(conn, actor, [obj], resolver, {}, with_pixels=True)
    elif kind_name == "roi":
        attach_shapes(conn, [obj], resolver)
    return obj


_CHANNELS = (
    select(channel).where(channel.c.pixels == bindparam("pixels_id")).order_by(channel.c.index)
)


def load_channels(conn: Connection, pixels_id: int, resolver: DetailsResolver) -> list[Channel]:
    rows = _dicts(conn.execute(_CHANNELS, {"pixels_id": pixels_id}))
    return [_channel(r, resolver) for r in rows]


def attach_shapes(conn: Connection, rois: Sequence[Roi], resolver: DetailsResolver) -> None:
    """Load the shapes of ``rois`` in one query; a ROI without shapes keeps ``shapes`` None."""
    if not rois:
        return
    by_id = {r.id: r for r in rois}
    rows = _dicts(
        conn.execute(
            select(shape)
            .where(shape.c.roi.in_(by_id))
            .order_by(shape.c.roi, shape.c.roi_index, shape.c.id)
        )
    )
    for row in rows:
        target = by_id[row["roi"]]
        if target.shapes is None:
            target.shapes = []
        target.shapes.append(_shape(row, resolver))


def attach_well_samples(
    conn: Connection,
    actor: Actor,
    wells: Sequence[Well],
    resolver: DetailsResolver,
    filters: dict[str, int],
    *,
    with_pixels: bool,
) -> None:
    """Load the WellSamples of ``wells`` with their Image and PlateAcquisition.

    With a ``plateacquisition`` or ``index`` filter only the matching samples are embedded,
    as OMERO's fetch joins do. Images come without Pixels unless ``with_pixels``.
    """
    if not wells:
        return
    by_id = {w.id: w for w in wells}
    image_cols = [c.label(f"im_{c.name}") for c in image.c]
    run_cols = [c.label(f"pa_{c.name}") for c in plateacquisition.c]
    query = (
        select(wellsample, *image_cols, *run_cols, *(_PIXEL_COLUMNS if with_pixels else []))
        .join(image, image.c.id == wellsample.c.image)
        .outerjoin(plateacquisition, plateacquisition.c.id == wellsample.c.plateacquisition)
        .where(wellsample.c.well.in_(by_id), readable(actor, image))
        .order_by(wellsample.c.well, wellsample.c.well_index)
    )
    if with_pixels:
        query = query.outerjoin(pixels, pixels.c.image == image.c.id)
    if "plateacquisition" in filters:
        query = query.where(wellsample.c.plateacquisition == filters["plateacquisition"])
    if "index" in filters:
        query = query.where(wellsample.c.well_index == filters["index"])
    for row in _dicts(conn.execute(query)):
        img = Image(
            id=row["im_id"],
            name=row["im_name"],
            description=row["im_description"],
            acquisition_date=row["im_acquisition_date"],
            archived=row["im_archived"],
            partial=row["im_partial"],
            series=row["im_series"],
            format=row["im_format"],
            pixels=_pixels(row, resolver) if with_pixels else None,
            details=resolver.details(row["im_owner_id"], row["im_group_id"]),
        )
        run = None
        if row["pa_id"] is not None:
            run = PlateAcquisition(
                id=row["pa_id"],
                name=row["pa_name"],
                description=row["pa_description"],
                maximum_field_count=row["pa_maximumfieldcount"],
                start_time=row["pa_starttime"],
                end_time=row["pa_endtime"],
                plate_id=row["pa_plate"],
                details=resolver.details(row["pa_owner_id"], row["pa_group_id"]),
            )
        sample = WellSample(
            id=row["id"],
            index=row["well_index"],
            position_x=_length(row["posx"], row["posxunit"] or "REFERENCEFRAME"),
            position_y=_length(row["posy"], row["posyunit"] or "REFERENCEFRAME"),
            timepoint=row["timepoint"],
            image=img,
            plate_acquisition=run,
            details=resolver.details(row["owner_id"], row["group_id"]),
        )
        target = by_id[row["well"]]
        if target.samples is None:
            target.samples = []
        target.samples.append(sample)


def child_counts(
    conn: Connection, actor: Actor, kind_name: str, ids: Sequence[int]
) -> dict[int, int] | None:
    """``omero:childCount`` for ``ids``: visible links (any group) per parent; None if N/A."""
    if not ids:
        return {}
    if kind_name == "experimenter":
        key = groupexperimentermap.c.child
        query = select(key, func.count()).where(key.in_(ids)).group_by(key)
    elif kind_name == "experimentergroup":
        key = groupexperimentermap.c.parent
        query = select(key, func.count()).where(key.in_(ids)).group_by(key)
    else:
        link = KINDS[kind_name].link
        if link is None:
            return None
        query = (
            select(link.c.parent, func.count())
            .where(link.c.parent.in_(ids), readable(actor, link))
            .group_by(link.c.parent)
        )
    counts: dict[int, int] = {parent: n for parent, n in conn.execute(query)}
    return {i: counts.get(i, 0) for i in ids}


def wellsample_index(
    conn: Connection, *, plate_id: int | None = None, run_id: int | None = None
) -> list[int]:
    """``omero:wellsampleIndex``: [min, max] of the WellSample positions, or [] if none."""
    query = select(func.min(wellsample.c.well_index), func.max(wellsample.c.well_index))
    if plate_id is not None:
        query = query.join(well, well.c.id == wellsample.c.well).where(well.c.plate == plate_id)
    else:
        query = query.where(wellsample.c.plateacquisition == run_id)
    low, high = conn.execute(query).one()
    return [] if low is None else [low, high]


def shape_bytes(conn: Connection, shape_id: int) -> bytes | None:
    """A Mask shape's packed bits (not part of ``Shape``: only the mask renderer reads them)."""
    value = conn.scalar(select(shape.c.bytes).where(shape.c.id == shape_id))
    return None if value is None else bytes(value)
