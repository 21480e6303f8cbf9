"""omero-marshal JSON (schema 2016-06) of pyomero's model objects, as OMERO's JSON API sends it.

The rules are spec/omero-json-api.md section 4: every object is ``{"@id", "@type",
"omero:details", fields...}``; a field whose value is None is omitted, while ``""``, ``0``
and ``False`` are kept; units are ``TBD#LengthI``/``TBD#TimeI`` objects with a float
``Value``; enums are ``TBD#<Enum>`` objects with a lowercase ``value``; times are int
milliseconds since the epoch; Channel and Well colours are signed 32-bit RGBA.

What is emitted is what is loaded, as in OMERO (spec 2.5). An optional collection that is
None in the model is omitted; a loaded but empty one is omitted too, as omero-marshal
emits ``Channels``, ``WellSamples`` and ``shapes`` only when non-empty. Two things the
model always carries are emitted only on request, because no API endpoint loads them:
``Pixels.DimensionOrder`` (``dimension_order=True``) and ``Image.omero:format``
(``image_format=True``). So ``encode(image)`` gives what ``/m/images/`` lists (``Pixels``
with ``Type``, no ``DimensionOrder``), and the same image with ``pixels.channels`` loaded
gives what ``/m/images/{id}/`` returns (``Pixels.Channels``).

Each encoded object is a new dict, and so is each ``omero:details``, so callers may add
keys and :func:`normalize` may replace ``owner`` and ``group``. The leaves that repeat
across objects are shared between results and must be treated as read-only: every
``permissions`` dict, and the ``omero:details`` of experimenters, groups and enums (each
experimenter, group and enum dict itself is a fresh shallow copy).

Choices where OMERO's output depends on its database:

- Enum ``@id``: fixed tables (:data:`ENUM_VALUES`), numbered from 1 in the order OMERO's
  database creates them (PixelsType ``bit`` = 1 ... ``uint16`` = 6 ... ``double-complex`` =
  11; PhotometricInterpretation ``Monochrome`` = 5, as in OMERO's documented output). A
  value outside the tables gets ``1000 + crc32(value) % 1_000_000``: stable on every
  worker, never colliding with a table id.
- Enum ``omero:details.permissions``: perm ``rwr-r-`` (OMERO's system-type permissions),
  ``is*`` flags from that string, every ``can*`` flag false.
- An Experimenter inside ``omero:details`` carries perm ``------`` with every flag false,
  as OMERO's documented output; a group carries its own level's perm string with its
  ``is*`` flags and every ``can*`` flag false.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, overload

from pyomero.model.entities import (
    Annotation,
    Channel,
    Dataset,
    Details,
    Experimenter,
    ExperimenterGroup,
    Image,
    Length,
    Pixels,
    Plate,
    PlateAcquisition,
    Project,
    Roi,
    Screen,
    Shape,
    Time,
    Well,
    WellSample,
)
from pyomero.model.permissions import GroupLevel, Permissions
from pyomero.wire.decode import SCHEMA_URL, DecodeError, decode_save

__all__ = [
    "ENUM_PERMISSIONS",
    "ENUM_VALUES",
    "EXPERIMENTER_PERMISSIONS",
    "LENGTH_SYMBOLS",
    "SCHEMA_URL",
    "TIME_SYMBOLS",
    "DecodeError",
    "decode_save",
    "encode",
    "encode_annotation",
    "encode_channel",
    "encode_dataset",
    "encode_details",
    "encode_enum",
    "encode_experimenter",
    "encode_group",
    "encode_image",
    "encode_length",
    "encode_permissions",
    "encode_pixels",
    "encode_plate",
    "encode_plate_acquisition",
    "encode_project",
    "encode_roi",
    "encode_screen",
    "encode_shape",
    "encode_time",
    "encode_well",
    "encode_well_sample",
    "enum_id",
    "normalize",
    "rgba_to_int",
    "to_millis",
]

JSON = dict[str, Any]

_S = SCHEMA_URL + "#"
_DETAILS = "TBD#Details"
_T_PROJECT = _S + "Project"
_T_DATASET = _S + "Dataset"
_T_SCREEN = _S + "Screen"
_T_PLATE = _S + "Plate"
_T_RUN = _S + "PlateAcquisition"
_T_WELL = _S + "Well"
_T_SAMPLE = _S + "WellSample"
_T_IMAGE = _S + "Image"
_T_PIXELS = _S + "Pixels"
_T_CHANNEL = _S + "Channel"
_T_ROI = _S + "ROI"
_T_TRANSFORM = _S + "AffineTransform"
_T_EXPERIMENTER = _S + "Experimenter"
_T_GROUP = _S + "ExperimenterGroup"

#: Symbol of every OMERO ``UnitsLength`` enum name.
LENGTH_SYMBOLS: dict[str, str] = {
    "YOTTAMETER": "Ym", "ZETTAMETER": "Zm", "EXAMETER": "Em", "PETAMETER": "Pm",
    "TERAMETER": "Tm", "GIGAMETER": "Gm", "MEGAMETER": "Mm", "KILOMETER": "km",
    "HECTOMETER": "hm", "DECAMETER": "dam", "METER": "m", "DECIMETER": "dm", "CENTIMETER": "cm",
    "MILLIMETER": "mm", "MICROMETER": "\u00b5m", "NANOMETER": "nm", "PICOMETER": "pm",
    "FEMTOMETER": "fm", "ATTOMETER": "am", "ZEPTOMETER": "zm", "YOCTOMETER": "ym",
    "ANGSTROM": "\u00c5", "ASTRONOMICALUNIT": "ua", "LIGHTYEAR": "ly", "PARSEC": "pc",
    "THOU": "thou", "LINE": "li", "INCH": "in", "FOOT": "ft", "YARD": "yd", "MILE": "mi",
    "POINT": "pt", "PIXEL": "pixel", "REFERENCEFRAME": "reference frame",
}  # fmt: skip

#: Symbol of every OMERO ``UnitsTime`` enum name.
TIME_SYMBOLS: dict[str, str] = {
    "YOTTASECOND": "Ys", "ZETTASECOND": "Zs", "EXASECOND": "Es", "PETASECOND": "Ps",
    "TERASECOND": "Ts", "GIGASECOND": "Gs", "MEGASECOND": "Ms", "KILOSECOND": "ks",
    "HECTOSECOND": "hs", "DECASECOND": "das", "SECOND": "s", "DECISECOND": "ds",
    "CENTISECOND": "cs", "MILLISECOND": "ms", "MICROSECOND": "\u00b5s", "NANOSECOND": "ns",
    "PICOSECOND": "ps", "FEMTOSECOND": "fs", "ATTOSECOND": "as", "ZEPTOSECOND": "zs",
    "YOCTOSECOND": "ys", "MINUTE": "min", "HOUR": "h", "DAY": "d",
}  # fmt: skip

#: Each enum's values in id order: the value at position i has ``@id`` i + 1.
ENUM_VALUES: dict[str, tuple[str, ...]] = {
    "PixelsType": (
        "bit", "int8", "int16", "int32", "uint8", "uint16", "uint32", "float", "double",
        "complex", "double-complex",
    ),
    "DimensionOrder": ("XYZCT", "XYZTC", "XYCTZ", "XYCZT", "XYTCZ", "XYTZC"),
    "PhotometricInterpretation": ("RGB", "ARGB", "CMYK", "HSV", "Monochrome", "ColorMap"),
    "Illumination": ("Transmitted", "Epifluorescence", "Oblique", "NonLinear", "Other"),
    "ContrastMethod": (
        "Brightfield", "Phase", "DIC", "HoffmanModulation", "ObliqueIllumination",
        "PolarizedLight", "Darkfield", "Fluorescence", "Other",
    ),
    "AcquisitionMode": (
        "WideField", "LaserScanningConfocalMicroscopy", "SpinningDiskConfocal",
        "SlitScanConfocal", "MultiPhotonMicroscopy", "StructuredIllumination",
        "SingleMoleculeImaging", "TotalInternalReflection", "FluorescenceLifetime",
        "SpectralImaging", "FluorescenceCorrelationSpectroscopy",
        "NearFieldScanningOpticalMicroscopy", "SecondHarmonicGenerationImaging", "PALM",
        "STORM", "STED", "TIRF", "FSM", "LCM", "Other", "BrightField", "SweptFieldConfocal",
        "SPIM",
    ),
    "Format": ("OMETiff", "Tiff", "PNG", "JPEG", "OMEXML", "OMEZarr", "Zarr", "BMP", "GIF"),
}  # fmt: skip

_ENUM_IDS: dict[str, dict[str, int]] = {
    kind: {value: i for i, value in enumerate(values, start=1)}
    for kind, values in ENUM_VALUES.items()
}

ENUM_PERMISSIONS = Permissions("rwr-r-", False, False, False, False)
EXPERIMENTER_PERMISSIONS = Permissions("------", False, False, False, False)
_GROUP_PERMISSIONS = {
    level: Permissions(level.value, False, False, False, False) for level in GroupLevel
}

_EPOCH = datetime(1970, 1, 1)

# Encodings of values that repeat across objects, shared read-only (see the docstring).
_CACHE_SIZE = 4096
_PERMISSIONS_CACHE: dict[Permissions, JSON] = {}
_DETAILS_CACHE: dict[Permissions, JSON] = {}
_ENUM_CACHE: dict[tuple[str, str], JSON] = {}
_PEOPLE_CACHE: dict[tuple[Any, ...], JSON] = {}


# --- building blocks -------------------------------------------------------------------


def to_millis(value: datetime | None) -> int | None:
    """Milliseconds since the epoch; naive datetimes are UTC."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def rgba_to_int(
    red: int | None, green: int | None, blue: int | None, alpha: int | None
) -> int | None:
    """Signed 32-bit RGBA; None if red, green or blue is None; alpha defaults to 255."""
    if red is None or green is None or blue is None:
        return None
    if alpha is None:
        alpha = 255
    rgba = (red << 24) + (green << 16) + (blue << 8) + alpha
    return rgba - 0x1_0000_0000 if rgba > 0x7FFF_FFFF else rgba


