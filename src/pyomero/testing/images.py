"""Synthetic image files with known pixels, for tests and benchmarks of import and rendering.

Every writer fills pixels from one formula so that a test can recompute any plane::

    v = x + 2*y + 100*c + 1000*z + 7*t + 13*series        (x, y at full resolution)

    uint8/uint16/uint32    v modulo 2**bits
    int8/int16/int32       v modulo 2**bits, shifted down by 2**(bits-1)
    float/double           v / 4 - 100
    bit                    v % 3 == 0

Pyramid level L holds the full-resolution formula sampled every 2**L pixels (size ``n >> L``,
at least 1): writers need not average, and ``expected_plane(level=L)`` is exact.
Large images are written tile by tile from generators (tifffile takes an iterator of
tiles), so a benchmark can write a 16k x 16k x 3 uint16 pyramidal OME-TIFF in bounded memory.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from pyomero.model.rendering import NUMPY_DTYPE

Rgba = tuple[int, int, int, int]


def _dtype(dtype: str) -> np.dtype[Any]:
    return np.dtype(NUMPY_DTYPE.get(dtype, dtype))


def pattern(
    dtype: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    z: int = 0,
    c: int = 0,
    t: int = 0,
    series: int = 0,
) -> np.ndarray:
    """The module formula at integer coordinates ``x``, ``y`` (broadcast against each other)."""
    v = x.astype(np.int64) + 2 * y.astype(np.int64) + (100 * c + 1000 * z + 7 * t + 13 * series)
    dt = _dtype(dtype)
    if dt == np.bool_:
        return np.asarray(v % 3 == 0)
    if dt.kind == "f":
        return (v / 4 - 100).astype(dt)
    bits = dt.itemsize * 8
    v = v % (1 << bits)
    if dt.kind == "i":
        v = v - (1 << (bits - 1))
    return v.astype(dt)


def level_size(size: int, level: int) -> int:
    return max(1, size >> level)


def expected_plane(
    *,
    size_x: int,
    size_y: int,
    dtype: str = "uint16",
    z: int = 0,
    c: int = 0,
    t: int = 0,
    series: int = 0,
    level: int = 0,
    x: int = 0,
    y: int = 0,
    width: int | None = None,
    height: int | None = None,
) -> np.ndarray:
    """Exactly what the writers stored for one plane (or a region of it) at ``level``."""
    width = level_size(size_x, level) - x if width is None else width
    height = level_size(size_y, level) - y if height is None else height
    step = 1 << level
    xs = (np.arange(x, x + width) * step)[np.newaxis, :]
    ys = (np.arange(y, y + height) * step)[:, np.newaxis]
    return pattern(dtype, xs, ys, z=z, c=c, t=t, series=series)


def _tiles(
    shape: tuple[int, ...], tile: tuple[int, int], dtype: str, level: int, series: int
) -> Iterator[np.ndarray]:
    """Full-size (edge-padded) tiles of a (T, C, Z, Y, X) level, in tifffile's page order."""
    size_t, size_c, size_z, height, width = shape
    th, tw = tile
    for t in range(size_t):
        for c in range(size_c):
            for z in range(size_z):
                for ty in range(0, height, th):
                    for tx in range(0, width, tw):
                        part = expected_plane(
                            size_x=width << level, size_y=height << level, dtype=dtype,
                            z=z, c=c, t=t, series=series, level=level, x=tx, y=ty,
                            width=min(tw, width - tx), height=min(th, height - ty),
                        )  # fmt: skip
                        full = np.zeros((th, tw), part.dtype)
                        full[: part.shape[0], : part.shape[1]] = part
                        yield full


