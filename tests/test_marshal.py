"""omero-marshal JSON encoding, normalize and /m/save/ decoding (spec/omero-json-api.md 2.7,
3.1, 4.1-4.6 and assertions 73-76)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from pyomero.errors import InvalidInput, NotSupported
from pyomero.model.commands import AnnotationSpec, SaveRequest
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
from pyomero.model.permissions import ALL_ALLOWED_RWRWRW, GroupLevel, Permissions
from pyomero.wire.decode import DecodeError
from pyomero.wire.marshal import (
    LENGTH_SYMBOLS,
    SCHEMA_URL,
    TIME_SYMBOLS,
    decode_save,
    encode,
    encode_experimenter,
    encode_group,
    encode_image,
    encode_length,
    encode_permissions,
    encode_pixels,
    encode_time,
    enum_id,
    normalize,
    rgba_to_int,
    to_millis,
)

S = "http://www.openmicroscopy.org/Schemas/OME/2016-06#"
DECODE_MESSAGE = "Error in decode of json data by omero_marshal"


def perms(perm: str, *flags: bool, **is_: bool) -> dict[str, object]:
    """An expected TBD#Permissions dict, written out key by key."""
    annotate, delete, edit, link = flags or (False, False, False, False)
    return {
        "@type": "TBD#Permissions",
        "perm": perm,
        "canAnnotate": annotate,
        "canDelete": delete,
        "canEdit": edit,
        "canLink": link,
        "isWorldWrite": is_.get("ww", False),
        "isWorldRead": is_.get("wr", False),
        "isGroupWrite": is_.get("gw", False),
        "isGroupRead": is_.get("gr", False),
        "isGroupAnnotate": is_.get("ga", False),
        "isUserWrite": is_.get("uw", False),
        "isUserRead": is_.get("ur", False),
    }


ENUM_DETAILS = {"@type": "TBD#Details", "permissions": perms("rwr-r-", ur=True, uw=True, gr=True, wr=True)}  # fmt: skip


def enum(kind: str, id_: int, value: str) -> dict[str, object]:
    return {"@id": id_, "@type": f"TBD#{kind}", "value": value, "omero:details": ENUM_DETAILS}


def length(unit: str, symbol: str, value: float) -> dict[str, object]:
    return {"@type": "TBD#LengthI", "Unit": unit, "Symbol": symbol, "Value": value}


BEN = Experimenter(0, "ben", "Ben", "Nevis")
READ_ANN = ExperimenterGroup(5, "read-ann", GroupLevel.READ_ANNOTATE)
CALLER_PERMS = Permissions("rwra--", True, False, False, False)
DETAILS = Details(BEN, READ_ANN, CALLER_PERMS)

BEN_JSON = {
    "@id": 0,
    "@type": S + "Experimenter",
    "omero:details": {"@type": "TBD#Details", "permissions": perms("------")},
    "FirstName": "Ben",
    "MiddleName": "",
    "LastName": "Nevis",
    "Email": "",
    "UserName": "ben",
}
READ_ANN_JSON = {
    "@id": 5,
    "@type": S + "ExperimenterGroup",
    "omero:details": {
        "@type": "TBD#Details",
        "permissions": perms("rwra--", ur=True, uw=True, gr=True, ga=True),
    },
    "Name": "read-ann",
}
DETAILS_JSON = {
    "@type": "TBD#Details",
    "owner": BEN_JSON,
    "group": READ_ANN_JSON,
    "permissions": perms("rwra--", True, False, False, False, ur=True, uw=True, gr=True, ga=True),
}


# --- permissions, details, people (spec 4.2) ---------------------------------------------


def test_default_permissions_encode_to_13_keys_all_true() -> None:  # assertion 73
    encoded = encode_permissions(ALL_ALLOWED_RWRWRW)
    assert len(encoded) == 13
    assert encoded == perms(
        "rwrwrw", True, True, True, True, ur=True, uw=True, gr=True, gw=True, ga=True, wr=True,
        ww=True,
    )  # fmt: skip


def test_permissions_for_each_group_level() -> None:
    assert encode_permissions(Permissions("rw----", False, False, False, False)) == perms(
        "rw----", ur=True, uw=True
    )
    assert encode_permissions(Permissions("rwr---", False, True, True, False)) == perms(
        "rwr---", False, True, True, False, ur=True, uw=True, gr=True
    )
    assert encode_permissions(Permissions("rwrw--", True, True, True, True)) == perms(
        "rwrw--", True, True, True, True, ur=True, uw=True, gr=True, gw=True, ga=True
    )


def test_project_details_match_the_documented_real_server_output() -> None:
    assert encode(Project(11601, "New data", "Example Project", details=DETAILS)) == {
        "@id": 11601,
        "@type": S + "Project",
        "omero:details": DETAILS_JSON,
        "Name": "New data",
        "Description": "Example Project",
    }


def test_details_parts_are_omitted_when_none() -> None:
    project = Project(1, "p", details=Details(None, None, None))
    assert encode(project)["omero:details"] == {"@type": "TBD#Details"}
    assert "omero:details" not in encode(Project(1, "p"))


