"""The specs that ``store/bulk.py`` takes (column names of ``store/schema.py``) and the ids
it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Required, TypedDict


class Who(TypedDict):
    """The keyword arguments every function here takes, to pass along with ``**who``."""

    owner_id: int
    group_id: int
    event_id: int | None


class ContainerSpec(TypedDict, total=False):
    """A Project or Dataset."""

    name: Required[str]
    description: str | None


class ScreenSpec(TypedDict, total=False):
    name: Required[str]
    description: str | None
    protocoldescription: str | None
    protocolidentifier: str | None
    reagentsetdescription: str | None
    reagentsetidentifier: str | None
    type: str | None


class PlateSpec(TypedDict, total=False):
    name: Required[str]
    description: str | None
    columnnamingconvention: str | None
    rownamingconvention: str | None
    columns: int | None
    rows: int | None
    defaultsample: int | None
    externalidentifier: str | None
    status: str | None
    wellorigin_x: float | None
    wellorigin_xunit: str | None
    wellorigin_y: float | None
    wellorigin_yunit: str | None


class PixelsSpec(TypedDict, total=False):
    """``sizec`` defaults to the number of channels; ``sizez``/``sizet`` to 1."""

    sizex: Required[int]
    sizey: Required[int]
    sizez: int
    sizec: int
    sizet: int
    pixelstype: str
    dimensionorder: str
    physicalsizex: float | None
    physicalsizexunit: str | None
    physicalsizey: float | None
    physicalsizeyunit: str | None
    physicalsizez: float | None
    physicalsizezunit: str | None
    significantbits: int | None
    sha1: str | None
    timeincrement: float | None
    timeincrementunit: str | None
    methodology: str | None
    waveincrement: float | None
    wavestart: int | None
    pixelstore: str | None
    pixelpath: str | None
    pixelseries: int | None


class ChannelSpec(TypedDict, total=False):
    """One channel; its ``index`` is its position in the image's list."""

    name: str | None
    red: int | None
    green: int | None
    blue: int | None
    alpha: int | None
    lookuptable: str | None
    emissionwave: float | None
    emissionwaveunit: str | None
    excitationwave: float | None
    excitationwaveunit: str | None
    fluor: str | None
    ndfilter: float | None
    pinholesize: float | None
    pinholesizeunit: str | None
    pockelcellsetting: int | None
    samplesperpixel: int | None
    contrastmethod: str | None
    illumination: str | None
    mode: str | None
    photometricinterpretation: str | None
    statsmin: float | None
    statsmax: float | None


class ImageSpec(TypedDict, total=False):
    """An Image with its Pixels and Channels (no channels given: ``sizec`` empty channels)."""

    name: Required[str]
    description: str | None
    acquisition_date: datetime | None
    archived: bool | None
    partial: bool | None
    series: int | None
    format: str | None
    fileset: int | None
    pixels: PixelsSpec | None
    channels: Sequence[ChannelSpec] | None


class ShapeSpec(TypedDict, total=False):
    """One shape; ``kind`` is the OME class name (``Rectangle``, ``Polygon``...).

    ``points`` may be OMERO's string ``"x1,y1 x2,y2 ..."`` or a sequence of (x, y) pairs.
    """

    kind: Required[str]
    thez: int | None
    thet: int | None
    thec: int | None
    fillcolor: int | None
    fillrule: str | None
    strokecolor: int | None
    strokewidth: float | None
    strokewidthunit: str | None
    strokedasharray: str | None
    fontfamily: str | None
    fontsize: float | None
    fontsizeunit: str | None
    fontstyle: str | None
    locked: bool | None
    textvalue: str | None
    transform: str | None
    x: float | None
    y: float | None
    width: float | None
    height: float | None
    radiusx: float | None
    radiusy: float | None
    x1: float | None
    y1: float | None
    x2: float | None
    y2: float | None
    points: str | Sequence[tuple[float, float]] | None
    markerstart: str | None
    markerend: str | None
    bytes: bytes | None


class RoiSpec(TypedDict, total=False):
    name: str | None
    description: str | None
    shapes: Sequence[ShapeSpec]


@dataclass(frozen=True, slots=True)
class RoiIds:
    id: int
    shape_ids: list[int]


@dataclass(frozen=True, slots=True)
class PlateIds:
    """What :func:`insert_plate` created.

    ``well_ids`` is row-major (``well_ids[row * columns + column]``). ``wellsample_ids`` and
    ``image_ids`` are parallel: per well, per acquisition, per field.
    """

    plate_id: int
    acquisition_ids: list[int]
    well_ids: list[int]
    wellsample_ids: list[int]
    image_ids: list[int]


# -- rows ---------------------------------------------------------------------------------
