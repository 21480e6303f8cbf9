"""The OME entities pyomero serves, as plain data.

These are what services return and what ``wire/`` encodes. Optional collections are
``None`` when not loaded (the encoder then omits them), and ``[]`` when loaded and empty,
mirroring omero-model's loaded/unloaded distinction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from pyomero.model.permissions import GroupLevel, Permissions

T = TypeVar("T")


@dataclass(slots=True, frozen=True)
class Length:
    """A length with its OMERO unit enum name (``MICROMETER``, ``PIXEL``, ``REFERENCEFRAME``...)."""

    value: float
    unit: str = "MICROMETER"


@dataclass(slots=True, frozen=True)
class Time:
    value: float
    unit: str = "SECOND"


@dataclass(slots=True, frozen=True)
class Experimenter:
    id: int
    omename: str
    first_name: str
    last_name: str
    middle_name: str = ""
    email: str = ""
    institution: str | None = None
    ldap: bool = False


@dataclass(slots=True, frozen=True)
class ExperimenterGroup:
    id: int
    name: str
    level: GroupLevel
    description: str | None = None
    ldap: bool = False


@dataclass(slots=True)
class Membership:
    group_id: int
    user_id: int
    owner: bool


@dataclass(slots=True, frozen=True)
class Details:
    """Owner, group and the caller's permissions on one object."""

    owner: Experimenter | None
    group: ExperimenterGroup | None
    permissions: Permissions | None


@dataclass(slots=True)
class Project:
    id: int
    name: str
    description: str | None = None
    details: Details | None = None


@dataclass(slots=True)
class Dataset:
    id: int
    name: str
    description: str | None = None
    details: Details | None = None


@dataclass(slots=True)
class Screen:
    id: int
    name: str
    description: str | None = None
    protocol_description: str | None = None
    protocol_identifier: str | None = None
    reagent_set_description: str | None = None
    reagent_set_identifier: str | None = None
    type: str | None = None
    details: Details | None = None


@dataclass(slots=True)
class Channel:
    id: int
    index: int
    red: int | None = None
    green: int | None = None
    blue: int | None = None
    alpha: int | None = None
    lookup_table: str | None = None
    name: str | None = None
    emission_wavelength: Length | None = None
    excitation_wavelength: Length | None = None
    fluor: str | None = None
    nd_filter: float | None = None
    pinhole_size: Length | None = None
    pockel_cell_setting: int | None = None
    samples_per_pixel: int | None = None
    contrast_method: str | None = None
    illumination: str | None = None
    acquisition_mode: str | None = None
    photometric_interpretation: str | None = None
    details: Details | None = None


@dataclass(slots=True)
class Pixels:
    id: int
    size_x: int
    size_y: int
    size_z: int
    size_c: int
    size_t: int
    pixels_type: str
    dimension_order: str = "XYZCT"
    physical_size_x: Length | None = None
    physical_size_y: Length | None = None
    physical_size_z: Length | None = None
    significant_bits: int | None = None
    sha1: str | None = None
    time_increment: Time | None = None
    methodology: str | None = None
    wave_increment: float | None = None
    wave_start: int | None = None
    channels: list[Channel] | None = None
    details: Details | None = None


@dataclass(slots=True)
class Image:
    id: int
    name: str
    description: str | None = None
    acquisition_date: datetime | None = None
    archived: bool | None = False
    partial: bool | None = None
    series: int | None = 0
    format: str | None = None
    pixels: Pixels | None = None
    details: Details | None = None


@dataclass(slots=True)
class PlateAcquisition:
    id: int
    name: str | None = None
    description: str | None = None
    maximum_field_count: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    plate_id: int | None = None
    details: Details | None = None


@dataclass(slots=True)
class WellSample:
    id: int
    index: int
    position_x: Length | None = None
    position_y: Length | None = None
    timepoint: datetime | None = None
    image: Image | None = None
    plate_acquisition: PlateAcquisition | None = None
    details: Details | None = None


@dataclass(slots=True)
class Well:
    id: int
    column: int
    row: int
    external_description: str | None = None
    external_identifier: str | None = None
    type: str | None = None
    red: int | None = None
    green: int | None = None
    blue: int | None = None
    alpha: int | None = None
    status: str | None = None
    plate_id: int | None = None
    samples: list[WellSample] | None = None
    details: Details | None = None


@dataclass(slots=True)
class Plate:
    id: int
    name: str
    description: str | None = None
    column_naming_convention: str | None = None
    row_naming_convention: str | None = None
    columns: int | None = None
    rows: int | None = None
    default_sample: int | None = None
    external_identifier: str | None = None
    status: str | None = None
    well_origin_x: Length | None = None
    well_origin_y: Length | None = None
    details: Details | None = None


SHAPE_KINDS = ("Rectangle", "Ellipse", "Point", "Label", "Line", "Polyline", "Polygon", "Mask")


@dataclass(slots=True)
class Shape:
    """One ROI shape; ``kind`` is the OME class name, geometry fields unused by it stay None."""

    id: int
    kind: str
    roi_id: int | None = None
    the_z: int | None = None
    the_t: int | None = None
    the_c: int | None = None
    fill_color: int | None = None
    fill_rule: str | None = None
    stroke_color: int | None = None
    stroke_width: Length | None = None
    stroke_dash_array: str | None = None
    font_family: str | None = None
    font_size: Length | None = None
    font_style: str | None = None
    locked: bool | None = None
    text: str | None = None
    transform: tuple[float, float, float, float, float, float] | None = None
    x: float | None = None
    y: float | None = None
    width: float | None = None
    height: float | None = None
    radius_x: float | None = None
    radius_y: float | None = None
    x1: float | None = None
    y1: float | None = None
    x2: float | None = None
    y2: float | None = None
    points: str | None = None
    marker_start: str | None = None
    marker_end: str | None = None
    details: Details | None = None


@dataclass(slots=True)
class Roi:
    id: int
    name: str | None = None
    description: str | None = None
    image_id: int | None = None
    shapes: list[Shape] | None = None
    details: Details | None = None


ANNOTATION_KINDS = (
    "Comment",
    "Tag",
    "Xml",
    "Long",
    "Double",
    "Boolean",
    "Timestamp",
    "Term",
    "Map",
    "File",
)


@dataclass(slots=True)
class Annotation:
    """Any OMERO annotation; ``kind`` is the class name without the ``Annotation`` suffix."""

    id: int
    kind: str
    ns: str | None = None
    description: str | None = None
    text_value: str | None = None
    long_value: int | None = None
    double_value: float | None = None
    bool_value: bool | None = None
    time_value: datetime | None = None
    term_value: str | None = None
    map_value: list[tuple[str, str]] | None = None
    file_id: int | None = None
    details: Details | None = None


@dataclass(slots=True)
class Paged(Generic[T]):
    """One page of a list with what ``meta`` reports about the whole list."""

    items: list[T]
    total: int
    offset: int
    limit: int | None  # None: the whole list was asked for
    child_counts: dict[int, int] | None = None
    extra: dict[int, dict[str, object]] = field(default_factory=dict)