def encode_permissions(permissions: Permissions) -> JSON:
    """``TBD#Permissions`` with all twelve keys, the ``is*`` flags read from ``perm``."""
    return _permissions(permissions).copy()


def _permissions(p: Permissions) -> JSON:
    """The shared (read-only) encoding of ``p``."""
    cached = _PERMISSIONS_CACHE.get(p)
    if cached is None:
        cached = {
            "@type": "TBD#Permissions",
            "perm": p.perm,
            "canAnnotate": p.can_annotate,
            "canDelete": p.can_delete,
            "canEdit": p.can_edit,
            "canLink": p.can_link,
            "isWorldWrite": p.is_world_write,
            "isWorldRead": p.is_world_read,
            "isGroupWrite": p.is_group_write,
            "isGroupRead": p.is_group_read,
            "isGroupAnnotate": p.is_group_annotate,
            "isUserWrite": p.is_user_write,
            "isUserRead": p.is_user_read,
        }
        _remember(_PERMISSIONS_CACHE, p, cached)
    return cached


def _permissions_only(p: Permissions) -> JSON:
    """The shared (read-only) ``{"@type": "TBD#Details", "permissions": ...}`` of ``p``."""
    cached = _DETAILS_CACHE.get(p)
    if cached is None:
        cached = {"@type": _DETAILS, "permissions": _permissions(p)}
        _remember(_DETAILS_CACHE, p, cached)
    return cached


