"""A ``PixelSource`` over any N-D array per resolution level, whatever its axis order.

TIFF series (through tifffile's zarr view) and OME-Zarr images (zarr arrays) both arrive as
lazily indexed arrays whose axes are some subset and order of T, C, Z, Y, X plus, for TIFF,
an RGB ``S`` (samples) axis. Mapping (t, c, z, y, x) onto those axes once, here, keeps every
reader small and makes them agree on how samples become channels and missing axes size 1.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pyomero.errors import BadFile
from pyomero.model.rendering import PIXEL_TYPE_OF
from pyomero.pixels.source import Level

#: Axis letters an ArraySource understands; ``S`` is TIFF samples (RGB), folded into C.
AXES = "TCZYXS"

#: dtypes that have no OMERO pixel type but convert losslessly (or as closely as possible).
_WIDEN = {"float16": "float32", "int64": "float64", "uint64": "float64"}


def pixel_type_of(dtype: np.dtype[Any], label: str) -> tuple[str, np.dtype[Any]]:
    """OMERO pixel type and target dtype of a source dtype; BadFile for complex and the like."""
    name = np.dtype(dtype).name
    if name in _WIDEN:
        name = _WIDEN[name]
    if name not in PIXEL_TYPE_OF:
        raise BadFile(f"{label}: pixel type {np.dtype(dtype).name} is not supported")
    return PIXEL_TYPE_OF[name], np.dtype(name)


class ArraySource:
    """Pixels of one image held as one lazily indexed array per level.

    ``axes`` names each array dimension with a letter of ``AXES``; Y must come before X.
    ``closer`` runs on ``close()`` (the owner of the file handle passes it; a source borrowed
    from an open fileset passes None so that closing it leaves the fileset usable).
    """

    def __init__(
        self,
        arrays: Sequence[Any],
        axes: str,
        *,
        label: str,
        tile_size: tuple[int, int] | None = None,
        closer: Callable[[], None] | None = None,
        lock: bool = False,
    ) -> None:
        _check_axes(axes, label)
        self._arrays = list(arrays)
        self._axes = axes
        self._label = label
        self._closer = closer
        self._lock = threading.Lock() if lock else None
        shape0 = tuple(self._arrays[0].shape)
        if len(shape0) != len(axes):
            raise BadFile(f"{label}: array has {len(shape0)} dimensions, axes say {axes!r}")
        self._sizes = {ax: 1 for ax in AXES} | dict(zip(axes, shape0, strict=True))
        self._pixel_type, self._dtype = pixel_type_of(self._arrays[0].dtype, label)
        self._levels = tuple(self._level_of(a) for a in self._arrays)
        self._tile = tile_size or self._chunk_tile()

    def _level_of(self, array: Any) -> Level:
        shape = tuple(array.shape)
        if len(shape) != len(self._axes):
            raise BadFile(f"{self._label}: resolution levels differ in dimensions")
        for ax, size in zip(self._axes, shape, strict=True):
            if ax not in "YX" and size != self._sizes[ax]:
                raise BadFile(f"{self._label}: resolution levels differ in size {ax}")
        sizes = dict(zip(self._axes, shape, strict=True))
        return Level(size_x=int(sizes.get("X", 1)), size_y=int(sizes.get("Y", 1)))

    def _chunk_tile(self) -> tuple[int, int]:
        chunks = getattr(self._arrays[0], "chunks", None)
        if not chunks:
            return (min(512, self.size_x), min(512, self.size_y))
        sizes = dict(zip(self._axes, chunks, strict=True))
        return (int(sizes.get("X", 1)), int(sizes.get("Y", 1)))

    @property
    def pixel_type(self) -> str:
        return self._pixel_type

    @property
    def size_x(self) -> int:
        return int(self._sizes["X"])

    @property
    def size_y(self) -> int:
        return int(self._sizes["Y"])

    @property
    def size_z(self) -> int:
        return int(self._sizes["Z"])

    @property
    def size_c(self) -> int:
        return int(self._sizes["C"] * self._sizes["S"])

    @property
    def size_t(self) -> int:
        return int(self._sizes["T"])

    @property
    def levels(self) -> tuple[Level, ...]:
        return self._levels

    @property
    def tile_size(self) -> tuple[int, int]:
        return self._tile

    def region(
        self, *, level: int, z: int, c: int, t: int, x: int, y: int, width: int, height: int
    ) -> np.ndarray:
        """Index the level's array; any reader or codec error becomes BadFile."""
        index = self._index(z=z, c=c, t=t, x=x, y=y, width=width, height=height)
        try:
            if self._lock is None:
                data = self._arrays[level][index]
            else:
                with self._lock:
                    data = self._arrays[level][index]
        except (BadFile, IndexError):
            raise
        except Exception as exc:  # codec and I/O errors of many libraries
            raise BadFile(f"{self._label}: cannot read pixels ({exc})") from exc
        out = np.asarray(data)
        if out.shape != (height, width):
            raise BadFile(f"{self._label}: pixel data is shorter than its metadata says")
        return out if out.dtype == self._dtype else out.astype(self._dtype)

    def _index(
        self, *, z: int, c: int, t: int, x: int, y: int, width: int, height: int
    ) -> tuple[int | slice, ...]:
        samples = self._sizes["S"]
        position: dict[str, int | slice] = {
            "T": t,
            "Z": z,
            "C": c // samples,
            "S": c % samples,
            "Y": slice(y, y + height),
            "X": slice(x, x + width),
        }
        return tuple(position[ax] for ax in self._axes)

    def close(self) -> None:
        closer, self._closer = self._closer, None
        if closer is not None:
            closer()


def _check_axes(axes: str, label: str) -> None:
    if len(set(axes)) != len(axes) or any(ax not in AXES for ax in axes):
        raise BadFile(f"{label}: unsupported axes {axes!r}")
    if "Y" not in axes or "X" not in axes or axes.index("Y") > axes.index("X"):
        raise BadFile(f"{label}: unsupported axes {axes!r} (need Y before X)")
