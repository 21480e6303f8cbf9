"""The rendering engine (spec webgateway-idr.md 5, 6; assertions 27-36, 43-45).

Expected values come from ``ref_q``, a per-value transcription of the spec's maths with the
``math`` module, so that a mistake in the vectorised tables cannot hide behind itself.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from pyomero.errors import InvalidInput
from pyomero.model.rendering import (
    NUMPY_DTYPE,
    ChannelBinding,
    Color,
    RenderingDef,
    split_channel_layout,
)
from pyomero.pixels import encode, luts
from pyomero.pixels.render import (
    histogram,
    needed_channels,
    project,
    render,
    render_split,
    resize,
    thumbnail_size,
)

WHITE = Color(255, 255, 255)
RED = Color(255, 0, 0)
GREEN = Color(0, 255, 0)
BLUE = Color(0, 0, 255)


def ref_q(
    x: float, start: float, end: float, family: str = "linear", k: float = 1.0, inv: bool = False
) -> int:
    """The spec's quantization of one value (6.2) and inversion (6.3)."""
    if x < start:
        q = 0
    elif x >= end:
        q = 255
    else:
        a = 255 / (end - start)
        v = a * x - a * start
        maps = {
            "linear": lambda t: t,
            "polynomial": lambda t: t**k,
            "exponential": lambda t: math.exp(t**k),
            "logarithmic": lambda t: math.log(max(t, 1.0)),
        }
        f = maps[family]
        try:
            q = math.floor(255 / (f(255) - f(0)) * (f(v) - f(0)) + 0.5)
        except OverflowError:
            q = 0  # exp(255**k) overflows: OMERO's slope is 0
        q = min(255, max(0, q))
    return 255 - q if inv else q


def rdef(*bindings: ChannelBinding, model: str = "greyscale") -> RenderingDef:
    return RenderingDef(model=model, default_z=0, default_t=0, channels=tuple(bindings))


def binding(start: float, end: float, **kwargs: object) -> ChannelBinding:
    return ChannelBinding(active=True, start=start, end=end, **kwargs)  # type: ignore[arg-type]


def grey(values: object, pixel_type: str, **kwargs: object) -> np.ndarray:
    """Render a 1-row plane in greyscale with one channel; return the red component."""
    kwargs.setdefault("start", 0)
    kwargs.setdefault("end", 255)
    plane = np.asarray(values, dtype=NUMPY_DTYPE[pixel_type]).reshape(1, -1)
    out = render({0: plane}, rdef(ChannelBinding(active=True, **kwargs)), pixel_type=pixel_type)  # type: ignore[arg-type]
    return out[0, :, 0]


# ---------------------------------------------------------------- exact maths


def test_linear_window_values():
    x = np.arange(256)
    got = grey(x, "uint8", start=50, end=150)
    expected = [ref_q(v, 50, 150) for v in x]
    assert got.tolist() == expected
    assert got[49] == 0 and got[50] == 0 and got[150] == 255
    # OMERO computes a*x - a*start in doubles: 2.55*100 - 2.55*50 = 127.4999..., so 127
    assert got[100] == 127


def test_linear_ignores_coefficient():
    x = np.arange(0, 256, 5)
    assert (grey(x, "uint8", coefficient=3.0) == x).all()


@pytest.mark.parametrize(
    ("family", "k", "x", "q"),
    [
        ("polynomial", 2.0, 128, 64),  # 255 * (128/255)**2 = 64.25
        ("polynomial", 2.0, 200, 157),  # 156.86
        ("polynomial", 0.5, 64, 128),  # 255 * sqrt(64/255) = 127.75
        ("exponential", 1.0, 254, 94),  # 255 * e**-1 = 93.8
        ("exponential", 1.0, 250, 2),  # 255 * e**-5 = 1.72
        ("exponential", 2.0, 200, 0),  # exp(255**2) overflows: the ramp is black
        ("logarithmic", 1.0, 16, 128),  # 255 * ln 16 / ln 255 = 127.6
        ("logarithmic", 7.0, 16, 128),  # the coefficient is ignored
        ("logarithmic", 1.0, 1, 0),
        ("logarithmic", 1.0, 0, 0),
    ],
)
def test_family_formulas(family, k, x, q):
    assert grey([x], "uint8", family=family, coefficient=k)[0] == q
    assert ref_q(x, 0, 255, family, k) == q


