"""Rendering images for the webgateway: planes, regions, tiles, projections, thumbnails.

Every call first finds the image under the caller's read permission (one query for the
pixel location, sizes and channel statistics) and the rendering settings that apply: the
caller's saved settings, else the owner's, else OMERO's imported defaults. The web layer
parses the query string into changes of those settings (``wire.render_params``) and hands
the result back here, where pixels are read, rendered and encoded.

Thumbnails are cached on disk under ``DIR/thumbnails/`` by a hash of everything that
determines their bytes (pixel location, settings, size, plane), so every worker process
serves the same cache and a change of settings can never return a stale thumbnail.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any

import numpy as np

from pyomero.errors import InvalidInput, NotFound
from pyomero.model.rendering import Projection, RenderingDef, default_rendering
from pyomero.pixels import encode, formats, render, zarr_store
from pyomero.pixels.source import Level, PixelSource
from pyomero.services.accounts import Context
from pyomero.services.imports import OME_ZARR
from pyomero.services.instance import Instance
from pyomero.store import objects
from pyomero.store import pixels as store
from pyomero.store.pixels import PixelsRecord

__all__ = [
    "ImageView",
    "RenderedPlane",
    "open_image",
    "open_images",
    "render_image",
    "render_split_channel",
    "thumbnail",
    "thumbnails",
    "histogram",
]

#: The largest plane ``render_image`` renders whole (OMERO's max_plane_width x height).
MAX_PLANE = 3192 * 3192
#: Tile size reported for images without a pyramid (spec 6.12 lets a clone choose).
DEFAULT_TILE = (256, 256)
JPEG_QUALITY = 0.85


@dataclass(frozen=True, slots=True)
class ImageView:
    """One readable image, its pixels and the settings that apply to the caller."""

    record: PixelsRecord
    rdef: RenderingDef
    levels: tuple[Level, ...]
    tile_size: tuple[int, int]
    source: PixelSource | None

    @property
    def image_id(self) -> int:
        return self.record.image_id

    @property
    def pyramid(self) -> bool:
        return len(self.levels) > 1


@dataclass(frozen=True, slots=True)
class RenderedPlane:
    body: bytes
    content_type: str
    etag: str


# -- opening ------------------------------------------------------------------------------

_SOURCES: OrderedDict[tuple[str, str, int], PixelSource] = OrderedDict()
_SOURCES_LOCK = Lock()
_MAX_SOURCES = 64


def pixel_source(instance: Instance, record: PixelsRecord) -> PixelSource:
    """The open pixel source of an image (process-local cache; stored pixels never change)."""
    if not record.has_pixels:
        raise NotFound(f"Image {record.image_id} has no pixel data")
    assert record.store is not None and record.path is not None
    key = (record.store, record.path, record.series)
    with _SOURCES_LOCK:
        found = _SOURCES.get(key)
        if found is not None:
            _SOURCES.move_to_end(key)
            return found
    if record.store == OME_ZARR:
        data_dir = instance.settings.data_dir
        assert data_dir is not None
        source = zarr_store.open_stored(Path(data_dir) / "pixels" / record.path)
    else:
        source = formats.open_in_place(record.store, Path(record.path), record.series)
    with _SOURCES_LOCK:
        _SOURCES[key] = source
        while len(_SOURCES) > _MAX_SOURCES:
            _SOURCES.popitem(last=False)  # not closed: another thread may be reading it
    return source


def _settings_for(conn: Any, ctx: Context, record: PixelsRecord) -> RenderingDef:
    """The caller's saved settings, else the owner's, else the imported defaults."""
    owners = list(dict.fromkeys((ctx.actor.user_id, record.owner_id)))
    saved = store.first_rendering_def(conn, record.pixels_id, owners)
    return saved if saved is not None else default_rendering(record.info)


def _view(ctx: Context, conn: Any, record: PixelsRecord) -> ImageView:
    rdef = _settings_for(conn, ctx, record)
    if not record.has_pixels:
        levels: tuple[Level, ...] = (Level(record.size_x, record.size_y),)
        return ImageView(record, rdef, levels, DEFAULT_TILE, None)
    source = pixel_source(ctx.instance, record)
    levels = source.levels
    tile = source.tile_size if len(levels) > 1 else DEFAULT_TILE
    return ImageView(record, rdef, levels, tile, source)


def open_image(ctx: Context, image_id: int) -> ImageView:
    """The caller's view of a readable image with pixels; NotFound otherwise."""
    with ctx.instance.db.read() as conn:
        record = store.pixels_record(conn, ctx.actor, image_id)
        if record is None:
            raise NotFound(f"Image:{image_id} not found")
        return _view(ctx, conn, record)