def test_experimenter_and_group_listed_directly() -> None:
    e = Experimenter(3, "jo", "Jo", "Doe", middle_name="Q", email="jo@x.org", institution="U")
    assert encode(e) == {
        "@id": 3,
        "@type": S + "Experimenter",
        "omero:details": {"@type": "TBD#Details", "permissions": perms("------")},
        "FirstName": "Jo",
        "MiddleName": "Q",
        "LastName": "Doe",
        "Email": "jo@x.org",
        "Institution": "U",
        "UserName": "jo",
    }
    mine = Permissions("rw----", True, True, True, True)
    assert encode_experimenter(e, mine)["omero:details"] == {
        "@type": "TBD#Details",
        "permissions": perms("rw----", True, True, True, True, ur=True, uw=True),
    }
    group = ExperimenterGroup(7, "lab", GroupLevel.READ_WRITE, description="the lab")
    assert encode(group) == {
        "@id": 7,
        "@type": S + "ExperimenterGroup",
        "omero:details": {
            "@type": "TBD#Details",
            "permissions": perms("rwrw--", ur=True, uw=True, gr=True, gw=True, ga=True),
        },
        "Name": "lab",
        "Description": "the lab",
    }
    assert encode_group(group, ALL_ALLOWED_RWRWRW)["omero:details"]["permissions"]["perm"] == (
        "rwrwrw"
    )


# --- generic rules (spec 4.1) ------------------------------------------------------------


def test_none_is_omitted_but_empty_zero_and_false_are_kept() -> None:
    assert encode(Project(1, "", None)) == {"@id": 1, "@type": S + "Project", "Name": ""}
    assert encode(Image(2, "i", description="", archived=False, partial=False, series=0)) == {
        "@id": 2,
        "@type": S + "Image",
        "omero:archived": False,
        "Description": "",
        "Name": "i",
        "omero:partial": False,
        "omero:series": 0,
    }
    assert encode(Image(3, "j", archived=None, series=None)) == {
        "@id": 3,
        "@type": S + "Image",
        "Name": "j",
    }


@pytest.mark.parametrize(
    ("rgba", "expected"),
    [
        ((255, 255, 255, 255), -1),
        ((255, 0, 255, 255), -16711681),
        ((255, 0, 0, 0), -16777216),
        ((0, 0, 255, 255), 65535),
        ((0, 0, 255, None), 65535),
        ((127, 255, 255, 255), 2147483647),
        ((128, 0, 0, 0), -2147483648),
        ((None, 0, 0, 255), None),
        ((0, None, 0, 255), None),
        ((0, 0, None, 255), None),
    ],
)
def test_rgba_to_int(rgba: tuple[int | None, ...], expected: int | None) -> None:
    assert rgba_to_int(*rgba) == expected


def test_units() -> None:
    encoded = encode_length(Length(1, "MICROMETER"))
    assert encoded == {"@type": "TBD#LengthI", "Unit": "MICROMETER", "Symbol": "µm", "Value": 1.0}
    assert encoded["Symbol"] == "\u00b5m"
    assert type(encoded["Value"]) is float
    assert orjson.dumps(encoded) == (
        b'{"@type":"TBD#LengthI","Unit":"MICROMETER","Symbol":"\xc2\xb5m","Value":1.0}'
    )
    assert encode_length(Length(2, "REFERENCEFRAME")) == length(
        "REFERENCEFRAME", "reference frame", 2.0
    )
    assert encode_length(Length(0.5, "ANGSTROM"))["Symbol"] == "\u00c5"
    assert encode_time(Time(1, "MILLISECOND")) == {
        "@type": "TBD#TimeI",
        "Unit": "MILLISECOND",
        "Symbol": "ms",
        "Value": 1.0,
    }
    assert type(encode_time(Time(3, "SECOND"))["Value"]) is float
    with pytest.raises(ValueError, match="unknown length unit 'FURLONG'"):
        encode_length(Length(1, "FURLONG"))
    with pytest.raises(ValueError, match="unknown time unit 'WEEK'"):
        encode_time(Time(1, "WEEK"))


def test_unit_tables_are_complete() -> None:
    prefixes = "YOTTA ZETTA EXA PETA TERA GIGA MEGA KILO HECTO DECA  DECI CENTI MILLI MICRO NANO PICO FEMTO ATTO ZEPTO YOCTO"  # fmt: skip
    si = [p + "METER" for p in prefixes.split(" ")]
    extra = "ANGSTROM ASTRONOMICALUNIT LIGHTYEAR PARSEC THOU LINE INCH FOOT YARD MILE POINT PIXEL REFERENCEFRAME"  # fmt: skip
    assert list(LENGTH_SYMBOLS) == si + extra.split()
    assert [LENGTH_SYMBOLS[u] for u in ("METER", "NANOMETER", "POINT", "PIXEL", "INCH")] == [
        "m",
        "nm",
        "pt",
        "pixel",
        "in",
    ]
    seconds = [p + "SECOND" for p in prefixes.split(" ")]
    assert list(TIME_SYMBOLS) == [*seconds, "MINUTE", "HOUR", "DAY"]
    assert [TIME_SYMBOLS[u] for u in ("MICROSECOND", "NANOSECOND", "MINUTE", "HOUR", "DAY")] == [
        "\u00b5s",
        "ns",
        "min",
        "h",
        "d",
    ]


