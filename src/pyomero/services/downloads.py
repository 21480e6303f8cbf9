"""Downloading what was imported: an image's original files (its Fileset), one OriginalFile,
or a rendered plane as JPEG/PNG/TIFF; several at once as a zip.

Original files live under ``DIR/files/`` (or where they were registered in place); readers
get them only through a readable Image or OriginalFile.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyomero.errors import InvalidInput, NotFound, SecurityViolation
from pyomero.services.accounts import Context
from pyomero.services.instance import Instance
from pyomero.store import pixels as store
from pyomero.store import targets

#: The largest zip served (omero.web.maximum_multifile_download_size).
MAX_ZIP = 1 << 30


@dataclass(frozen=True, slots=True)
class Download:
    """A file to send: its bytes on disk, the name to offer and its type."""

    path: Path
    name: str
    size: int
    mimetype: str | None
    temporary: bool = False  # remove after sending (a zip made for this request)


def _location(instance: Instance, location: str) -> Path:
    path = Path(location)
    if path.is_absolute():
        return path
    data_dir = instance.settings.data_dir
    assert data_dir is not None
    return Path(data_dir) / "files" / location


def _existing(instance: Instance, f: store.StoredFile) -> Path:
    path = _location(instance, f.location)
    if not path.is_file():
        raise NotFound(f"the original file {f.name} is no longer on disk")
    return path


def fileset_files(ctx: Context, image_id: int) -> tuple[int, list[store.StoredFile]]:
    """The fileset id and files of a readable image; NotFound when it has none."""
    with ctx.instance.db.read() as conn:
        found = store.image_files(conn, ctx.actor, image_id)
    if found is None:
        raise NotFound(f"Image {image_id} has no original files")
    return found


def original_file(ctx: Context, file_id: int) -> Download:
    with ctx.instance.db.read() as conn:
        f = store.original_file(conn, ctx.actor, file_id)
    if f is None:
        raise NotFound(f"OriginalFile {file_id} not found")
    return Download(_existing(ctx.instance, f), f.name, f.size, f.mimetype)


def archived_files(
    ctx: Context,
    *,
    image_ids: Sequence[int] = (),
    well_ids: Sequence[int] = (),
    zip_name: str | None = None,
) -> Download:
    """The original files of images (and of wells' images): one file as it is, else a zip."""
    ids = list(image_ids)
    if well_ids:
        with ctx.instance.db.read() as conn:
            ids += targets.images_in_wells(conn, ctx.actor, well_ids)
    if not ids:
        raise InvalidInput("No images found.", param="image")
    files: dict[int, store.StoredFile] = {}
    for image_id in dict.fromkeys(ids):
        _fileset, found = fileset_files(ctx, image_id)
        for f in found:
            files.setdefault(f.id, f)
    if not files:
        raise NotFound("No files found for the given images")
    if len(files) == 1:
        (f,) = files.values()
        return Download(_existing(ctx.instance, f), f.name, f.size, f.mimetype)
    total = sum(f.size for f in files.values())
    if total > MAX_ZIP:
        raise SecurityViolation(
            f"the files add up to {total} bytes, more than the {MAX_ZIP} bytes a zip may hold"
        )
    name = (zip_name or f"Archived_Files_{ids[0]}").removesuffix(".zip") + ".zip"
    return _zip(ctx.instance, list(files.values()), name)


def _zip(instance: Instance, files: list[store.StoredFile], name: str) -> Download:
    """A stored (uncompressed) zip: microscopy files are compressed already."""
    fd, temp = tempfile.mkstemp(prefix="pyomero-", suffix=".zip")
    os.close(fd)
    path = Path(temp)
    try:
        seen: set[str] = set()
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
            for f in files:
                arcname = str(Path(f.path.lstrip("/")) / f.name) if f.path else f.name
                while arcname in seen:
                    arcname = f"{f.id}_{arcname}"
                seen.add(arcname)
                z.write(_existing(instance, f), arcname)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Download(path, name, path.stat().st_size, "application/zip", temporary=True)


def original_paths(ctx: Context, image_id: int) -> tuple[int, list[str], list[str]] | None:
    """``original_file_paths``: fileset id, repository paths and client paths, or None."""
    with ctx.instance.db.read() as conn:
        found = store.image_files(conn, ctx.actor, image_id)
        if found is None:
            return None
        fileset_id, files = found
        client = store.fileset_client_paths(conn, fileset_id)
    return fileset_id, [f.location for f in files], client