def open_images(ctx: Context, image_ids: Sequence[int]) -> dict[int, ImageView]:
    """Views of the readable images among ``image_ids`` (missing ones are left out)."""
    with ctx.instance.db.read() as conn:
        records = store.pixels_records(conn, ctx.actor, image_ids)
        return {iid: _view(ctx, conn, r) for iid, r in records.items() if r.has_pixels}


def default_settings(view: ImageView) -> RenderingDef:
    return default_rendering(view.record.info)


# -- rendering ----------------------------------------------------------------------------


def _check_plane(view: ImageView, z: int, t: int) -> None:
    r = view.record
    if not 0 <= z < r.size_z:
        raise InvalidInput(f"z {z} is out of range (0-{r.size_z - 1})", param="z")
    if not 0 <= t < r.size_t:
        raise InvalidInput(f"t {t} is out of range (0-{r.size_t - 1})", param="t")


def _source(view: ImageView) -> PixelSource:
    if view.source is None:
        raise NotFound(f"Image {view.image_id} has no pixel data")
    return view.source


def read_planes(
    view: ImageView,
    channels: Sequence[int],
    *,
    z: int,
    t: int,
    level: int,
    region: tuple[int, int, int, int],
    projection: Projection | None = None,
) -> dict[int, np.ndarray]:
    """Raw planes (or Z projections) of ``channels`` over a rectangle of one level."""
    source = _source(view)
    x, y, w, h = region
    planes: dict[int, np.ndarray] = {}
    for c in channels:
        if projection is None or projection.kind == "normal":
            planes[c] = source.region(level=level, z=z, c=c, t=t, x=x, y=y, width=w, height=h)
            continue
        start = 0 if projection.start is None else projection.start
        end = view.record.size_z - 1 if projection.end is None else projection.end
        stack = np.stack(
            [
                source.region(level=level, z=zz, c=c, t=t, x=x, y=y, width=w, height=h)
                for zz in range(start, end + 1)
            ]
        )
        planes[c] = render.project(stack, projection.kind, view.record.pixel_type)
    return planes


def render_rgb(
    view: ImageView,
    rdef: RenderingDef,
    *,
    z: int,
    t: int,
    level: int = 0,
    region: tuple[int, int, int, int] | None = None,
    projection: Projection | None = None,
) -> np.ndarray:
    """(H, W, 3) uint8 of a plane, a region of a level, or a Z projection."""
    _check_plane(view, z, t)
    if not 0 <= level < len(view.levels):
        raise InvalidInput(f"level {level} is out of range", param="level")
    size = view.levels[level]
    rect = region or (0, 0, size.size_x, size.size_y)
    x, y, w, h = rect
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > size.size_x or y + h > size.size_y:
        raise InvalidInput(
            f"region {x},{y},{w},{h} is outside the image ({size.size_x}x{size.size_y})",
            param="region",
        )
    needed = render.needed_channels(rdef)
    if not needed:
        return np.zeros((h, w, 3), dtype=np.uint8)
    planes = read_planes(view, needed, z=z, t=t, level=level, region=rect, projection=projection)
    return render.render(planes, rdef, pixel_type=view.record.pixel_type)


def encode_image(rgb: np.ndarray, *, format: str = "jpeg", quality: float | None = None) -> bytes:
    if format == "png":
        return encode.png(rgb)
    if format == "tif":
        return encode.tiff(rgb)
    return encode.jpeg(rgb, JPEG_QUALITY if quality is None else quality)


def render_image(
    view: ImageView,
    rdef: RenderingDef,
    *,
    z: int,
    t: int,
    level: int = 0,
    region: tuple[int, int, int, int] | None = None,
    projection: Projection | None = None,
    quality: float | None = None,
    format: str = "jpeg",
) -> bytes:
    """Encoded bytes of a whole plane (refused above OMERO's plane limit) or a region/tile."""
    if region is None and level == 0:
        size = view.levels[0]
        if size.size_x * size.size_y > MAX_PLANE and view.pyramid:
            raise InvalidInput(
                f"the image is {size.size_x}x{size.size_y}: too large to render whole; "
                "use render_image_region with a tile or region",
                param="region",
            )
    rgb = render_rgb(view, rdef, z=z, t=t, level=level, region=region, projection=projection)
    return encode_image(rgb, format=format, quality=quality)


