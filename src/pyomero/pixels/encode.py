"""Encoding rendered images into the bytes the web layer sends.

JPEG is the hot path (every render and thumbnail), so it goes through simplejpeg
(libjpeg-turbo, ~1 ms for 512x512); PNG and GIF through Pillow, TIFF through tifffile.
OMERO's quality is a float 0..1 (``q=``, default 0.85 chosen by the caller); libjpeg's is an
integer 1..100.
"""

from __future__ import annotations

import io

import numpy as np
import simplejpeg
import tifffile
from PIL import Image


def _image_array(pixels: np.ndarray) -> np.ndarray:
    """A C-contiguous uint8 (H, W), (H, W, 3) or (H, W, 4) array; bool masks become 0/255."""
    array = np.asarray(pixels)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    if array.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ValueError(f"expected (H, W), (H, W, 3) or (H, W, 4) pixels, got {array.shape}")
    return np.ascontiguousarray(array)


def jpeg_quality(quality: float) -> int:
    """OMERO's 0..1 compression quality as libjpeg's 1..100 (out-of-range values clamp)."""
    return int(min(100, max(1, round(float(quality) * 100))))


def jpeg(rgb: np.ndarray, quality: float) -> bytes:
    """Baseline JPEG of an RGB (or greyscale 2-D) image; RGBA drops its alpha."""
    array = _image_array(rgb)
    if array.ndim == 2:
        grey = np.ascontiguousarray(array[:, :, None])
        return bytes(simplejpeg.encode_jpeg(grey, quality=jpeg_quality(quality), colorspace="GRAY"))
    if array.shape[2] == 4:
        array = np.ascontiguousarray(array[:, :, :3])
    return bytes(simplejpeg.encode_jpeg(array, quality=jpeg_quality(quality), colorspace="RGB"))


def _pillow(pixels: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_image_array(pixels)).save(buffer, format=fmt)
    return buffer.getvalue()


def png(pixels: np.ndarray) -> bytes:
    """PNG of an RGB, RGBA or 2-D (greyscale / mask) uint8 image."""
    return _pillow(pixels, "PNG")


def gif(pixels: np.ndarray) -> bytes:
    """GIF (Pillow quantizes colour images to a 256-colour palette)."""
    return _pillow(pixels, "GIF")


def tiff(pixels: np.ndarray) -> bytes:
    """Uncompressed TIFF of an RGB, RGBA or 2-D uint8 image."""
    array = _image_array(pixels)
    photometric = "minisblack" if array.ndim == 2 else "rgb"
    extrasamples = ("unassalpha",) if array.ndim == 3 and array.shape[2] == 4 else None
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, photometric=photometric, extrasamples=extrasamples)
    return buffer.getvalue()
