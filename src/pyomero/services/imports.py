"""Importing image files: read them, store their pixels as OME-Zarr, record them, all or nothing.

An import runs in a staging directory ``DIR/.incoming/<uuid>/`` that holds an exclusive
lock (``flock``) for as long as the import runs. Original files and OME-Zarr pixels are
written there; then, inside the one database transaction that records the Filesets, Images,
Pixels, Channels, Plates and links, they are renamed to their final places
(``DIR/files/<uuid>/``, ``DIR/pixels/<uuid>/``). If anything fails, the transaction rolls back
and the files are removed. If the process is killed, :func:`sweep_incoming` (run when a
server starts) finds staging directories whose lock nobody holds and removes what they
staged, unless the database recorded it (the kill came after the commit).

Default rendering settings are not stored at import: they are a pure function of the
recorded channel metadata and statistics (``model.rendering.default_rendering``), computed
when an image without saved settings is rendered.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import mimetypes
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyomero.errors import (
    BadFile,
    InvalidInput,
    NotFound,
    SecurityViolation,
    ValidationError,
)
from pyomero.model.permissions import Action, allowed
from pyomero.pixels import formats, zarr_store
from pyomero.pixels.source import ImageMeta, PixelSource, PlateMeta
from pyomero.services.accounts import Context, utcnow
from pyomero.services.instance import Instance
from pyomero.store import bulk, writes
from pyomero.store import pixels as store
from pyomero.store.accounts import get_group, new_event
from pyomero.store.specs import ChannelSpec, ImageSpec, PixelsSpec, PlateSpec, Who

__all__ = [
    "TRANSFERS",
    "Created",
    "ImportTarget",
    "Progress",
    "import_files",
    "resolve_in_place",
    "sweep_incoming",
]

#: Transfer modes: copy the files in, move them in (uploads the server already holds),
#: or register them in place (``ln_s``: only under a configured import root).
TRANSFERS = ("copy", "move", "ln_s")
#: The pixel store of images copied into the instance (``pixels.pixelstore``).
OME_ZARR = "ome-zarr"

#: progress(done_bytes, total_bytes)
Progress = Callable[[int, int], None]

_BLOCK = 4 << 20


@dataclass(frozen=True, slots=True)
class ImportTarget:
    """Where imported objects go: a Dataset (by id, or by name: found or created) or a Screen.

    Images go into the dataset; plates are linked to the screen. ``group_id`` is the group
    the new objects belong to (the target's group, else the caller's current group, when None).
    """

    dataset_id: int | None = None
    dataset_name: str | None = None
    screen_id: int | None = None
    group_id: int | None = None


@dataclass(frozen=True, slots=True)
class Created:
    """One object an import created, as the CLI prints it (``Image:12``, ``Plate:3``)."""

    kind: str  # "Image" | "Plate"
    id: int

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass
class _Staged:
    """One fileset read and staged, waiting for the database transaction."""

    index: int
    format: str
    files: list[store.FileSpec]
    images: list[tuple[ImageMeta, PixelSource, PixelsSpec, list[ChannelSpec]]] = field(
        default_factory=list
    )
    plate: PlateMeta | None = None
    series: list[int] = field(default_factory=list)


# -- entry points -------------------------------------------------------------------------


def import_files(
    ctx: Context,
    paths: Sequence[Path],
    *,
    target: ImportTarget = ImportTarget(),
    transfer: str = "copy",
    client_paths: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> list[Created]:
    """Import ``paths`` (files or OME-Zarr directories the server can read) as one unit.

    Every fileset is read and its pixels written before anything is recorded; one bad file
    fails the whole call with a ``BadFile`` naming it, and leaves nothing behind.
    """
    if transfer not in TRANSFERS:
        raise InvalidInput(f"transfer must be one of {', '.join(TRANSFERS)}", param="transfer")
    if not paths:
        raise InvalidInput("nothing to import: no paths given", param="paths")
    instance = ctx.instance
    data_dir = _data_dir(instance)
    paths = [Path(p) for p in paths]
    if transfer == "ln_s":
        paths = [resolve_in_place(instance, p) for p in paths]
    for path in paths:
        if not path.exists():
            raise BadFile(f"{path.name}: no such file")
    names = dict(zip(paths, client_paths or [str(p) for p in paths], strict=True))
    group_id = _check_target(ctx, target)
    groups = formats.group_filesets(paths)
    total = sum(_size(p) for group in groups for p in group)
    done = [0]

    def advance(count: int) -> None:
        done[0] += count
        if progress is not None:
            progress(min(done[0], total), total)

    with _staging(data_dir) as staging:
        staged: list[_Staged] = []
        opened: list[Any] = []
        try:
            for index, group in enumerate(groups):
                fileset = formats.open_fileset(group)
                opened.append(fileset)
                staged.append(
                    _stage(
                        fileset,
                        group[0],
                        index,
                        staging,
                        transfer=transfer,
                        names=names,
                        advance=advance,
                    )
                )
        finally:
            for fileset in opened:
                fileset.close()
        return _record(ctx, staged, staging, target=target, group_id=group_id, transfer=transfer)


def resolve_in_place(instance: Instance, path: Path) -> Path:
    """``path`` resolved (symlinks followed) if it lies under an import root; else refused."""
    roots = instance.settings.import_root_paths()
    if not roots:
        raise SecurityViolation(
            "in-place import (--transfer ln_s) is disabled: the server names no import_roots"
        )
    if not path.is_absolute():
        raise InvalidInput(f"{path}: in-place import needs an absolute server path", param="paths")
    resolved = path.resolve()
    if not any(resolved.is_relative_to(root) for root in roots):
        raise SecurityViolation(f"{path} is not under an import root of this server")
    return resolved


def sweep_incoming(instance: Instance) -> int:
    """Remove what killed imports staged or moved into place; returns how many were swept."""
    data_dir = _data_dir(instance)
    incoming = data_dir / ".incoming"
    if not incoming.is_dir():
        return 0
    swept = 0
    for staging in incoming.iterdir():
        lock = staging / ".lock"
        try:
            fd = os.open(lock, os.O_RDWR)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live import
            _sweep_one(instance, data_dir, staging)
            swept += 1
        finally:
            os.close(fd)
    return swept


# -- staging ------------------------------------------------------------------------------


def _data_dir(instance: Instance) -> Path:
    data_dir = instance.settings.data_dir
    if data_dir is None:
        raise ValidationError("this server has no instance directory to store pixels in")
    return Path(data_dir)


@contextmanager
def _staging(data_dir: Path) -> Iterator[Path]:
    """A locked staging directory, removed on the way out (what it held was moved or failed)."""
    staging = data_dir / ".incoming" / uuid.uuid4().hex
    staging.mkdir(parents=True)
    fd = os.open(staging / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        os.close(fd)


def _sweep_one(instance: Instance, data_dir: Path, staging: Path) -> None:
    manifest = staging / "manifest.json"
    if manifest.is_file():
        moved = json.loads(manifest.read_text())
        with instance.db.read() as conn:
            committed = store.fileset_referenced(conn, moved["prefix"])
        if not committed:
            for final in moved["finals"]:
                shutil.rmtree(data_dir / final, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _common_parent(files: Sequence[Path]) -> Path:
    parents = [f.parent for f in files]
    return Path(os.path.commonpath([str(p) for p in parents])) if parents else Path("/")


def _stage(
    fileset: Any,
    root: Path,
    index: int,
    staging: Path,
    *,
    transfer: str,
    names: dict[Path, str],
    advance: Callable[[int], None],
) -> _Staged:
    """Write one fileset's pixels (unless in place) and stage its original files.

    A copy of the originals runs on a thread beside the pixel writing (file reads, SHA-1
    and writes release the GIL); a move waits for the pixels, which are read from the files.
    """
    files: list[Path] = list(fileset.files)
    result = _Staged(index=index, format=fileset.format, files=[], plate=fileset.plate)
    base = _common_parent(files)

    def keep_files() -> list[store.FileSpec]:
        return [
            _stage_file(path, base, index, staging, transfer=transfer, names=names)
            for path in files
        ]

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-copy") as pool:
        copied = pool.submit(keep_files) if transfer == "copy" else None
        for ref in fileset.images:
            source = fileset.open_series(ref.series)
            if transfer == "ln_s":
                stats = zarr_store.quick_stats(source)
                location = (fileset.format, str(root), ref.series)
            else:
                relative = f"{index}/{ref.series}.zarr"
                stats = zarr_store.write_ome_zarr(
                    source, staging / "pixels" / relative, progress=advance
                )
                location = (OME_ZARR, relative, 0)
            result.images.append(_image_specs(ref.meta, source, stats, location))
            result.series.append(ref.series)
        result.files = keep_files() if copied is None else copied.result()
    return result


def _stage_file(
    path: Path, base: Path, index: int, staging: Path, *, transfer: str, names: dict[Path, str]
) -> store.FileSpec:
    relative = path.relative_to(base)
    client = names.get(path) or _client_name(path, names)
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if transfer == "ln_s":
        return store.FileSpec(
            name=path.name,
            path=str(Path(client).parent),
            size=path.stat().st_size,
            sha1=None,
            mimetype=mimetype,
            location=str(path),
            client_path=client,
        )
    dest = staging / "files" / str(index) / relative
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = _keep(path, dest, move=transfer == "move")
    return store.FileSpec(
        name=path.name,
        path=str(Path(client).parent),
        size=dest.stat().st_size,
        sha1=digest,
        mimetype=mimetype,
        location=f"{index}/{relative}",
        client_path=client,
    )


def _keep(path: Path, dest: Path, *, move: bool) -> str:
    """Copy (or move: rename, when on the same file system) ``path`` to ``dest``; its SHA-1."""
    digest = hashlib.sha1(usedforsecurity=False)
    if move:
        with path.open("rb") as src:
            while block := src.read(_BLOCK):
                digest.update(block)
        try:
            path.rename(dest)
            return digest.hexdigest()
        except OSError:  # another file system: copy below, then remove the source
            digest = hashlib.sha1(usedforsecurity=False)
    with path.open("rb") as src, dest.open("wb") as out:
        while block := src.read(_BLOCK):
            digest.update(block)
            out.write(block)
    if move:
        path.unlink()
    return digest.hexdigest()


def _client_name(path: Path, names: dict[Path, str]) -> str:
    """A file inside a directory that was given: its client path under the directory's."""
    for given, client in names.items():
        if path.is_relative_to(given):
            return str(Path(client) / path.relative_to(given))
    return str(path)