def test_times_are_int_milliseconds() -> None:
    assert to_millis(datetime(2009, 2, 27, 10, 25, 32)) == 1235730332000
    assert to_millis(datetime(1970, 1, 1, 0, 0, 0, 1999)) == 1
    aware = datetime(2009, 2, 27, 11, 25, 32, tzinfo=timezone(timedelta(hours=1)))
    assert to_millis(aware) == 1235730332000
    assert to_millis(datetime(2009, 2, 27, 10, 25, 32, tzinfo=UTC)) == 1235730332000
    assert to_millis(None) is None


def test_enum_ids_are_fixed_and_stable() -> None:
    assert enum_id("PixelsType", "bit") == 1
    assert enum_id("PixelsType", "uint16") == 6
    assert enum_id("PixelsType", "double-complex") == 11
    assert enum_id("PhotometricInterpretation", "Monochrome") == 5
    assert enum_id("DimensionOrder", "XYZCT") == 1
    unknown = enum_id("Format", "SomeReader")
    assert unknown >= 1000
    assert unknown == enum_id("Format", "SomeReader")


def test_results_are_independent_dicts() -> None:
    a = encode(Project(1, "a", details=DETAILS))
    a["url:project"] = "x"
    a["omero:details"]["owner"]["@id"] = 99
    b = encode(Project(1, "a", details=DETAILS))
    assert "url:project" not in b
    assert b["omero:details"]["owner"]["@id"] == 0
    p = encode_permissions(ALL_ALLOWED_RWRWRW)
    p["perm"] = "------"
    assert encode_permissions(ALL_ALLOWED_RWRWRW)["perm"] == "rwrwrw"


def test_encode_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="no omero-marshal encoder for Length"):
        encode(Length(1.0))  # type: ignore[call-overload]


# --- containers and SPW (spec 4.3) -------------------------------------------------------


def test_dataset_and_screen() -> None:
    assert encode(Dataset(2, "d", "desc")) == {
        "@id": 2,
        "@type": S + "Dataset",
        "Name": "d",
        "Description": "desc",
    }
    screen = Screen(4, "s", "sd", "pd", "pi", "rd", "ri", "the_type")
    assert encode(screen) == {
        "@id": 4,
        "@type": S + "Screen",
        "Name": "s",
        "Description": "sd",
        "ProtocolDescription": "pd",
        "ProtocolIdentifier": "pi",
        "ReagentSetDescription": "rd",
        "ReagentSetIdentifier": "ri",
        "Type": "the_type",
    }


def test_plate() -> None:  # assertion 75 (plate part)
    plate = Plate(
        5, "plate", "pd", "number", "letter", 12, 8, default_sample=2, external_identifier="ext",
        status="ok", well_origin_x=Length(1.0, "REFERENCEFRAME"),
        well_origin_y=Length(2, "REFERENCEFRAME"),
    )  # fmt: skip
    assert encode(plate) == {
        "@id": 5,
        "@type": S + "Plate",
        "Name": "plate",
        "Description": "pd",
        "ColumnNamingConvention": "number",
        "RowNamingConvention": "letter",
        "Columns": 12,
        "Rows": 8,
        "FieldIndex": 2,
        "ExternalIdentifier": "ext",
        "Status": "ok",
        "WellOriginX": length("REFERENCEFRAME", "reference frame", 1.0),
        "WellOriginY": length("REFERENCEFRAME", "reference frame", 2.0),
    }


RUN = PlateAcquisition(
    6, "run", "rd", 3, datetime(1970, 1, 1, 0, 0, 1), datetime(1970, 1, 1, 0, 0, 2), plate_id=5
)
RUN_JSON = {
    "@id": 6,
    "@type": S + "PlateAcquisition",
    "Name": "run",
    "Description": "rd",
    "MaximumFieldCount": 3,
    "StartTime": 1000,
    "EndTime": 2000,
}


def test_plate_acquisition() -> None:
    assert encode(RUN) == RUN_JSON


