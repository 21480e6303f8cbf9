"""Rendering settings as OMERO's RenderingDef and ChannelBinding hold them, and their defaults.

These are shared by ``pixels/`` (which renders with them), ``wire/`` (which parses the
``c``/``m``/``maps`` syntax into them and writes them back) and ``store/`` (which saves a
user's settings). The defaults follow OMERO's "reset to imported" rules
(``RenderingSettingsImpl.resetDefaults``, ``ColorsFactory``; spec webgateway-idr.md 6.10, 6.11).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

PixelType = Literal["int8", "uint8", "int16", "uint16", "int32", "uint32", "float", "double", "bit"]

#: OMERO pixel type -> numpy dtype string (``bit`` is held as bool, one byte per pixel).
NUMPY_DTYPE: dict[str, str] = {
    "int8": "int8",
    "uint8": "uint8",
    "int16": "int16",
    "uint16": "uint16",
    "int32": "int32",
    "uint32": "uint32",
    "float": "float32",
    "double": "float64",
    "bit": "bool",
}
#: numpy dtype name -> OMERO pixel type.
PIXEL_TYPE_OF: dict[str, str] = {v: k for k, v in NUMPY_DTYPE.items()}
PIXEL_TYPES: tuple[str, ...] = tuple(NUMPY_DTYPE)

FAMILIES = ("linear", "polynomial", "exponential", "logarithmic")
PROJECTIONS = ("normal", "intmax", "intmean", "intsum")
#: Rendering models: OMERO's names are "greyscale" and "rgb"; imgData calls "rgb" "color".
MODELS = ("greyscale", "rgb")

#: OMERO renders at most this many channels in colour by default (Renderer.MAX_CHANNELS).
MAX_CHANNELS = 8
#: Only the first three channels are active in freshly imported settings.
DEFAULT_ACTIVE = 3


@dataclass(frozen=True, slots=True)
class Color:
    red: int
    green: int
    blue: int
    alpha: int = 255

    @property
    def hex(self) -> str:
        """``RRGGBB`` upper case, as ``ColorHolder.getHtml`` writes it."""
        return f"{self.red:02X}{self.green:02X}{self.blue:02X}"

    @property
    def rgba_int(self) -> int:
        """OMERO's packed signed 32-bit RGBA integer."""
        value = (self.red << 24) | (self.green << 16) | (self.blue << 8) | self.alpha
        return value - (1 << 32) if value >= 1 << 31 else value


RED = Color(255, 0, 0)
GREEN = Color(0, 255, 0)
BLUE = Color(0, 0, 255)
WHITE = Color(255, 255, 255)


@dataclass(frozen=True, slots=True)
class ChannelBinding:
    """How one channel is rendered: window, colour or LUT, quantization, inversion."""

    active: bool
    start: float
    end: float
    color: Color = RED
    family: str = "linear"
    coefficient: float = 1.0
    inverted: bool = False
    lut: str | None = None  # a LUT name ending in ".lut"; replaces the colour when set
    noise_reduction: bool = False

    def with_(self, **changes: object) -> ChannelBinding:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class RenderingDef:
    """One user's rendering settings of one image (OMERO's RenderingDef)."""

    model: str  # "greyscale" | "rgb"
    default_z: int
    default_t: int
    channels: tuple[ChannelBinding, ...]
    id: int | None = None
    owner_id: int | None = None
    invert_axis: bool = False

    def with_(self, **changes: object) -> RenderingDef:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Projection:
    """A Z projection at render time; ``start``/``end`` are 0-based inclusive, None = whole stack."""

    kind: str = "normal"  # one of PROJECTIONS
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """What the defaults need to know of a channel: its import metadata and statistics."""

    color: Color | None = None  # explicit colour from import
    emission_wavelength: float | None = None  # nm
    excitation_wavelength: float | None = None  # nm
    lut: str | None = None
    stats_min: float | None = None
    stats_max: float | None = None


