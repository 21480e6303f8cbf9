"""A minimal large_image tile server: the baseline of ``pixels.py``'s tile benchmark.

It serves the tiles of one file the way large_image's own tile servers (girder's
``large_image`` plugin, ``large-image-converter``'s viewers) do: the file opened once per
process with ``large_image.open(path, style=..., encoding="JPEG")`` and every request answered
with ``source.getTile(x, y, z)``. The style renders the same composite as pyomero's
``c=1|0:65535$FF0000,2|0:65535$00FF00,3|0:65535$0000FF&m=c``: each channel (a large_image
*frame* of the OME-TIFF) mapped linearly from 0..65535 onto black..its colour, composited
with ``lighten`` (per colour component the maximum; with pure red, green and blue that is the
same as OMERO's additive model). JPEG quality 85 and 4:4:4 chroma, as pyomero's
``render_image_region`` (quality 0.85, simplejpeg's default subsampling).

Routes (levels numbered as pyomero's: 0 = full resolution):

    GET /tile/{level}/{col}/{row}     JPEG, 404 outside the image
    GET /                             {"levels", "tile_width", "size_x", ...}: ready probe

Environment: ``LI_PATH`` the file (required); ``LI_TILE_CACHE=1`` keeps large_image's
in-process tile cache (default off: the benchmark compares rendering work, and pyomero keeps
no tile cache; a tile cache only helps a tile that is asked for again).

Run it with the Python that has large_image (see ``benchmarks/requirements-large-image.txt``):

    LI_PATH=/tmp/big.ome.tif /tmp/li-venv/bin/python -m uvicorn large_image_tiles:app \
        --app-dir benchmarks --port 4090 --workers 2 --no-access-log
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import large_image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

COLOURS = ("#ff0000", "#00ff00", "#0000ff")


class _NoCache(dict):  # type: ignore[type-arg]
    """A tile cache that never holds anything (large_image's methodcache tolerates it)."""

    def __getitem__(self, key: Any) -> Any:
        raise KeyError(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        return None


def _disable_tile_cache() -> None:
    from large_image.cache_util import cache

    cache._tileCache = _NoCache()
    cache._tileLock = threading.Lock()


def style(channels: int) -> dict[str, Any]:
    return {
        "bands": [
            {"frame": c, "band": 1, "palette": COLOURS[c % 3], "min": 0, "max": 65535}
            for c in range(channels)
        ]
    }


def open_source(path: str, tile_cache: bool = False) -> Any:
    if not tile_cache:
        _disable_tile_cache()
    plain = large_image.open(path)
    frames = len(plain.getMetadata().get("frames", [])) or 1
    return large_image.open(
        path,
        style=json.dumps(style(frames)),
        encoding="JPEG",
        jpegQuality=85,
        jpegSubsampling=0,
    )


_source: Any = None
_lock = threading.Lock()


def source() -> Any:
    global _source
    if _source is None:
        with _lock:
            if _source is None:
                _source = open_source(
                    os.environ["LI_PATH"], os.environ.get("LI_TILE_CACHE", "0") == "1"
                )
    return _source


def tile(request: Request) -> Response:
    src = source()
    level = int(request.path_params["level"])
    col = int(request.path_params["col"])
    row = int(request.path_params["row"])
    z = src.levels - 1 - level
    try:
        body = src.getTile(col, row, z)
    except Exception as exc:  # large_image raises TileSourceXYZRangeError and others
        return Response(str(exc).encode(), 404, media_type="text/plain")
    return Response(bytes(body), media_type="image/jpeg")


def info(request: Request) -> JSONResponse:
    src = source()
    return JSONResponse(
        {
            "levels": src.levels,
            "tile_width": src.tileWidth,
            "tile_height": src.tileHeight,
            "size_x": src.sizeX,
            "size_y": src.sizeY,
            "large_image": getattr(large_image, "__version__", "?"),
        }
    )


app = Starlette(
    routes=[Route("/", info), Route("/tile/{level:int}/{col:int}/{row:int}", tile)],
)