def test_well_with_samples() -> None:  # assertion 75 (well part)
    pixels = Pixels(12, 4, 4, 1, 1, 1, "uint8")
    sample = WellSample(
        8, 0, Length(1.0, "REFERENCEFRAME"), Length(2.0, "REFERENCEFRAME"),
        datetime(1970, 1, 1, 0, 0, 3), image=Image(11, "img", pixels=pixels), plate_acquisition=RUN,
    )  # fmt: skip
    well = Well(
        7, 1, 2, "ed", "ei", "t", red=255, green=0, blue=0, alpha=0, status="s", plate_id=5,
        samples=[sample, None],  # type: ignore[list-item]
    )  # fmt: skip
    image_json = {
        "@id": 11,
        "@type": S + "Image",
        "omero:archived": False,
        "Name": "img",
        "omero:series": 0,
        "Pixels": {
            "@id": 12,
            "@type": S + "Pixels",
            "SizeX": 4,
            "SizeY": 4,
            "SizeZ": 1,
            "SizeC": 1,
            "SizeT": 1,
            "Type": enum("PixelsType", 5, "uint8"),
        },
    }
    assert encode(well) == {
        "@id": 7,
        "@type": S + "Well",
        "Column": 1,
        "Row": 2,
        "ExternalDescription": "ed",
        "ExternalIdentifier": "ei",
        "Type": "t",
        "Color": -16777216,
        "omero:status": "s",
        "WellSamples": [
            {
                "@id": 8,
                "@type": S + "WellSample",
                "PositionX": length("REFERENCEFRAME", "reference frame", 1.0),
                "PositionY": length("REFERENCEFRAME", "reference frame", 2.0),
                "Timepoint": 3000,
                "Image": image_json,
                "PlateAcquisition": RUN_JSON,
            }
        ],
    }
    # the well list loads images without pixels, and a sample without a run has no key
    sample.image = Image(11, "img")
    sample.plate_acquisition = None
    listed = encode(well)["WellSamples"][0]
    assert "Pixels" not in listed["Image"]
    assert "PlateAcquisition" not in listed


def test_well_without_samples_has_no_key() -> None:
    no_samples: list[list[WellSample] | None] = [None, []]
    for samples in no_samples:
        encoded = encode(Well(7, 0, 0, samples=samples))
        assert encoded == {"@id": 7, "@type": S + "Well", "Column": 0, "Row": 0}
    assert "Color" not in encode(Well(7, 0, 0, red=1, green=2, blue=None))


# --- Image, Pixels, Channel (spec 4.4) ---------------------------------------------------


def image_with_channels() -> Image:
    um = "MICROMETER"
    channels = [
        Channel(
            21, 0, 255, 255, 255, 255, lookup_table="lut", name="DAPI",
            emission_wavelength=Length(470, "NANOMETER"), excitation_wavelength=Length(436, "NANOMETER"),
            fluor="GFP", nd_filter=1.0, pinhole_size=Length(0.5, um), pockel_cell_setting=0,
            samples_per_pixel=1, contrast_method="Fluorescence", illumination="Epifluorescence",
            acquisition_mode="WideField", photometric_interpretation="Monochrome",
        ),
        Channel(22, 1, 255, 0, 255, 255),
    ]  # fmt: skip
    pixels = Pixels(
        31, 512, 256, 29, 2, 3, "uint16", physical_size_x=Length(1, um),
        physical_size_y=Length(1.0, um), physical_size_z=Length(0.2, um), significant_bits=16,
        sha1="abc", time_increment=Time(1, "MILLISECOND"), methodology="m", wave_increment=1.5,
        wave_start=400, channels=channels,
    )  # fmt: skip
    return Image(
        41, "CFP.dv", "desc", datetime(2009, 2, 27, 10, 25, 32), archived=False, partial=True,
        series=2, format="PNG", pixels=pixels,
    )  # fmt: skip


PIXELS_JSON = {
    "@id": 31,
    "@type": S + "Pixels",
    "omero:methodology": "m",
    "PhysicalSizeX": length("MICROMETER", "µm", 1.0),
    "PhysicalSizeY": length("MICROMETER", "µm", 1.0),
    "PhysicalSizeZ": length("MICROMETER", "µm", 0.2),
    "omero:sha1": "abc",
    "SignificantBits": 16,
    "SizeX": 512,
    "SizeY": 256,
    "SizeZ": 29,
    "SizeC": 2,
    "SizeT": 3,
    "TimeIncrement": {"@type": "TBD#TimeI", "Unit": "MILLISECOND", "Symbol": "ms", "Value": 1.0},
    "omero:waveIncrement": 1.5,
    "omero:waveStart": 400,
    "Type": enum("PixelsType", 6, "uint16"),
}
CHANNELS_JSON = [
    {
        "@id": 21,
        "@type": S + "Channel",
        "Color": -1,
        "omero:lookupTable": "lut",
        "omero:LogicalChannelId": 21,
        "EmissionWavelength": length("NANOMETER", "nm", 470.0),
        "ExcitationWavelength": length("NANOMETER", "nm", 436.0),
        "Fluor": "GFP",
        "Name": "DAPI",
        "NDFilter": 1.0,
        "PinholeSize": length("MICROMETER", "µm", 0.5),
        "PockelCellSetting": 0,
        "SamplesPerPixel": 1,
        "ContrastMethod": enum("ContrastMethod", 8, "Fluorescence"),
        "Illumination": enum("Illumination", 2, "Epifluorescence"),
        "AcquisitionMode": enum("AcquisitionMode", 1, "WideField"),
        "omero:photometricInterpretation": enum("PhotometricInterpretation", 5, "Monochrome"),
    },
    {
        "@id": 22,
        "@type": S + "Channel",
        "Color": -16711681,
        "omero:LogicalChannelId": 22,
    },
]


def test_single_image_with_channels() -> None:  # assertion 74
    assert encode(image_with_channels()) == {
        "@id": 41,
        "@type": S + "Image",
        "AcquisitionDate": 1235730332000,
        "omero:archived": False,
        "Description": "desc",
        "Name": "CFP.dv",
        "omero:partial": True,
        "omero:series": 2,
        "Pixels": {**PIXELS_JSON, "Channels": CHANNELS_JSON},
    }