def _plane_stack(shape: tuple[int, ...], dtype: str, level: int, series: int) -> np.ndarray:
    size_t, size_c, size_z, height, width = shape
    out = np.empty(shape, _dtype(dtype))
    for t in range(size_t):
        for c in range(size_c):
            for z in range(size_z):
                out[t, c, z] = expected_plane(
                    size_x=width << level, size_y=height << level, dtype=dtype,
                    z=z, c=c, t=t, series=series, level=level,
                    width=width, height=height,
                )  # fmt: skip
    return out


def color_int(rgba: Rgba | Sequence[int]) -> int:
    """OME's signed 32-bit RGBA integer of an (r, g, b[, a]) tuple."""
    r, g, b, *rest = rgba
    value = (r << 24) | (g << 16) | (b << 8) | (rest[0] if rest else 255)
    return value - (1 << 32) if value >= 1 << 31 else value


def _ome_metadata(
    *,
    name: str,
    size_c: int,
    channel_names: Sequence[str] | None,
    channel_colors: Sequence[Rgba] | None,
    emission: Sequence[float] | None,
    physical_size: Sequence[float] | None,
    acquisition_date: datetime | None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"axes": "TCZYX", "Name": name}
    channel: dict[str, Any] = {}
    if channel_names:
        channel["Name"] = list(channel_names)
    if channel_colors:
        channel["Color"] = [color_int(c) for c in channel_colors]
    if emission:
        channel["EmissionWavelength"] = list(emission)
        channel["EmissionWavelengthUnit"] = ["nm"] * size_c
    if channel:
        meta["Channel"] = channel
    for axis, value in zip("XYZ", physical_size or (), strict=False):
        meta[f"PhysicalSize{axis}"] = value
        meta[f"PhysicalSize{axis}Unit"] = "µm"
    if acquisition_date is not None:
        meta["AcquisitionDate"] = acquisition_date.isoformat()
    return meta


def write_ome_tiff(
    path: Path,
    *,
    size_x: int,
    size_y: int,
    size_z: int = 1,
    size_c: int = 1,
    size_t: int = 1,
    dtype: str = "uint16",
    channel_names: Sequence[str] | None = None,
    channel_colors: Sequence[Rgba] | None = None,
    emission: Sequence[float] | None = None,
    physical_size: Sequence[float] | None = None,
    pyramid_levels: int = 0,
    tile: tuple[int, int] | None = None,
    series: int = 1,
    acquisition_date: datetime | None = None,
    compression: str | None = None,
    name: str | None = None,
) -> Path:
    """An OME-TIFF of ``series`` images, each (T, C, Z, Y, X), optionally tiled and pyramidal.

    Tiles (multiples of 16) are generated one at a time; without ``tile``, images over 64 MB
    are tiled 512 x 512 anyway so that memory stays bounded. Image names are ``name`` (or
    ``Image<i>``) with `` <i>`` appended when there are several series.
    """
    import tifffile

    path = Path(path)
    nbytes = size_x * size_y * size_z * size_c * size_t * _dtype(dtype).itemsize
    if tile is None and (nbytes > 64 << 20 or pyramid_levels):
        tile = (512, 512) if min(size_x, size_y) >= 512 else (16, 16)
    with tifffile.TiffWriter(path, bigtiff=nbytes > 2 << 30 or nbytes > 1 << 30, ome=True) as tw:
        for s in range(series):
            label = name or f"Image{s}"
            meta = _ome_metadata(
                name=f"{label} {s}" if series > 1 and name else label,
                size_c=size_c, channel_names=channel_names, channel_colors=channel_colors,
                emission=emission, physical_size=physical_size,
                acquisition_date=acquisition_date,
            )  # fmt: skip
            for level in range(pyramid_levels + 1):
                shape = (
                    size_t, size_c, size_z,
                    level_size(size_y, level), level_size(size_x, level),
                )  # fmt: skip
                options: dict[str, Any] = {"compression": compression, "photometric": "minisblack"}
                if level == 0:
                    options |= {"metadata": meta, "subifds": pyramid_levels or None}
                else:
                    options |= {"subfiletype": 1, "metadata": None}
                if tile is not None:
                    data: Any = _tiles(shape, tile, dtype, level, s)
                    tw.write(data, shape=shape, dtype=_dtype(dtype), tile=tile, **options)
                else:
                    tw.write(_plane_stack(shape, dtype, level, s), **options)
    return path


