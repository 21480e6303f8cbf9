"""Baselines for the copy import of ``pixels.py``: what the steps of a copy cost on their own.

For one (big, tiled, uncompressed) OME-TIFF, each step timed alone, MB/s of source bytes:

- ``read``: reading the file (from the page cache after the first pass);
- ``copy + sha1``: what the import does to keep the original file (``_keep``: read, SHA-1,
  write a copy), then the copy removed;
- ``tifffile tiles``: decoding every level-0 tile of every channel with tifffile
  (``page.segments``), no zarr;
- ``tifffile via zarr rows``: reading the level-0 planes in 1024-row full-width blocks through
  tifffile's zarr view, as pyomero's ``ArraySource.region`` does during a copy import;
- ``blosc lz4 x2``: compressing every 512 x 512 level-0 chunk with blosc lz4 level 5 + shuffle
  (pyomero's chunk codec) on two threads, without writing.

    python benchmarks/import_floor.py /tmp/pxbench/src/big-noisy.ome.tif --dest /tmp/pxbench
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np


def timed(label: str, nbytes: int, fn, results: dict) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    seconds = time.perf_counter() - started
    results[label] = {"seconds": round(seconds, 2), "mb_per_s": round(nbytes / 1e6 / seconds, 1)}
    print(f"{label}: {seconds:.1f} s, {nbytes / 1e6 / seconds:.0f} MB/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--dest", type=Path, default=Path("/tmp"))
    args = parser.parse_args()
    import tifffile
    import zarr
    from numcodecs import blosc

    size = args.path.stat().st_size
    results: dict = {"file": str(args.path), "bytes": size}

    def read() -> None:
        with open(args.path, "rb") as f:
            while f.read(4 << 20):
                pass

    read()  # into the page cache
    timed("read", size, read, results)

    def copy_sha1() -> None:
        digest = hashlib.sha1(usedforsecurity=False)
        dest = args.dest / "import-floor.copy"
        with open(args.path, "rb") as src, open(dest, "wb") as out:
            while block := src.read(4 << 20):
                digest.update(block)
                out.write(block)
        dest.unlink()

    timed("copy + sha1", size, copy_sha1, results)

    with tifffile.TiffFile(args.path) as tif:
        series = tif.series[0]
        pages = [p for p in series.levels[0].pages]
        level0 = sum(p.size * p.dtype.itemsize for p in pages)
        results["level0_bytes"] = level0

        def tiles() -> None:
            fh = tif.filehandle
            for page in pages:
                for _ in page.segments(lock=None):
                    pass
            del fh

        timed("tifffile tiles (level 0)", level0, tiles, results)

        arr = zarr.open_array(series.aszarr(level=0), mode="r")

        def rows() -> None:
            for c in range(arr.shape[0]):
                for y in range(0, arr.shape[-2], 1024):
                    np.asarray(arr[c, y : y + 1024, :])

        timed("tifffile via zarr, 1024-row blocks (level 0)", level0, rows, results)

        chunks = []
        page = pages[0]
        for chunk in page.segments(lock=None):
            chunks.append(np.ascontiguousarray(chunk[0].reshape(512, 512)))
            if len(chunks) == 64:
                break
        per_page = len(page.dataoffsets)

        def compress() -> None:
            with ThreadPoolExecutor(2) as pool:
                work = [chunks[i % len(chunks)] for i in range(per_page * len(pages))]
                list(pool.map(lambda a: blosc.compress(a, b"lz4", 5, blosc.SHUFFLE), work))

        timed("blosc lz4 x2 threads (level 0 chunks)", level0, compress, results)
    results["nproc"] = os.cpu_count()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