def _remember(cache: dict[Any, JSON], key: object, value: JSON) -> None:
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = value


def encode_length(length: Length) -> JSON:
    """``TBD#LengthI``; ``Value`` is always a float."""
    try:
        symbol = LENGTH_SYMBOLS[length.unit]
    except KeyError:
        raise ValueError(f"unknown length unit {length.unit!r}") from None
    return {
        "@type": "TBD#LengthI",
        "Unit": length.unit,
        "Symbol": symbol,
        "Value": float(length.value),
    }


def encode_time(time: Time) -> JSON:
    """``TBD#TimeI``; ``Value`` is always a float."""
    try:
        symbol = TIME_SYMBOLS[time.unit]
    except KeyError:
        raise ValueError(f"unknown time unit {time.unit!r}") from None
    return {"@type": "TBD#TimeI", "Unit": time.unit, "Symbol": symbol, "Value": float(time.value)}


def enum_id(kind: str, value: str) -> int:
    """The stable ``@id`` of an enum value (see the module docstring)."""
    found = _ENUM_IDS.get(kind, {}).get(value)
    if found is not None:
        return found
    return 1000 + zlib.crc32(value.encode()) % 1_000_000


def encode_enum(kind: str, value: str) -> JSON:
    """``{"@id", "@type": "TBD#<kind>", "value", "omero:details"}``."""
    cached = _ENUM_CACHE.get((kind, value))
    if cached is None:
        cached = {
            "@id": enum_id(kind, value),
            "@type": "TBD#" + kind,
            "value": value,
            "omero:details": _permissions_only(ENUM_PERMISSIONS),
        }
        _remember(_ENUM_CACHE, (kind, value), cached)
    return cached.copy()


