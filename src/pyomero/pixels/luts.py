"""The lookup tables (LUTs) pyomero ships, generated from control points and formulas.

OMERO lists the ``text/x-lut`` scripts on the server (ImageJ's ``.lut`` files) as LUTs; those
files are not ours to copy, so each table here is computed: a few control points interpolated
linearly, or a closed formula (hue sweeps, bit fields, cosines). The names are the file names
OMERO uses (``fire.lut``, ``cool.lut``...), so a ``c=1|0:255$fire.lut`` written for OMERO
selects the nearest equivalent here.

Every LUT is a read-only ``(256, 3)`` uint8 array: row ``q`` is the RGB colour of quantized
value ``q``. ``lut(name)`` returns ``None`` for an unknown name, so that rendering can fall
back to the channel colour as OMERO does when a LUT file is missing.

Two PNG strips feed the viewers' LUT pickers (omero-web ``webgateway/views.py``):

* ``luts_png()`` is ``/webgateway/luts_png/``: RGBA, 256 px wide, 10 px high per LUT in
  ``LUT_NAMES`` order (sorted by name), then a final 10 px row that is the channel-slider
  gradient: black, alpha falling linearly from 255 to 0 over the first 180 px, 0 after.
  A LUT's row is its ``png_index_new``.
* ``legacy_luts_png()`` reproduces the layout of OMERO's static ``luts_10.png``
  (``LEGACY_PNG_LUTS`` order, the ``LUTS_IN_PNG`` list of omero-web, gradient last). A LUT's
  row there is its ``png_index`` (-1 when that file has no row in the static image).

``luts_listing()`` gives, per LUT, the fields ``/webgateway/luts/`` derives from them.
"""

from __future__ import annotations

import colorsys
import functools
import io
import math
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

Points = Sequence[tuple[int, tuple[int, int, int]]]

ROW_HEIGHT = 10
GRADIENT = "gradient.png"

#: The static ``luts_10.png`` rows of omero-web (``webgateway/util.py`` ``LUTS_IN_PNG``).
LEGACY_PNG_LUTS: tuple[str, ...] = (
    "/luts/ncsa_paledit/16_colors.lut",
    "/luts/3-3-2_rgb.lut",
    "/luts/ncsa_paledit/5_ramps.lut",
    "/luts/ncsa_paledit/6_shades.lut",
    "/luts/ncsa_paledit/blue_orange_icb.lut",
    "/luts/ncsa_paledit/brgbcmyw.lut",
    "/luts/ncsa_paledit/cool.lut",
    "/luts/wcif/cyan_hot.lut",
    "/luts/ncsa_paledit/edges.lut",
    "/luts/fire.lut",
    "/luts/ncsa_paledit/gem.lut",
    "/luts/glasbey.lut",
    "/luts/glasbey_inverted.lut",
    "/luts/glow.lut",
    "/luts/grays.lut",
    "/luts/wcif/green_fire_blue.lut",
    "/luts/wcif/hilo.lut",
    "/luts/wcif/ica.lut",
    "/luts/wcif/ica2.lut",
    "/luts/wcif/ica3.lut",
    "/luts/ice.lut",
    "/luts/wcif/magenta_hot.lut",
    "/luts/wcif/orange_hot.lut",
    "/luts/ncsa_paledit/phase.lut",
    "/luts/physics.lut",
    "/luts/janelia/pup_br.lut",
    "/luts/janelia/pup_nr.lut",
    "/luts/wcif/rainbow_rgb.lut",
    "/luts/red-green.lut",
    "/luts/wcif/red_hot.lut",
    "/luts/ncsa_paledit/royal.lut",
    "/luts/ncsa_paledit/sepia.lut",
    "/luts/ncsa_paledit/smart.lut",
    "/luts/spectrum.lut",
    "/luts/ncsa_paledit/thal.lut",
    "/luts/ncsa_paledit/thallium.lut",
    "/luts/thermal.lut",
    "/luts/ncsa_paledit/unionjack.lut",
    "/luts/wcif/yellow_hot.lut",
)

BLACK = (0, 0, 0)
WHITE = (255, 255, 255)


def _interpolate(points: Points) -> np.ndarray:
    """Piecewise-linear colours between ``(index, rgb)`` control points, rounded."""
    xs = [x for x, _ in points]
    index = np.arange(256)
    channels = [np.interp(index, xs, [rgb[c] for _, rgb in points]) for c in range(3)]
    return np.rint(np.stack(channels, axis=1)).astype(np.uint8)


def _ramp(color: tuple[int, int, int]) -> Callable[[], np.ndarray]:
    return lambda: _interpolate([(0, BLACK), (255, color)])


