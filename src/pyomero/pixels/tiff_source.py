"""TIFF and OME-TIFF filesets through tifffile: series, pyramids, OME-XML metadata.

tifffile already knows the many TIFF dialects (OME, ImageJ, shaped, SubIFD pyramids,
multi-file OME-TIFF via UUID/FileName); we keep its series and read each level lazily
through its zarr view (``series.aszarr``), so a 2 GB file is never held in memory. Opening
checks, cheaply, that every strip or tile of every IFD lies inside its file, so a truncated
upload is refused before anything is written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from pyomero.errors import BadFile
from pyomero.pixels import ome_xml
from pyomero.pixels.array_source import AXES, ArraySource, pixel_type_of
from pyomero.pixels.source import ChannelMeta, ImageMeta, PixelSource, PlateMeta, SeriesRef

TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def is_tiff(head: bytes) -> bool:
    return head[:4] in TIFF_MAGIC


class _Errors(logging.Handler):
    """Collects the errors tifffile logs (and otherwise survives) in the current thread.

    tifffile recovers from an IFD or tag that points past the end of the file by logging an
    error and dropping it, which turns a truncated OME-TIFF into a smaller plain TIFF; for an
    import that is corruption, so any such error refuses the file.
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


@contextmanager
def strict_tifffile(label: str) -> Iterator[None]:
    """Raise BadFile if tifffile logs an error inside the block."""
    handler = _Errors()
    logger = logging.getLogger("tifffile")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    if handler.messages:
        raise BadFile(f"{label} is truncated or corrupt ({handler.messages[0]})")


def open_tiff_file(path: Path) -> Any:
    """A tifffile.TiffFile, any parser error turned into BadFile."""
    import tifffile

    try:
        return tifffile.TiffFile(path)
    except Exception as exc:
        raise BadFile(f"{path.name} is not a readable TIFF file ({exc})") from exc


def companion_names(path: Path) -> list[str]:
    """File names an OME-TIFF references (multi-file fileset); [] for anything else."""
    tif = open_tiff_file(path)
    try:
        xml = tif.ome_metadata if tif.is_ome else None
    finally:
        tif.close()
    return ome_xml.referenced_files(xml) if xml else []


class TiffFileset:
    """One TIFF file, or one multi-file OME-TIFF opened through any of its files."""

    def __init__(self, path: Path, *, validate: bool = True) -> None:
        self.path = path
        if not validate:
            self._tif = open_tiff_file(path)
            self._guarded(validate)
            return
        with strict_tifffile(path.name):
            self._tif = open_tiff_file(path)
            self._guarded(validate)

    def _guarded(self, validate: bool) -> None:
        try:
            self._setup(validate)
        except BaseException:
            self._tif.close()
            raise

    def _setup(self, validate: bool) -> None:
        tif = self._tif
        try:
            series = list(tif.series)
        except Exception as exc:
            raise BadFile(f"{self.path.name}: TIFF structure is corrupt ({exc})") from exc
        if not series:
            raise BadFile(f"{self.path.name}: TIFF file holds no image")
        self._series = series
        self.format = "OME-TIFF" if tif.is_ome else "TIFF"
        xml = tif.ome_metadata if tif.is_ome else None
        self.files = self._fileset_files(xml)
        if validate:
            for one in series:
                _check_series(one, self.path.name)
        self._axes = [_axes_of(one, self.path.name) for one in series]
        ome = ome_xml.parse(xml, self.path.name) if xml else None
        self.images = self._refs(ome)
        self.plate: PlateMeta | None = None
        if ome is not None and len(ome.images) == len(series):
            ids = {image.id: index for index, image in enumerate(ome.images)}
            self.plate = ome_xml.plate_meta(ome, ids)

    def _fileset_files(self, xml: str | None) -> list[Path]:
        files = [self.path]
        for name in ome_xml.referenced_files(xml) if xml else []:
            other = self.path.parent / name
            if other.name == self.path.name:
                continue
            if not other.is_file():
                raise BadFile(f"{self.path.name} refers to {name}, which is missing")
            files.append(other)
        return files

    def _refs(self, ome: Any) -> list[SeriesRef]:
        refs = []
        many = len(self._series) > 1
        use_ome = ome is not None and len(ome.images) == len(self._series)
        for index, one in enumerate(self._series):
            size_c = _size_c(one.shape, self._axes[index])
            label = one.name or (ome.images[index].name if use_ome else "") or f"Series {index}"
            name = f"{self.path.name} [{label}]" if many else self.path.name
            if use_ome:
                meta = ome_xml.image_meta(ome.images[index], name, size_c)
            else:
                meta = ImageMeta(name=name, channels=tuple(ChannelMeta() for _ in range(size_c)))
            refs.append(SeriesRef(meta=meta, series=index))
        return refs

    def open_series(self, series: int) -> PixelSource:
        return series_source(self._series, self._axes, series, self.path.name, closer=None)

    def close(self) -> None:
        self._tif.close()


