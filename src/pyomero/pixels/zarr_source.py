"""OME-Zarr filesets (NGFF 0.1-0.5): images, bioformats2raw collections and HCS plates.

Metadata is read straight from the JSON documents (``.zattrs``/``.zarray`` for zarr v2,
``zarr.json`` for v3) because a 384-well plate holds thousands of images and opening each
through zarr-python costs milliseconds; pixels are read through zarr arrays, lazily, only
when a series is opened. Every level's array metadata is checked at open, so a broken
OME-Zarr is refused before anything is copied.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from pyomero.errors import BadFile
from pyomero.pixels import ome_xml
from pyomero.pixels.array_source import ArraySource, pixel_type_of
from pyomero.pixels.source import (
    AcquisitionMeta,
    ChannelMeta,
    ImageMeta,
    PixelSource,
    PlateMeta,
    SeriesRef,
    WellField,
    WellMeta,
)

#: NGFF unit names (UDUNITS-2) -> OME symbols understood by ``ome_xml.convert_length``.
_UNITS = {
    "angstrom": "Å", "nanometer": "nm", "micrometer": "µm", "micron": "µm",
    "millimeter": "mm", "centimeter": "cm", "meter": "m", "picometer": "pm",
    "kilometer": "km", "inch": "in", "foot": "ft",
}  # fmt: skip


def is_zarr_dir(path: Path) -> bool:
    return path.is_dir() and any((path / n).is_file() for n in (".zattrs", ".zgroup", "zarr.json"))


def _read_json(path: Path, label: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            value = json.load(f)
    except FileNotFoundError as exc:
        raise BadFile(f"{label}: missing {path.name} (broken OME-Zarr)") from exc
    except (OSError, ValueError) as exc:
        raise BadFile(f"{label}: {path.name} is not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise BadFile(f"{label}: {path.name} is not a JSON object")
    return value


def group_attrs(path: Path, label: str) -> dict[str, Any]:
    """The OME attributes of a group: v3 ``zarr.json`` attributes.ome, or v2 ``.zattrs``."""
    if (path / "zarr.json").is_file():
        attrs = _read_json(path / "zarr.json", label).get("attributes") or {}
        ome = attrs.get("ome")
        return dict(ome) if isinstance(ome, dict) else dict(attrs)
    if (path / ".zattrs").is_file():
        return _read_json(path / ".zattrs", label)
    if (path / ".zgroup").is_file():
        return {}
    raise BadFile(f"{label}: {path.name} is not a zarr group (broken OME-Zarr)")


def _array_meta(path: Path, label: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """Shape and dtype of a zarr array from its metadata document."""
    try:
        if (path / "zarr.json").is_file():
            meta = _read_json(path / "zarr.json", label)
            if meta.get("node_type") != "array":
                raise BadFile(f"{label}: {path.name} is not a zarr array")
            return tuple(int(n) for n in meta["shape"]), np.dtype(meta["data_type"])
        meta = _read_json(path / ".zarray", label)
        return tuple(int(n) for n in meta["shape"]), np.dtype(meta["dtype"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadFile(f"{label}: array {path.name} has invalid metadata ({exc})") from exc


class _Image:
    """One multiscales image of the fileset: where it is, its axes and level paths."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        attrs = group_attrs(path, label)
        scales = attrs.get("multiscales")
        if not isinstance(scales, list) or not scales or not isinstance(scales[0], dict):
            raise BadFile(f"{label}: no OME-Zarr multiscales metadata in {path.name}")
        scale = scales[0]
        omero = attrs.get("omero")
        self.omero: dict[str, Any] = omero if isinstance(omero, dict) else {}
        self.axes, self.units = _axes(scale.get("axes"), label)
        try:
            self.datasets = [str(d["path"]) for d in scale["datasets"]]
        except (KeyError, TypeError) as exc:
            raise BadFile(f"{label}: invalid multiscales datasets") from exc
        if not self.datasets:
            raise BadFile(f"{label}: multiscales lists no datasets")
        self.scale = _scale0(scale, len(self.axes))
        shapes = []
        for dataset in self.datasets:
            shape, dtype = _array_meta(path / dataset, label)
            if len(shape) != len(self.axes):
                raise BadFile(f"{label}: array {dataset} does not match axes {self.axes!r}")
            pixel_type_of(dtype, label)
            shapes.append(shape)
        self.shape = shapes[0]

    def size(self, axis: str) -> int:
        return int(self.shape[self.axes.index(axis)]) if axis in self.axes else 1

    def meta(self, name: str) -> ImageMeta:
        size_c = self.size("C")
        channels = [_channel(c) for c in (self.omero.get("channels") or [])]
        channels = (channels + [ChannelMeta()] * size_c)[:size_c]
        physical = {}
        for axis in "XYZ":
            if axis in self.axes and self.scale is not None:
                i = self.axes.index(axis)
                unit = _UNITS.get(self.units[i] or "micrometer")
                physical[axis] = ome_xml.convert_length(self.scale[i], unit, -6) if unit else None
        return ImageMeta(
            name=name,
            physical_size_x=physical.get("X"),
            physical_size_y=physical.get("Y"),
            physical_size_z=physical.get("Z"),
            channels=tuple(channels),
        )

    def source(self, label: str, closer: Any = None) -> ArraySource:
        import zarr

        try:
            arrays = [zarr.open_array(str(self.path / d), mode="r") for d in self.datasets]
        except Exception as exc:
            raise BadFile(f"{label}: cannot open OME-Zarr arrays ({exc})") from exc
        return ArraySource(arrays, self.axes, label=label, closer=closer)