def _hot(color: tuple[int, int, int]) -> Callable[[], np.ndarray]:
    """Black to ``color`` over the first half, then on to white (the "*_hot" family)."""
    return lambda: _interpolate([(0, BLACK), (128, color), (255, WHITE)])


def _hilo() -> np.ndarray:
    """A grey ramp whose ends are marked: 0 blue (under-exposed), 255 red (saturated)."""
    table = _interpolate([(0, BLACK), (255, WHITE)])
    table[0] = (0, 0, 255)
    table[255] = (255, 0, 0)
    return table


def _three_three_two() -> np.ndarray:
    """The index read as an RGB 3-3-2 bit field (3 bits red, 3 green, 2 blue)."""
    index = np.arange(256)
    red = (index >> 5) & 7
    green = (index >> 2) & 7
    blue = index & 3
    table = np.stack([red * 255 / 7, green * 255 / 7, blue * 255 / 3], axis=1)
    return np.rint(table).astype(np.uint8)


def _spectrum() -> np.ndarray:
    """A full hue circle at full saturation and value, red at both ends."""
    rows = [colorsys.hsv_to_rgb(i / 256, 1.0, 1.0) for i in range(256)]
    return np.rint(np.array(rows) * 255).astype(np.uint8)


def _sixteen_colors() -> np.ndarray:
    """Sixteen well separated colours, 16 entries each (a glasbey-like label map).

    Hues step by the golden ratio so that neighbours differ; value alternates so that colours
    of similar hue still differ in brightness. Entry block 0 is black (background).
    """
    colors = [BLACK]
    for i in range(1, 16):
        hue = (i * 0.618033988749895) % 1.0
        value = 1.0 if i % 2 else 0.7
        r, g, b = colorsys.hsv_to_rgb(hue, 0.9, value)
        colors.append((round(r * 255), round(g * 255), round(b * 255)))
    return np.repeat(np.array(colors, dtype=np.uint8), 16, axis=0)