def test_image_list_has_type_but_no_channels_or_dimension_order() -> None:
    image = image_with_channels()
    assert image.pixels is not None
    image.pixels.channels = None
    encoded = encode(image)
    assert encoded["Pixels"] == PIXELS_JSON
    assert "Channels" not in encoded["Pixels"]
    assert "DimensionOrder" not in encoded["Pixels"]
    assert "omero:format" not in encoded
    image.pixels.channels = []
    assert "Channels" not in encode(image)["Pixels"]
    assert "Pixels" not in encode(Image(1, "no pixels"))


def test_dimension_order_and_format_on_request() -> None:
    image = image_with_channels()
    encoded = encode_image(image, dimension_order=True, image_format=True)
    assert encoded["omero:format"] == enum("Format", 3, "PNG")
    assert encoded["Pixels"]["DimensionOrder"] == enum("DimensionOrder", 1, "XYZCT")
    assert image.pixels is not None
    image.pixels.dimension_order = "XYCZT"
    assert encode_pixels(image.pixels, dimension_order=True)["DimensionOrder"] == enum(
        "DimensionOrder", 4, "XYCZT"
    )


# --- ROIs (spec 4.5) ---------------------------------------------------------------------

COMMON = dict(
    the_z=1, the_t=2, the_c=0, fill_color=-256, fill_rule="evenodd", stroke_color=65535,
    stroke_width=Length(2, "PIXEL"), stroke_dash_array="1 2", font_family="sans-serif",
    font_size=Length(12, "POINT"), font_style="italic", locked=False, text="hi",
)  # fmt: skip
COMMON_JSON = {
    "FillColor": -256,
    "FillRule": "evenodd",
    "FontFamily": "sans-serif",
    "FontSize": length("POINT", "pt", 12.0),
    "FontStyle": "italic",
    "Locked": False,
    "StrokeColor": 65535,
    "StrokeDashArray": "1 2",
    "StrokeWidth": length("PIXEL", "pixel", 2.0),
    "Text": "hi",
    "TheC": 0,
    "TheT": 2,
    "TheZ": 1,
}
GEOMETRY = dict(
    x=1.0, y=2.0, width=3.0, height=4.0, radius_x=5.0, radius_y=6.0, x1=7.0, y1=8.0, x2=9.0,
    y2=10.0, points="0,0 1,2 3,5", marker_start="Arrow", marker_end="Circle",
)  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "own"),
    [
        ("Rectangle", {"X": 1.0, "Y": 2.0, "Width": 3.0, "Height": 4.0}),
        ("Ellipse", {"X": 1.0, "Y": 2.0, "RadiusX": 5.0, "RadiusY": 6.0}),
        ("Point", {"X": 1.0, "Y": 2.0}),
        ("Label", {"X": 1.0, "Y": 2.0}),
        (
            "Line",
            {
                "X1": 7.0,
                "Y1": 8.0,
                "X2": 9.0,
                "Y2": 10.0,
                "MarkerStart": "Arrow",
                "MarkerEnd": "Circle",
            },
        ),
        ("Polyline", {"Points": "0,0 1,2 3,5", "MarkerStart": "Arrow", "MarkerEnd": "Circle"}),
        ("Polygon", {"Points": "0,0 1,2 3,5"}),
        ("Mask", {"X": 1.0, "Y": 2.0, "Width": 3.0, "Height": 4.0}),
    ],
)
def test_shape_kinds(kind: str, own: dict[str, object]) -> None:
    shape = Shape(51, kind, roi_id=9, **COMMON, **GEOMETRY)  # type: ignore[arg-type]
    assert encode(shape) == {"@id": 51, "@type": S + kind, **COMMON_JSON, **own}


def test_shape_transform_and_minimal_shape() -> None:
    shape = Shape(52, "Point", x=0.0, y=0.0, transform=(1.0, 0.0, 0.0, 1.0, 10.0, 20.0))
    assert encode(shape) == {
        "@id": 52,
        "@type": S + "Point",
        "Transform": {
            "@type": S + "AffineTransform",
            "A00": 1.0,
            "A10": 0.0,
            "A01": 0.0,
            "A11": 1.0,
            "A02": 10.0,
            "A12": 20.0,
        },
        "X": 0.0,
        "Y": 0.0,
    }
    with pytest.raises(ValueError, match="unknown shape kind 'Blob'"):
        encode(Shape(53, "Blob"))


def test_roi_skips_none_shapes() -> None:  # assertion 76
    shapes = [Shape(1, "Rectangle", x=0.0), None, Shape(2, "Ellipse", x=1.0)]
    encoded = encode(Roi(61, "the_name", "the_description", image_id=3, shapes=shapes))  # type: ignore[arg-type]
    assert len(encoded["shapes"]) == 2
    assert encoded == {
        "@id": 61,
        "@type": S + "ROI",
        "Name": "the_name",
        "Description": "the_description",
        "shapes": [
            {"@id": 1, "@type": S + "Rectangle", "X": 0.0},
            {"@id": 2, "@type": S + "Ellipse", "X": 1.0},
        ],
    }