@dataclass(frozen=True, slots=True)
class PixelsInfo:
    size_z: int
    size_c: int
    size_t: int
    pixel_type: str
    significant_bits: int | None = None
    channels: tuple[ChannelInfo, ...] = field(default_factory=tuple)


def pixel_type_range(pixel_type: str, significant_bits: int | None = None) -> tuple[float, float]:
    """The value range of a pixel type (``StatsFactory.initPixelsRange``)."""
    if pixel_type == "bit":
        return (0.0, 1.0)
    if pixel_type == "float":
        return (-3.4028234663852886e38, 3.4028234663852886e38)
    if pixel_type == "double":
        return (-1.7976931348623157e308, 1.7976931348623157e308)
    bits = int(pixel_type.lstrip("uint")) if pixel_type.startswith(("int", "uint")) else 8
    if significant_bits and 0 < significant_bits < bits:
        bits = significant_bits
    if pixel_type.startswith("u"):
        return (0.0, float(2**bits - 1))
    return (float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1))


def wavelength_color(nm: float) -> Color:
    """``ColorsFactory``: below 500 nm blue, below 560 nm green, else red."""
    if nm < 500:
        return BLUE
    if nm < 560:
        return GREEN
    return RED


_BY_INDEX = (RED, GREEN, BLUE)


def default_colors(channels: tuple[ChannelInfo, ...]) -> list[Color]:
    """Default colours of an image's channels (spec webgateway-idr.md 6.11)."""
    colors: list[Color] = []
    derived_without_wave: list[int] = []
    any_with_wave = False
    for index, info in enumerate(channels):
        if info.color is not None:
            colors.append(info.color)
            continue
        wave = info.emission_wavelength or info.excitation_wavelength
        if wave:
            any_with_wave = True
            colors.append(wavelength_color(wave))
        else:
            derived_without_wave.append(index)
            colors.append(_BY_INDEX[index % 3])
    if any_with_wave and derived_without_wave:
        for index in derived_without_wave:
            colors[index] = WHITE
    return colors


def default_window(info: ChannelInfo, pixels: PixelsInfo) -> tuple[float, float]:
    """Statistics min/max, else the pixel type's range; a flat channel gets the full range."""
    type_min, type_max = pixel_type_range(pixels.pixel_type, pixels.significant_bits)
    if info.stats_min is None or info.stats_max is None:
        return type_min, type_max
    if abs(info.stats_max - info.stats_min) < 1e-5:
        return type_min, type_max
    return float(info.stats_min), float(info.stats_max)


def default_rendering(pixels: PixelsInfo) -> RenderingDef:
    """OMERO's "reset to imported" settings for an image (spec webgateway-idr.md 6.10)."""
    infos = pixels.channels or tuple(ChannelInfo() for _ in range(pixels.size_c))
    colors = default_colors(infos)
    bindings = []
    for index, info in enumerate(infos):
        start, end = default_window(info, pixels)
        bindings.append(
            ChannelBinding(
                active=index < DEFAULT_ACTIVE,
                start=start,
                end=end,
                color=colors[index],
                lut=info.lut,
            )
        )
    model = "rgb" if 1 < pixels.size_c < MAX_CHANNELS else "greyscale"
    return RenderingDef(
        model=model, default_z=pixels.size_z // 2, default_t=0, channels=tuple(bindings)
    )


#: Border between split-channel panels (omero-py ``splitChannelDims``).
SPLIT_BORDER = 2


def split_channel_layout(size_x: int, size_y: int, panels: int) -> dict[str, int]:
    """Grid of a split-channel image of ``panels`` panels (spec webgateway-idr.md 6.9)."""
    import math

    root = math.sqrt(panels)
    rows = round(root)
    columns = rows + 1 if root > rows else rows
    return {
        "width": size_x * columns + SPLIT_BORDER * (columns + 1),
        "height": size_y * rows + SPLIT_BORDER * (rows + 1),
        "border": SPLIT_BORDER,
        "gridx": columns,
        "gridy": rows,
    }