def encode_experimenter(e: Experimenter, permissions: Permissions | None = None) -> JSON:
    """An Experimenter whose ``omero:details`` holds only ``permissions``.

    ``permissions`` defaults to :data:`EXPERIMENTER_PERMISSIONS` (``------``, all false).
    """
    perms = permissions or EXPERIMENTER_PERMISSIONS
    key = (
        "E",
        e.id,
        e.omename,
        e.first_name,
        e.middle_name,
        e.last_name,
        e.email,
        e.institution,
        perms,
    )
    cached = _PEOPLE_CACHE.get(key)
    if cached is None:
        cached = {"@id": e.id, "@type": _T_EXPERIMENTER, "omero:details": _permissions_only(perms)}
        _put(cached, "FirstName", e.first_name)
        _put(cached, "MiddleName", e.middle_name)
        _put(cached, "LastName", e.last_name)
        _put(cached, "Email", e.email)
        _put(cached, "Institution", e.institution)
        _put(cached, "UserName", e.omename)
        _remember(_PEOPLE_CACHE, key, cached)
    return cached.copy()


def encode_group(g: ExperimenterGroup, permissions: Permissions | None = None) -> JSON:
    """An ExperimenterGroup whose ``omero:details`` holds only ``permissions``.

    ``permissions`` defaults to the group's own level with every ``can*`` flag false.
    """
    perms = permissions or _GROUP_PERMISSIONS[g.level]
    key = ("G", g.id, g.name, g.description, perms)
    cached = _PEOPLE_CACHE.get(key)
    if cached is None:
        cached = {"@id": g.id, "@type": _T_GROUP, "omero:details": _permissions_only(perms)}
        _put(cached, "Name", g.name)
        _put(cached, "Description", g.description)
        _remember(_PEOPLE_CACHE, key, cached)
    return cached.copy()


def encode_details(details: Details) -> JSON:
    """``TBD#Details`` with ``owner``, ``group`` and ``permissions`` when set."""
    v: JSON = {"@type": _DETAILS}
    if details.owner is not None:
        v["owner"] = encode_experimenter(details.owner)
    if details.group is not None:
        v["group"] = encode_group(details.group)
    if details.permissions is not None:
        v["permissions"] = _permissions(details.permissions)
    return v