@pytest.mark.parametrize("family", ["linear", "polynomial", "exponential", "logarithmic"])
def test_families_match_reference_over_16_bits(family):
    x = np.arange(0, 65536, 7)
    got = grey(x, "uint16", start=1000, end=40000, family=family, coefficient=1.5)
    k = 1.0 if family == "linear" else 1.5
    assert got.tolist() == [ref_q(v, 1000, 40000, family, k) for v in x]


def test_logarithmic_small_ramp_values_stay_dark():
    """OMERO wraps ln(v) < 0 through a byte cast; the spec's ln(max(v, 1)) keeps them at 0."""
    got = grey(np.arange(0, 300), "uint16", start=0, end=65535, family="logarithmic")
    assert (got[:257] == 0).all()


def test_nonpositive_coefficient_is_rejected():
    with pytest.raises(InvalidInput):
        grey([1], "uint8", family="polynomial", coefficient=0.0)
    with pytest.raises(InvalidInput):
        grey([1], "uint8", family="sigmoid")


def test_inversion_after_quantization():
    x = np.array([0, 49, 50, 100, 149, 150, 255])
    got = grey(x, "uint8", start=50, end=150, inverted=True)
    assert got.tolist() == [255 - ref_q(v, 50, 150) for v in x]
    assert got[0] == 255 and got[-1] == 0


def test_threshold_window_start_equals_end():
    """Assertion 31: ``c=1|0:1`` makes every raw value >= 1 white."""
    got = grey([0, 1, 2, 900], "uint16", start=1, end=1)
    assert got.tolist() == [0, 255, 255, 255]
    assert grey([0, 1, 7], "uint16", start=0, end=1).tolist() == [0, 255, 255]


def test_reversed_window_start_wins():
    assert grey([10, 50, 100], "uint8", start=60, end=20).tolist() == [0, 0, 255]


# ---------------------------------------------------------------- colour model


def colour(planes: dict[int, np.ndarray], *bindings: ChannelBinding) -> np.ndarray:
    return render(planes, rdef(*bindings, model="rgb"), pixel_type="uint8")


def test_colour_scaling_floors_each_component():
    out = colour({0: np.full((1, 1), 128, np.uint8)}, binding(0, 255, color=Color(100, 200, 50)))
    # floor(c * 128 * 255 / 65025)
    assert out[0, 0].tolist() == [50, 100, 25]


def test_alpha_scales_the_contribution():
    planes = {0: np.array([[255, 100]], np.uint8)}
    out = colour(planes, binding(0, 255, color=Color(255, 0, 0, 128)))
    assert out[0, :, 0].tolist() == [128, 50]  # floor(255*255*128/65025), floor(255*100*128/65025)


def test_additive_blend_saturates():
    planes = {0: np.full((2, 2), 200, np.uint8), 1: np.full((2, 2), 100, np.uint8)}
    out = colour(planes, binding(0, 255, color=RED), binding(0, 255, color=Color(255, 0, 128)))
    assert out[0, 0].tolist() == [255, 0, 50]  # 200 + 100 clipped; floor(128*100*255/65025)


def test_three_channels_add_per_component():
    planes = {0: np.full((1, 1), 10, np.uint8), 1: np.full((1, 1), 20, np.uint8)}
    planes[2] = np.full((1, 1), 30, np.uint8)
    bindings = [binding(0, 255, color=c) for c in (RED, GREEN, Color(255, 255, 255))]
    assert colour(planes, *bindings)[0, 0].tolist() == [40, 50, 30]


