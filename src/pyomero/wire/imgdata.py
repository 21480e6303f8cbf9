"""The webgateway's ``imgData`` JSON (omero-web ``imageMarshal``; spec webgateway-idr.md 4.1).

Input is the facts services gather (the image with its details, its parents, its pixels
record, the levels of its pixel store and the rendering settings that apply); output is the
dict OMERO.web sends, key for key and in its order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pyomero.model.rendering import (
    ChannelBinding,
    RenderingDef,
    pixel_type_range,
    split_channel_layout,
)

_MODEL_NAMES = {"rgb": "color", "greyscale": "greyscale"}


def pixel_range(pixel_type: str) -> list[float | int]:
    """``getPixelRange``: the full range of the type's byte width; signed ones as floats."""
    if pixel_type == "bit":
        return [0, 1]
    widths = {"int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4}
    width = widths.get(pixel_type, 4 if pixel_type == "float" else 8)
    top = 2 ** (8 * width)
    if pixel_type.startswith("uint"):
        return [0, top - 1]
    return [-top / 2, top / 2 - 1]


def _label(name: str | None, emission: float | None, index: int) -> str:
    if name:
        return name
    if emission is not None:
        return str(int(emission)) if float(emission).is_integer() else str(emission)
    return str(index)


def _timestamp(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def channel_json(
    binding: ChannelBinding,
    *,
    index: int,
    name: str | None,
    emission: float | None,
    window: tuple[float, float],
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "emissionWave": emission,
        "label": _label(name, emission, index),
        "color": binding.color.hex,
        "inverted": binding.inverted,
        "reverseIntensity": binding.inverted,
        "family": binding.family,
        "coefficient": float(binding.coefficient),
        "window": {
            "min": float(window[0]),
            "max": float(window[1]),
            "start": float(binding.start),
            "end": float(binding.end),
        },
        "active": binding.active,
    }
    if binding.lut:
        data["lut"] = binding.lut
    return data


def _meta(image: Any, parents: Any, record: Any) -> dict[str, Any]:
    project, dataset = parents.project, parents.dataset
    when = image.acquisition_date or parents.created
    return {
        "imageName": image.name or "",
        "imageDescription": image.description or "",
        "imageAuthor": parents.author,
        "imageArchived": bool(image.archived),
        "projectName": project[1] if project else "Multiple",
        "projectId": project[0] if project else None,
        "projectDescription": (project[2] or "") if project else "",
        "datasetName": dataset[1] if dataset else "Multiple",
        "datasetId": dataset[0] if dataset else None,
        "datasetDescription": (dataset[2] or "") if dataset else "",
        "wellSampleId": "",
        "wellId": parents.well_id if parents.well_id is not None else "",
        "imageTimestamp": _timestamp(when),
        "imageId": image.id,
        "pixelsType": record.pixel_type,
    }


def _perms(image: Any) -> dict[str, bool]:
    p = image.details.permissions if image.details else None
    return {
        "canAnnotate": bool(p and p.can_annotate),
        "canEdit": bool(p and p.can_edit),
        "canDelete": bool(p and p.can_delete),
        "canLink": bool(p and p.can_link),
    }


def _tiles(levels: Any, tile_size: tuple[int, int]) -> dict[str, Any]:
    if len(levels) <= 1:
        return {"tiles": False}
    full = levels[0].size_x
    return {
        "tiles": True,
        "tile_size": {"width": tile_size[0], "height": tile_size[1]},
        "levels": len(levels),
        "resolutions": {
            str(i): {"sizeX": lv.size_x, "sizeY": lv.size_y} for i, lv in enumerate(levels)
        },
        "zoomLevelScaling": {str(i): lv.size_x / full for i, lv in enumerate(levels)},
    }


def _length_um(length: Any) -> float | None:
    return None if length is None else float(length.value)


def image_data(
    *,
    image: Any,
    parents: Any,
    record: Any,
    rdef: RenderingDef,
    levels: Any,
    tile_size: tuple[int, int],
    interpolate: bool,
    init_zoom: int,
) -> dict[str, Any]:
    """imgData of one image: ``image`` is the model Image (with Pixels), ``record`` its
    ``PixelsRecord``, ``parents`` its ``ImageParents``."""
    pixels = image.pixels
    tiles = _tiles(levels, tile_size)
    if init_zoom < 0 and len(levels) > 1:
        init_zoom = len(levels) + init_zoom
    type_min, type_max = pixel_type_range(record.pixel_type)
    channels = []
    for index, binding in enumerate(rdef.channels):
        info = record.info.channels[index] if index < len(record.info.channels) else None
        low = info.stats_min if info and info.stats_min is not None else type_min
        high = info.stats_max if info and info.stats_max is not None else type_max
        channels.append(
            channel_json(
                binding,
                index=index,
                name=record.channel_names[index] if index < len(record.channel_names) else None,
                emission=record.emission[index] if index < len(record.emission) else None,
                window=(low, high),
            )
        )
    return {
        "id": image.id,
        "meta": _meta(image, parents, record),
        "perms": _perms(image),
        **tiles,
        "interpolate": interpolate,
        "size": {
            "width": record.size_x,
            "height": record.size_y,
            "z": record.size_z,
            "t": record.size_t,
            "c": record.size_c,
        },
        "pixel_size": {
            "x": _length_um(pixels.physical_size_x) if pixels else None,
            "y": _length_um(pixels.physical_size_y) if pixels else None,
            "z": _length_um(pixels.physical_size_z) if pixels else None,
        },
        "init_zoom": init_zoom,
        "pixel_range": pixel_range(record.pixel_type),
        "channels": channels,
        "split_channel": {
            "g": split_channel_layout(record.size_x, record.size_y, record.size_c),
            "c": split_channel_layout(record.size_x, record.size_y, record.size_c + 1),
        },
        "rdefs": {
            "model": _MODEL_NAMES.get(rdef.model, "color"),
            "projection": "normal",
            "defaultZ": rdef.default_z,
            "defaultT": rdef.default_t,
            "invertAxis": rdef.invert_axis,
        },
    }


def lookup(data: Any, key: str) -> Any:
    """``imgData/<iid>/<key>/``: a dotted path into the result; None where it leads nowhere."""
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data