def _five_ramps() -> np.ndarray:
    """Five consecutive black-to-colour ramps: red, green, blue, yellow, white."""
    colors = np.array([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), WHITE], float)
    index = np.arange(256)
    segment = np.minimum(index * 5 // 256, 4)
    start = np.ceil(segment * 256 / 5)
    stop = np.ceil((segment + 1) * 256 / 5) - 1
    fraction = (index - start) / np.maximum(stop - start, 1)
    return np.rint(colors[segment] * fraction[:, None]).astype(np.uint8)


def _phase() -> np.ndarray:
    """A cyclic map (equal colours at both ends) for angles: three cosines 120 degrees apart."""
    angle = np.arange(256) * 2 * math.pi / 256
    shifts = (0.0, 2 * math.pi / 3, 4 * math.pi / 3)
    channels = [127.5 * (1 + np.cos(angle - shift)) for shift in shifts]
    return np.rint(np.stack(channels, axis=1)).astype(np.uint8)


def _sepia() -> np.ndarray:
    return _interpolate([(0, BLACK), (128, (150, 100, 55)), (255, (255, 240, 210))])


#: LUT file name -> (the directory OMERO keeps it in, how to build it).
_BUILDERS: dict[str, tuple[str, Callable[[], np.ndarray]]] = {
    "grays.lut": ("/luts/", _ramp(WHITE)),
    "red.lut": ("/luts/", _ramp((255, 0, 0))),
    "green.lut": ("/luts/", _ramp((0, 255, 0))),
    "blue.lut": ("/luts/", _ramp((0, 0, 255))),
    "cyan.lut": ("/luts/", _ramp((0, 255, 255))),
    "magenta.lut": ("/luts/", _ramp((255, 0, 255))),
    "yellow.lut": ("/luts/", _ramp((255, 255, 0))),
    "fire.lut": (
        "/luts/",
        lambda: _interpolate(
            [
                (0, BLACK),
                (40, (50, 0, 130)),
                (90, (170, 0, 130)),
                (130, (235, 50, 20)),
                (180, (255, 150, 0)),
                (220, (255, 225, 40)),
                (255, WHITE),
            ]
        ),
    ),
    "ice.lut": (
        "/luts/",
        lambda: _interpolate(
            [(0, BLACK), (80, (0, 40, 160)), (170, (40, 170, 230)), (255, (230, 255, 255))]
        ),
    ),
    "cool.lut": (
        "/luts/ncsa_paledit/",
        lambda: _interpolate([(0, (0, 255, 255)), (255, (255, 0, 255))]),
    ),
    "hilo.lut": ("/luts/wcif/", _hilo),
    "3-3-2_rgb.lut": ("/luts/", _three_three_two),
    "spectrum.lut": ("/luts/", _spectrum),
    "16_colors.lut": ("/luts/ncsa_paledit/", _sixteen_colors),
    "5_ramps.lut": ("/luts/ncsa_paledit/", _five_ramps),
    "orange_hot.lut": ("/luts/wcif/", _hot((255, 128, 0))),
    "red_hot.lut": ("/luts/wcif/", _hot((255, 0, 0))),
    "cyan_hot.lut": ("/luts/wcif/", _hot((0, 255, 255))),
    "magenta_hot.lut": ("/luts/wcif/", _hot((255, 0, 255))),
    "yellow_hot.lut": ("/luts/wcif/", _hot((255, 255, 0))),
    "royal.lut": (
        "/luts/ncsa_paledit/",
        lambda: _interpolate(
            [
                (0, BLACK),
                (64, (40, 0, 140)),
                (128, (140, 20, 200)),
                (192, (240, 120, 200)),
                (255, (255, 255, 200)),
            ]
        ),
    ),
    "phase.lut": ("/luts/ncsa_paledit/", _phase),
    "thal.lut": (
        "/luts/ncsa_paledit/",
        lambda: _interpolate(
            [
                (0, BLACK),
                (50, (0, 0, 160)),
                (100, (120, 0, 160)),
                (150, (220, 60, 0)),
                (200, (255, 200, 0)),
                (255, WHITE),
            ]
        ),
    ),
    "sepia.lut": ("/luts/ncsa_paledit/", _sepia),
    "red-green.lut": (
        "/luts/",
        lambda: _interpolate([(0, (0, 255, 0)), (128, BLACK), (255, (255, 0, 0))]),
    ),
}

#: Every shipped LUT name, sorted as ``/webgateway/luts_png/`` stacks them.
LUT_NAMES: tuple[str, ...] = tuple(sorted(_BUILDERS))


def _basename(name: str) -> str:
    """``/luts/wcif/Red_Hot.lut`` and ``red_hot.lut`` name the same table."""
    return name.rsplit("/", 1)[-1].strip().lower()


@functools.cache
def _built(name: str) -> np.ndarray:
    table = _BUILDERS[name][1]()
    assert table.shape == (256, 3) and table.dtype == np.uint8, name
    table.setflags(write=False)
    return table


def lut(name: str) -> np.ndarray | None:
    """The ``(256, 3)`` uint8 table of a LUT name (any directory prefix, any case), or None."""
    key = _basename(name)
    return _built(key) if key in _BUILDERS else None


def path_of(name: str) -> str:
    """The directory OMERO keeps a LUT file in (``/luts/`` or one of its sub-directories)."""
    return _BUILDERS[_basename(name)][0]


def _gradient_rows() -> np.ndarray:
    rows = np.zeros((ROW_HEIGHT, 256, 4), dtype=np.uint8)
    rows[:, :180, 3] = np.linspace(255, 0, 180).astype(np.uint8)
    return rows


def _strip(tables: Sequence[np.ndarray | None]) -> bytes:
    """An RGBA PNG: one 10 px row per table (grey ramp for None), the gradient row last."""
    image = np.full((ROW_HEIGHT * (len(tables) + 1), 256, 4), 255, dtype=np.uint8)
    grey = _built("grays.lut")
    for row, table in enumerate(tables):
        image[row * ROW_HEIGHT : (row + 1) * ROW_HEIGHT, :, :3] = grey if table is None else table
    image[-ROW_HEIGHT:] = _gradient_rows()
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@functools.cache
def luts_png() -> bytes:
    """``/webgateway/luts_png/``: every LUT in ``LUT_NAMES`` order, then the gradient row."""
    return _strip([_built(name) for name in LUT_NAMES])


@functools.cache
def legacy_luts_png() -> bytes:
    """Rows in the order of OMERO's static ``luts_10.png``; rows we do not ship are grey."""
    return _strip([lut(path) for path in LEGACY_PNG_LUTS])


def luts_listing() -> list[dict[str, object]]:
    """Per LUT: ``name``, ``path``, ``png_index`` (legacy strip row), ``png_index_new``."""
    legacy = {path: index for index, path in enumerate(LEGACY_PNG_LUTS)}
    listing: list[dict[str, object]] = []
    for index, name in enumerate(LUT_NAMES):
        path = path_of(name)
        listing.append(
            {
                "name": name,
                "path": path,
                "png_index": legacy.get(path + name, -1),
                "png_index_new": index,
            }
        )
    return listing