@pytest.mark.parametrize("count", [2, 4, 5, 8])
def test_many_channels_saturate_without_overflow(count):
    planes = {i: np.full((3, 3), 255, np.uint8) for i in range(count)}
    out = colour(planes, *[binding(0, 255, color=WHITE) for _ in range(count)])
    assert (out == 255).all()
    planes = {i: np.full((3, 3), 20, np.uint8) for i in range(count)}
    out = colour(planes, *[binding(0, 255, color=WHITE) for _ in range(count)])
    assert (out == 20 * count).all()


def test_results_do_not_share_work_buffers():
    model = rdef(binding(0, 255, color=RED), binding(0, 255, color=GREEN), model="rgb")
    first = render(
        {0: np.full((4, 4), 10, np.uint8), 1: np.full((4, 4), 20, np.uint8)},
        model,
        pixel_type="uint8",
    )
    render(
        {0: np.full((4, 4), 90, np.uint8), 1: np.full((4, 4), 90, np.uint8)},
        model,
        pixel_type="uint8",
    )
    assert (first == [10, 20, 0]).all()


def test_unlisted_and_inactive_channels_do_not_contribute():
    """Assertion 28/29: only the active red channel shows."""
    planes = {i: np.full((4, 4), 60000, np.uint16) for i in range(3)}
    bindings = [binding(0, 65535, color=c) for c in (RED, GREEN, BLUE)]
    bindings[1] = bindings[1].with_(active=False)
    bindings[2] = bindings[2].with_(active=False)
    model = rdef(*bindings, model="rgb")
    assert needed_channels(model) == [0]
    out = render({0: planes[0]}, model, pixel_type="uint16")
    assert out[..., 1].max() == 0 and out[..., 2].max() == 0 and out[..., 0].min() == 233


def test_all_inactive_is_black():
    """Assertion 30."""
    model = rdef(ChannelBinding(active=False, start=0, end=1), model="rgb")
    assert needed_channels(model) == []
    assert (render({}, model, pixel_type="uint8", shape=(3, 5)) == 0).all()
    assert render({}, model, pixel_type="uint8", shape=(3, 5)).shape == (3, 5, 3)
    out = render({0: np.full((2, 2), 255, np.uint8)}, model, pixel_type="uint8")
    assert out.shape == (2, 2, 3) and not out.any()


def test_greyscale_ignores_colour_and_lut():
    """Assertion 27."""
    plane = np.arange(256, dtype=np.uint8).reshape(16, 16)
    for extra in ({"color": RED}, {"lut": "fire.lut"}):
        out = render({0: plane}, rdef(binding(0, 255, **extra)), pixel_type="uint8")
        assert (out[..., 0] == plane).all() and (out[..., 1] == plane).all()
        assert (out[..., 2] == plane).all()


def test_greyscale_renders_the_first_active_channel_only():
    planes = {1: np.full((2, 2), 10, np.uint8), 2: np.full((2, 2), 200, np.uint8)}
    model = rdef(
        ChannelBinding(active=False, start=0, end=255),
        binding(0, 255, color=RED),
        binding(0, 255, color=GREEN),
    )
    assert needed_channels(model) == [1]
    assert (render(planes, model, pixel_type="uint8") == 10).all()


def test_lut_replaces_colour():
    plane = np.arange(256, dtype=np.uint8).reshape(1, 256)
    fire = luts.lut("fire.lut")
    assert fire is not None
    out = colour({0: plane}, binding(0, 255, color=RED, lut="fire.lut"))
    assert (out[0] == fire).all()
    inverted = colour({0: plane}, binding(0, 255, lut="/luts/fire.lut", inverted=True))
    assert (inverted[0] == fire[::-1]).all()


def test_unknown_lut_falls_back_to_colour():
    plane = np.full((1, 1), 255, np.uint8)
    out = colour({0: plane}, binding(0, 255, color=GREEN, lut="no_such.lut"))
    assert out[0, 0].tolist() == [0, 255, 0]