def write_multifile_ome_tiff(
    directory: Path, *, name: str = "multi", size_x: int, size_y: int, size_z: int,
    dtype: str = "uint16",
) -> list[Path]:  # fmt: skip
    """A multi-file OME-TIFF: one file per Z plane, each carrying the full OME-XML."""
    import tifffile

    directory = Path(directory)
    files = [f"{name}_z{z}.ome.tif" for z in range(size_z)]
    uuids = [f"urn:uuid:{uuid.uuid4()}" for _ in files]
    blocks = "".join(
        f'<TiffData FirstZ="{z}" IFD="0" PlaneCount="1"><UUID FileName="{f}">{u}</UUID></TiffData>'
        for z, (f, u) in enumerate(zip(files, uuids, strict=True))
    )
    paths = []
    for z, (file, file_uuid) in enumerate(zip(files, uuids, strict=True)):
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" UUID="{file_uuid}">'
            f'<Image ID="Image:0" Name="{name}"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" '
            f'Type="{dtype}" SizeX="{size_x}" SizeY="{size_y}" SizeZ="{size_z}" SizeC="1" '
            f'SizeT="1"><Channel ID="Channel:0:0" SamplesPerPixel="1"/>{blocks}</Pixels></Image>'
            "</OME>"
        )
        plane = expected_plane(size_x=size_x, size_y=size_y, dtype=dtype, z=z)
        tifffile.imwrite(directory / file, plane, description=xml, metadata=None)
        paths.append(directory / file)
    return paths


def write_tiff(
    path: Path,
    *,
    size_x: int,
    size_y: int,
    pages: int = 1,
    samples: int = 1,
    dtype: str = "uint16",
    tile: tuple[int, int] | None = None,
    compression: str | None = None,
    shaped: bool = False,
) -> Path:
    """A plain TIFF: ``pages`` pages (plane z = page), RGB(A) when ``samples`` is 3 (4).

    Sample ``s`` holds channel ``c = s`` of the formula. ``shaped`` keeps tifffile's own JSON
    description (read back as a shaped series); otherwise the file has no metadata at all.
    """
    import tifffile

    path = Path(path)
    photometric = "rgb" if samples in (3, 4) else "minisblack"
    extra: dict[str, Any] = {"extrasamples": [2]} if samples == 4 else {}
    stack = []
    for z in range(pages):
        planes = [
            expected_plane(size_x=size_x, size_y=size_y, dtype=dtype, z=z, c=c)
            for c in range(samples)
        ]
        stack.append(np.stack(planes, axis=-1) if samples > 1 else planes[0])
    options: dict[str, Any] = {"photometric": photometric, "tile": tile, "compression": compression}
    with tifffile.TiffWriter(path) as tw:
        if shaped:  # one write: tifffile's JSON shape describes the whole stack
            tw.write(np.stack(stack), metadata={}, **options, **extra)
        else:
            for page in stack:
                tw.write(page, metadata=None, **options, **extra)
    return path


def _picture(size_x: int, size_y: int, size_c: int, dtype: str) -> np.ndarray:
    planes = [expected_plane(size_x=size_x, size_y=size_y, dtype=dtype, c=c) for c in range(size_c)]
    return np.stack(planes, axis=-1) if size_c > 1 else planes[0]


def write_png(
    path: Path, *, size_x: int, size_y: int, size_c: int = 1, dtype: str = "uint8"
) -> Path:
    """A PNG: grey (1 channel, uint8 or uint16), grey+alpha (2), RGB (3) or RGBA (4), uint8."""
    from PIL import Image

    data = _picture(size_x, size_y, size_c, dtype)
    if dtype == "uint16":
        if size_c != 1:
            raise ValueError("16-bit PNG is written grey only")
        image = Image.fromarray(data.astype(np.uint16))
    else:
        image = Image.fromarray(data)
    image.save(path, format="PNG")
    return Path(path)


