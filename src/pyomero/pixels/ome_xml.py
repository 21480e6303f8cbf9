"""OME-XML (parsed by ome-types) to the import metadata of ``pixels.source``.

OME-TIFF files and bioformats2raw OME-Zarr both carry OME-XML; one translation keeps their
metadata identical: lengths in micrometres, wavelengths in nanometres, colours as RGBA
bytes from OME's signed 32-bit integer, plates as ``PlateMeta`` with fields pointing at the
series that hold their images.
"""

from __future__ import annotations

import re
from typing import Any

from pyomero.errors import BadFile
from pyomero.pixels.source import (
    AcquisitionMeta,
    ChannelMeta,
    ImageMeta,
    PlateMeta,
    WellField,
    WellMeta,
)

#: SI length unit symbol -> power of ten of a metre (exact conversions between them).
_SI_EXPONENT: dict[str, int] = {
    "Ym": 24, "Zm": 21, "Em": 18, "Pm": 15, "Tm": 12, "Gm": 9, "Mm": 6, "km": 3, "hm": 2,
    "dam": 1, "m": 0, "dm": -1, "cm": -2, "mm": -3, "µm": -6, "nm": -9, "Å": -10,
    "pm": -12, "fm": -15, "am": -18, "zm": -21, "ym": -24,
}  # fmt: skip
#: Other OME length units -> metres.
_METRES: dict[str, float] = {
    "thou": 2.54e-5, "li": 2.116666e-3, "in": 2.54e-2, "ft": 0.3048, "yd": 0.9144,
    "mi": 1609.344, "ua": 1.495978707e11, "ly": 9.4607304725808e15, "pc": 3.0856776e16,
    "pt": 3.527777e-4,
}  # fmt: skip


def parse(xml: str, label: str) -> Any:
    """Parse OME-XML leniently (no schema validation: real files often break the schema)."""
    import ome_types

    try:
        return ome_types.from_xml(xml, validate=False)
    except Exception as exc:
        raise BadFile(f"{label}: OME-XML metadata does not parse ({exc})") from exc


def convert_length(value: float | None, unit: Any, to_exponent: int) -> float | None:
    """``value`` in ``unit`` expressed in 10**``to_exponent`` metres; None if not a length."""
    if value is None:
        return None
    symbol = str(getattr(unit, "value", unit)) if unit is not None else "µm"
    if symbol in _SI_EXPONENT:
        shift = _SI_EXPONENT[symbol] - to_exponent
        return float(value) * 10**shift if shift >= 0 else float(value) / 10**-shift
    if symbol in _METRES:  # "pixel", "reference frame" have no physical meaning
        return float(value) * _METRES[symbol] * 10**-to_exponent
    return None


def rgba(color: Any) -> tuple[int, int, int, int] | None:
    """RGBA bytes of an ome-types Color (OME stores a signed 32-bit RGBA integer)."""
    if color is None:
        return None
    value = int(color.as_int32()) & 0xFFFFFFFF
    return (value >> 24 & 0xFF, value >> 16 & 0xFF, value >> 8 & 0xFF, value & 0xFF)


def channel_meta(channel: Any) -> ChannelMeta:
    return ChannelMeta(
        name=channel.name or None,
        # ome-types gives every Channel a default colour (white); only a Color attribute the
        # file really has counts, or every image would import white (OMERO's rule 1, 6.11).
        color=rgba(channel.color) if "color" in channel.model_fields_set else None,
        emission_wavelength=convert_length(
            channel.emission_wavelength, channel.emission_wavelength_unit, -9
        ),
        excitation_wavelength=convert_length(
            channel.excitation_wavelength, channel.excitation_wavelength_unit, -9
        ),
        fluor=channel.fluor or None,
    )


def image_meta(image: Any, name: str, size_c: int) -> ImageMeta:
    """ImageMeta of an OME Image; channels padded or cut to ``size_c`` (RGB has one Channel)."""
    pixels = image.pixels
    channels: list[ChannelMeta] = []
    for channel in pixels.channels:
        meta = channel_meta(channel)
        channels.extend([meta] * max(1, int(channel.samples_per_pixel or 1)))
    channels = (channels + [ChannelMeta()] * size_c)[:size_c]
    return ImageMeta(
        name=name,
        description=image.description or None,
        acquisition_date=image.acquisition_date,
        physical_size_x=convert_length(pixels.physical_size_x, pixels.physical_size_x_unit, -6),
        physical_size_y=convert_length(pixels.physical_size_y, pixels.physical_size_y_unit, -6),
        physical_size_z=convert_length(pixels.physical_size_z, pixels.physical_size_z_unit, -6),
        significant_bits=pixels.significant_bits,
        channels=tuple(channels),
    )


def plate_meta(ome: Any, series_of_image: dict[str, int]) -> PlateMeta | None:
    """The first Plate of the OME document, fields mapped to series through Image IDs."""
    if not ome.plates:
        return None
    plate = ome.plates[0]
    acquisition_of: dict[str, int] = {}
    acquisitions = []
    for index, acq in enumerate(plate.plate_acquisitions):
        acquisitions.append(
            AcquisitionMeta(
                name=acq.name or None,
                description=acq.description or None,
                maximum_field_count=acq.maximum_field_count,
            )
        )
        for ref in acq.well_sample_refs:
            acquisition_of[ref.id] = index
    wells = []
    for well in plate.wells:
        fields = []
        for sample in sorted(well.well_samples, key=lambda s: s.index):
            if sample.image_ref is None or sample.image_ref.id not in series_of_image:
                continue
            fields.append(
                WellField(
                    series=series_of_image[sample.image_ref.id],
                    acquisition=acquisition_of.get(sample.id),
                    position_x=convert_length(sample.position_x, sample.position_x_unit, -6),
                    position_y=convert_length(sample.position_y, sample.position_y_unit, -6),
                )
            )
        wells.append(WellMeta(row=well.row, column=well.column, fields=tuple(fields)))
    return PlateMeta(
        name=plate.name or "Plate",
        rows=plate.rows or max((w.row + 1 for w in wells), default=0),
        columns=plate.columns or max((w.column + 1 for w in wells), default=0),
        row_naming=_naming(plate.row_naming_convention, "letter"),
        column_naming=_naming(plate.column_naming_convention, "number"),
        wells=tuple(wells),
        acquisitions=tuple(acquisitions),
        description=plate.description or None,
    )


def _naming(convention: Any, default: str) -> str:
    value = getattr(convention, "value", convention)
    return value if value in ("letter", "number") else default


_FILE_NAME = re.compile(r"<(?:\w+:)?UUID\b[^>]*\bFileName=\"([^\"]+)\"")


def referenced_files(xml: str) -> list[str]:
    """File names a multi-file OME-TIFF's TiffData/UUID elements point at, in order, once."""
    return list(dict.fromkeys(_FILE_NAME.findall(xml)))