def test_lut_contributions_add_and_saturate():
    plane = np.full((1, 1), 255, np.uint8)
    out = colour({0: plane, 1: plane}, binding(0, 255, lut="grays.lut"), binding(0, 255, color=RED))
    assert out[0, 0].tolist() == [255, 255, 255]


def test_missing_or_mismatched_planes_are_errors():
    model = rdef(binding(0, 255), binding(0, 255), model="rgb")
    with pytest.raises(ValueError):
        render({0: np.zeros((2, 2), np.uint8)}, model, pixel_type="uint8")
    with pytest.raises(ValueError):
        render(
            {0: np.zeros((2, 2), np.uint8), 1: np.zeros((2, 3), np.uint8)},
            model,
            pixel_type="uint8",
        )
    with pytest.raises(ValueError):
        render({0: np.zeros((2, 2), np.uint8)}, rdef(binding(0, 1)), pixel_type="uint12")


# ---------------------------------------------------------------- every pixel type


TYPE_CASES = {
    "int8": ([-128, -100, -51, 0, 50, 99, 100, 127], -100.0, 100.0),
    "uint8": ([0, 9, 10, 11, 128, 199, 200, 255], 10.0, 200.0),
    "int16": ([-32768, -1000, -1, 0, 1, 500, 999, 1000, 32767], -1000.0, 1000.0),
    "uint16": ([0, 99, 100, 101, 3000, 4094, 4095, 65535], 100.0, 4095.0),
    "int32": ([-(2**31), -5, 0, 7, 10**6, 2**31 - 1], -10.0, 10**6),
    "uint32": ([0, 1, 2**20, 2**31, 2**32 - 1], 1.0, 2.0**32 - 2),
    "float": ([-1e30, -0.5, 0.0, 0.25, 0.5, 1.0, 1.5, 3e38], 0.0, 1.5),
    "double": ([-1e300, 0.001, 0.1, 0.7, 1.0, 2.0, 1e300], 0.0, 1.0),
    "bit": ([0, 1, 1, 0], 0.0, 1.0),
}


@pytest.mark.parametrize("pixel_type", sorted(TYPE_CASES))
def test_every_pixel_type(pixel_type):
    values, start, end = TYPE_CASES[pixel_type]
    for family, k in (("linear", 1.0), ("polynomial", 2.0), ("logarithmic", 1.0)):
        for inv in (False, True):
            got = grey(values, pixel_type, start=start, end=end, family=family, coefficient=k)
            if inv:
                got = grey(
                    values,
                    pixel_type,
                    start=start,
                    end=end,
                    family=family,
                    coefficient=k,
                    inverted=True,
                )
            expected = [ref_q(float(v), start, end, family, k, inv) for v in values]
            assert got.tolist() == expected, (pixel_type, family, inv)


def test_negative_int8_values():
    got = grey([-128, -100, -50, 0, 50, 127], "int8", start=-100, end=100)
    # 63.75 -> 64 and 191.25 -> 191; 0 gives 1.275*0 - 1.275*-100 = 127.4999... in doubles
    assert got.tolist() == [0, 0, 64, 127, 191, 255]


def test_bit_plane():
    plane = np.array([[False, True]])
    out = render({0: plane}, rdef(binding(0, 1)), pixel_type="bit")
    assert out[0, :, 0].tolist() == [0, 255]


def test_float_nan_renders_black():
    assert grey([np.nan, 1.0], "float", start=0, end=2).tolist() == [0, 128]


def test_non_contiguous_planes():
    plane = np.arange(0, 512, dtype=np.uint16).reshape(16, 32)[:, ::2]
    out = render({0: plane}, rdef(binding(0, 511)), pixel_type="uint16")
    expected = np.array([[ref_q(float(v), 0, 511) for v in row] for row in plane])
    assert (out[..., 0] == expected).all()


# ---------------------------------------------------------------- properties


pixel_types = st.sampled_from(sorted(TYPE_CASES))
families = st.sampled_from(["linear", "polynomial", "exponential", "logarithmic"])