def write_jpeg(path: Path, *, size_x: int, size_y: int, size_c: int = 3, quality: int = 95) -> Path:
    """A JPEG (grey or RGB) of the uint8 formula; lossy: compare with a tolerance."""
    from PIL import Image

    Image.fromarray(_picture(size_x, size_y, size_c, "uint8")).save(
        path, format="JPEG", quality=quality
    )
    return Path(path)


def _ngff_multiscales(axes: str, levels: int, version: str) -> dict[str, Any]:
    kinds = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}
    ax = [{"name": a, "type": kinds[a]} | ({"unit": "micrometer"} if kinds[a] == "space" else {})
          for a in axes]  # fmt: skip
    datasets = []
    for level in range(levels):
        scale = [float(1 << level) if a in "yx" else 1.0 for a in axes]
        datasets.append(
            {"path": str(level), "coordinateTransformations": [{"type": "scale", "scale": scale}]}
        )
    scales: dict[str, Any] = {"axes": ax, "datasets": datasets, "name": "image"}
    if version == "0.4":
        scales["version"] = "0.4"
    return scales


def _set_ome_attrs(group: Any, attrs: dict[str, Any], version: str) -> None:
    if version == "0.5":
        group.attrs.update({"ome": {"version": "0.5"} | attrs})
    else:
        group.attrs.update(attrs)


def _write_zarr_image(
    group: Any, *, shape5: tuple[int, int, int, int, int], axes: str, dtype: str, levels: int,
    version: str, series: int, omero: dict[str, Any] | None, chunk: int,
) -> None:  # fmt: skip
    size_t, size_c, size_z, size_y, size_x = shape5
    attrs: dict[str, Any] = {"multiscales": [_ngff_multiscales(axes, levels, version)]}
    if omero:
        attrs["omero"] = omero
    _set_ome_attrs(group, attrs, version)
    for level in range(levels):
        ly, lx = level_size(size_y, level), level_size(size_x, level)
        full = dict(zip("tczyx", (size_t, size_c, size_z, ly, lx), strict=True))
        shape = tuple(full[a] for a in axes)
        chunks = tuple(min(chunk, full[a]) if a in "yx" else 1 for a in axes)
        array = group.create_array(str(level), shape=shape, chunks=chunks, dtype=_dtype(dtype))
        for t in range(size_t):
            for c in range(size_c):
                for z in range(size_z):
                    plane = expected_plane(
                        size_x=size_x, size_y=size_y, dtype=dtype, z=z, c=c, t=t,
                        series=series, level=level,
                    )  # fmt: skip
                    where = {"t": t, "c": c, "z": z, "y": slice(None), "x": slice(None)}
                    array[tuple(where[a] for a in axes)] = plane


def _omero(channel_names: Sequence[str] | None, channel_colors: Sequence[str] | None) -> Any:
    if not channel_names and not channel_colors:
        return None
    count = len(channel_names or channel_colors or ())
    channels = []
    for i in range(count):
        channel: dict[str, Any] = {
            "active": True,
            "window": {"min": 0, "max": 65535, "start": 0, "end": 1000},
        }
        if channel_names:
            channel["label"] = channel_names[i]
        if channel_colors:
            channel["color"] = channel_colors[i]
        channels.append(channel)
    return {"channels": channels}


