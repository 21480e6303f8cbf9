"""Where a 512 x 512 tile's time goes, in process, and what two cheaper variants would save.

For an instance and an image made by ``pixels.py`` (run it with ``--workdir`` to keep them),
times each stage of ``render_image_region``'s work on random level-0 tiles, in this process,
one thread, no HTTP:

- ``join_session`` (the caller: one query), ``open_image`` (pixels record, channels,
  rendering settings: three queries), and the three queries' SQL replayed alone;
- ``read 3 channels`` (``rendering.read_planes``: three chunk files, blosc);
- ``render`` (``pixels.render.render``: packed uint32 lookup tables, then split);
- ``jpeg 4:4:4 q85`` (``pixels.encode.jpeg``, what the server sends) and, for comparison,
  ``jpeg 4:2:0 q85`` (simplejpeg's ``colorsubsampling="420"``);
- ``render, primary colours`` - a prototype that is NOT pyomero's code: when every active
  channel is one pure primary colour (FF0000, 00FF00, 0000FF, each at most once) with a
  linear map, each channel's contribution is one uint8 per raw value for one colour
  component, so a render is three uint8 table gathers (64 KB tables) straight into the
  interleaved output, with no packing, adding or saturating. It checks that its output equals
  ``render``'s before timing it;
- for an image registered in place from an uncompressed tiled TIFF, ``read 3 channels, direct
  pread`` - another prototype, not pyomero's code: the tile's bytes located through
  tifffile's ``dataoffsets`` (looked up once) and read with ``os.pread`` into a numpy array,
  without tifffile's zarr store; checked equal to ``read_planes``' pixels.

    python benchmarks/tile_stages.py /tmp/pxbench/instance 1 --tiles 200
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

PASSWORD = "bench-root"
CHANNELS = "1|0:65535$FF0000,2|0:65535$00FF00,3|0:65535$0000FF"


def primary_render(planes: dict[int, np.ndarray], rdef: Any, tables: dict) -> np.ndarray | None:
    """The prototype: None when the settings are not three distinct pure primaries."""
    from pyomero.pixels import render

    channels = render.needed_channels(rdef)
    h, w = planes[channels[0]].shape
    out = np.zeros((h, w, 3), dtype=np.uint8)
    seen = set()
    for c in channels:
        binding = rdef.channels[c]
        col = binding.color
        comps = [i for i, v in enumerate((col.red, col.green, col.blue)) if v]
        if binding.lut or len(comps) != 1 or comps[0] in seen or binding.family != "linear":
            return None
        if (col.red, col.green, col.blue)[comps[0]] != 255 or col.alpha != 255:
            return None
        comp = comps[0]
        seen.add(comp)
        key = (render._quant_key(binding), comp)
        table = tables.get(key)
        if table is None:
            q = render.quantize(np.arange(65536, dtype=np.uint16), key[0])
            table = tables[key] = np.ascontiguousarray(q)
        # a gather with a strided destination: out[..., comp] = table[plane]
        np.take(table, planes[c], out=out[..., comp], mode="clip")
    return out


def direct_reader(view: Any, channels: list[int]) -> Any:
    """For an in-place uncompressed tiled TIFF: (col, row) -> {channel: level-0 tile}."""
    import os

    import tifffile

    if view.record.store in (None, "ome-zarr"):
        return None
    tif = tifffile.TiffFile(view.record.path)
    pages = [p.aspage() for p in tif.series[view.record.series].levels[0].pages]
    if any(pages[c].compression != 1 or not pages[c].is_tiled for c in channels):
        return None
    fd = os.open(view.record.path, os.O_RDONLY)
    meta = {
        c: (
            list(pages[c].dataoffsets),
            list(pages[c].databytecounts),
            pages[c].dtype,
            (pages[c].imagewidth + pages[c].tilewidth - 1) // pages[c].tilewidth,
        )
        for c in channels
    }

    def read(col: int, row: int) -> dict[int, np.ndarray]:
        out = {}
        for c, (offsets, counts, dtype, across) in meta.items():
            i = row * across + col
            data = os.pread(fd, counts[i], offsets[i])
            out[c] = np.frombuffer(data, dtype=dtype).reshape(512, 512)
        return out

    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("instance", type=Path)
    parser.add_argument("image_id", type=int)
    parser.add_argument("--tiles", type=int, default=200)
    args = parser.parse_args()
    import simplejpeg
    from sqlalchemy import event
    from starlette.datastructures import QueryParams

    from pyomero.pixels import encode, render
    from pyomero.services import accounts, rendering
    from pyomero.services.instance import load_instance
    from pyomero.wire import render_params as rp

    instance = load_instance(args.instance)
    ctx = accounts.login(instance, username="root", password=PASSWORD)
    view = rendering.open_image(ctx, args.image_id)
    req = rp.apply_rendering_query(
        view.rdef, QueryParams({"c": CHANNELS, "m": "c"}), size_z=view.record.size_z
    )
    rdef = req.rdef
    channels = render.needed_channels(rdef)
    n = view.levels[0].size_x // 512
    rng = random.Random(3)
    tiles = [(rng.randrange(n), rng.randrange(n)) for _ in range(args.tiles)]
    stages: dict[str, list[float]] = {}
    tables: dict = {}

    def add(name: str, seconds: float) -> None:
        stages.setdefault(name, []).append(seconds * 1000)

    # the SQL of open_image, captured once and replayed through the raw driver
    captured: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    event.listen(instance.db.engine, "before_cursor_execute", record)
    accounts.join_session(instance, ctx.session_uuid)
    rendering.open_image(ctx, args.image_id)
    event.remove(instance.db.engine, "before_cursor_execute", record)
    statements = [(s, p) for s, p in captured if not s.lstrip().upper().startswith("BEGIN")]
    raw = instance.db.engine.raw_connection()
    driver = raw.driver_connection
    direct = direct_reader(view, channels)

    checked = False
    for index, (col, row) in enumerate(tiles):
        t0 = time.perf_counter()
        accounts.join_session(instance, ctx.session_uuid)
        t1 = time.perf_counter()
        view = rendering.open_image(ctx, args.image_id)
        t2 = time.perf_counter()
        cur = driver.cursor()
        cur.execute("BEGIN")
        for statement, parameters in statements:
            cur.execute(statement, parameters)
            cur.fetchall()
        cur.execute("COMMIT")
        cur.close()
        t3 = time.perf_counter()
        planes = rendering.read_planes(
            view, channels, z=0, t=0, level=0, region=(col * 512, row * 512, 512, 512)
        )
        t4 = time.perf_counter()
        rgb = render.render(planes, rdef, pixel_type=view.record.pixel_type)
        t5 = time.perf_counter()
        fast = primary_render(planes, rdef, tables)
        t6 = time.perf_counter()
        body = encode.jpeg(rgb, 0.85)
        t7 = time.perf_counter()
        simplejpeg.encode_jpeg(rgb, quality=85, colorspace="RGB", colorsubsampling="420")
        t8 = time.perf_counter()
        if direct is not None:
            t9 = time.perf_counter()
            mine = direct(col, row)
            add("read 3 channels, direct pread (prototype)", time.perf_counter() - t9)
            if not checked and any(not np.array_equal(mine[c], planes[c]) for c in channels):
                raise SystemExit("the direct TIFF reader does not match read_planes()")
        if not checked:
            if fast is None or not np.array_equal(fast, rgb):
                raise SystemExit("the primary-colour prototype does not match render()")
            checked = True
        if index < 5:
            continue
        add("join_session (1 query)", t1 - t0)
        add("open_image (3 queries + settings)", t2 - t1)
        add("their SQL alone, raw driver (4 statements)", t3 - t2)
        add("read 3 channels", t4 - t3)
        add("render (pyomero)", t5 - t4)
        add("render, primary colours (prototype)", t6 - t5)
        add("jpeg 4:4:4 q85 (pyomero)", t7 - t6)
        add("jpeg 4:2:0 q85", t8 - t7)
        add("jpeg bytes", len(body) / 1000)
    raw.close()
    summary = {name: round(statistics.median(v), 3) for name, v in stages.items()}
    summary["sum of pyomero's stages (join, open, read, render, jpeg 4:4:4)"] = round(
        sum(
            summary[k]
            for k in (
                "join_session (1 query)",
                "open_image (3 queries + settings)",
                "read 3 channels",
                "render (pyomero)",
                "jpeg 4:4:4 q85 (pyomero)",
            )
        ),
        3,
    )
    for name, value in summary.items():
        print(f"{name:>66}: {value:8.3f}")
    print(json.dumps({"image_id": args.image_id, "tiles": len(tiles), "median_ms": summary}))


if __name__ == "__main__":
    main()