@st.composite
def plane_and_type(draw: st.DrawFn) -> tuple[np.ndarray, str]:
    pixel_type = draw(pixel_types)
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    dtype = np.dtype(NUMPY_DTYPE[pixel_type])
    if dtype.kind == "f":
        values = st.floats(-1e6, 1e6, allow_nan=False, width=32)
    elif dtype.kind == "b":
        values = st.booleans()
    else:
        info = np.iinfo(dtype)
        values = st.integers(int(info.min), int(info.max))
    data = draw(st.lists(values, min_size=h * w, max_size=h * w))
    return np.array(data, dtype=dtype).reshape(h, w), pixel_type


windows = st.tuples(st.floats(-1e5, 1e5), st.floats(-1e5, 1e5)).map(sorted)


@settings(max_examples=150, deadline=None)
@given(plane_and_type(), windows, families, st.floats(0.1, 4), st.booleans(), st.booleans())
def test_output_is_always_uint8_rgb(data, window, family, k, inverted, greyscale):
    plane, pixel_type = data
    bindings = [
        binding(window[0], window[1], family=family, coefficient=k, inverted=inverted, color=c)
        for c in (RED, Color(0, 255, 0, 100))
    ]
    model = rdef(*bindings, model="greyscale" if greyscale else "rgb")
    out = render({0: plane, 1: plane}, model, pixel_type=pixel_type)
    assert out.dtype == np.uint8 and out.shape == (*plane.shape, 3)
    if greyscale:
        assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


@settings(max_examples=100, deadline=None)
@given(plane_and_type(), windows, families, st.floats(0.1, 4))
def test_inverting_twice_is_identity(data, window, family, k):
    plane, pixel_type = data
    plain = binding(window[0], window[1], family=family, coefficient=k)
    once = render({0: plane}, rdef(plain.with_(inverted=True)), pixel_type=pixel_type)
    straight = render({0: plane}, rdef(plain), pixel_type=pixel_type)
    assert ((255 - once) == straight).all()


@settings(max_examples=100, deadline=None)
@given(windows, families, st.floats(0.1, 4))
def test_monotone_in_x(window, family, k):
    x = np.linspace(-2e5, 2e5, 257)
    q = grey(x, "double", start=window[0], end=window[1], family=family, coefficient=k)
    assert (np.diff(q.astype(int)) >= 0).all()


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 65535), st.integers(1, 5000))
def test_window_order_preserved(x, start, end, widen):
    """Raising the window end never brightens a value; raising the start never either."""
    start, end = min(start, end), max(start, end)
    q = grey([x], "uint16", start=start, end=end)[0]
    assert grey([x], "uint16", start=start, end=end + widen)[0] <= q
    assert grey([x], "uint16", start=start + widen, end=end + widen)[0] <= q


# ---------------------------------------------------------------- projection


def test_intmax_is_at_least_every_plane():
    rng = np.random.default_rng(3)
    stack = rng.integers(0, 65535, (5, 8, 8), dtype=np.uint16)
    projected = project(stack, "intmax", "uint16")
    assert projected.dtype == np.uint16
    assert all((projected >= plane).all() for plane in stack)
    assert (projected == stack.max(axis=0)).all()


def test_rendered_intmax_is_at_least_every_rendered_plane():
    """Assertion 36: ``p=intmax&m=g`` is never darker than any single z."""
    rng = np.random.default_rng(4)
    stack = rng.integers(0, 4096, (4, 6, 6), dtype=np.uint16)
    model = rdef(binding(100, 3000, color=WHITE))
    projected = render({0: project(stack, "intmax", "uint16")}, model, pixel_type="uint16")
    for plane in stack:
        assert (projected >= render({0: plane}, model, pixel_type="uint16")).all()