def _base(obj_id: int | None, type_: str, details: Details | None) -> JSON:
    v: JSON = {"@id": obj_id, "@type": type_} if obj_id is not None else {"@type": type_}
    if details is not None:
        v["omero:details"] = encode_details(details)
    return v


def _put(v: JSON, key: str, value: object) -> None:
    if value is not None:
        v[key] = value


def _put_length(v: JSON, key: str, value: Length | None) -> None:
    if value is not None:
        v[key] = encode_length(value)


# --- containers and SPW ----------------------------------------------------------------


def encode_project(p: Project) -> JSON:
    v = _base(p.id, _T_PROJECT, p.details)
    _put(v, "Name", p.name)
    _put(v, "Description", p.description)
    return v


def encode_dataset(d: Dataset) -> JSON:
    v = _base(d.id, _T_DATASET, d.details)
    _put(v, "Name", d.name)
    _put(v, "Description", d.description)
    return v


def encode_screen(s: Screen) -> JSON:
    v = _base(s.id, _T_SCREEN, s.details)
    _put(v, "Name", s.name)
    _put(v, "Description", s.description)
    _put(v, "ProtocolDescription", s.protocol_description)
    _put(v, "ProtocolIdentifier", s.protocol_identifier)
    _put(v, "ReagentSetDescription", s.reagent_set_description)
    _put(v, "ReagentSetIdentifier", s.reagent_set_identifier)
    _put(v, "Type", s.type)
    return v


def encode_plate(p: Plate) -> JSON:
    v = _base(p.id, _T_PLATE, p.details)
    _put(v, "Name", p.name)
    _put(v, "Description", p.description)
    _put(v, "ColumnNamingConvention", p.column_naming_convention)
    _put(v, "RowNamingConvention", p.row_naming_convention)
    _put(v, "Columns", p.columns)
    _put(v, "Rows", p.rows)
    _put(v, "FieldIndex", p.default_sample)
    _put(v, "ExternalIdentifier", p.external_identifier)
    _put(v, "Status", p.status)
    _put_length(v, "WellOriginX", p.well_origin_x)
    _put_length(v, "WellOriginY", p.well_origin_y)
    return v


def encode_plate_acquisition(a: PlateAcquisition) -> JSON:
    v = _base(a.id, _T_RUN, a.details)
    _put(v, "Name", a.name)
    _put(v, "Description", a.description)
    _put(v, "MaximumFieldCount", a.maximum_field_count)
    _put(v, "StartTime", to_millis(a.start_time))
    _put(v, "EndTime", to_millis(a.end_time))
    return v


def encode_well(w: Well, *, dimension_order: bool = False) -> JSON:
    """A Well; ``WellSamples`` when samples are loaded and non-empty (None entries skipped)."""
    v = _base(w.id, _T_WELL, w.details)
    _put(v, "Column", w.column)
    _put(v, "Row", w.row)
    _put(v, "ExternalDescription", w.external_description)
    _put(v, "ExternalIdentifier", w.external_identifier)
    _put(v, "Type", w.type)
    _put(v, "Color", rgba_to_int(w.red, w.green, w.blue, w.alpha))
    _put(v, "omero:status", w.status)
    if w.samples:
        v["WellSamples"] = [
            encode_well_sample(s, dimension_order=dimension_order)
            for s in w.samples
            if s is not None
        ]
    return v


def encode_well_sample(s: WellSample, *, dimension_order: bool = False) -> JSON:
    """A WellSample with its ``Image`` (Pixels only if loaded) and ``PlateAcquisition``."""
    v = _base(s.id, _T_SAMPLE, s.details)
    _put_length(v, "PositionX", s.position_x)
    _put_length(v, "PositionY", s.position_y)
    _put(v, "Timepoint", to_millis(s.timepoint))
    if s.image is not None:
        v["Image"] = encode_image(s.image, dimension_order=dimension_order)
    if s.plate_acquisition is not None:
        v["PlateAcquisition"] = encode_plate_acquisition(s.plate_acquisition)
    return v


