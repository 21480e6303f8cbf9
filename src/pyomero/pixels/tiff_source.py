"""TIFF and OME-TIFF filesets through tifffile: series, pyramids, OME-XML metadata.

tifffile already knows the many TIFF dialects (OME, ImageJ, shaped, SubIFD pyramids,
multi-file OME-TIFF via UUID/FileName); we keep its series and read each level lazily
through its zarr view (``series.aszarr``), so a 2 GB file is never held in memory. Opening
checks, cheaply, that every strip or tile of every IFD lies inside its file, so a truncated
upload is refused before anything is written.
"""

from __future__ import annotations

import logging
import os
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
    return TiffSource(
        arrays,
        all_axes[index],
        label=label,
        tile_size=tile,
        closer=closer,
        direct=[_direct_level(level, all_axes[index]) for level in one.levels],
    )


class _DirectLevel:
    """Reads one level's strips or tiles straight from the file: ``os.pread`` + the page's codec.

    tifffile's zarr store costs several times the decoding itself per tile and needs a lock;
    ``os.pread`` leaves the shared file position alone, so any number of threads read at once.
    Only what ``_direct_level`` accepted arrives here: one segment grid per page, depth 1, no
    chroma subsampling, every page of the level in one plain file.
    """

    def __init__(
        self, pages: list[Any], strides: dict[str, int], samples: int, separate: bool
    ) -> None:
        key = pages[0].keyframe
        self.pages = pages
        self.strides = strides
        self.samples = samples
        self.separate = separate
        self.width, self.height = int(key.imagewidth), int(key.imagelength)
        if key.is_tiled:
            self.seg_w, self.seg_h = int(key.tilewidth), int(key.tilelength)
        else:
            self.seg_w = self.width
            self.seg_h = min(self.height, int(key.rowsperstrip or self.height)) or self.height
        self.across = -(-self.width // self.seg_w)
        self.per_plane = self.across * -(-self.height // self.seg_h)
        self.decode = key.decode
        self.jpeg = int(key.compression) in (6, 7, 34892, 33007)
        self.jpegheader = key.jpegheader if self.jpeg else None
        self.fill = key.nodata
        self.dtype = np.dtype(key.dtype).newbyteorder("=")

    def read(
        self, position: dict[str, int], sample: int, x: int, y: int, width: int, height: int
    ) -> np.ndarray:
        index = sum(position[ax] * stride for ax, stride in self.strides.items())
        page = self.pages[index]
        offsets, counts = page.dataoffsets, page.databytecounts
        fd = page.parent.filehandle.fileno()
        extra: dict[str, Any] = {}
        if self.jpeg:
            extra = {"jpegtables": page.jpegtables, "jpegheader": self.jpegheader}
        first = sample * self.per_plane if self.separate else 0
        pick = 0 if self.separate else sample
        sw, sh = self.seg_w, self.seg_h
        x0, x1 = x // sw, (x + width - 1) // sw
        y0, y1 = y // sh, (y + height - 1) // sh
        out = np.empty((height, width), self.dtype)
        for yi in range(y0, y1 + 1):
            sy = yi * sh
            top, bottom = max(y, sy), min(y + height, sy + sh)
            for xi in range(x0, x1 + 1):
                sx = xi * sw
                left, right = max(x, sx), min(x + width, sx + sw)
                segment = first + yi * self.across + xi
                count = int(counts[segment])
                target = out[top - y : bottom - y, left - x : right - x]
                if not count:
                    target[...] = self.fill
                    continue
                data = os.pread(fd, count, int(offsets[segment]))
                if len(data) != count:
                    raise BadFile("pixel data past end of file")
                decoded = self.decode(data, segment, **extra)[0]
                part = decoded[0, top - sy : bottom - sy, left - sx : right - sx, pick]
                if part.shape != target.shape:
                    raise BadFile("a strip or tile is shorter than the image says")
                target[...] = part
        return out


class TiffSource(ArraySource):
    """An ArraySource over tifffile's zarr view that reads plain strips and tiles directly.

    ``direct`` has one entry per level: a ``_DirectLevel`` where the level's layout allows
    reading its segments with ``os.pread`` (no lock, no zarr), None where the zarr view (under
    the lock) must do it: unusual layouts, regions outside the level.
    """

    def __init__(
        self,
        arrays: list[Any],
        axes: str,
        *,
        label: str,
        tile_size: tuple[int, int],
        closer: Any,
        direct: list[_DirectLevel | None],
    ) -> None:
        super().__init__(arrays, axes, label=label, tile_size=tile_size, closer=closer, lock=True)
        self._direct = direct

    def region(
        self, *, level: int, z: int, c: int, t: int, x: int, y: int, width: int, height: int
    ) -> np.ndarray:
        fast = self._direct[level] if 0 <= level < len(self._direct) else None
        if (
            fast is None
            or not (0 <= z < self.size_z and 0 <= c < self.size_c and 0 <= t < self.size_t)
            or not (x >= 0 and y >= 0 and width > 0 and height > 0)
            or x + width > fast.width
            or y + height > fast.height
        ):
            return super().region(level=level, z=z, c=c, t=t, x=x, y=y, width=width, height=height)
        samples = fast.samples
        position = {"T": t, "Z": z, "C": c // samples}
        try:
            out = fast.read(position, c % samples, x, y, width, height)
        except BadFile as exc:
            raise BadFile(f"{self._label}: cannot read pixels ({exc})") from exc
        except Exception as exc:  # codec and I/O errors
            raise BadFile(f"{self._label}: cannot read pixels ({exc})") from exc
        return out if out.dtype == self._dtype else out.astype(self._dtype)


def _direct_level(level: Any, axes: str) -> _DirectLevel | None:
    """The direct reader of one level of a series, or None if its layout is not a plain one."""
    try:
        pages = list(level.pages)
        key = level.keyframe
        shape = tuple(int(n) for n in level.shape)
        if not pages or any(page is None for page in pages) or len(shape) != len(axes):
            return None
        separate, depth, length, width, contig = (int(n) for n in key.shaped)
        if (
            depth != 1
            or key.dtype is None
            or key.bitspersample not in (8, 16, 32, 64)
            or key.is_subsampled
            or (separate > 1 and contig > 1)
        ):
            return None
        sizes = dict(zip(axes, shape, strict=True))
        if sizes["Y"] != length or sizes["X"] != width:
            return None
        samples = separate * contig
        if (axes.endswith("YXS") and separate == 1) or (axes.endswith("SYX") and contig == 1):
            lead = axes[:-3]
        elif axes.endswith("YX") and "S" not in axes and samples == 1:
            lead = axes[:-2]
        else:
            return None
        if "S" in axes and sizes["S"] != samples:
            return None
        strides: dict[str, int] = {}
        stride = 1
        for ax in reversed(lead):
            if ax not in "TCZ":
                return None
            strides[ax] = stride
            stride *= sizes[ax]
        if stride != len(pages):
            return None
        direct = _DirectLevel(pages, strides, samples, separate > 1)
        for page in pages:
            fh = page.parent.filehandle
            if (
                page.keyframe.hash != key.hash
                or not fh.is_file
                or getattr(fh, "_offset", 0) != 0
                or len(page.dataoffsets) != direct.per_plane * separate
                or len(page.databytecounts) != len(page.dataoffsets)
            ):
                return None
        return direct
    except Exception:  # anything tifffile cannot tell cheaply: the zarr view reads it
        return None


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