def render_split_channel(
    view: ImageView, rdef: RenderingDef, *, z: int, t: int, quality: float | None = None
) -> bytes:
    _check_plane(view, z, t)
    r = view.record
    channels = [i for i, b in enumerate(rdef.channels) if b.active]
    planes = read_planes(view, channels, z=z, t=t, level=0, region=(0, 0, r.size_x, r.size_y))
    rgb = render.render_split(
        planes, rdef, pixel_type=r.pixel_type, size_x=r.size_x, size_y=r.size_y
    )
    return encode.jpeg(rgb, 0.9 if quality is None else quality)


def histogram(view: ImageView, *, c: int, z: int, t: int, bins: int) -> list[int]:
    _check_plane(view, z, t)
    r = view.record
    if not 0 <= c < r.size_c:
        raise NotFound(f"channel {c} is out of range")
    if bins < 1 or bins > 65536:
        raise InvalidInput("bins must be between 1 and 65536", param="bins")
    plane = read_planes(view, [c], z=z, t=t, level=0, region=(0, 0, r.size_x, r.size_y))[c]
    info = r.info.channels[c] if c < len(r.info.channels) else None
    low = info.stats_min if info and info.stats_min is not None else float(plane.min())
    high = info.stats_max if info and info.stats_max is not None else float(plane.max())
    return render.histogram(plane, bins=bins, low=low, high=high)


# -- thumbnails ---------------------------------------------------------------------------


def _thumbnail_level(view: ImageView, width: int, height: int) -> int:
    """The smallest level still at least as large as the thumbnail (level 0 if none is)."""
    best = 0
    for index, level in enumerate(view.levels):
        if level.size_x >= width and level.size_y >= height:
            best = index
    return best


def _thumbnail_key(view: ImageView, rdef: RenderingDef, w: int, h: int, z: int, t: int) -> str:
    r = view.record
    parts = repr((r.store, r.path, r.series, rdef.model, rdef.channels, w, h, z, t))
    return hashlib.sha256(parts.encode()).hexdigest()


def _cache_dir(instance: Instance) -> Path | None:
    data_dir = instance.settings.data_dir
    return None if data_dir is None else Path(data_dir) / "thumbnails"


@dataclass(frozen=True, slots=True)
class _ThumbnailPlan:
    rdef: RenderingDef
    width: int
    height: int
    z: int
    t: int
    path: Path | None  # where the cache keeps it


def _plan(
    instance: Instance,
    view: ImageView,
    *,
    longest: int | None,
    width: int | None,
    height: int | None,
    z: int | None,
    t: int | None,
    rdef: RenderingDef | None,
) -> _ThumbnailPlan:
    r = view.record
    rdef = rdef or view.rdef
    if width is not None and height is not None:
        w, h = width, height
    else:
        w, h = render.thumbnail_size(r.size_x, r.size_y, 96 if longest is None else longest)
    if not (1 <= w <= 4096 and 1 <= h <= 4096):
        raise InvalidInput(f"thumbnail size {w}x{h} is out of range (1-4096)", param="size")
    z = rdef.default_z if z is None else z
    t = rdef.default_t if t is None else t
    _check_plane(view, z, t)
    key = _thumbnail_key(view, rdef, w, h, z, t)
    cache = _cache_dir(instance)
    path = None if cache is None else cache / key[:2] / f"{key}.jpg"
    return _ThumbnailPlan(rdef, w, h, z, t, path)


def _cached(plan: _ThumbnailPlan) -> bytes | None:
    if plan.path is None:
        return None
    try:
        return plan.path.read_bytes()
    except FileNotFoundError:
        return None