def _axes(axes: Any, label: str) -> tuple[str, list[str | None]]:
    """Axis letters (upper case) and units; NGFF 0.1/0.2 have no axes and are always 5-D."""
    if axes is None:
        return "TCZYX", [None] * 5
    if not isinstance(axes, list):
        raise BadFile(f"{label}: invalid multiscales axes")
    names, units = [], []
    for axis in axes:
        name = axis.get("name") if isinstance(axis, dict) else axis
        unit = axis.get("unit") if isinstance(axis, dict) else None
        names.append(str(name).upper())
        units.append(unit if isinstance(unit, str) else None)
    letters = "".join(names)
    if len(letters) != len(names) or any(a not in "TCZYX" for a in letters):
        raise BadFile(f"{label}: OME-Zarr axes {[n.lower() for n in names]} are not in tczyx")
    return letters, units


def _scale0(scale: dict[str, Any], ndim: int) -> list[float] | None:
    """The full-resolution scale (dataset 0 times the multiscales-wide transform)."""
    result = [1.0] * ndim
    found = False
    for transforms in (
        scale["datasets"][0].get("coordinateTransformations"),
        scale.get("coordinateTransformations"),
    ):
        for transform in transforms or []:
            if transform.get("type") == "scale" and len(transform.get("scale", ())) == ndim:
                result = [a * float(b) for a, b in zip(result, transform["scale"], strict=True)]
                found = True
    return result if found else None


def _channel(channel: Any) -> ChannelMeta:
    if not isinstance(channel, dict):
        return ChannelMeta()
    color = None
    text = channel.get("color")
    if isinstance(text, str) and len(text) in (6, 8):
        try:
            value = int(text, 16)
        except ValueError:
            value = None
        if value is not None and len(text) == 6:
            color = (value >> 16 & 255, value >> 8 & 255, value & 255, 255)
        elif value is not None:
            color = (value >> 24 & 255, value >> 16 & 255, value >> 8 & 255, value & 255)
    label = channel.get("label")
    return ChannelMeta(name=str(label) if label else None, color=color)


class ZarrFileset:
    """An OME-Zarr directory: one image, a bioformats2raw collection, or an HCS plate.

    ``validate=False`` (reopening a registered fileset) reads only the layout, not every
    image's metadata: ``images`` stays empty and ``files`` holds just the root.
    """

    format = "OME-Zarr"

    def __init__(self, root: Path, *, validate: bool = True) -> None:
        self.root = root
        label = root.name
        attrs = group_attrs(root, label)
        self.plate: PlateMeta | None = None
        self._paths: list[Path] = []
        names: list[str] = []
        if isinstance(attrs.get("plate"), dict):
            self.plate, paths, names = _plate(root, attrs["plate"], label)
            self._paths = [root / p for p in paths]
        elif "multiscales" in attrs:
            self._paths, names = [root], [label]
        elif "bioformats2raw.layout" in attrs:
            self._paths, names = _collection(root, label)
        else:
            raise BadFile(f"{label} is not an OME-Zarr image or plate (no multiscales metadata)")
        self.images: list[SeriesRef] = []
        self.files = [root]
        if validate:
            self.images = [
                SeriesRef(meta=_Image(path, label).meta(name), series=i)
                for i, (path, name) in enumerate(zip(self._paths, names, strict=True))
            ]
            self.files = all_files(root)

    def open_series(self, series: int) -> PixelSource:
        if not 0 <= series < len(self._paths):
            raise BadFile(f"{self.root.name}: no series {series}")
        return _Image(self._paths[series], self.root.name).source(self.root.name)

    def close(self) -> None:
        """Nothing to release: zarr arrays hold no open files."""