def test_intsum_clips_to_the_type_range():
    stack = np.array([[[200, 1]], [[200, 2]]], dtype=np.uint8)
    assert project(stack, "intsum", "uint8").tolist() == [[255, 3]]
    signed = np.array([[[-30000]], [[-30000]]], dtype=np.int16)
    assert project(signed, "intsum", "int16").tolist() == [[-32768]]


def test_intmean_truncates_for_integers():
    stack = np.array([[[1, -1]], [[2, -2]]], dtype=np.int16)
    assert project(stack, "intmean", "int16").tolist() == [[1, -1]]
    floats = np.array([[[1.0]], [[2.0]]], dtype=np.float32)
    result = project(floats, "intmean", "float")
    assert result.dtype == np.float32 and result.tolist() == [[1.5]]


def test_projection_of_bits_and_bad_kinds():
    stack = np.array([[[True, False]], [[True, True]]])
    assert project(stack, "intmax", "bit").tolist() == [[True, True]]
    assert project(stack, "intmean", "bit").tolist() == [[True, False]]
    with pytest.raises(ValueError):
        project(stack, "normal", "bit")
    with pytest.raises(ValueError):
        project(stack[0], "intmax", "bit")


# ---------------------------------------------------------------- split channels


@pytest.mark.parametrize("n", [3, 4])
def test_split_layout_from_the_spec(n):
    assert split_channel_layout(696, 520, n) == {
        "width": 1398,
        "height": 1046,
        "border": 2,
        "gridx": 2,
        "gridy": 2,
    }


def test_split_layout_other_counts():
    assert split_channel_layout(10, 10, 5) == {
        "width": 38,
        "height": 26,
        "border": 2,
        "gridx": 3,
        "gridy": 2,
    }
    assert split_channel_layout(10, 10, 1)["gridx"] == 1
    assert split_channel_layout(10, 10, 7)["gridx"] == 3


def split_fixture(model: str, size_c: int = 3) -> tuple[dict[int, np.ndarray], RenderingDef]:
    planes = {i: np.full((4, 6), 50 * (i + 1), np.uint8) for i in range(size_c)}
    colors = [RED, GREEN, BLUE, WHITE]
    bindings = [binding(0, 255, color=colors[i]) for i in range(size_c)]
    bindings[1] = bindings[1].with_(active=False)
    return planes, rdef(*bindings, model=model)


def test_split_rgb_panels():
    """Assertion 43: size of split_channel.c; inactive panel white; merged panel last."""
    planes, model = split_fixture("rgb")
    out = render_split(planes, model, pixel_type="uint8", size_x=6, size_y=4)
    layout = split_channel_layout(6, 4, 4)
    assert out.shape == (layout["height"], layout["width"], 3) == (14, 18, 3)
    assert (out[0:2] == 255).all() and (out[:, 0:2] == 255).all()  # border
    assert (out[2:6, 2:8] == [50, 0, 0]).all()  # channel 1 in red
    assert (out[2:6, 10:16] == 255).all()  # inactive channel 2: blank
    assert (out[8:12, 2:8] == [0, 0, 150]).all()  # channel 3 in blue
    assert (out[8:12, 10:16] == [50, 0, 150]).all()  # merged


def test_split_greyscale_panels():
    planes, model = split_fixture("greyscale")
    out = render_split(planes, model, pixel_type="uint8", size_x=6, size_y=4)
    layout = split_channel_layout(6, 4, 3)
    assert out.shape == (layout["height"], layout["width"], 3)
    assert (out[2:6, 2:8] == 50).all()  # grey
    assert (out[8:12, 2:8] == 150).all()
    assert (out[8:12, 10:16] == [50, 0, 150]).all()  # OMERO's merged panel, in colour


def test_split_greyscale_without_a_free_slot_clips_the_merged_panel():
    planes, model = split_fixture("greyscale", size_c=4)
    out = render_split(planes, model, pixel_type="uint8", size_x=6, size_y=4)
    assert out.shape == (14, 18, 3)
    assert (out[8:12, 10:16] == 200).all()  # the fourth channel, grey


# ---------------------------------------------------------------- thumbnails