def _image_specs(
    meta: ImageMeta,
    source: PixelSource,
    stats: Sequence[tuple[float, float]],
    location: tuple[str, str, int],
) -> tuple[ImageMeta, PixelSource, PixelsSpec, list[ChannelSpec]]:
    pixels: PixelsSpec = {
        "sizex": source.size_x,
        "sizey": source.size_y,
        "sizez": source.size_z,
        "sizec": source.size_c,
        "sizet": source.size_t,
        "pixelstype": source.pixel_type,
        "dimensionorder": "XYZCT",
        "physicalsizex": meta.physical_size_x,
        "physicalsizey": meta.physical_size_y,
        "physicalsizez": meta.physical_size_z,
        "significantbits": meta.significant_bits,
        "pixelstore": location[0],
        "pixelpath": location[1],
        "pixelseries": location[2],
    }
    channels: list[ChannelSpec] = []
    for c in range(source.size_c):
        cmeta = meta.channels[c] if c < len(meta.channels) else None
        spec: ChannelSpec = {"statsmin": float(stats[c][0]), "statsmax": float(stats[c][1])}
        if cmeta is not None:
            spec.update(
                {
                    "name": cmeta.name,
                    "emissionwave": cmeta.emission_wavelength,
                    "excitationwave": cmeta.excitation_wavelength,
                    "fluor": cmeta.fluor,
                }
            )
            if cmeta.color is not None:
                red, green, blue, alpha = cmeta.color
                spec.update({"red": red, "green": green, "blue": blue, "alpha": alpha})
        channels.append(spec)
    return meta, source, pixels, channels


