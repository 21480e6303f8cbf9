"""Synthetic fluorescence images for the demo: nuclei, cytoplasm and spots, written as OME-TIFF.

Deterministic for a seed, cheap to make (a few blurred discs per plane) and shaped like what
a lab images: a DAPI-like nuclear channel, a cytoplasmic channel and a punctate channel,
in focus at the middle of the Z-stack and fading above and below it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import tifffile


def _disc(radius: float, softness: float) -> np.ndarray:
    return _cached_disc(round(radius * 2) / 2, round(softness * 2) / 2)


@functools.lru_cache(maxsize=512)
def _cached_disc(radius: float, softness: float) -> np.ndarray:
    half = int(radius + 3 * softness) + 1
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    distance = np.sqrt(xx * xx + yy * yy)
    return np.clip((radius - distance) / max(softness, 0.5) + 0.5, 0.0, 1.0)


def _stamp(plane: np.ndarray, kernel: np.ndarray, x: int, y: int, weight: float) -> None:
    half = kernel.shape[0] // 2
    y0, x0 = max(0, y - half), max(0, x - half)
    y1, x1 = min(plane.shape[0], y + half + 1), min(plane.shape[1], x + half + 1)
    if y0 >= y1 or x0 >= x1:
        return
    plane[y0:y1, x0:x1] += (
        weight * kernel[y0 - (y - half) : y1 - (y - half), x0 - (x - half) : x1 - (x - half)]
    )


def cells(
    *,
    size_x: int,
    size_y: int,
    size_z: int = 1,
    size_c: int = 3,
    cells: int = 30,
    seed: int = 0,
    dtype: str = "uint16",
) -> np.ndarray:
    """A (C, Z, Y, X) array of synthetic cells; channel 0 nuclei, 1 cytoplasm, 2 spots."""
    rng = np.random.default_rng(seed)
    top = 4095.0 if dtype == "uint16" else 255.0
    data = np.zeros((size_c, size_z, size_y, size_x), dtype=np.float32)
    centres = rng.uniform(0, 1, size=(cells, 2)) * (size_x, size_y)
    radii = rng.uniform(0.02, 0.04, size=cells) * min(size_x, size_y, 640)
    focus = (size_z - 1) / 2
    for z in range(size_z):
        sharp = 1.0 + 2.0 * abs(z - focus)
        fade = 1.0 / (1.0 + 0.35 * abs(z - focus))
        for c in range(size_c):
            plane = data[c, z]
            for (x, y), r in zip(centres, radii, strict=True):
                if c % 3 == 0:
                    _stamp(plane, _disc(r, sharp), int(x), int(y), fade)
                elif c % 3 == 1:
                    _stamp(plane, _disc(r * 2.2, sharp * 3), int(x), int(y), 0.45 * fade)
                else:
                    for dx, dy in rng.normal(0, r, size=(4, 2)):
                        _stamp(plane, _disc(2.5, sharp * 0.7), int(x + dx), int(y + dy), fade)
    data *= 0.8
    data += rng.standard_normal(size=data.shape, dtype=np.float32) * 0.015 + 0.06
    np.clip(data, 0, 1, out=data)
    data *= top
    return data.astype(dtype)


def write_ome_tiff(
    path: Path,
    data: np.ndarray,
    *,
    channel_names: Sequence[str],
    emission: Sequence[float] | None = None,
    physical_size: tuple[float, float, float] | None = None,
    acquisition_date: datetime | None = None,
    tile: int | None = None,
) -> Path:
    """Write a (C, Z, Y, X) array as a single-image OME-TIFF with channel metadata."""
    metadata: dict[str, object] = {
        "axes": "CZYX",
        "Channel": {"Name": list(channel_names)},
    }
    if emission is not None:
        metadata["Channel"] = {
            "Name": list(channel_names),
            "EmissionWavelength": list(emission),
            "EmissionWavelengthUnit": ["nm"] * len(emission),
        }
    if physical_size is not None:
        metadata.update(
            PhysicalSizeX=physical_size[0],
            PhysicalSizeY=physical_size[1],
            PhysicalSizeZ=physical_size[2],
        )
    if acquisition_date is not None:
        metadata["AcquisitionDate"] = acquisition_date.isoformat()
    options: dict[str, object] = {}
    if tile:
        options["tile"] = (tile, tile)
    tifffile.imwrite(path, data, ome=True, metadata=metadata, **options)  # type: ignore[arg-type]
    return path