@pytest.mark.parametrize(
    ("size", "longest", "expected"),
    [
        ((696, 520), 96, (96, 71)),
        ((520, 696), 96, (71, 96)),
        ((696, 520), 64, (64, 47)),
        ((100, 100), 64, (64, 64)),
        ((10, 5), 96, (96, 48)),
        ((5000, 1), 96, (96, 1)),
    ],
)
def test_thumbnail_size(size, longest, expected):
    """Assertions 44, 45: truncation, upscaling allowed."""
    assert thumbnail_size(*size, longest) == expected


def test_resize_down_and_up():
    rgb = np.zeros((520, 696, 3), np.uint8)
    rgb[..., 1] = 100
    small = resize(rgb, 96, 71)
    assert small.shape == (71, 96, 3) and small.dtype == np.uint8
    assert (small[..., 1] == 100).all() and (small[..., 0] == 0).all()
    big = resize(np.full((2, 3, 3), 7, np.uint8), 30, 20)
    assert big.shape == (20, 30, 3) and (big == 7).all()
    with pytest.raises(ValueError):
        resize(rgb, 0, 10)


# ---------------------------------------------------------------- encoding


def gradient_image() -> np.ndarray:
    y, x = np.mgrid[0:64, 0:96]
    return np.stack([x * 2, y * 3, (x + y)], axis=2).astype(np.uint8)


def decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_jpeg_round_trip():
    rgb = gradient_image()
    image = decode(encode.jpeg(rgb, 0.9))
    assert image.format == "JPEG" and image.size == (96, 64) and image.mode == "RGB"
    assert np.abs(np.asarray(image).astype(int) - rgb).mean() < 3