# --- images ----------------------------------------------------------------------------


def encode_image(
    image: Image, *, dimension_order: bool = False, image_format: bool = False
) -> JSON:
    """An Image with its ``Pixels`` when loaded (see :func:`encode_pixels`).

    ``image_format`` adds ``omero:format``, which no API endpoint loads.
    """
    v = _base(image.id, _T_IMAGE, image.details)
    _put(v, "AcquisitionDate", to_millis(image.acquisition_date))
    _put(v, "omero:archived", image.archived)
    _put(v, "Description", image.description)
    _put(v, "Name", image.name)
    _put(v, "omero:partial", image.partial)
    _put(v, "omero:series", image.series)
    if image_format and image.format is not None:
        v["omero:format"] = encode_enum("Format", image.format)
    if image.pixels is not None:
        v["Pixels"] = encode_pixels(image.pixels, dimension_order=dimension_order)
    return v


def encode_pixels(p: Pixels, *, dimension_order: bool = False) -> JSON:
    """Pixels with ``Type`` always; ``Channels`` when ``p.channels`` is loaded and non-empty.

    ``DimensionOrder`` only with ``dimension_order=True``: OMERO's image list and single
    image queries never load it.
    """
    v = _base(p.id, _T_PIXELS, p.details)
    _put(v, "omero:methodology", p.methodology)
    _put_length(v, "PhysicalSizeX", p.physical_size_x)
    _put_length(v, "PhysicalSizeY", p.physical_size_y)
    _put_length(v, "PhysicalSizeZ", p.physical_size_z)
    _put(v, "omero:sha1", p.sha1)
    _put(v, "SignificantBits", p.significant_bits)
    _put(v, "SizeX", p.size_x)
    _put(v, "SizeY", p.size_y)
    _put(v, "SizeZ", p.size_z)
    _put(v, "SizeC", p.size_c)
    _put(v, "SizeT", p.size_t)
    if p.time_increment is not None:
        v["TimeIncrement"] = encode_time(p.time_increment)
    _put(v, "omero:waveIncrement", p.wave_increment)
    _put(v, "omero:waveStart", p.wave_start)
    if dimension_order and p.dimension_order is not None:
        v["DimensionOrder"] = encode_enum("DimensionOrder", p.dimension_order)
    if p.pixels_type is not None:
        v["Type"] = encode_enum("PixelsType", p.pixels_type)
    if p.channels:
        v["Channels"] = [encode_channel(c) for c in p.channels if c is not None]
    return v


def encode_channel(c: Channel) -> JSON:
    """A Channel with its LogicalChannel's fields flattened in (``omero:LogicalChannelId``
    is the channel's own id: pyomero keeps one row per channel)."""
    v = _base(c.id, _T_CHANNEL, c.details)
    _put(v, "Color", rgba_to_int(c.red, c.green, c.blue, c.alpha))
    _put(v, "omero:lookupTable", c.lookup_table)
    v["omero:LogicalChannelId"] = c.id
    _put_length(v, "EmissionWavelength", c.emission_wavelength)
    _put_length(v, "ExcitationWavelength", c.excitation_wavelength)
    _put(v, "Fluor", c.fluor)
    _put(v, "Name", c.name)
    _put(v, "NDFilter", c.nd_filter)
    _put_length(v, "PinholeSize", c.pinhole_size)
    _put(v, "PockelCellSetting", c.pockel_cell_setting)
    _put(v, "SamplesPerPixel", c.samples_per_pixel)
    if c.contrast_method is not None:
        v["ContrastMethod"] = encode_enum("ContrastMethod", c.contrast_method)
    if c.illumination is not None:
        v["Illumination"] = encode_enum("Illumination", c.illumination)
    if c.acquisition_mode is not None:
        v["AcquisitionMode"] = encode_enum("AcquisitionMode", c.acquisition_mode)
    if c.photometric_interpretation is not None:
        v["omero:photometricInterpretation"] = encode_enum(
            "PhotometricInterpretation", c.photometric_interpretation
        )
    return v