# -- recording ----------------------------------------------------------------------------


def _check_target(ctx: Context, target: ImportTarget) -> int:
    """The group the import goes into, after checking the caller may link into the target."""
    actor = ctx.actor
    if actor.is_guest:
        raise SecurityViolation("the guest user may not import")
    if target.dataset_id is not None and target.screen_id is not None:
        raise InvalidInput("give a dataset or a screen as target, not both", param="target")
    group_id = target.group_id
    for kind, object_id in (("dataset", target.dataset_id), ("screen", target.screen_id)):
        if object_id is None:
            continue
        with ctx.instance.db.read() as conn:
            row = writes.row_of(conn, kind, object_id)
            if row is None or not allowed(
                actor,
                Action.READ,
                owner_id=row.owner_id,
                group_id=row.group_id,
                level=get_group(conn, row.group_id).level,
            ):
                raise NotFound(f"{kind.capitalize()} {object_id} not found")
            level = get_group(conn, row.group_id).level
        if not allowed(
            actor, Action.LINK, owner_id=row.owner_id, group_id=row.group_id, level=level
        ):
            raise SecurityViolation(f"Cannot link to {kind.capitalize()}:{object_id}")
        if group_id is not None and group_id != row.group_id:
            raise ValidationError(
                f"{kind.capitalize()} {object_id} is in group {row.group_id}, not {group_id}"
            )
        group_id = row.group_id
    if group_id is None:
        group_id = actor.group_id
    if group_id not in actor.member_of and not actor.is_admin:
        raise SecurityViolation(f"You are not a member of group {group_id}")
    if target.dataset_name is not None and not target.dataset_name.strip():
        raise InvalidInput("the dataset name must not be empty", param="dataset_name")
    return group_id


