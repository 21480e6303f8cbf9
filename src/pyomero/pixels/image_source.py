"""PNG and JPEG files through Pillow, as one-plane images with 1 to 4 channels.

These formats cannot be decoded by region, so the plane is decoded once, at open, which also
proves the file is whole (a truncated PNG or JPEG fails here, not half-way through a copy).
Pillow's decompression-bomb limit bounds the memory this takes. Pillow turns 16-bit colour
PNG into 8 bits, so those (and only those) are decoded by imagecodecs instead.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from pyomero.errors import BadFile
from pyomero.pixels.array_source import pixel_type_of
from pyomero.pixels.source import (
    ChannelMeta,
    ImageMeta,
    Level,
    PixelSource,
    PlateMeta,
    SeriesRef,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

#: Pillow modes that need converting before they become channels.
_CONVERT = {"P": "RGBA", "PA": "RGBA", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB"}
_NUMPY_MODE = {"I;16": "uint16", "I;16B": "uint16", "I;16L": "uint16", "I": "int32", "F": "float32"}


def picture_format(head: bytes) -> str | None:
    if head.startswith(PNG_MAGIC):
        return "PNG"
    if head.startswith(JPEG_MAGIC):
        return "JPEG"
    return None


def decode(path: Path, fmt: str) -> np.ndarray:
    """The file's pixels as (Y, X, C); BadFile for anything Pillow cannot decode whole."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if fmt == "PNG" and im.mode in ("RGB", "RGBA") and _png_depth(path) == 16:
                    return _decode_png16(path)
                im.load()
                data = _to_array(im)
    except BadFile:
        raise
    except Exception as exc:
        raise BadFile(f"{path.name} is not a readable {fmt} file ({exc})") from exc
    return data if data.ndim == 3 else data[:, :, np.newaxis]


def _to_array(im: object) -> np.ndarray:
    from PIL import Image

    assert isinstance(im, Image.Image)
    if im.mode in _CONVERT:
        im = im.convert(_CONVERT[im.mode])
    if im.mode == "1":
        return np.asarray(im, dtype=bool)
    if im.mode in _NUMPY_MODE:
        return np.asarray(im).astype(_NUMPY_MODE[im.mode], copy=False)
    return np.asarray(im)


def _png_depth(path: Path) -> int:
    with open(path, "rb") as f:
        header = f.read(29)
    return header[24] if len(header) > 24 else 8


def _decode_png16(path: Path) -> np.ndarray:
    import imagecodecs

    return np.asarray(imagecodecs.png_decode(path.read_bytes()))


class PictureSource:
    """A decoded (Y, X, C) array served as a one-level PixelSource."""

    def __init__(self, data: np.ndarray, label: str) -> None:
        self._data = data
        self._pixel_type, dtype = pixel_type_of(data.dtype, label)
        if data.dtype != dtype:
            self._data = data.astype(dtype)

    @property
    def pixel_type(self) -> str:
        return self._pixel_type

    @property
    def size_x(self) -> int:
        return int(self._data.shape[1])

    @property
    def size_y(self) -> int:
        return int(self._data.shape[0])

    @property
    def size_z(self) -> int:
        return 1

    @property
    def size_c(self) -> int:
        return int(self._data.shape[2])

    @property
    def size_t(self) -> int:
        return 1

    @property
    def levels(self) -> tuple[Level, ...]:
        return (Level(size_x=self.size_x, size_y=self.size_y),)

    @property
    def tile_size(self) -> tuple[int, int]:
        return (min(512, self.size_x), min(512, self.size_y))

    def region(
        self, *, level: int, z: int, c: int, t: int, x: int, y: int, width: int, height: int
    ) -> np.ndarray:
        if level != 0 or z != 0 or t != 0:
            raise IndexError("a picture has one level, one Z and one T")
        return np.ascontiguousarray(self._data[y : y + height, x : x + width, c])

    def close(self) -> None:
        """The decoded array goes with the object."""


class PictureFileset:
    """A PNG or JPEG file: one image named after the file."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.format = fmt
        self.files = [path]
        self.plate: PlateMeta | None = None
        self._data = decode(path, fmt)
        self._label = path.name
        size_c = int(self._data.shape[2])
        meta = ImageMeta(name=path.name, channels=tuple(ChannelMeta() for _ in range(size_c)))
        self.images = [SeriesRef(meta=meta, series=0)]

    def open_series(self, series: int) -> PixelSource:
        if series != 0:
            raise BadFile(f"{self._label}: no series {series}")
        return PictureSource(self._data, self._label)

    def close(self) -> None:
        """Nothing to release."""