# --- ROIs ------------------------------------------------------------------------------

#: (JSON key, Shape attribute) of each kind's own fields (spec 4.5).
_SHAPE_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "Rectangle": (("X", "x"), ("Y", "y"), ("Width", "width"), ("Height", "height")),
    "Ellipse": (("X", "x"), ("Y", "y"), ("RadiusX", "radius_x"), ("RadiusY", "radius_y")),
    "Point": (("X", "x"), ("Y", "y")),
    "Label": (("X", "x"), ("Y", "y")),
    "Line": (
        ("X1", "x1"),
        ("Y1", "y1"),
        ("X2", "x2"),
        ("Y2", "y2"),
        ("MarkerStart", "marker_start"),
        ("MarkerEnd", "marker_end"),
    ),
    "Polyline": (
        ("Points", "points"),
        ("MarkerStart", "marker_start"),
        ("MarkerEnd", "marker_end"),
    ),
    "Polygon": (("Points", "points"),),
    "Mask": (("X", "x"), ("Y", "y"), ("Width", "width"), ("Height", "height")),
}
_SHAPE_TYPES = {kind: _S + kind for kind in _SHAPE_FIELDS}


def encode_shape(s: Shape) -> JSON:
    """A Shape of any kind; ``Transform`` (tuple order A00, A10, A01, A11, A02, A12, as SVG's
    ``matrix(a b c d e f)``) only when set. No ROI reference, as in omero-marshal."""
    fields = _SHAPE_FIELDS.get(s.kind)
    if fields is None:
        raise ValueError(f"unknown shape kind {s.kind!r}")
    v = _base(s.id, _SHAPE_TYPES[s.kind], s.details)
    _put(v, "FillColor", s.fill_color)
    _put(v, "FillRule", s.fill_rule)
    _put(v, "FontFamily", s.font_family)
    _put_length(v, "FontSize", s.font_size)
    _put(v, "FontStyle", s.font_style)
    _put(v, "Locked", s.locked)
    _put(v, "StrokeColor", s.stroke_color)
    _put(v, "StrokeDashArray", s.stroke_dash_array)
    _put_length(v, "StrokeWidth", s.stroke_width)
    _put(v, "Text", s.text)
    _put(v, "TheC", s.the_c)
    _put(v, "TheT", s.the_t)
    _put(v, "TheZ", s.the_z)
    if s.transform is not None:
        a00, a10, a01, a11, a02, a12 = s.transform
        v["Transform"] = {
            "@type": _T_TRANSFORM,
            "A00": a00,
            "A10": a10,
            "A01": a01,
            "A11": a11,
            "A02": a02,
            "A12": a12,
        }
    for key, attr in fields:
        _put(v, key, getattr(s, attr))
    return v


def encode_roi(r: Roi) -> JSON:
    """A ROI (``@type`` ``...#ROI``); lowercase ``shapes`` when loaded and non-empty."""
    v = _base(r.id, _T_ROI, r.details)
    _put(v, "Name", r.name)
    _put(v, "Description", r.description)
    if r.shapes:
        v["shapes"] = [encode_shape(s) for s in r.shapes if s is not None]
    return v


# --- annotations -----------------------------------------------------------------------

_ANNOTATION_TYPES = {
    kind: f"{_S}{kind}Annotation"
    for kind in (
        "Comment",
        "Tag",
        "Xml",
        "Long",
        "Double",
        "Boolean",
        "Timestamp",
        "Term",
        "Map",
        "File",
    )
}


