"""Which files make an image fileset, and opening them whatever their format.

Import sees a list of paths; this module groups them into filesets (a multi-file OME-TIFF
with its companions, an OME-Zarr directory, any other file alone), recognises each by its
content rather than its name (a ``.tif`` that is really a JPEG still opens), and returns a
``Fileset``: its original files, its images as ``SeriesRef``, an optional plate, and lazily
read ``PixelSource`` per series. Anything unsupported, truncated or corrupt raises
``BadFile`` here, before the caller has written anything.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from pyomero.errors import BadFile
from pyomero.pixels.image_source import PictureFileset, picture_format
from pyomero.pixels.source import PixelSource, PlateMeta, SeriesRef
from pyomero.pixels.tiff_source import TiffFileset, companion_names, is_tiff, open_tiff_in_place
from pyomero.pixels.zarr_source import ZarrFileset, is_zarr_dir

#: Format names a Fileset reports, also the ``format`` argument of ``open_in_place``.
FORMATS = ("OME-TIFF", "TIFF", "PNG", "JPEG", "OME-Zarr")
SUPPORTED = "OME-TIFF, TIFF, PNG, JPEG, OME-Zarr"


class Fileset(Protocol):
    """The files of one import and the images they hold."""

    format: str
    files: list[Path]
    images: list[SeriesRef]
    plate: PlateMeta | None

    def open_series(self, series: int) -> PixelSource: ...

    def close(self) -> None: ...


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(16)
    except OSError as exc:
        raise BadFile(f"{path.name} cannot be read ({exc.strerror})") from exc


def detect(path: Path) -> str | None:
    """The format family of a path by content: "TIFF", "PNG", "JPEG", "OME-Zarr" or None."""
    if path.is_dir():
        return "OME-Zarr" if is_zarr_dir(path) else None
    head = _head(path)
    if is_tiff(head):
        return "TIFF"
    return picture_format(head)


def _unsupported(path: Path) -> BadFile:
    return BadFile(f"{path.name} is not a supported image file (supported: {SUPPORTED})")


def open_fileset(paths: Sequence[Path]) -> Fileset:
    """Open the fileset the paths form (one group of ``group_filesets``)."""
    if not paths:
        raise BadFile("no file given")
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.exists():
            raise BadFile(f"{path.name} does not exist")
    primary = paths[0]
    family = detect(primary)
    fileset: Fileset
    if family == "TIFF":
        fileset = TiffFileset(primary)
    elif family in ("PNG", "JPEG"):
        fileset = PictureFileset(primary, family)
    elif family == "OME-Zarr":
        fileset = ZarrFileset(primary)
    else:
        raise _unsupported(primary)
    _check_members(fileset, paths)
    return fileset


def _check_members(fileset: Fileset, paths: list[Path]) -> None:
    if len(paths) == 1:
        return
    members = {p.resolve() for p in fileset.files}
    strays = [p.name for p in paths if p.resolve() not in members]
    if strays:
        fileset.close()
        raise BadFile(f"{', '.join(strays)} do not belong to the fileset of {paths[0].name}")


def group_filesets(paths: Sequence[Path]) -> list[list[Path]]:
    """Group command-line paths into filesets, in the order given.

    A multi-file OME-TIFF takes the given files its OME-XML names; an OME-Zarr directory is
    one fileset; another directory is walked (hidden files and files of no supported format
    skipped, as OMERO's importer does); every other file is a fileset of its own.
    """
    expanded: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir() and not is_zarr_dir(path):
            expanded.extend(_walk(path))
        else:
            expanded.append(path)
    given = {p.resolve(): p for p in expanded}
    groups: list[list[Path]] = []
    taken: set[Path] = set()
    for path in expanded:
        if path.resolve() in taken:
            continue
        group = [path] + _companions(path, given)
        group = [p for p in group if p.resolve() not in taken]
        taken.update(p.resolve() for p in group)
        groups.append(group)
    return groups


def _companions(path: Path, given: dict[Path, Path]) -> list[Path]:
    if not path.is_file() or detect(path) != "TIFF":
        return []
    try:
        names = companion_names(path)
    except BadFile:
        return []  # open_fileset reports it
    found = []
    for name in names:
        other = (path.parent / name).resolve()
        if other != path.resolve() and other in given:
            found.append(given[other])
    return found


def _walk(root: Path) -> list[Path]:
    found: list[Path] = []
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        dirs.sort()
        for name in list(dirs):
            if name.startswith(".") or is_zarr_dir(here / name):
                dirs.remove(name)
                if not name.startswith("."):
                    found.append(here / name)
        for name in sorted(files):
            if not name.startswith(".") and _detect_quietly(here / name) is not None:
                found.append(here / name)
    return sorted(found)


def _detect_quietly(path: Path) -> str | None:
    try:
        return detect(path)
    except BadFile:  # unreadable: skipped like any other non-image file in a folder
        return None


def open_in_place(format: str, path: Path, series: int) -> PixelSource:
    """Reopen a registered-in-place fileset's series without copying or re-validating it.

    The returned source owns its file handles: ``close()`` releases them.
    """
    path = Path(path)
    if not path.exists():
        raise BadFile(f"{path.name} does not exist")
    if format in ("OME-TIFF", "TIFF"):
        return open_tiff_in_place(path, series)
    if format == "OME-Zarr":
        return ZarrFileset(path, validate=False).open_series(series)
    if format in ("PNG", "JPEG"):
        return PictureFileset(path, format).open_series(series)
    raise BadFile(f"unknown fileset format {format!r} (known: {SUPPORTED})")