def open_tiff_in_place(path: Path, series: int) -> PixelSource:
    """A source that owns its TiffFile (closed with the source); no validation pass."""
    fileset = TiffFileset(path, validate=False)
    try:
        return series_source(
            fileset._series, fileset._axes, series, path.name, closer=fileset.close
        )
    except BaseException:
        fileset.close()
        raise


def series_source(
    all_series: list[Any], all_axes: list[str], index: int, label: str, closer: Any
) -> ArraySource:
    """An ArraySource over every level of one tifffile series, through its zarr view."""
    import zarr

    if not 0 <= index < len(all_series):
        raise BadFile(f"{label}: no series {index}")
    one = all_series[index]
    try:
        arrays = [
            zarr.open_array(one.aszarr(level=level), mode="r") for level in range(len(one.levels))
        ]
    except Exception as exc:
        raise BadFile(f"{label}: cannot open series {index} ({exc})") from exc
    page = one.levels[0].keyframe
    if page.is_tiled:
        tile = (int(page.tilewidth), int(page.tilelength))
    else:
        tile = (int(page.imagewidth), int(min(page.imagelength, page.rowsperstrip or 1 << 30)))
    return ArraySource(
        arrays, all_axes[index], label=label, tile_size=tile, closer=closer, lock=True
    )


def _axes_of(one: Any, label: str) -> str:
    """tifffile's axes mapped onto TCZYXS: a page sequence ('I', 'Q', ...) becomes Z, then T."""
    axes = []
    free = [ax for ax in "ZT" if ax not in one.axes]
    for ax, size in zip(one.axes, one.shape, strict=True):
        if ax in AXES:
            axes.append(ax)
        elif free:
            axes.append(free.pop(0))
        else:
            raise BadFile(f"{label}: cannot map TIFF axis {ax!r} (size {size}) to T, C, Z")
    mapped = "".join(axes)
    pixel_type_of(one.dtype, label)
    if "Y" not in mapped or "X" not in mapped:
        raise BadFile(f"{label}: TIFF series has no Y/X plane (axes {one.axes!r})")
    return mapped


def _size_c(shape: tuple[int, ...], axes: str) -> int:
    sizes = dict(zip(axes, shape, strict=True))
    return int(sizes.get("C", 1) * sizes.get("S", 1))


def _check_series(one: Any, label: str) -> None:
    """Every IFD of every level present, every strip/tile inside its file."""
    for level in one.levels:
        for page in level.pages:
            if page is None:
                raise BadFile(f"{label} is truncated or corrupt (an image plane is missing)")
            size = page.parent.filehandle.size
            offsets = np.asarray(page.dataoffsets, dtype=np.int64)
            counts = np.asarray(page.databytecounts, dtype=np.int64)
            if offsets.shape != counts.shape or np.any((counts > 0) & (offsets + counts > size)):
                raise BadFile(f"{label} is truncated or corrupt (pixel data past end of file)")