def write_ome_zarr(
    path: Path,
    *,
    size_x: int,
    size_y: int,
    size_z: int = 1,
    size_c: int = 1,
    size_t: int = 1,
    dtype: str = "uint16",
    axes: str = "tczyx",
    version: str = "0.4",
    levels: int = 1,
    channel_names: Sequence[str] | None = None,
    channel_colors: Sequence[str] | None = None,
    chunk: int = 256,
) -> Path:
    """An OME-Zarr image: NGFF 0.4 (zarr v2) or 0.5 (zarr v3), ``axes`` any ordered subset of
    tczyx containing y and x (a missing axis must have size 1), ``levels`` resolutions,
    ``omero`` channel metadata when names or colours (``"FF0000"``) are given."""
    import zarr

    sizes = {"t": size_t, "c": size_c, "z": size_z}
    for axis, size in sizes.items():
        if axis not in axes and size != 1:
            raise ValueError(f"axis {axis} is missing but its size is {size}")
    group = zarr.open_group(str(path), mode="w", zarr_format=3 if version == "0.5" else 2)
    _write_zarr_image(
        group, shape5=(size_t, size_c, size_z, size_y, size_x), axes=axes, dtype=dtype,
        levels=levels, version=version, series=0,
        omero=_omero(channel_names, channel_colors), chunk=chunk,
    )  # fmt: skip
    return Path(path)


def write_ome_zarr_plate(
    path: Path,
    *,
    rows: int,
    columns: int,
    fields: int,
    acquisitions: int = 1,
    size_x: int = 32,
    size_y: int = 32,
    size_c: int = 1,
    dtype: str = "uint16",
    version: str = "0.4",
    name: str = "plate",
) -> Path:
    """An OME-Zarr HCS plate with every well filled; rows A.., columns 1...

    Wells are listed row by row; field ``f`` of the well at list position ``w`` is series
    ``w * fields + f`` (its pixels use that series number) and belongs to acquisition
    ``f % acquisitions``.
    """
    import zarr

    row_names = [chr(ord("A") + r) for r in range(rows)]
    col_names = [str(c + 1) for c in range(columns)]
    root = zarr.open_group(str(path), mode="w", zarr_format=3 if version == "0.5" else 2)
    wells: list[dict[str, Any]] = [
        {"path": f"{r}/{c}", "rowIndex": ri, "columnIndex": ci}
        for ri, r in enumerate(row_names)
        for ci, c in enumerate(col_names)
    ]
    plate: dict[str, Any] = {
        "name": name,
        "rows": [{"name": r} for r in row_names],
        "columns": [{"name": c} for c in col_names],
        "wells": wells,
        "field_count": fields,
        "acquisitions": [
            {"id": a, "name": f"Run {a}", "maximumfieldcount": fields} for a in range(acquisitions)
        ],
    }
    if version == "0.4":
        plate["version"] = "0.4"
    _set_ome_attrs(root, {"plate": plate}, version)
    for w, well in enumerate(wells):
        well_group = root.require_group(well["path"])
        images = [{"path": str(f), "acquisition": f % acquisitions} for f in range(fields)]
        _set_ome_attrs(well_group, {"well": {"images": images}}, version)
        for f in range(fields):
            _write_zarr_image(
                well_group.require_group(str(f)), shape5=(1, size_c, 1, size_y, size_x),
                axes="cyx", dtype=dtype, levels=1, version=version, series=w * fields + f,
                omero=None, chunk=256,
            )  # fmt: skip
    return Path(path)


def truncate(path: Path, keep_fraction: float) -> Path:
    """Cut a file to ``keep_fraction`` of its size (a truncated upload)."""
    size = os.path.getsize(path)
    os.truncate(path, int(size * keep_fraction))
    return Path(path)


def write_garbage(path: Path, size: int = 4096) -> Path:
    """A file of deterministic random bytes (not an image in any format)."""
    Path(path).write_bytes(np.random.default_rng(0).integers(0, 256, size, np.uint8).tobytes())
    return Path(path)


def dump_json(path: Path, value: Any) -> None:
    """Overwrite a JSON metadata document (to break an OME-Zarr in tests)."""
    Path(path).write_text(json.dumps(value))