def test_jpeg_quality_changes_size():
    """Assertion 35."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    assert len(encode.jpeg(rgb, 0.1)) < len(encode.jpeg(rgb, 0.95))
    assert encode.jpeg_quality(0.85) == 85 and encode.jpeg_quality(0) == 1
    assert encode.jpeg_quality(3) == 100


def test_jpeg_of_non_contiguous_and_grey():
    rgb = gradient_image()[:, ::2]
    assert decode(encode.jpeg(rgb, 0.8)).size == (48, 64)
    assert decode(encode.jpeg(rgb[..., 0], 0.8)).mode == "L"


def test_png_round_trips_exactly():
    rgb = gradient_image()
    assert (np.asarray(decode(encode.png(rgb))) == rgb).all()
    mask = (gradient_image()[..., 0] > 90).astype(np.uint8) * 255
    decoded = decode(encode.png(mask))
    assert decoded.mode == "L" and (np.asarray(decoded) == mask).all()
    rgba = np.dstack([rgb, np.full((64, 96), 128, np.uint8)])
    decoded = decode(encode.png(rgba))
    assert decoded.mode == "RGBA" and (np.asarray(decoded) == rgba).all()
    assert (np.asarray(decode(encode.png(mask > 0))) == mask).all()


def test_tiff_and_gif():
    rgb = gradient_image()
    assert (tifffile.imread(io.BytesIO(encode.tiff(rgb))) == rgb).all()
    gif = decode(encode.gif(rgb))
    assert gif.format == "GIF" and gif.size == (96, 64)
    with pytest.raises(ValueError):
        encode.png(np.zeros((2, 2), np.uint16))


# ---------------------------------------------------------------- LUTs


REQUIRED_LUTS = [
    "grays",
    "red",
    "green",
    "blue",
    "cyan",
    "magenta",
    "yellow",
    "fire",
    "ice",
    "cool",
    "hilo",
    "3-3-2_rgb",
    "spectrum",
    "16_colors",
    "orange_hot",
    "royal",
    "phase",
    "cyan_hot",
    "magenta_hot",
    "red_hot",
    "thal",
    "5_ramps",
]


def test_required_luts_exist_as_tables():
    assert list(luts.LUT_NAMES) == sorted(luts.LUT_NAMES)
    for name in REQUIRED_LUTS:
        table = luts.lut(f"{name}.lut")
        assert table is not None, name
        assert table.shape == (256, 3) and table.dtype == np.uint8
    for name in luts.LUT_NAMES:
        assert name.endswith(".lut")


def test_lut_lookup_rules_and_shapes():
    grays = luts.lut("grays.lut")
    assert grays is not None and (grays == np.arange(256)[:, None]).all()
    assert luts.lut("/luts/wcif/Hilo.lut") is luts.lut("hilo.lut")
    assert luts.lut("missing.lut") is None
    hilo = luts.lut("hilo.lut")
    assert (
        hilo is not None and hilo[0].tolist() == [0, 0, 255] and hilo[255].tolist() == [255, 0, 0]
    )
    red = luts.lut("red.lut")
    assert red is not None and red[255].tolist() == [255, 0, 0] and red[0].tolist() == [0, 0, 0]
    phase = luts.lut("phase.lut")
    assert phase is not None and np.abs(phase[0].astype(int) - phase[255]).max() < 20
    ramps = luts.lut("5_ramps.lut")
    assert ramps is not None and len({tuple(r) for r in ramps[25::51]}) == 5


def test_luts_png_layout():
    image = decode(luts.luts_png())
    assert image.size == (256, 10 * (len(luts.LUT_NAMES) + 1)) and image.mode == "RGBA"
    pixels = np.asarray(image)
    for row, name in enumerate(luts.LUT_NAMES):
        table = luts.lut(name)
        assert table is not None
        assert (pixels[row * 10 + 5, :, :3] == table).all(), name
        assert (pixels[row * 10 : row * 10 + 10, :, 3] == 255).all()
    gradient = pixels[-10:]
    assert (gradient[..., :3] == 0).all()
    assert (
        gradient[0, 0, 3] == 255 and gradient[0, 179, 3] == 0 and (gradient[:, 180:, 3] == 0).all()
    )
    assert gradient[0, 90, 3] in range(120, 135)


def test_luts_listing_indexes():
    listing = luts.luts_listing()
    assert [entry["name"] for entry in listing] == list(luts.LUT_NAMES)
    assert [entry["png_index_new"] for entry in listing] == list(range(len(listing)))
    by_name = {entry["name"]: entry for entry in listing}
    assert by_name["fire.lut"]["png_index"] == luts.LEGACY_PNG_LUTS.index("/luts/fire.lut") == 9
    assert by_name["cool.lut"]["path"] == "/luts/ncsa_paledit/"
    assert by_name["red.lut"]["png_index"] == -1
    legacy = np.asarray(decode(luts.legacy_luts_png()))
    assert legacy.shape == (10 * (len(luts.LEGACY_PNG_LUTS) + 1), 256, 4)
    fire = luts.lut("fire.lut")
    assert fire is not None and (legacy[9 * 10 + 3, :, :3] == fire).all()


# ---------------------------------------------------------------- histogram


def test_histogram_bins_over_the_range():
    plane = np.arange(10, dtype=np.uint16).reshape(2, 5)
    assert histogram(plane, bins=5, low=0, high=10) == [2, 2, 2, 2, 2]
    assert histogram(plane, bins=5, low=0, high=9) == [2, 2, 2, 2, 2]  # 9 == high: last bin
    assert histogram(plane, bins=2, low=2, high=5) == [2, 2]  # 0, 1, 6..9 are outside


def test_histogram_edge_cases():
    flat = np.full((3, 3), 7, np.uint8)
    assert histogram(flat, bins=4, low=7, high=7) == [9, 0, 0, 0]
    assert len(histogram(flat, bins=0, low=0, high=255)) == 256
    floats = np.array([0.0, 0.5, np.nan, 1.0])
    assert histogram(floats, bins=2, low=0, high=1) == [2, 2]
    assert sum(histogram(np.arange(65536, dtype=np.uint16), bins=256, low=0, high=65535)) == 65536
