"""The contract every pixel source keeps, and the metadata an import reads from a file.

A ``PixelSource`` is one image (one OME "series"): 5-D pixels (T, C, Z, Y, X) at one or more
resolution levels, level 0 the full resolution. Readers of files (OME-TIFF, TIFF, PNG/JPEG,
OME-Zarr) and the instance's own OME-Zarr store all implement it; rendering and the writer
only ever see this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True, slots=True)
class Level:
    size_x: int
    size_y: int


@runtime_checkable
class PixelSource(Protocol):
    """Read access to one image's pixels."""

    @property
    def pixel_type(self) -> str:
        """OMERO pixel type name (``uint16``...); see ``model.rendering.NUMPY_DTYPE``."""
        ...

    @property
    def size_x(self) -> int: ...
    @property
    def size_y(self) -> int: ...
    @property
    def size_z(self) -> int: ...
    @property
    def size_c(self) -> int: ...
    @property
    def size_t(self) -> int: ...

    @property
    def levels(self) -> tuple[Level, ...]:
        """Resolution levels, index 0 = full resolution, each smaller than the one before."""
        ...

    @property
    def tile_size(self) -> tuple[int, int]:
        """(width, height) in which the source is best read (its chunk or tile size)."""
        ...

    def region(
        self, *, level: int, z: int, c: int, t: int, x: int, y: int, width: int, height: int
    ) -> np.ndarray:
        """The (height, width) array of a rectangle of one plane at ``level``.

        The caller keeps the rectangle inside the level; the dtype is the pixel type's.
        """
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ChannelMeta:
    """A channel as the file describes it; every field is optional."""

    name: str | None = None
    color: tuple[int, int, int, int] | None = None  # RGBA 0-255
    emission_wavelength: float | None = None  # nm
    excitation_wavelength: float | None = None  # nm
    fluor: str | None = None


@dataclass(frozen=True, slots=True)
class ImageMeta:
    """What an import records of one image besides its pixels."""

    name: str
    description: str | None = None
    acquisition_date: datetime | None = None
    physical_size_x: float | None = None  # micrometres
    physical_size_y: float | None = None
    physical_size_z: float | None = None
    significant_bits: int | None = None
    channels: tuple[ChannelMeta, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class SeriesRef:
    """One image found in a file set: how to open its pixels and what it is."""

    meta: ImageMeta
    series: int  # index of the series inside the file or fileset


@dataclass(frozen=True, slots=True)
class WellField:
    """One field (WellSample) of a well: which series holds its image."""

    series: int
    acquisition: int | None = None  # index into PlateMeta.acquisitions
    position_x: float | None = None
    position_y: float | None = None


@dataclass(frozen=True, slots=True)
class WellMeta:
    row: int
    column: int
    fields: tuple[WellField, ...]


@dataclass(frozen=True, slots=True)
class AcquisitionMeta:
    name: str | None = None
    description: str | None = None
    maximum_field_count: int | None = None


@dataclass(frozen=True, slots=True)
class PlateMeta:
    """An HCS plate found in a file set (OME-Zarr HCS or an OME-TIFF with Plate metadata)."""

    name: str
    rows: int
    columns: int
    row_naming: str = "letter"  # "letter" | "number"
    column_naming: str = "number"
    wells: tuple[WellMeta, ...] = ()
    acquisitions: tuple[AcquisitionMeta, ...] = ()
    description: str | None = None
