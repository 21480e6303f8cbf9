"""Synthetic OME-TIFFs for the pixel benchmarks (``pixels.py``), written tile by tile.

Two contents:

- ``gradient``: ``pyomero.testing.images.write_ome_tiff``'s formula ``x + 2*y + 100*c``
  (a smooth ramp over the whole 16-bit range). It compresses unrealistically well.
- ``noisy``: the same ramp plus Gaussian noise (sigma ``NOISE_SIGMA`` grey values, clipped to
  0..65535), like a camera image whose low bits are noise. Compressors (lz4 in pyomero's
  OME-Zarr) and the JPEG encoder then have real work to do. The noise comes from a pool of
  precomputed 512 x 512 tiles picked per tile; every chunk and every JPEG is compressed on its
  own, so reusing noise tiles gives no compressor an advantage.

Both are uncompressed, tiled (512 x 512), pyramidal (SubIFDs, each level sampled every 2**L
pixels as ``write_ome_tiff`` does), 3 channels of uint16, one OME-XML block.

    python benchmarks/pixel_data.py /tmp/bench-src/big-noisy.ome.tif --pattern noisy
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pyomero.testing.images import expected_plane, level_size, write_ome_tiff

NOISE_SIGMA = 1000.0
_POOL = 24


def _noise_pool(tile: tuple[int, int], seed: int = 7) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.rint(rng.normal(0.0, NOISE_SIGMA, size=tile)).astype(np.int32) for _ in range(_POOL)]


def _noisy_tiles(
    shape: tuple[int, ...], tile: tuple[int, int], level: int, pool: list[np.ndarray]
) -> Iterator[np.ndarray]:
    size_t, size_c, size_z, height, width = shape
    th, tw = tile
    n = 0
    for _t in range(size_t):
        for c in range(size_c):
            for _z in range(size_z):
                for ty in range(0, height, th):
                    for tx in range(0, width, tw):
                        part = expected_plane(
                            size_x=width << level, size_y=height << level, dtype="uint16",
                            c=c, level=level, x=tx, y=ty,
                            width=min(tw, width - tx), height=min(th, height - ty),
                        ).astype(np.int32)  # fmt: skip
                        n += 1
                        noise = pool[(n * 7 + tx // tw * 3 + ty // th * 5 + c) % len(pool)]
                        part += noise[: part.shape[0], : part.shape[1]]
                        full = np.zeros((th, tw), np.uint16)
                        full[: part.shape[0], : part.shape[1]] = np.clip(part, 0, 65535)
                        yield full


def write_noisy_ome_tiff(
    path: Path,
    *,
    size_x: int,
    size_y: int,
    size_c: int = 3,
    pyramid_levels: int = 5,
    tile: tuple[int, int] = (512, 512),
    name: str | None = None,
) -> Path:
    """A 3-channel uint16 pyramidal OME-TIFF of the ramp plus noise (see the module doc)."""
    import tifffile

    path = Path(path)
    pool = _noise_pool(tile)
    nbytes = size_x * size_y * size_c * 2
    meta: dict[str, Any] = {
        "axes": "TCZYX",
        "Name": name or path.name,
        "Channel": {"Name": [f"ch{c}" for c in range(size_c)]},
    }
    with tifffile.TiffWriter(path, bigtiff=nbytes > 1 << 30, ome=True) as tw:
        for level in range(pyramid_levels + 1):
            shape = (1, size_c, 1, level_size(size_y, level), level_size(size_x, level))
            options: dict[str, Any] = {"compression": None, "photometric": "minisblack"}
            if level == 0:
                options |= {"metadata": meta, "subifds": pyramid_levels or None}
            else:
                options |= {"subfiletype": 1, "metadata": None}
            tw.write(
                _noisy_tiles(shape, tile, level, pool),
                shape=shape, dtype=np.uint16, tile=tile, **options,
            )  # fmt: skip
    return path


def write_image(
    path: Path,
    *,
    pattern: str,
    size: int,
    pyramid_levels: int,
    size_c: int = 3,
    tile: tuple[int, int] = (512, 512),
) -> Path:
    """One square image of ``pattern`` (``gradient`` or ``noisy``), unless it already exists."""
    path = Path(path)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    if pattern == "gradient":
        write_ome_tiff(
            partial, size_x=size, size_y=size, size_c=size_c, dtype="uint16",
            pyramid_levels=pyramid_levels, tile=tile, name=path.name,
            channel_names=[f"ch{c}" for c in range(size_c)],
        )  # fmt: skip
    elif pattern == "noisy":
        write_noisy_ome_tiff(
            partial, size_x=size, size_y=size, size_c=size_c,
            pyramid_levels=pyramid_levels, tile=tile, name=path.name,
        )  # fmt: skip
    else:
        raise ValueError(f"unknown pattern {pattern!r}")
    partial.rename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--pattern", choices=("gradient", "noisy"), default="noisy")
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--levels", type=int, default=5, help="pyramid levels below full size")
    args = parser.parse_args()
    started = time.perf_counter()
    write_image(args.path, pattern=args.pattern, size=args.size, pyramid_levels=args.levels)
    size = args.path.stat().st_size
    print(f"{args.path}: {size / 1e6:.0f} MB in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