def test_roi_without_shapes_has_no_key() -> None:
    no_shapes: list[list[Shape] | None] = [None, []]
    for shapes in no_shapes:
        assert encode(Roi(62, shapes=shapes)) == {"@id": 62, "@type": S + "ROI"}


# --- annotations (spec 4.6) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        (Annotation(1, "Comment", text_value="c"), "c"),
        (Annotation(1, "Tag", text_value="t"), "t"),
        (Annotation(1, "Xml", text_value="<x/>"), "<x/>"),
        (Annotation(1, "Long", long_value=0), 0),
        (Annotation(1, "Double", double_value=1.5), 1.5),
        (Annotation(1, "Boolean", bool_value=False), False),
        (Annotation(1, "Timestamp", time_value=datetime(1970, 1, 1, 0, 1)), 60000),
        (Annotation(1, "Term", term_value="GO:1"), "GO:1"),
        (Annotation(1, "Map", map_value=[("a", "1"), ("a", "2")]), [["a", "1"], ["a", "2"]]),
        (Annotation(1, "Map", map_value=[]), []),
    ],
)
def test_annotation_values(annotation: Annotation, value: object) -> None:
    annotation.ns = "openmicroscopy.org/ns"
    annotation.description = "d"
    assert encode(annotation) == {
        "@id": 1,
        "@type": f"{S}{annotation.kind}Annotation",
        "Description": "d",
        "Namespace": "openmicroscopy.org/ns",
        "Value": value,
    }


def test_annotation_special_cases() -> None:
    assert encode(Annotation(1, "Map")) is None
    assert encode(Annotation(2, "File", file_id=3, ns="n")) == {
        "@id": 2,
        "@type": S + "FileAnnotation",
        "Namespace": "n",
    }
    assert encode(Annotation(3, "Tag")) == {"@id": 3, "@type": S + "TagAnnotation"}
    assert type(encode(Annotation(4, "Double", double_value=2))["Value"]) is float  # type: ignore[index]
    with pytest.raises(ValueError, match="unknown annotation kind 'List'"):
        encode(Annotation(5, "List"))


# --- normalize (spec 2.7) ----------------------------------------------------------------


def test_normalize_moves_owners_and_groups() -> None:
    other = Experimenter(8, "al", "Al", "Bo")
    group2 = ExperimenterGroup(9, "g2", GroupLevel.PRIVATE)
    renamed = ExperimenterGroup(5, "renamed", GroupLevel.READ_ANNOTATE)
    items = [
        encode(Project(1, "a", details=DETAILS)),
        encode(Image(2, "b", pixels=Pixels(3, 1, 1, 1, 1, 1, "uint8", details=DETAILS), details=Details(other, group2, None))),
        encode(Dataset(4, "c", details=Details(BEN, renamed, None))),
        encode(Dataset(5, "no details")),
    ]  # fmt: skip
    experimenters, groups = normalize(items)
    assert experimenters == [BEN_JSON, encode(other)]
    assert groups == [{**READ_ANN_JSON, "Name": "renamed"}, encode(group2)]
    assert items[0]["omero:details"] == {
        "@type": "TBD#Details",
        "owner": {"@id": 0},
        "group": {"@id": 5},
        "permissions": DETAILS_JSON["permissions"],
    }
    assert items[1]["omero:details"]["owner"] == {"@id": 8}
    assert items[1]["omero:details"]["group"] == {"@id": 9}
    assert items[1]["Pixels"]["omero:details"] == DETAILS_JSON  # nested: untouched
    assert items[2]["omero:details"] == {
        "@type": "TBD#Details",
        "owner": {"@id": 0},
        "group": {"@id": 5},
    }
    assert items[3] == {"@id": 5, "@type": S + "Dataset", "Name": "no details"}


def test_normalize_empty_and_people_lists() -> None:
    assert normalize([]) == ([], [])
    people = [encode(BEN), encode(READ_ANN)]
    assert normalize(people) == ([], [])
    assert people == [BEN_JSON, READ_ANN_JSON]


# --- decode_save (spec 1.3, 3.1) ---------------------------------------------------------

GROUP_REF = {"@id": 5, "@type": S + "ExperimenterGroup"}