def thumbnail(
    instance: Instance,
    view: ImageView,
    *,
    longest: int | None = None,
    width: int | None = None,
    height: int | None = None,
    z: int | None = None,
    t: int | None = None,
    rdef: RenderingDef | None = None,
) -> bytes:
    """A JPEG thumbnail: longest side ``longest``, or exactly ``width`` x ``height``."""
    plan = _plan(instance, view, longest=longest, width=width, height=height, z=z, t=t, rdef=rdef)
    body = _cached(plan)
    if body is not None:
        return body
    level = _thumbnail_level(view, plan.width, plan.height)
    rgb = render_rgb(view, plan.rdef, z=plan.z, t=plan.t, level=level)
    body = encode.jpeg(render.resize(rgb, plan.width, plan.height), JPEG_QUALITY)
    if plan.path is not None:
        _write_atomically(plan.path, body)
    return body


def cached_thumbnail(instance: Instance, view: ImageView, *, longest: int) -> bytes | None:
    """The default-plane thumbnail if the cache holds it, else None (nothing is rendered)."""
    plan = _plan(
        instance, view, longest=longest, width=None, height=None, z=None, t=None, rdef=None
    )
    return _cached(plan)


def _write_atomically(path: Path, body: bytes) -> None:
    """Write via a temporary file and rename, so a reader never sees half a thumbnail."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


#: Threads rendering a batch of thumbnails: decoding, rendering and encoding release the GIL.
BATCH_THREADS = 4


def thumbnails(ctx: Context, image_ids: Sequence[int], *, longest: int) -> dict[int, bytes | None]:
    """Thumbnails of many images; unreadable, missing or failing ones are None.

    The views come from one query; cached thumbnails are read in turn, and only the missing
    ones are rendered, on a few threads (which touch no database).
    """
    views = open_images(ctx, image_ids)

    def one(iid: int, *, cached_only: bool) -> bytes | None:
        view = views.get(iid)
        if view is None:
            return None
        try:
            if cached_only:
                return cached_thumbnail(ctx.instance, view, longest=longest)
            return thumbnail(ctx.instance, view, longest=longest)
        except (InvalidInput, NotFound, OSError, ValueError):
            return None

    found = {iid: one(iid, cached_only=True) for iid in image_ids}
    missing = [iid for iid, body in found.items() if body is None and iid in views]
    if len(missing) == 1:
        found[missing[0]] = one(missing[0], cached_only=False)
    elif missing:
        with ThreadPoolExecutor(BATCH_THREADS, thread_name_prefix="thumbnails") as pool:
            rendered = pool.map(lambda iid: one(iid, cached_only=False), missing)
            found.update(zip(missing, rendered, strict=True))
    return found


def etag(view: ImageView, rdef: RenderingDef, *parts: object) -> str:
    """A strong validator of one rendered response: pixels, settings and request parts."""
    r = view.record
    text = repr((r.store, r.path, r.series, rdef.model, rdef.channels, parts))
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


# -- facts for imgData and the plate grid -------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What ``imgData`` reports: the image with details, its parents and its view."""

    image: Any
    parents: store.ImageParents
    view: ImageView


def image_facts(ctx: Context, image_id: int) -> ImageFacts:
    with ctx.instance.db.read() as conn:
        record = store.pixels_record(conn, ctx.actor, image_id)
        image = None if record is None else objects.get_object(conn, ctx.actor, "image", image_id)
        if record is None or image is None:
            raise NotFound(f"Image:{image_id} not found")
        return ImageFacts(
            image, store.image_parents(conn, ctx.actor, image_id), _view(ctx, conn, record)
        )


@dataclass(frozen=True, slots=True)
class PlateFacts:
    plate: Any  # the plate row: rows, columns, naming conventions
    cells: list[store.GridRow]
    wells: list[tuple[int, int]]


def plate_facts(
    ctx: Context, plate_id: int, *, field: int, acquisition_id: int | None
) -> PlateFacts:
    """The wells of a readable plate and the image at ``field`` of each (NotFound if none)."""
    with ctx.instance.db.read() as conn:
        plate = store.plate_info(conn, ctx.actor, plate_id)
        if plate is None:
            raise NotFound(f"Plate {plate_id} not found")
        cells = store.plate_grid_rows(
            conn, ctx.actor, plate_id, field=field, acquisition_id=acquisition_id
        )
        return PlateFacts(plate, cells, store.plate_well_positions(conn, plate_id))


def placeholder_thumbnail(size: int) -> bytes:
    """A plain grey square, for the webclient's thumbnail of an image it cannot show."""
    size = max(1, min(size, 1024))
    return encode.jpeg(np.full((size, size, 3), 200, dtype=np.uint8), JPEG_QUALITY)