def _record(
    ctx: Context,
    staged: list[_Staged],
    staging: Path,
    *,
    target: ImportTarget,
    group_id: int,
    transfer: str,
) -> list[Created]:
    """One transaction: rows for everything staged; staged directories moved into place."""
    data_dir = _data_dir(ctx.instance)
    prefix = staging.name
    finals = [f"pixels/{prefix}", f"files/{prefix}"]
    (staging / "manifest.json").write_text(json.dumps({"prefix": prefix, "finals": finals}))
    created: list[Created] = []
    try:
        with ctx.instance.db.write() as conn:
            event_id = new_event(
                conn, ctx.actor, kind="Import", now=utcnow(), session_id=ctx.session_id
            )
            who: Who = {"owner_id": ctx.actor.user_id, "group_id": group_id, "event_id": event_id}
            dataset_id = _dataset_for(conn, target, who)
            for unit in staged:
                created.extend(
                    _record_fileset(conn, unit, who, prefix, dataset_id, target.screen_id, transfer)
                )
            for sub in ("pixels", "files"):
                if (staging / sub).exists():
                    (staging / sub).rename(data_dir / sub / prefix)
    except BaseException:
        for final in finals:
            shutil.rmtree(data_dir / final, ignore_errors=True)
        raise
    return created


def _dataset_for(conn: Any, target: ImportTarget, who: Who) -> int | None:
    if target.dataset_name is None:
        return target.dataset_id
    found = writes.find_dataset(
        conn, name=target.dataset_name, owner_id=who["owner_id"], group_id=who["group_id"]
    )
    if found is not None:
        return int(found)
    return writes.insert_container(
        conn,
        "Dataset",
        {"name": target.dataset_name, "description": None},
        owner_id=who["owner_id"],
        group_id=who["group_id"],
        event_id=who["event_id"] or 0,
    )


def _record_fileset(
    conn: Any,
    unit: _Staged,
    who: Who,
    prefix: str,
    dataset_id: int | None,
    screen_id: int | None,
    transfer: str,
) -> list[Created]:
    files = unit.files
    if transfer != "ln_s":
        files = [
            store.FileSpec(**{**_fields(f), "location": f"{prefix}/{f.location}"}) for f in files
        ]
    fileset_id = store.insert_fileset(
        conn, who=who, template_prefix=f"{prefix}/{unit.index}/", files=files
    )
    specs: list[ImageSpec] = []
    for series, (meta, _source, pixels, channels) in zip(unit.series, unit.images, strict=True):
        if pixels["pixelstore"] == OME_ZARR:
            pixels = {**pixels, "pixelpath": f"{prefix}/{pixels['pixelpath']}"}
        specs.append(
            {
                "name": meta.name,
                "description": meta.description,
                "acquisition_date": meta.acquisition_date,
                "series": series,
                "format": unit.format,
                "fileset": fileset_id,
                "pixels": pixels,
                "channels": channels,
            }
        )
    image_ids = bulk.insert_images(conn, **who, images=specs)
    if unit.plate is not None:
        by_series = dict(zip(unit.series, image_ids, strict=True))
        plate_id = _record_plate(conn, unit.plate, by_series, who)
        if screen_id is not None:
            bulk.link_screen_plates(conn, **who, links=[(screen_id, plate_id)])
        return [Created("Plate", plate_id)]
    if dataset_id is not None:
        bulk.link_dataset_images(conn, **who, links=[(dataset_id, i) for i in image_ids])
    return [Created("Image", i) for i in image_ids]


def _fields(spec: store.FileSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in spec.__slots__}  # type: ignore[attr-defined]


def _record_plate(conn: Any, plate: PlateMeta, image_ids: dict[int, int], who: Who) -> int:
    spec: PlateSpec = {
        "name": plate.name,
        "description": plate.description,
        "rows": plate.rows,
        "columns": plate.columns,
        "rownamingconvention": plate.row_naming,
        "columnnamingconvention": plate.column_naming,
        "defaultsample": 0,
    }
    acquisitions = [
        {
            "name": a.name,
            "description": a.description,
            "maximumfieldcount": a.maximum_field_count,
        }
        for a in plate.acquisitions
    ]
    wells = [
        (
            w.row,
            w.column,
            [
                store.SampleSpec(
                    image_id=image_ids[f.series],
                    acquisition=f.acquisition,
                    position_x=f.position_x,
                    position_y=f.position_y,
                )
                for f in w.fields
            ],
        )
        for w in plate.wells
    ]
    return store.insert_imported_plate(
        conn, who=who, spec=spec, acquisitions=acquisitions, wells=wells
    )