def _collection(root: Path, label: str) -> tuple[list[Path], list[str]]:
    """bioformats2raw layout: series 0, 1, ... with names from OME/METADATA.ome.xml if any."""
    images = []
    index = 0
    while (root / str(index)).is_dir():
        images.append(root / str(index))
        index += 1
    if not images:
        raise BadFile(f"{label}: bioformats2raw layout without any image")
    names = [f"{label} [Series {i}]" for i in range(len(images))] if len(images) > 1 else [label]
    xml_path = root / "OME" / "METADATA.ome.xml"
    if xml_path.is_file() and len(images) > 1:
        ome = ome_xml.parse(xml_path.read_text(encoding="utf-8"), label)
        if len(ome.images) == len(images):
            names = [f"{label} [{im.name or f'Series {i}'}]" for i, im in enumerate(ome.images)]
    return images, names


def _plate(root: Path, plate: dict[str, Any], label: str) -> tuple[PlateMeta, list[str], list[str]]:
    """PlateMeta of an HCS plate and the group path and name of every field, in series order."""
    try:
        rows = [str(r["name"]) for r in plate["rows"]]
        columns = [str(c["name"]) for c in plate["columns"]]
        well_list = list(plate["wells"])
    except (KeyError, TypeError) as exc:
        raise BadFile(f"{label}: invalid plate metadata ({exc})") from exc
    acq_ids = [a.get("id") for a in plate.get("acquisitions") or []]
    acquisitions = tuple(
        AcquisitionMeta(
            name=a.get("name"),
            description=a.get("description"),
            maximum_field_count=a.get("maximumfieldcount"),
        )
        for a in plate.get("acquisitions") or []
    )
    paths: list[str] = []
    names: list[str] = []
    wells = []
    for well in well_list:
        path = str(well.get("path", ""))
        row, column = _well_position(well, path, rows, columns, label)
        images = group_attrs(root / path, label).get("well", {}).get("images", [])
        fields = []
        for number, image in enumerate(images):
            acquisition = image.get("acquisition")
            fields.append(
                WellField(
                    series=len(paths),
                    acquisition=acq_ids.index(acquisition) if acquisition in acq_ids else None,
                )
            )
            paths.append(f"{path}/{image['path']}")
            names.append(f"{label} [Well {rows[row]}{columns[column]}, Field {number + 1}]")
        wells.append(WellMeta(row=row, column=column, fields=tuple(fields)))
    meta = PlateMeta(
        name=str(plate.get("name") or label),
        rows=len(rows),
        columns=len(columns),
        row_naming="letter" if all(r.isalpha() for r in rows) else "number",
        column_naming="letter" if all(c.isalpha() for c in columns) else "number",
        wells=tuple(wells),
        acquisitions=acquisitions,
    )
    return meta, paths, names


def _well_position(
    well: dict[str, Any], path: str, rows: list[str], columns: list[str], label: str
) -> tuple[int, int]:
    if "rowIndex" in well and "columnIndex" in well:
        return int(well["rowIndex"]), int(well["columnIndex"])
    parts = path.split("/")
    if len(parts) == 2 and parts[0] in rows and parts[1] in columns:
        return rows.index(parts[0]), columns.index(parts[1])
    raise BadFile(f"{label}: cannot place well {path!r} on the plate")


def all_files(root: Path) -> list[Path]:
    """Every file under an OME-Zarr directory, sorted (the fileset's original files)."""
    found: list[Path] = []
    for directory, _, files in os.walk(root):
        found.extend(Path(directory) / name for name in files)
    return sorted(found)