def reject(body: object, method: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        decode_save(body, method=method)
    assert type(info.value) is error
    assert str(info.value) == message


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_missing_type(method: str) -> None:
    message = "Need to specify @type attribute"
    reject({"Name": "p", "@id": 1}, method, InvalidInput, message)
    reject([{"@type": S + "Project"}], method, InvalidInput, message)
    reject("@type", method, InvalidInput, message)
    reject(None, method, InvalidInput, message)


@pytest.mark.parametrize(
    ("type_", "name"),
    [
        (S + "Plate", "Plate"),
        (S + "Image", "Image"),
        (S + "Well", "Well"),
        (S + "Channel", "Channel"),
        (S + "Experimenter", "Experimenter"),
        (S + "ExperimenterGroup", "ExperimenterGroup"),
        (S + "foo", "foo"),
        ("Project", "None"),
        ("a#Roi#b", "Roi"),
    ],
)
def test_unsupported_types(type_: str, name: str) -> None:
    reject({"@type": type_, "Name": "x"}, "POST", NotSupported, f"Creation of {name} not supported")
    # the type check comes before the @id check
    reject({"@type": type_, "Name": "x"}, "PUT", NotSupported, f"Update of {name} not supported")
    reject({"@type": type_, "@id": 1}, "POST", NotSupported, f"Creation of {name} not supported")


def test_id_checks() -> None:
    reject(
        {"Name": "p", "@type": S + "Project", "@id": 1},
        "POST",
        InvalidInput,
        "Object has '@id' attribute. Use PUT to update objects",
    )
    reject(
        {"Name": "p", "@type": S + "Dataset"},
        "PUT",
        InvalidInput,
        "No '@id' attribute. Use POST to create new objects",
    )
    # both come before the decoder lookup
    reject(
        {"@type": "SomeInvalidSchema#Project", "@id": 1},
        "POST",
        InvalidInput,
        "Object has '@id' attribute. Use PUT to update objects",
    )


@pytest.mark.parametrize(
    "type_",
    [
        "SomeInvalidSchema#Project",
        "http://www.openmicroscopy.org/Schemas/OME/2015-01#Project",
        "http://www.openmicroscopy.org/Schemas/SPW/2015-01#Screen",
        S + "Dataset#extra",
    ],
)
def test_no_decoder(type_: str) -> None:
    reject({"@type": type_}, "POST", InvalidInput, f"No decoder found for type: {type_}")
    reject({"@type": type_, "@id": 3}, "PUT", InvalidInput, f"No decoder found for type: {type_}")


@pytest.mark.parametrize(
    ("extra", "method", "problem"),
    [
        ({"omero:details": {"@type": "foo"}}, "POST", "no decoder for @type 'foo'"),
        ({"omero:details": {"group": GROUP_REF}}, "POST", "no decoder for @type None"),
        ({"omero:details": "details"}, "POST", "omero:details must be an object"),
        (
            {"omero:details": {"@type": "TBD#Details", "group": 5}},
            "POST",
            "group must be an object",
        ),  # fmt: skip
        (
            {"omero:details": {"@type": "TBD#Details", "group": {"@id": 5}}},
            "POST",
            "no decoder for @type None",
        ),  # fmt: skip
        (
            {"omero:details": {"@type": "TBD#Details", "group": {**GROUP_REF, "@id": "5"}}},
            "POST",
            "group.@id must be an integer",
        ),  # fmt: skip
        (
            {"omero:details": {"@type": "TBD#Details", "group": {**GROUP_REF, "@id": True}}},
            "POST",
            "group.@id must be an integer",
        ),  # fmt: skip
        ({"Name": 5}, "POST", "Name must be a string or null"),
        ({"Description": ["d"]}, "POST", "Description must be a string or null"),
        ({"@id": "7"}, "PUT", "@id must be an integer"),
        ({"@id": None}, "PUT", "@id must be an integer"),
        ({"Annotations": None}, "POST", "Annotations must be a list"),
        ({"Annotations": {"@type": S + "TagAnnotation"}}, "POST", "Annotations must be a list"),
        ({"Annotations": ["tag"]}, "POST", "Annotations[0] must be an object"),
        ({"Annotations": [{"@type": S + "ListAnnotation"}]}, "POST", "no decoder for @type"),
        ({"Annotations": [{"Value": "t"}]}, "POST", "Annotations[0]: no decoder for @type None"),
        (
            {"Annotations": [{"@type": S + "TagAnnotation", "Value": 3}]},
            "POST",
            "Value must be a string",
        ),  # fmt: skip
        (
            {"Annotations": [{"@type": S + "LongAnnotation", "Value": 1.5}]},
            "POST",
            "must be an integer",
        ),  # fmt: skip
        (
            {"Annotations": [{"@type": S + "DoubleAnnotation", "Value": "1"}]},
            "POST",
            "must be a number",
        ),  # fmt: skip
        (
            {"Annotations": [{"@type": S + "BooleanAnnotation", "Value": 1}]},
            "POST",
            "must be a boolean",
        ),  # fmt: skip
        (
            {"Annotations": [{"@type": S + "MapAnnotation", "Value": {"a": "b"}}]},
            "POST",
            "pairs",
        ),  # fmt: skip
        ({"Annotations": [{"@type": S + "MapAnnotation", "Value": [["a"]]}]}, "POST", "pairs"),
        ({"Annotations": [{"@type": S + "MapAnnotation", "Value": [["a", 1]]}]}, "POST", "pairs"),
        (
            {"Annotations": [{"@type": S + "TagAnnotation", "@id": "1"}]},
            "POST",
            "@id must be an integer",
        ),  # fmt: skip
        ({"Annotations": [{"@type": S + "TagAnnotation", "Namespace": 1}]}, "POST", "Namespace"),
        (
            {"Annotations": [{"@type": S + "TagAnnotation", "omero:details": {"@type": "x"}}]},
            "POST",
            "no decoder",
        ),  # fmt: skip
    ],
)
def test_decode_errors(extra: dict[str, object], method: str, problem: str) -> None:
    body = {"@type": S + "Project", "Name": "p", **extra}
    if method == "PUT":
        body.setdefault("@id", 1)
    with pytest.raises(DecodeError) as info:
        decode_save(body, method=method)
    error = info.value
    assert isinstance(error, InvalidInput)
    assert str(error) == DECODE_MESSAGE
    assert error.message == DECODE_MESSAGE
    assert error.stacktrace.startswith("Traceback (most recent call last):")
    assert problem in error.stacktrace


def test_post_project_with_group() -> None:
    body = {
        "@type": S + "Project",
        "Name": "new",
        "omero:details": {"@type": "TBD#Details", "group": GROUP_REF},
    }
    assert decode_save(body, method="POST") == SaveRequest(
        kind="Project",
        id=None,
        values={"name": "new", "description": None},
        group_id=5,
        annotations=None,
    )
    assert decode_save({"@type": S + "Project"}, method="post") == SaveRequest(
        "Project", None, {"name": None, "description": None}
    )


def test_put_dataset_is_a_full_replace_and_ignores_extra_keys() -> None:
    body = {
        "@type": S + "Dataset",
        "@id": 12,
        "Name": "renamed",
        "url:dataset": "http://x/api/v0/m/datasets/12/",
        "omero:childCount": 3,
        "Images": [{"@id": 1}],
        "omero:details": {"@type": "TBD#Details", "owner": {"@id": 1}, "permissions": "x"},
    }
    assert decode_save(body, method="PUT") == SaveRequest(
        "Dataset", 12, {"name": "renamed", "description": None}, group_id=None
    )
    body["omero:details"] = None
    assert decode_save(body, method="PUT").group_id is None


def test_put_screen_all_fields() -> None:
    body = {
        "@type": S + "Screen",
        "@id": 4,
        "Name": "s",
        "Description": "",
        "ProtocolDescription": "pd",
        "ProtocolIdentifier": "pi",
        "ReagentSetDescription": "rd",
        "ReagentSetIdentifier": "ri",
        "Type": "t",
    }
    assert decode_save(body, method="PUT") == SaveRequest(
        "Screen",
        4,
        {
            "name": "s",
            "description": "",
            "protocol_description": "pd",
            "protocol_identifier": "pi",
            "reagent_set_description": "rd",
            "reagent_set_identifier": "ri",
            "type": "t",
        },
    )


def test_encoded_objects_round_trip() -> None:
    cases: list[tuple[Project | Dataset, dict[str, str | None]]] = [
        (Project(3, "p", "d", details=DETAILS), {"name": "p", "description": "d"}),
        (Dataset(3, "d", None, details=DETAILS), {"name": "d", "description": None}),
    ]
    for obj, values in cases:
        request = decode_save(encode(obj), method="PUT")
        assert request == SaveRequest(type(obj).__name__, 3, values, group_id=5)
    screen = Screen(4, "s", type="t", details=DETAILS)
    assert decode_save(encode(screen), method="PUT").values["type"] == "t"


def test_annotations_decode() -> None:
    body = {
        "@type": S + "Project",
        "Name": "p",
        "Annotations": [
            {"@type": S + "TagAnnotation", "@id": 9, "Value": "existing"},
            {"@type": S + "CommentAnnotation", "Value": "c", "Namespace": "ns", "Description": "d"},
            {"@type": S + "MapAnnotation", "Value": [["k", "v"], ["k", "w"]]},
            {"@type": S + "LongAnnotation", "Value": 3},
            {"@type": S + "DoubleAnnotation", "Value": 2},
            {"@type": S + "BooleanAnnotation", "Value": True},
            {"@type": S + "TimestampAnnotation", "Value": 60000},
            {"@type": S + "XmlAnnotation", "Value": "<x/>"},
            {"@type": S + "TermAnnotation", "Value": "GO:1"},
            {"@type": S + "FileAnnotation", "@id": 4, "File": {"@id": 2}},
            {"@type": S + "TagAnnotation", "@id": 10, "omero:details": {"@type": "TBD#Details"}},
        ],
    }
    request = decode_save(body, method="POST")
    assert request.annotations == [
        AnnotationSpec("Tag", 9, None, None, "existing"),
        AnnotationSpec("Comment", None, "ns", "d", "c"),
        AnnotationSpec("Map", value=[("k", "v"), ("k", "w")]),
        AnnotationSpec("Long", value=3),
        AnnotationSpec("Double", value=2.0),
        AnnotationSpec("Boolean", value=True),
        AnnotationSpec("Timestamp", value=60000),
        AnnotationSpec("Xml", value="<x/>"),
        AnnotationSpec("Term", value="GO:1"),
        AnnotationSpec("File", 4),
        AnnotationSpec("Tag", 10),
    ]
    assert type(request.annotations[4].value) is float
    body["Annotations"] = []
    assert decode_save(body, method="POST").annotations == []


def test_decode_rejects_unknown_methods() -> None:
    with pytest.raises(ValueError, match="POST or PUT"):
        decode_save({"@type": S + "Project"}, method="PATCH")


def test_schema_url() -> None:
    assert SCHEMA_URL == "http://www.openmicroscopy.org/Schemas/OME/2016-06"
