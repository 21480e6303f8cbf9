"""The webgateway rendering query (``c``, ``m``, ``p``, ``q``, ``maps``, ``ia``), tiles and regions.

OMERO.web parses rendering parameters leniently: a channel entry whose index does not parse is
dropped, a window that is not exactly two numbers or a colour that is not hex leaves the
setting unchanged, unknown models and projections are ignored, broken ``maps`` JSON is ignored.
Clients (OMERO.iviewer, figure, the IDR notebooks) rely on that, so :func:`apply_rendering_query`
reproduces it exactly (spec webgateway-idr.md section 5), including the ordering quirk of
``ImageWrapper.set_active_channels``: the k-th window/colour/inversion is applied to the k-th
smallest channel index mentioned. Where OMERO crashes with a 500 instead (a second ``$`` before
``|``, an unreadable ``q``), this module raises ``InvalidInput`` so that the client gets a 400.
The strict variants (``render_image_rdef``, ``saveImgRDef``) validate first with
:func:`validate_rdef_query`, whose messages are OMERO's.

Integers and floats are read as ASCII decimals (like :mod:`pyomero.wire.params`), so the few
extra spellings Python's ``int()``/``float()`` accept (``1_0``, ``nan``, full-width digits) count
as unparseable here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyomero.errors import InvalidInput
from pyomero.model.rendering import (
    FAMILIES,
    PROJECTIONS,
    ChannelBinding,
    Color,
    Projection,
    RenderingDef,
)

_INT = re.compile(r"\s*[+-]?[0-9]+\s*")
_FLOAT = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*")
_HEX = re.compile(r"[0-9A-Fa-f]*")
#: ``omero.pixeldata.max_tile_length`` default.
MAX_TILE_LENGTH = 1024
#: Download formats of ``render_image_download`` / ``download_as``.
DOWNLOAD_FORMATS = ("jpeg", "png", "tif")
#: OMERO's spelling of the two rendering models in ``m``.
MODEL_OF_CODE = {"g": "greyscale", "c": "rgb"}


def _int(text: str) -> int | None:
    return int(text) if _INT.fullmatch(text) else None


def _float(text: str) -> float | None:
    """A finite decimal, else None: OMERO would pass NaN or infinity to the renderer."""
    if not _FLOAT.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


# --- the ``c`` parameter ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelEntry:
    """One parsed ``c`` entry: the signed 1-based index, the window and the colour as written."""

    index: int
    window: tuple[float, float] | None = None
    color: str | None = None


def split_channel_info(text: str) -> list[ChannelEntry]:
    """Parse ``c`` as omero-web's ``_split_channel_info``: ``[-]INDEX[|START:END][$COLOR]``.

    Entries whose index is not an integer are dropped; a window is kept only when it is
    exactly two numbers. A second ``$`` before the ``|`` crashes OMERO (500); here it is a 400.
    """
    entries: list[ChannelEntry] = []
    for raw in text.split(","):
        head, bar, tail = raw.partition("|")
        head = head.strip()
        color: str | None = None
        if "$" in head:
            parts = head.split("$")
            if len(parts) != 2:
                raise InvalidInput(f"malformed channel entry in c: {raw!r}", param="c")
            head, color = parts
        index = _int(head)
        if index is None:
            continue
        window: tuple[float, float] | None = None
        if bar:
            tail = tail.strip()
            if "$" in tail:
                tail, color = tail.split("$", 1)
            bounds = tail.split(":")
            if len(bounds) == 2:
                start, end = _float(bounds[0]), _float(bounds[1])
                if start is not None and end is not None:
                    window = (start, end)
        entries.append(ChannelEntry(index, window, color))
    return entries


def split_html_color(text: str) -> Color | None:
    """``splitHTMLColor``: 3, 4, 6 or 8 hex digits (``abc`` -> AABBCC, alpha FF), else None."""
    if not _HEX.fullmatch(text):
        return None
    if len(text) in (3, 4):
        text = "".join(ch + ch for ch in text)
    if len(text) == 6:
        text += "FF"
    if len(text) != 8:
        return None
    red, green, blue, alpha = (int(text[i : i + 2], 16) for i in range(0, 8, 2))
    return Color(red, green, blue, alpha)


def _update_binding(
    binding: ChannelBinding,
    window: tuple[float, float] | None,
    color: str | None,
    inverted: bool | None,
) -> ChannelBinding:
    """What ``set_active_channels`` changes on one channel: inversion, window, colour or LUT."""
    if inverted is not None:
        binding = binding.with_(inverted=inverted)
    if window is not None:
        binding = binding.with_(start=window[0], end=window[1])
    if color:
        if color.endswith(".lut"):
            binding = binding.with_(lut=color)
        else:
            rgba = split_html_color(color)
            if rgba is not None:  # a colour clears the LUT; bad hex changes nothing
                binding = binding.with_(color=rgba, lut=None)
    return binding


def set_active_channels(
    channels: Sequence[ChannelBinding],
    indices: Sequence[int],
    windows: Sequence[tuple[float, float] | None],
    colors: Sequence[str | None],
    inversions: Sequence[bool | None] | None,
) -> tuple[ChannelBinding, ...]:
    """``ImageWrapper.setActiveChannels``: a channel is active iff its 1-based number is listed
    positive; only active channels are updated, and the k-th active-or-mentioned channel in
    ascending order takes the k-th window/colour/inversion (the ordering quirk). Indices that
    are 0 or beyond the channel count select nothing."""
    mentioned = {abs(i) for i in indices}
    listed = set(indices)
    out: list[ChannelBinding] = []
    position = 0
    for offset, binding in enumerate(channels):
        number = offset + 1
        binding = binding.with_(active=number in listed)
        if number in listed:
            inverted = None
            if inversions is not None and position < len(inversions):
                inverted = inversions[position]
            binding = _update_binding(binding, windows[position], colors[position], inverted)
        if number in mentioned:
            position += 1
        out.append(binding)
    return tuple(out)


# --- the ``maps`` parameter ------------------------------------------------------------------


def _load_maps(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _map_items(maps: object) -> list[dict[str, object]] | None:
    """The per-entry objects of ``maps`` as OMERO iterates them; None when that would fail."""
    items: list[object]
    if isinstance(maps, list):
        items = maps
    elif isinstance(maps, dict | str):
        items = list(maps)  # keys or characters: only usable when empty
    else:
        return None
    if not all(isinstance(item, dict) for item in items):
        return None
    return [item for item in items if isinstance(item, dict)]


def inversions_from_maps(maps: object, size_c: int) -> list[bool | None] | None:
    """``_get_inverted_enabled``: one flag per ``maps`` entry, padded with None to sizeC.

    An entry without ``inverted`` (or the deprecated ``reverse``) gives False, not "unchanged":
    only the padding leaves a channel's inversion as it was. ``enabled`` counts as true when it
    equals ``True`` or ``"true"`` (so JSON ``1`` does too). Any malformed entry voids the list.
    """
    items = _map_items(maps)
    if items is None:
        return None
    flags: list[bool | None] = []
    for item in items:
        codomain = item.get("inverted")
        if codomain is None:
            codomain = item.get("reverse")
        enabled = False
        if codomain is not None:
            if not isinstance(codomain, dict):
                return None
            enabled = codomain.get("enabled") in (True, "true")
        flags.append(enabled)
    flags.extend([None] * (size_c - len(flags)))
    return flags


def _valid_coefficient(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and value > 0 else None


def apply_quantization_maps(
    channels: Sequence[ChannelBinding], entries: Sequence[ChannelEntry], maps: object
) -> tuple[ChannelBinding, ...]:
    """``_get_prepared_image`` + ``setQuantizationMaps``: ``maps[i].quantization`` goes to channel
    ``abs(c[i]) - 1`` (by position, no ordering quirk; index 0 wraps to the last channel, as
    Python's ``list[-1]`` does in OMERO). An index beyond sizeC voids all maps; channels are then
    set in order and the first unknown family or coefficient <= 0 stops the rest, as the
    exception does in OMERO. Setting a map turns noise reduction off."""
    items = _map_items(maps)
    if items is None:
        return tuple(channels)
    per_channel: list[object] = [None] * len(channels)
    for position, entry in enumerate(entries[: len(items)]):
        target = abs(entry.index) - 1
        if not -len(channels) <= target < len(channels):
            return tuple(channels)
        per_channel[target] = items[position].get("quantization")
    out = list(channels)
    for offset, quant in enumerate(per_channel):
        if not isinstance(quant, dict):
            continue
        family = quant.get("family")
        coefficient = _valid_coefficient(quant.get("coefficient", 1.0))
        if family not in FAMILIES or coefficient is None:
            break
        out[offset] = out[offset].with_(
            family=family, coefficient=coefficient, noise_reduction=False
        )
    return tuple(out)


# --- the whole query -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenderRequest:
    """What a rendering query asks for: settings, projection, JPEG quality and the axis flag."""

    rdef: RenderingDef
    projection: Projection
    quality: float | None  # None: the server default (0.85; 0.9 for split channels)
    invert_axis: bool | None  # None: ``ia`` absent (OMERO then reports False)


def parse_projection(text: str | None, *, size_z: int) -> Projection:
    """``p=intmax|5:25``: unknown names mean ``normal``; a range that is not two integers is
    ignored; START is clamped to >= 0 and END to <= sizeZ-1 (``setProjectionRange``)."""
    if text is None:
        return Projection()
    kind, bar, bounds = text.partition("|")
    if kind not in PROJECTIONS or kind == "normal":
        return Projection()
    start: int | None = None
    end: int | None = None
    if bar:
        parts = bounds.split(":")
        values = [_int(part) for part in parts]
        if len(parts) == 2 and values[0] is not None and values[1] is not None:
            start, end = max(0, values[0]), min(values[1], size_z - 1)
    return Projection(kind, start, end)


def parse_quality(text: str) -> float:
    """JPEG quality ``q`` in 0..1 (``RenderingEngine.setCompressionLevel``)."""
    value = _float(text)
    if value is None or not 0.0 <= value <= 1.0:
        raise InvalidInput(f"q must be a number from 0 to 1, got {text!r}", param="q")
    return value


def apply_rendering_query(
    rdef: RenderingDef, query: Mapping[str, str], *, size_z: int
) -> RenderRequest:
    """Apply ``c``, ``maps``, ``m``, ``p``, ``q`` and ``ia`` to saved settings for one render
    (``_get_prepared_image``). ``maps`` only counts together with ``c``."""
    channels = rdef.channels
    if "c" in query:
        entries = split_channel_info(query["c"])
        inversions = None
        if "maps" in query:
            maps = _load_maps(query["maps"])
            inversions = inversions_from_maps(maps, len(channels))
            channels = apply_quantization_maps(channels, entries, maps)
        channels = set_active_channels(
            channels,
            [e.index for e in entries],
            [e.window for e in entries],
            [e.color for e in entries],
            inversions,
        )
    changes: dict[str, object] = {"channels": channels}
    if query.get("m") in MODEL_OF_CODE:
        changes["model"] = MODEL_OF_CODE[query["m"]]
    invert_axis = None
    if "ia" in query:
        invert_axis = query["ia"] == "1"
        changes["invert_axis"] = invert_axis
    quality = parse_quality(query["q"]) if "q" in query else None
    return RenderRequest(
        rdef=rdef.with_(**changes),
        projection=parse_projection(query.get("p"), size_z=size_z),
        quality=quality,
        invert_axis=invert_axis,
    )


def validate_rdef_query(query: Mapping[str, str], *, size_c: int | None = None) -> None:
    """omero-web's ``validate_rdef_query`` for ``render_image_rdef`` and ``saveImgRDef``.

    Every parsed ``c`` entry needs a window and a colour, ``m`` must be ``g`` or ``c``, and
    ``maps`` must be JSON with one element per raw ``c`` entry. OMERO does not compare the
    entries with the image's channel count; ``size_c`` is accepted for callers' convenience
    and likewise not used.
    """
    del size_c
    if "c" not in query:
        raise InvalidInput("Rendering settings must specify channels as c", param="c")
    for entry in split_channel_info(query["c"]):
        if entry.window is None:
            raise InvalidInput("Must specify window for each channel", param="c")
        if entry.color is None:
            raise InvalidInput("Must specify color for each channel", param="c")
    if query.get("m") not in ("g", "c"):
        raise InvalidInput(
            'Query parameter "m" must be present with value either "g" or "c"', param="m"
        )
    if "maps" in query:
        try:
            maps = json.loads(query["maps"])
        except ValueError:
            raise InvalidInput("Failed to parse maps JSON", param="maps") from None
        count = len(maps) if isinstance(maps, list | dict | str) else -1
        if count != len(query["c"].split(",")):
            raise InvalidInput('Number of "maps" must match number of channels', param="maps")


def _one_based(query: Mapping[str, str], name: str, size: int) -> int | None:
    if name not in query:
        return None
    value = _int(query[name])
    if value is None or not 1 <= value <= size:
        raise InvalidInput(f"{name} must be an integer from 1 to {size}", param=name)
    return value - 1


def parse_saved_rdef(
    form: Mapping[str, str], base: RenderingDef, *, size_z: int, size_t: int
) -> RenderingDef:
    """``saveImgRDef``: validate, then apply as ``_get_prepared_image(saveDefs=True)`` does.

    OMERO first applies the i-th entry's window, colour and inversion to the i-th channel for
    every channel, active or not, then the normal active-channel pass; ``z``/``t`` are 1-based.
    OMERO fails (500) when ``c`` has fewer entries than channels; here that is a 400.
    The parameters are read from the query string in OMERO, even though the request is a POST.
    """
    validate_rdef_query(form)
    size_c = len(base.channels)
    entries = split_channel_info(form["c"])
    if len(entries) < size_c:
        raise InvalidInput(f"c must give all {size_c} channels to save settings", param="c")
    maps = _load_maps(form["maps"]) if "maps" in form else None
    inversions = inversions_from_maps(maps, size_c) if "maps" in form else None
    channels = base.channels
    if "maps" in form:
        channels = apply_quantization_maps(channels, entries, maps)
    windows = [e.window for e in entries]
    colors = [e.color for e in entries]
    channels = set_active_channels(
        channels, list(range(1, size_c + 1)), windows, colors, inversions
    )
    channels = set_active_channels(
        channels, [e.index for e in entries], windows, colors, inversions
    )
    default_z = _one_based(form, "z", size_z)
    default_t = _one_based(form, "t", size_t)
    return base.with_(
        channels=channels,
        model=MODEL_OF_CODE[form["m"]],
        default_z=base.default_z if default_z is None else default_z,
        default_t=base.default_t if default_t is None else default_t,
    )


# --- writing settings back -------------------------------------------------------------------


def _channels_text(rdef: RenderingDef) -> str:
    """``c`` as OMERO writes it: ``-2|250.0:4095.0$FF0000`` (``str`` of each float)."""
    parts = []
    for offset, ch in enumerate(rdef.channels):
        sign = "" if ch.active else "-"
        color = ch.lut or ch.color.hex
        parts.append(f"{sign}{offset + 1}|{float(ch.start)}:{float(ch.end)}${color}")
    return ",".join(parts)


def _maps(rdef: RenderingDef) -> list[dict[str, object]]:
    return [
        {
            "inverted": {"enabled": ch.inverted},
            "quantization": {"coefficient": float(ch.coefficient), "family": ch.family},
        }
        for ch in rdef.channels
    ]


def rdef_to_query(rdef: RenderingDef, *, pixel_range: tuple[float, float]) -> dict[str, object]:
    """The ``rdef`` of ``getImgRDef`` when an image was copied (``get_image_rdef_json``).

    ``m`` is imgData's model name, ``greyscale`` or ``color``, not ``g``/``c`` (OMERO builds it
    from ``imageMarshal``); there are no ``z``/``t`` keys. ``pixel_range`` is written with
    ``str``: pass ints for unsigned types (``0:65535``) and floats where OMERO has floats.
    """
    return {
        "c": _channels_text(rdef),
        "m": "greyscale" if rdef.model == "greyscale" else "color",
        "pixel_range": f"{pixel_range[0]}:{pixel_range[1]}",
        "maps": _maps(rdef),
    }


def rendering_settings_query(
    rdef: RenderingDef, *, projection: str = "normal"
) -> dict[str, object]:
    """omero-web's ``getRenderingSettings``: ``c``, ``maps``, ``m`` as ``g``/``c``, 1-based
    ``z``/``t`` and ``p``; what ``copyImgRDef`` saves before pasting and can apply again."""
    return {
        "c": _channels_text(rdef),
        "maps": _maps(rdef),
        "m": "g" if rdef.model == "greyscale" else "c",
        "z": rdef.default_z + 1,
        "t": rdef.default_t + 1,
        "p": projection,
    }


# --- regions and tiles -----------------------------------------------------------------------


def parse_region(text: str) -> tuple[int, int, int, int]:
    """``region=x,y,w,h`` (extra fields ignored, as in OMERO). A negative origin or an empty
    size, which OMERO passes to the renderer, is refused here."""
    values = [v for v in (_int(part) for part in text.split(",")[:4]) if v is not None]
    if len(values) != 4:
        raise InvalidInput(f"malformed region argument, region={text}", param="region")
    x, y, w, h = values
    if x < 0 or y < 0 or w <= 0 or h <= 0:
        raise InvalidInput(f"malformed region argument, region={text}", param="region")
    return x, y, w, h


def parse_tile(text: str) -> tuple[int, int, int, int | None, int | None]:
    """``tile=level,col,row[,w,h]``: a size is read only when both are given (5+ fields);
    a lone fourth field and fields after the fifth are ignored, as in OMERO. OMERO treats an
    empty ``tile`` as absent; callers should too."""
    parts = text.split(",")
    wanted = 5 if len(parts) > 4 else 3
    values = [v for v in (_int(part) for part in parts[:wanted]) if v is not None]
    if len(values) != wanted:
        raise InvalidInput(f"malformed tile argument, tile={text}", param="tile")
    if wanted == 5:
        return values[0], values[1], values[2], values[3], values[4]
    return values[0], values[1], values[2], None, None


def check_level(level: int, levels: int) -> None:
    """Refuse a webgateway resolution level (0 = full size) with OMERO's messages; ``levels``
    is the number of resolution levels (1 for a non-pyramid image). The engine level OMERO
    then renders is ``levels - 1 - level``."""
    if level < 0:
        raise InvalidInput(f"Invalid resolution level {level} < 0", param="tile")
    if levels <= 1:
        if level > 0:
            raise InvalidInput(f"Invalid resolution level {level}, non pyramid file", param="tile")
        return
    if level >= levels:
        # OMERO's message keeps the indentation of a backslash-continued string literal.
        raise InvalidInput(
            "Invalid resolution level, "
            + " " * 20
            + f"{level} > number of available levels {levels - 1} ",
            param="tile",
        )


def tile_rectangle(
    level: int,
    col: int,
    row: int,
    w: int | None,
    h: int | None,
    *,
    default_tile: tuple[int, int],
    max_tile_length: int = MAX_TILE_LENGTH,
    level_size: tuple[int, int],
) -> tuple[int, int, int, int]:
    """The pixel rectangle of a tile at its level: size ``w``/``h`` (<= 0 or None: the default
    tile size; above ``max_tile_length``: clamped), origin ``(col*w, row*h)``, clipped to the
    level's extent so that edge tiles are smaller. A tile wholly outside the level is refused.
    ``level`` only names the level in the message; pass the size of that level."""
    width, height = default_tile
    if w is not None and h is not None:
        width = default_tile[0] if w <= 0 else min(w, max_tile_length)
        height = default_tile[1] if h <= 0 else min(h, max_tile_length)
    x, y = col * width, row * height
    size_x, size_y = level_size
    if col < 0 or row < 0 or x >= size_x or y >= size_y:
        raise InvalidInput(
            f"tile {col},{row} is outside resolution level {level} "
            f"({size_x}x{size_y} pixels, tiles of {width}x{height})",
            param="tile",
        )
    return x, y, min(width, size_x - x), min(height, size_y - y)


def parse_jpeg_format(text: str | None, *, default: str = "png") -> str:
    """Download ``format``: ``jpeg``, ``png`` or ``tif``. Anything else means ``default``, as
    ``download_as`` falls back to ``png`` (``render_image_download``'s default is ``jpeg``)."""
    return text if text in DOWNLOAD_FORMATS else default