def encode_annotation(a: Annotation) -> JSON | None:
    """An annotation with ``Description``, ``Namespace`` and its ``Value``.

    A MapAnnotation whose ``map_value`` is None encodes to None, as in omero-marshal. A
    FileAnnotation has no ``Value``; its ``File`` is omitted because the model does not
    load the OriginalFile.
    """
    type_ = _ANNOTATION_TYPES.get(a.kind)
    if type_ is None:
        raise ValueError(f"unknown annotation kind {a.kind!r}")
    kind = a.kind
    if kind == "Map" and a.map_value is None:
        return None
    v = _base(a.id, type_, a.details)
    _put(v, "Description", a.description)
    _put(v, "Namespace", a.ns)
    if kind in ("Comment", "Tag", "Xml"):
        _put(v, "Value", a.text_value)
    elif kind == "Long":
        _put(v, "Value", a.long_value)
    elif kind == "Double":
        _put(v, "Value", None if a.double_value is None else float(a.double_value))
    elif kind == "Boolean":
        _put(v, "Value", a.bool_value)
    elif kind == "Timestamp":
        _put(v, "Value", to_millis(a.time_value))
    elif kind == "Term":
        _put(v, "Value", a.term_value)
    elif kind == "Map":
        v["Value"] = [[name, value] for name, value in a.map_value or ()]
    return v


# --- dispatch and normalize ------------------------------------------------------------

_ENCODERS: dict[type, Callable[[Any], JSON | None]] = {
    Project: encode_project,
    Dataset: encode_dataset,
    Screen: encode_screen,
    Plate: encode_plate,
    PlateAcquisition: encode_plate_acquisition,
    Well: encode_well,
    WellSample: encode_well_sample,
    Image: encode_image,
    Pixels: encode_pixels,
    Channel: encode_channel,
    Roi: encode_roi,
    Shape: encode_shape,
    Annotation: encode_annotation,
    Experimenter: encode_experimenter,
    ExperimenterGroup: encode_group,
}

Encodable = (
    Project
    | Dataset
    | Screen
    | Plate
    | PlateAcquisition
    | Well
    | WellSample
    | Image
    | Pixels
    | Channel
    | Roi
    | Shape
    | Experimenter
    | ExperimenterGroup
)


@overload
def encode(obj: Annotation) -> JSON | None: ...
@overload
def encode(obj: Encodable) -> JSON: ...
def encode(obj: Encodable | Annotation) -> JSON | None:
    """The omero-marshal JSON of any model object, with the defaults of the API endpoints.

    Experimenters and groups given directly carry only ``permissions`` in their details
    (see :func:`encode_experimenter`, :func:`encode_group` to choose them).
    """
    try:
        encoder = _ENCODERS[type(obj)]
    except KeyError:
        raise TypeError(f"no omero-marshal encoder for {type(obj).__name__}") from None
    return encoder(obj)


def normalize(items: Iterable[JSON]) -> tuple[list[JSON], list[JSON]]:
    """Move each item's ``omero:details.owner`` and ``.group`` into top-level lists.

    Mutates the items in place: each owner and group becomes ``{"@id": n}``. Returns
    ``(experimenters, experimenterGroups)``, keyed by ``@id`` in first-seen order with the
    last occurrence winning (spec 2.7). Nested objects are untouched; an item without an
    owner or group (e.g. an Experimenter) is left as it is.
    """
    owners: dict[Any, JSON] = {}
    groups: dict[Any, JSON] = {}
    for item in items:
        details = item.get("omero:details")
        if not details:
            continue
        owner = details.get("owner")
        if owner is not None:
            owners[owner["@id"]] = owner
            details["owner"] = {"@id": owner["@id"]}
        group = details.get("group")
        if group is not None:
            groups[group["@id"]] = group
            details["group"] = {"@id": group["@id"]}
    return list(owners.values()), list(groups.values())
