"""The rendering query syntax, tiles and regions (wire/render_params.py; spec section 5)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyomero.errors import InvalidInput
from pyomero.model.rendering import (
    BLUE,
    FAMILIES,
    GREEN,
    RED,
    ChannelBinding,
    Color,
    Projection,
    RenderingDef,
)
from pyomero.wire import render_params as rp


def make_rdef(n: int = 3, **changes: object) -> RenderingDef:
    colors = (RED, GREEN, BLUE)
    channels = tuple(
        ChannelBinding(active=True, start=0.0, end=65535.0, color=colors[i % 3]) for i in range(n)
    )
    return RenderingDef(model="rgb", default_z=0, default_t=0, channels=channels).with_(**changes)


def apply(query: dict[str, str], rdef: RenderingDef | None = None, size_z: int = 1):
    return rp.apply_rendering_query(rdef or make_rdef(), query, size_z=size_z)


def channels(query: dict[str, str], rdef: RenderingDef | None = None):
    return apply(query, rdef).rdef.channels


# --- c ------------------------------------------------------------------------------------------


def test_spec_example():
    ch = channels({"c": "1|0:255$FF0000,2|0:255$00FF00,-3|0:255$0000FF"})
    assert [c.active for c in ch] == [True, True, False]
    assert (ch[0].start, ch[0].end, ch[0].color) == (0.0, 255.0, RED)
    assert (ch[1].start, ch[1].end, ch[1].color) == (0.0, 255.0, GREEN)
    # an inactive channel's window is not touched while rendering
    assert (ch[2].start, ch[2].end) == (0.0, 65535.0)


def test_unlisted_channels_are_inactive():
    assert [c.active for c in channels({"c": "1$FF0000"})] == [True, False, False]
    assert channels({"c": "1$FF0000"}) == channels({"c": "1$FF0000,-2,-3"})
    assert [c.active for c in channels({"c": "-1,-2,-3"})] == [False, False, False]


def test_ordering_quirk_gives_the_kth_values_to_the_kth_smallest_index():
    ch = channels({"c": "3|10:20$00FF00,1|30:40$0000FF"})
    assert (ch[0].start, ch[0].end, ch[0].color) == (10.0, 20.0, GREEN)
    assert (ch[2].start, ch[2].end, ch[2].color) == (30.0, 40.0, BLUE)
    # inactive channels still count in the order: channel 2 takes the second entry
    ch = channels({"c": "2|1:2$FF0000,-1|3:4$00FF00"})
    assert not ch[0].active
    assert (ch[1].start, ch[1].end, ch[1].color) == (3.0, 4.0, GREEN)


def test_indices_beyond_the_channels_or_zero_select_nothing_but_take_a_position():
    ch = channels({"c": "5|1:2$FF0000,1|3:4$00FF00"})
    assert [c.active for c in ch] == [True, False, False]
    assert (ch[0].start, ch[0].color) == (1.0, RED)
    ch = channels({"c": "0|1:2$0000FF,1|3:4$00FF00"})
    assert [c.active for c in ch] == [True, False, False]
    assert (ch[0].start, ch[0].color) == (1.0, BLUE)


def test_unparseable_index_drops_the_entry():
    ch = channels({"c": "x|0:1$0000FF,2|3:4$FF0000"})
    assert [c.active for c in ch] == [False, True, False]
    assert (ch[1].start, ch[1].end, ch[1].color) == (3.0, 4.0, RED)
    assert [c.active for c in channels({"c": "1_0,١,2"})] == [False, True, False]


@pytest.mark.parametrize("window", ["0:", ":5", "a:b", "1:2:3", "nan:1", "1:inf", "", "5"])
def test_window_left_unchanged_unless_two_numbers(window):
    ch = channels({"c": f"1|{window}$00FF00"})
    assert (ch[0].start, ch[0].end, ch[0].color) == (0.0, 65535.0, GREEN)


@pytest.mark.parametrize(
    ("text", "color"),
    [
        ("abc", Color(0xAA, 0xBB, 0xCC, 0xFF)),
        ("abcd", Color(0xAA, 0xBB, 0xCC, 0xDD)),
        ("12ab34", Color(0x12, 0xAB, 0x34, 0xFF)),
        ("12ab34cd", Color(0x12, 0xAB, 0x34, 0xCD)),
    ],
)
def test_hex_colours(text, color):
    assert rp.split_html_color(text) == color
    assert channels({"c": f"1|0:1${text}"})[0].color == color


@pytest.mark.parametrize("text", ["GGGGGG", "12345", "ab", "1234567890", " ab", "+F0000", ""])
def test_invalid_hex_is_ignored(text):
    assert rp.split_html_color(text) is None
    base = make_rdef()
    base = base.with_(channels=(base.channels[0].with_(lut="fire.lut"), *base.channels[1:]))
    ch = channels({"c": f"1|5:6${text}"}, base)[0]
    assert (ch.start, ch.end, ch.color, ch.lut) == (5.0, 6.0, RED, "fire.lut")


def test_lut_names_set_the_lut_and_a_colour_clears_it():
    ch = channels({"c": "1|0:1$cool.lut"})[0]
    assert (ch.lut, ch.color) == ("cool.lut", RED)
    base = apply({"c": "1$cool.lut,2,3"}).rdef
    ch = channels({"c": "1$00FF00"}, base)[0]
    assert (ch.lut, ch.color) == (None, GREEN)


def test_colour_may_follow_the_index():
    ch = channels({"c": "1$00FF00|5:6"})[0]
    assert (ch.start, ch.end, ch.color) == (5.0, 6.0, GREEN)
    # the colour after the window wins
    assert channels({"c": "1$00FF00|5:6$0000FF"})[0].color == BLUE


def test_a_second_dollar_before_the_bar_is_a_400():
    with pytest.raises(InvalidInput) as info:
        apply({"c": "1$FF0000$00FF00"})
    assert info.value.param == "c"


def test_without_c_the_channels_are_unchanged():
    base = make_rdef()
    assert apply({"maps": '[{"inverted": {"enabled": true}}]'}, base).rdef == base


# --- m, p, q, ia --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("m", "model"), [("g", "greyscale"), ("c", "rgb"), ("x", "rgb"), ("", "rgb")]
)
def test_model(m, model):
    assert apply({"m": m}).rdef.model == model
    assert apply({"m": m}, make_rdef(model="greyscale")).rdef.model == (
        "greyscale" if m != "c" else "rgb"
    )


@pytest.mark.parametrize(
    ("p", "projection"),
    [
        (None, Projection()),
        ("normal", Projection()),
        ("bogus", Projection()),
        ("intmax", Projection("intmax")),
        ("intmean|1:3", Projection("intmean", 1, 3)),
        ("intsum|-2:99", Projection("intsum", 0, 4)),
        ("intmax|0:0", Projection("intmax", 0, 0)),
        ("intmax|a:b", Projection("intmax")),
        ("intmax|2", Projection("intmax")),
        ("intmax|1:2:3", Projection("intmax")),
        ("normal|1:2", Projection()),
    ],
)
def test_projection(p, projection):
    query = {} if p is None else {"p": p}
    assert apply(query, size_z=5).projection == projection


def test_quality():
    assert apply({}).quality is None
    assert apply({"q": "0.5"}).quality == 0.5
    assert apply({"q": "1"}).quality == 1.0
    for bad in ("abc", "1.5", "-0.1", "nan", ""):
        with pytest.raises(InvalidInput) as info:
            apply({"q": bad})
        assert info.value.param == "q"


def test_invert_axis():
    assert apply({}).invert_axis is None
    assert apply({}).rdef.invert_axis is False
    request = apply({"ia": "1"})
    assert request.invert_axis is True and request.rdef.invert_axis is True
    assert apply({"ia": "true"}, make_rdef(invert_axis=True)).invert_axis is False


# --- maps ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "inverted"),
    [
        ({"inverted": {"enabled": True}}, True),
        ({"inverted": {"enabled": "true"}}, True),
        ({"inverted": {"enabled": 1}}, True),
        ({"reverse": {"enabled": True}}, True),
        ({"inverted": {"enabled": False}}, False),
        ({"inverted": {"enabled": "yes"}}, False),
        ({"inverted": {}}, False),
        ({"quantization": {"family": "linear"}}, False),  # no inverted: False, not unchanged
    ],
)
def test_maps_inversion(entry, inverted):
    base = make_rdef()
    base = base.with_(channels=(base.channels[0].with_(inverted=True), *base.channels[1:]))
    ch = channels({"c": "1|0:255$FFFFFF", "maps": json.dumps([entry])}, base)
    assert ch[0].inverted is inverted


def test_maps_padding_leaves_other_channels_alone_and_quirk_applies():
    base = make_rdef()
    base = base.with_(channels=tuple(c.with_(inverted=True) for c in base.channels))
    maps = json.dumps([{"inverted": {"enabled": False}}])
    ch = channels({"c": "2,1", "maps": maps}, base)
    assert [c.inverted for c in ch] == [False, True, True]


@pytest.mark.parametrize(
    "maps", ["not json", "{", '{"a": 1}', "[1]", '[{"inverted": true}]', "3", "null"]
)
def test_bad_maps_are_ignored(maps):
    base = make_rdef()
    ch = channels({"c": "1|1:2$00FF00", "maps": maps}, base)
    assert (ch[0].start, ch[0].color, ch[0].inverted, ch[0].family) == (1.0, GREEN, False, "linear")


def test_maps_quantization_by_position_including_inactive_channels():
    maps = [
        {"quantization": {"family": "polynomial", "coefficient": 2}},
        {"quantization": {"family": "logarithmic"}},
    ]
    ch = channels({"c": "3,-2", "maps": json.dumps(maps)})
    assert (ch[2].family, ch[2].coefficient) == ("polynomial", 2.0)
    assert (ch[1].family, ch[1].coefficient) == ("logarithmic", 1.0)
    assert ch[0].family == "linear"


@pytest.mark.parametrize("bad", [{"family": "bogus"}, {"family": "exponential", "coefficient": 0}])
def test_a_bad_quantization_stops_the_later_channels(bad):
    maps = [
        {"quantization": {"family": "polynomial", "coefficient": 2}},
        {"quantization": bad},
        {"quantization": {"family": "exponential", "coefficient": 1.5}},
    ]
    ch = channels({"c": "1,2,3", "maps": json.dumps(maps)})
    assert [c.family for c in ch] == ["polynomial", "linear", "linear"]


def test_quantization_sets_noise_reduction_off_and_an_index_beyond_size_c_voids_all():
    base = make_rdef()
    base = base.with_(channels=tuple(c.with_(noise_reduction=True) for c in base.channels))
    maps = json.dumps([{"quantization": {"family": "polynomial", "coefficient": 3}}] * 2)
    ch = channels({"c": "1,2", "maps": maps}, base)
    assert [c.noise_reduction for c in ch] == [False, False, True]
    ch = channels({"c": "1,9", "maps": maps}, base)
    assert [c.family for c in ch] == ["linear"] * 3


# --- validation (render_image_rdef, saveImgRDef) ------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message", "param"),
    [
        ({}, "Rendering settings must specify channels as c", "c"),
        ({"c": "1|0:255,2|0:255$00FF00", "m": "c"}, "Must specify color for each channel", "c"),
        ({"c": "1$FF0000", "m": "c"}, "Must specify window for each channel", "c"),
        ({"c": "1|0:$FF0000", "m": "c"}, "Must specify window for each channel", "c"),
        (
            {"c": "1|0:255$FF0000"},
            'Query parameter "m" must be present with value either "g" or "c"',
            "m",
        ),
        (
            {"c": "1|0:255$FF0000", "m": "x"},
            'Query parameter "m" must be present with value either "g" or "c"',
            "m",
        ),
        ({"c": "1|0:255$FF0000", "m": "g", "maps": "[{"}, "Failed to parse maps JSON", "maps"),
        (
            {"c": "1|0:255$FF0000,x", "m": "g", "maps": "[{}]"},
            'Number of "maps" must match number of channels',
            "maps",
        ),
        (
            {"c": "1|0:255$FF0000", "m": "g", "maps": "7"},
            'Number of "maps" must match number of channels',
            "maps",
        ),
    ],
)
def test_validate_rdef_query_messages(query, message, param):
    with pytest.raises(InvalidInput) as info:
        rp.validate_rdef_query(query, size_c=3)
    assert str(info.value) == message
    assert info.value.param == param


def test_validate_rdef_query_accepts_complete_settings():
    rp.validate_rdef_query(
        {"c": "1|0:255$FF0000,-2|0:1$00FF00,x", "m": "c", "maps": "[{}, {}, {}]"}, size_c=2
    )


def test_saved_rdef_applies_z_t_and_windows_of_inactive_channels():
    form = {
        "c": "1|1:2$00FF00,-2|3:4$0000FF,3|5:6$FF0000",
        "m": "g",
        "z": "2",
        "t": "3",
        "maps": json.dumps([{"inverted": {"enabled": True}}, {}, {}]),
    }
    saved = rp.parse_saved_rdef(form, make_rdef(), size_z=4, size_t=5)
    assert (saved.model, saved.default_z, saved.default_t) == ("greyscale", 1, 2)
    assert [c.active for c in saved.channels] == [True, False, True]
    assert [(c.start, c.end) for c in saved.channels] == [(1, 2), (3, 4), (5, 6)]
    assert [c.color for c in saved.channels] == [GREEN, BLUE, RED]
    assert [c.inverted for c in saved.channels] == [True, False, False]


@pytest.mark.parametrize(
    ("form", "param"),
    [
        ({"c": "1|1:2$00FF00,2|1:2$00FF00,3|1:2$00FF00", "m": "c", "z": "0"}, "z"),
        ({"c": "1|1:2$00FF00,2|1:2$00FF00,3|1:2$00FF00", "m": "c", "t": "x"}, "t"),
        ({"c": "1|1:2$00FF00,2|1:2$00FF00,3|1:2$00FF00", "m": "c", "z": "5"}, "z"),
        ({"c": "1|1:2$00FF00", "m": "c"}, "c"),
        ({"c": "1|1:2$00FF00,2|1:2,3|1:2$00FF00", "m": "c"}, "c"),
    ],
)
def test_saved_rdef_refuses(form, param):
    with pytest.raises(InvalidInput) as info:
        rp.parse_saved_rdef(form, make_rdef(), size_z=4, size_t=1)
    assert info.value.param == param


# --- writing settings back ----------------------------------------------------------------------


def test_rdef_to_query_is_get_img_rdef():
    rdef = make_rdef(model="greyscale")
    rdef = rdef.with_(
        channels=(
            rdef.channels[0].with_(start=250, end=4095.5, inverted=True),
            rdef.channels[1].with_(active=False, lut="fire.lut", family="polynomial"),
            rdef.channels[2],
        )
    )
    assert rp.rdef_to_query(rdef, pixel_range=(0, 65535)) == {
        "c": "1|250.0:4095.5$FF0000,-2|0.0:65535.0$fire.lut,3|0.0:65535.0$0000FF",
        "m": "greyscale",
        "pixel_range": "0:65535",
        "maps": [
            {
                "inverted": {"enabled": True},
                "quantization": {"coefficient": 1.0, "family": "linear"},
            },
            {
                "inverted": {"enabled": False},
                "quantization": {"coefficient": 1.0, "family": "polynomial"},
            },
            {
                "inverted": {"enabled": False},
                "quantization": {"coefficient": 1.0, "family": "linear"},
            },
        ],
    }
    assert rp.rdef_to_query(make_rdef(), pixel_range=(-32768.0, 32767.0))["m"] == "color"
    assert rp.rdef_to_query(make_rdef(), pixel_range=(-32768.0, 32767.0))["pixel_range"] == (
        "-32768.0:32767.0"
    )


def _form(settings: dict[str, object]) -> dict[str, str]:
    return {k: json.dumps(v) if k == "maps" else str(v) for k, v in settings.items()}


windows = st.floats(-1e6, 1e6, allow_nan=False).flatmap(
    lambda a: st.tuples(st.just(a), st.floats(a, 2e6, allow_nan=False))
)
bindings = st.builds(
    lambda active, window, rgb, family, coefficient, inverted: ChannelBinding(
        active=active,
        start=window[0],
        end=window[1],
        color=Color(*rgb),
        family=family,
        coefficient=coefficient,
        inverted=inverted,
    ),
    st.booleans(),
    windows,
    st.tuples(*[st.integers(0, 255)] * 3),
    st.sampled_from(FAMILIES),
    st.floats(0.01, 10, allow_nan=False),
    st.booleans(),
)
rdefs = st.builds(
    lambda chans, model, z, t: RenderingDef(model, z, t, tuple(chans)),
    st.lists(bindings, min_size=1, max_size=6),
    st.sampled_from(["greyscale", "rgb"]),
    st.integers(0, 3),
    st.integers(0, 3),
)


@given(rdefs)
def test_saved_settings_round_trip(rdef):
    base = make_rdef(len(rdef.channels)).with_(default_z=0, default_t=0)
    form = _form(rp.rendering_settings_query(rdef))
    assert rp.parse_saved_rdef(form, base, size_z=4, size_t=4) == rdef


@given(rdefs)
def test_get_img_rdef_round_trip_through_the_render_query(rdef):
    out = rp.rdef_to_query(rdef, pixel_range=(0, 255))
    query = {"c": str(out["c"]), "maps": json.dumps(out["maps"])}
    base = make_rdef(len(rdef.channels), model=rdef.model)
    got = rp.apply_rendering_query(base, query, size_z=1).rdef
    # inactive channels keep the base window/colour/inversion while rendering
    for mine, theirs, before in zip(got.channels, rdef.channels, base.channels, strict=True):
        assert (mine.active, mine.family, mine.coefficient) == (
            theirs.active,
            theirs.family,
            theirs.coefficient,
        )
        expected = theirs if theirs.active else before
        assert (mine.start, mine.end, mine.color, mine.inverted) == (
            expected.start,
            expected.end,
            expected.color,
            expected.inverted,
        )


# --- properties of the lenient parser -----------------------------------------------------------

entry_text = st.builds(
    lambda sign, index, window, color: f"{sign}{index}{window}{color}",
    st.sampled_from(["", "-"]),
    st.one_of(st.integers(-3, 12).map(str), st.text("0123456789x ", max_size=3)),
    st.one_of(
        st.just(""),
        st.builds(
            lambda a, b: f"|{a}:{b}",
            st.text("0123456789.-e", max_size=5),
            st.text("0123456789.e", max_size=5),
        ),
        st.text("|:0123456789.", max_size=6).map(lambda s: "|" + s),
    ),
    st.one_of(
        st.just(""),
        st.text("0123456789abcdefABCDEFG", max_size=9).map(lambda s: "$" + s),
        st.sampled_from(["$fire.lut", "$.lut", "$"]),
    ),
)


@given(st.lists(entry_text, min_size=1, max_size=8).map(",".join), st.integers(1, 6))
def test_any_grammatical_c_string_is_accepted(c, size_c):
    request = rp.apply_rendering_query(make_rdef(size_c), {"c": c}, size_z=1)
    assert len(request.rdef.channels) == size_c
    listed = {e.index for e in rp.split_channel_info(c)}
    assert [ch.active for ch in request.rdef.channels] == [
        n in listed for n in range(1, size_c + 1)
    ]


@given(st.text(max_size=40), st.text(max_size=20))
def test_arbitrary_text_only_ever_raises_invalid_input(c, maps):
    try:
        rp.apply_rendering_query(make_rdef(), {"c": c, "maps": maps, "m": c}, size_z=2)
    except InvalidInput as error:
        assert error.param == "c"


# --- regions and tiles --------------------------------------------------------------------------


def test_region():
    assert rp.parse_region("0,0,64,32") == (0, 0, 64, 32)
    assert rp.parse_region(" 1, 2 ,3,4,junk") == (1, 2, 3, 4)
    for bad in ("a,b", "1,2,3", "1,2,3,x", "", "0,0,0,5", "-1,0,5,5", "1.5,0,2,2"):
        with pytest.raises(InvalidInput) as info:
            rp.parse_region(bad)
        assert str(info.value) == f"malformed region argument, region={bad}"
        assert info.value.param == "region"


def test_tile():
    assert rp.parse_tile("0,1,2") == (0, 1, 2, None, None)
    assert rp.parse_tile("0,1,2,junk") == (0, 1, 2, None, None)
    assert rp.parse_tile("1,1,2,512,256") == (1, 1, 2, 512, 256)
    assert rp.parse_tile("-1,0,0") == (-1, 0, 0, None, None)
    for bad in ("x", "0,1", "0,1,a", "0,1,2,3,x", ""):
        with pytest.raises(InvalidInput) as info:
            rp.parse_tile(bad)
        assert str(info.value) == f"malformed tile argument, tile={bad}"
        assert info.value.param == "tile"


def test_check_level_messages():
    rp.check_level(0, 1)
    rp.check_level(2, 3)
    cases = [
        (-1, 3, "Invalid resolution level -1 < 0"),
        (1, 1, "Invalid resolution level 1, non pyramid file"),
        (3, 3, "Invalid resolution level, " + " " * 20 + "3 > number of available levels 2 "),
    ]
    for level, levels, message in cases:
        with pytest.raises(InvalidInput) as info:
            rp.check_level(level, levels)
        assert str(info.value) == message


def test_tile_rectangle_math():
    kw = {"default_tile": (256, 256), "level_size": (1000, 600)}
    assert rp.tile_rectangle(0, 1, 0, None, None, **kw) == (256, 0, 256, 256)
    assert rp.tile_rectangle(0, 3, 2, None, None, **kw) == (768, 512, 232, 88)
    assert rp.tile_rectangle(0, 0, 0, 0, -5, **kw) == (0, 0, 256, 256)
    assert rp.tile_rectangle(
        0, 0, 0, 4096, 4096, default_tile=(256, 256), level_size=(5000, 5000)
    ) == (
        0,
        0,
        1024,
        1024,
    )
    assert rp.tile_rectangle(
        0, 1, 1, 4096, 100, default_tile=(256, 256), max_tile_length=512, level_size=(5000, 5000)
    ) == (512, 100, 512, 100)
    for col, row in ((4, 0), (0, 3), (-1, 0)):
        with pytest.raises(InvalidInput):
            rp.tile_rectangle(0, col, row, None, None, **kw)


@given(
    st.integers(0, 50),
    st.integers(0, 50),
    st.one_of(st.none(), st.integers(-10, 3000)),
    st.integers(1, 5000),
    st.integers(1, 5000),
)
def test_tiles_stay_inside_the_level(col, row, size, width, height):
    try:
        x, y, w, h = rp.tile_rectangle(
            0, col, row, size, size, default_tile=(256, 256), level_size=(width, height)
        )
    except InvalidInput:
        return
    assert 0 <= x < width and 0 <= y < height
    assert 0 < w <= 1024 and 0 < h <= 1024
    assert x + w <= width and y + h <= height


def test_download_format():
    assert rp.parse_jpeg_format("tif") == "tif"
    assert rp.parse_jpeg_format("jpeg") == "jpeg"
    assert rp.parse_jpeg_format(None) == "png"
    assert rp.parse_jpeg_format("bmp") == "png"
    assert rp.parse_jpeg_format("bmp", default="jpeg") == "jpeg"
