"""``/webgateway/`` over HTTP, in process: imgData, default rendering settings, render_image,
regions, tiles and split channels (spec webgateway-idr.md section 8, assertions 1-43).

Pixels are checked against ``pyomero.testing.images.expected_plane`` and the maths of spec
section 6; a decoded JPEG may differ from the exact rendering by a few levels (``close``).
Thumbnails, the plate grid, login and permissions are in ``test_webgateway_thumbnails.py``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

from pixeldata import BIG_SIZE, IMG_SIZE, G, jpeg, pixeldata_fixture, size_of  # noqa: F401
from pyomero.testing.images import expected_plane

MISSING = 987654
W, H = IMG_SIZE
META_KEYS = {
    "imageName", "imageDescription", "imageAuthor", "projectName", "projectId",
    "projectDescription", "datasetName", "datasetId", "datasetDescription", "wellSampleId",
    "wellId", "imageTimestamp", "imageId", "pixelsType",
}  # fmt: skip
CHANNEL_KEYS = {
    "emissionWave", "label", "color", "inverted", "reverseIntensity", "family",
    "coefficient", "window", "active",
}  # fmt: skip
TILE_KEYS = {"tile_size", "levels", "resolutions", "zoomLevelScaling"}


def img_data(d: Any, image: int, suffix: str = "") -> dict[str, Any]:
    response = d.alice.get(f"{G}/imgData/{image}/{suffix}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def render(d: Any, path: str, **params: Any) -> np.ndarray:
    return jpeg(d.alice.get(f"{G}/{path}", params=params))


def raw(c: int = 0, z: int = 0, size: tuple[int, int] = IMG_SIZE, **kw: Any) -> np.ndarray:
    return expected_plane(size_x=size[0], size_y=size[1], c=c, z=z, **kw).astype(np.float64)


def linear(x: np.ndarray, start: float, end: float) -> np.ndarray:
    """Spec 6.2: below the window 0, from its end 255, a rounded ramp between."""
    q = np.round(255 * (x - start) / (end - start))
    return np.where(x < start, 0, np.where(x >= end, 255, q))


def close(actual: np.ndarray, expected: np.ndarray, tol: int = 8) -> None:
    """Within ``tol`` levels (JPEG) nearly everywhere, and on average much closer."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    diff = np.abs(actual.astype(np.float64) - expected)
    worst = float(np.percentile(diff, 99.5))
    assert worst <= tol and diff.mean() < 2.5, (worst, diff.mean(), diff.max())


def grey(rgb: np.ndarray) -> np.ndarray:
    spread = rgb.max(axis=2) - rgb.min(axis=2)
    assert spread.max() <= 8, f"not grey: R, G, B differ by up to {spread.max()}"
    return rgb.mean(axis=2)


# ---------------------------------------------------------------------------- imgData (1-17)


def test_01_index(pixeldata):
    response = pixeldata.alice.get(f"{G}/")
    assert response.status_code == 200
    assert response.text == "Welcome to webgateway"


def test_02_img_data_keys(pixeldata):
    data = img_data(pixeldata, pixeldata.IMG)
    assert set(data) >= {
        "id", "meta", "perms", "tiles", "interpolate", "size", "pixel_size", "init_zoom",
        "pixel_range", "channels", "split_channel", "rdefs",
    }  # fmt: skip


def test_03_img_data_id_and_size(pixeldata):
    data = img_data(pixeldata, pixeldata.IMG)
    assert data["id"] == data["meta"]["imageId"] == pixeldata.IMG
    assert data["size"] == {"width": 696, "height": 520, "z": 1, "t": 1, "c": 3}


def test_04_channel_keys(pixeldata):
    data = img_data(pixeldata, pixeldata.IMG)
    assert len(data["channels"]) == data["size"]["c"]
    for channel in data["channels"]:
        assert set(channel) >= CHANNEL_KEYS
        assert set(channel["window"]) == {"min", "max", "start", "end"}


@pytest.mark.parametrize("name", ["IMG", "IMG1", "C5", "WAVES", "BIG"])
def test_05_colors_are_upper_hex(pixeldata, name):
    for channel in img_data(pixeldata, getattr(pixeldata, name))["channels"]:
        assert re.fullmatch(r"[0-9A-F]{6}", channel["color"]), channel


def test_06_inverted_is_reverse_intensity(pixeldata):
    for channel in img_data(pixeldata, pixeldata.C5)["channels"]:
        assert channel["inverted"] is channel["reverseIntensity"] is False


def test_07_meta_keys(pixeldata):
    meta = img_data(pixeldata, pixeldata.IMG)["meta"]
    assert set(meta) - {"imageArchived"} == META_KEYS
    assert meta["wellSampleId"] == ""
    assert meta["pixelsType"] == "uint16"
    assert meta["imageAuthor"] == "Alice Imager"
    # IMG is in dataset "ds" in project "proj" (exactly one of each)
    assert (meta["datasetName"], meta["datasetId"]) == ("ds", pixeldata.DATASET)
    assert (meta["projectName"], meta["projectId"]) == ("proj", pixeldata.PROJECT)
    assert isinstance(meta["imageTimestamp"], float)


def test_08_plate_image_meta(pixeldata):
    grid = pixeldata.alice.get(f"{G}/plate/{pixeldata.PLATE}/").json()["grid"]
    cell = next(c for row in grid for c in row if c)
    meta = img_data(pixeldata, cell["id"])["meta"]
    assert meta["datasetName"] == "Multiple" and meta["datasetId"] is None
    assert meta["projectName"] == "Multiple" and meta["projectId"] is None
    assert meta["wellId"] == cell["wellId"] and isinstance(meta["wellId"], int)
    # an orphaned image is in no well
    assert img_data(pixeldata, pixeldata.IMG1)["meta"]["wellId"] == ""


@pytest.mark.parametrize("name", ["IMG", "IMGZ", "BIG"])
def test_09_rdefs(pixeldata, name):
    data = img_data(pixeldata, getattr(pixeldata, name))
    rdefs = data["rdefs"]
    assert rdefs["model"] in ("greyscale", "color")
    assert rdefs["projection"] == "normal"
    assert 0 <= rdefs["defaultZ"] < data["size"]["z"]
    assert 0 <= rdefs["defaultT"] < data["size"]["t"]
    assert isinstance(rdefs["invertAxis"], bool)


def test_10_pixel_range(pixeldata):
    assert img_data(pixeldata, pixeldata.IMG)["pixel_range"] == [0, 65535]
    assert img_data(pixeldata, pixeldata.BIG)["pixel_range"] == [0, 255]


def test_11_split_channel(pixeldata):
    layout = {"width": 1398, "height": 1046, "border": 2, "gridx": 2, "gridy": 2}
    split = img_data(pixeldata, pixeldata.IMG)["split_channel"]
    assert split == {"g": layout, "c": layout}


def test_12_non_tiled(pixeldata):
    data = img_data(pixeldata, pixeldata.IMG)
    assert data["tiles"] is False
    assert not TILE_KEYS & set(data)


def test_13_pyramid(pixeldata):
    data = img_data(pixeldata, pixeldata.BIG)
    assert data["tiles"] is True
    assert data["levels"] >= 2
    assert set(data["tile_size"]) == {"width", "height"}
    scaling = [data["zoomLevelScaling"][str(i)] for i in range(data["levels"])]
    assert scaling[0] == 1.0
    assert all(a > b for a, b in zip(scaling, scaling[1:], strict=False)), scaling
    assert data["resolutions"]["0"] == {"sizeX": BIG_SIZE[0], "sizeY": BIG_SIZE[1]}
    assert len(data["resolutions"]) == data["levels"]


def test_14_key_lookup(pixeldata):
    full = img_data(pixeldata, pixeldata.IMG)
    assert img_data(pixeldata, pixeldata.IMG, "meta/") == full["meta"]
    assert img_data(pixeldata, pixeldata.IMG, "meta.imageName/") == full["meta"]["imageName"]
    assert img_data(pixeldata, pixeldata.IMG, "rdefs/") == full["rdefs"]
    response = pixeldata.alice.get(f"{G}/imgData/{pixeldata.IMG}/nosuchkey/")
    assert response.status_code == 200 and response.text == "null"


def test_15_jsonp_callback(pixeldata):
    response = pixeldata.alice.get(f"{G}/imgData/{pixeldata.IMG}/?callback=cb")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert response.text.startswith("cb(") and response.text.endswith(")")
    assert json.loads(response.text[3:-1]) == img_data(pixeldata, pixeldata.IMG)
    bad = pixeldata.alice.get(f"{G}/imgData/{pixeldata.IMG}/?callback=1cb")
    assert bad.status_code == 400


def test_16_missing_image(pixeldata):
    response = pixeldata.alice.get(f"{G}/imgData/{MISSING}/")
    assert response.status_code == 404
    assert response.json()["message"] == f"Image:{MISSING} not found"


def test_17_webclient_img_data(pixeldata):
    response = pixeldata.alice.get(f"/webclient/imgData/{pixeldata.IMG}/")
    assert response.status_code == 200
    assert response.json() == img_data(pixeldata, pixeldata.IMG)


# ---------------------------------------------------------------------------- defaults (18-23)


def _colors(data: dict[str, Any]) -> list[str]:
    return [c["color"] for c in data["channels"]]


def test_18_default_colors(pixeldata):
    data = img_data(pixeldata, pixeldata.IMG)
    assert _colors(data) == ["FF0000", "00FF00", "0000FF"]
    assert [c["active"] for c in data["channels"]] == [True, True, True]
    assert data["rdefs"]["model"] == "color"


def test_18_default_colors_of_an_ome_tiff(pixeldata):
    """The same image as an OME-TIFF with no Color attribute on its channels."""
    data = img_data(pixeldata, pixeldata.IMGTIFF)
    assert _colors(data) == ["FF0000", "00FF00", "0000FF"], (
        "OME-TIFF channels without a Color attribute were imported with an explicit colour "
        "(ome-types' default white): pixels/ome_xml.py channel metadata"
    )


def test_19_five_channels(pixeldata):
    data = img_data(pixeldata, pixeldata.C5)
    assert [c["active"] for c in data["channels"]] == [True, True, True, False, False]
    assert _colors(data) == ["FF0000", "00FF00", "0000FF", "FF0000", "00FF00"]


def test_20_greyscale_model(pixeldata):
    assert img_data(pixeldata, pixeldata.IMG1)["rdefs"]["model"] == "greyscale"
    assert img_data(pixeldata, pixeldata.C8)["rdefs"]["model"] == "greyscale"
    assert img_data(pixeldata, pixeldata.C5)["rdefs"]["model"] == "color"


def test_21_default_z(pixeldata):
    rdefs = img_data(pixeldata, pixeldata.IMGZ)["rdefs"]
    assert (rdefs["defaultZ"], rdefs["defaultT"]) == (3, 0)


def test_22_default_window_is_stats(pixeldata):
    data = img_data(pixeldata, pixeldata.IMG)
    for c, channel in enumerate(data["channels"]):
        window = channel["window"]
        # the formula's min and max of channel c: 100c .. 100c + 695 + 2*519
        assert (window["min"], window["max"]) == (100.0 * c, 100.0 * c + 1733)
        assert (window["start"], window["end"]) == (window["min"], window["max"])
        assert channel["family"] == "linear"
        assert channel["coefficient"] == 1.0
        assert channel["inverted"] is False


def test_23_wavelength_colors(pixeldata):
    data = img_data(pixeldata, pixeldata.WAVES)
    assert [c["emissionWave"] for c in data["channels"]] == [450, 520, 600]
    assert [c["label"] for c in data["channels"]] == ["450", "520", "600"]
    assert _colors(data) == ["0000FF", "00FF00", "FF0000"], (
        "emission 450/520/600 nm should give blue/green/red; OME-TIFF channels carry "
        "ome-types' default white colour, which wins over the wavelength"
    )


# ---------------------------------------------------------------------------- render (24-36)


def test_24_render_image(pixeldata):
    assert size_of(render(pixeldata, f"render_image/{pixeldata.IMG}/0/0/")) == (W, H)


def test_25_render_image_default_plane(pixeldata):
    full = render(pixeldata, f"render_image/{pixeldata.IMG}/")
    assert size_of(full) == (W, H)
    assert np.abs(full - render(pixeldata, f"render_image/{pixeldata.IMG}/0/0/")).max() == 0
    # IMGZ: the default plane is defaultZ = 3
    z3 = render(pixeldata, f"render_image/{pixeldata.IMGZ}/3/0/")
    assert np.array_equal(render(pixeldata, f"render_image/{pixeldata.IMGZ}/"), z3)
    assert np.array_equal(render(pixeldata, f"render_image/{pixeldata.IMGZ}/3/"), z3)


def test_26_render_missing(pixeldata):
    response = pixeldata.alice.get(f"{G}/render_image/{MISSING}/0/0/")
    assert response.status_code == 404


def test_27_greyscale(pixeldata):
    rgb = render(pixeldata, f"render_image/{pixeldata.IMG}/0/0/", m="g")
    value = grey(rgb)
    # the first active channel with its default window (the channel's min..max)
    close(value, linear(raw(0), 0, 1733))


def test_28_only_red(pixeldata):
    rgb = render(pixeldata, f"render_image/{pixeldata.IMG}/0/0/", c="1|0:65535$FF0000,-2,-3", m="c")
    assert rgb[..., 1].mean() < 1 and rgb[..., 2].mean() < 1
    bright = render(pixeldata, f"render_image/{pixeldata.IMG}/0/0/", c="1|0:1733$FF0000,-2,-3")
    assert bright[..., 0].mean() > 100 and bright[..., 1].mean() < 3


def test_29_unlisted_channels_are_inactive(pixeldata):
    path = f"render_image/{pixeldata.IMG}/0/0/"
    listed = render(pixeldata, path, c="1$FF0000,-2,-3", m="c")
    unlisted = render(pixeldata, path, c="1$FF0000", m="c")
    assert np.array_equal(listed, unlisted)
    assert unlisted[..., 1].mean() < 3 and unlisted[..., 2].mean() < 3


def test_30_all_inactive_is_black(pixeldata):
    rgb = render(pixeldata, f"render_image/{pixeldata.IMG}/0/0/", c="-1,-2,-3", m="c")
    assert rgb.max() <= 8


def test_31_window_of_one(pixeldata):
    rgb = render(pixeldata, f"render_image/{pixeldata.IMG}/0/0/", c="1|0:1$FFFFFF", m="c")
    lit = raw(0) >= 1
    assert lit.sum() == W * H - 1
    lit[:8, :8] = False  # JPEG rings around the one black pixel at (0, 0)
    assert (rgb[lit] >= 247).all()


@pytest.mark.parametrize("window", [(0, 1733), (300, 1100)])
def test_32_inversion(pixeldata, window):
    start, end = window
    path = f"render_image/{pixeldata.IMG}/0/0/"
    c = f"1|{start}:{end}$FFFFFF"
    plain = grey(render(pixeldata, path, c=c, m="g"))
    maps = json.dumps([{"inverted": {"enabled": True}}])
    inverted = grey(render(pixeldata, path, c=c, m="g", maps=maps))
    close(inverted, 255 - linear(raw(0), start, end))
    close(inverted, 255 - plain)


def test_33_linear_window(pixeldata):
    # channel 2 (raw 100..1833) with a window that clamps at both ends
    rgb = render(pixeldata, f"render_image/{pixeldata.IMG}/0/0/", c="2|400:1400$FFFFFF", m="g")
    close(grey(rgb), linear(raw(1), 400, 1400))


def test_34_polynomial(pixeldata):
    maps = json.dumps([{"quantization": {"family": "polynomial", "coefficient": 2}}])
    path = f"render_image/{pixeldata.IMG}/0/0/"
    rgb = render(pixeldata, path, c="1|0:1733$FFFFFF", m="g", maps=maps)
    v = np.clip(raw(0) / 1733, 0, 1)
    close(grey(rgb), np.round(255 * v**2))
    linear_mean = grey(render(pixeldata, path, c="1|0:1733$FFFFFF", m="g")).mean()
    assert grey(rgb).mean() < linear_mean - 30


def test_35_quality(pixeldata):
    path = f"{G}/render_image/{pixeldata.IMG}/0/0/"
    low = pixeldata.alice.get(path, params={"q": "0.1"})
    high = pixeldata.alice.get(path, params={"q": "0.95"})
    assert low.status_code == high.status_code == 200
    assert len(low.content) < len(high.content)


def test_36_intmax_projection(pixeldata):
    size = (64, 48)
    path = f"render_image/{pixeldata.IMGZ}/0/0/"
    c = "1|0:7000$FFFFFF"
    projected = grey(render(pixeldata, path, c=c, m="g", p="intmax"))
    close(projected, linear(raw(0, z=6, size=size), 0, 7000))
    for z in range(7):
        plane = grey(render(pixeldata, f"render_image/{pixeldata.IMGZ}/{z}/0/", c=c, m="g"))
        assert (projected >= plane - 8).all(), z
    first = grey(render(pixeldata, path, c=c, m="g", p="intmax|0:0"))
    close(first, linear(raw(0, z=0, size=size), 0, 7000))
    # a range: max over z 1..2 is plane 2; mean over the stack is plane 3
    close(
        grey(render(pixeldata, path, c=c, m="g", p="intmax|1:2")), linear(raw(0, 2, size), 0, 7000)
    )
    close(grey(render(pixeldata, path, c=c, m="g", p="intmean")), linear(raw(0, 3, size), 0, 7000))


# ---------------------------------------------------------------------------- regions (37-43)


def test_37_region(pixeldata):
    rgb = render(pixeldata, f"render_image_region/{pixeldata.IMG}/0/0/", region="0,0,64,32")
    assert size_of(rgb) == (64, 32)
    c = "1|0:1733$FFFFFF"
    region = render(
        pixeldata, f"render_image_region/{pixeldata.IMG}/0/0/", region="100,50,64,32", c=c, m="g"
    )
    expected = linear(raw(0, x=100, y=50, width=64, height=32), 0, 1733)
    close(grey(region), expected)


def _text(response: Any, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    return response.text


def test_38_region_or_tile_required(pixeldata):
    response = pixeldata.alice.get(f"{G}/render_image_region/{pixeldata.IMG}/0/0/")
    assert _text(response, 400) == "tile or region argument required"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("region=a,b", "malformed region argument"),
        ("region=1,2,3", "malformed region argument"),
        ("region=0,0,-5,5", "malformed region argument"),
        ("tile=x", "malformed tile argument"),
        ("tile=0,1", "malformed tile argument"),
    ],
)
def test_39_malformed_region_and_tile(pixeldata, query, message):
    response = pixeldata.alice.get(f"{G}/render_image_region/{pixeldata.IMG}/0/0/?{query}")
    assert _text(response, 400).startswith(message)


def test_40_resolution_levels(pixeldata):
    path = f"{G}/render_image_region/{pixeldata.IMG}/0/0/"
    negative = pixeldata.alice.get(path, params={"tile": "-1,0,0"})
    assert _text(negative, 400) == "Invalid resolution level -1 < 0"
    flat = pixeldata.alice.get(path, params={"tile": "1,0,0"})
    assert _text(flat, 400) == "Invalid resolution level 1, non pyramid file"
    assert size_of(jpeg(pixeldata.alice.get(path, params={"tile": "0,0,0"}))) == (256, 256)
    levels = img_data(pixeldata, pixeldata.BIG)["levels"]
    too_deep = pixeldata.alice.get(
        f"{G}/render_image_region/{pixeldata.BIG}/0/0/", params={"tile": f"{levels},0,0"}
    )
    assert "Invalid resolution level" in _text(too_deep, 400)


def test_41_tiles_are_regions(pixeldata):
    data = img_data(pixeldata, pixeldata.BIG)
    tw, th = data["tile_size"]["width"], data["tile_size"]["height"]
    path = f"render_image_region/{pixeldata.BIG}/0/0/"
    tile = render(pixeldata, path, tile="0,1,0", q="1")
    region = render(pixeldata, path, region=f"{tw},0,{tw},{th}", q="1")
    assert size_of(tile) == (tw, th)
    assert np.array_equal(tile, region)
    close(
        grey(tile), linear(raw(0, size=BIG_SIZE, dtype="uint8", x=tw, width=tw, height=th), 0, 255)
    )
    huge = render(pixeldata, path, tile="0,0,0,4096,4096")
    assert huge.shape[0] <= 1024 and huge.shape[1] <= 1024
    # level 1 is half the size; the store made it by 2x2 means of the full resolution
    half = render(pixeldata, path, tile="1,0,0", q="1")
    assert size_of(half) == (tw, th)
    full = raw(0, size=BIG_SIZE, dtype="uint8", width=2 * tw, height=2 * th)
    expected = np.floor(full.reshape(th, 2, tw, 2).mean(axis=(1, 3)) + 0.5)
    close(grey(half), expected)
    # an edge tile is clipped to the image
    last_col = (BIG_SIZE[0] - 1) // tw
    edge = render(pixeldata, path, tile=f"0,{last_col},0")
    assert size_of(edge) == (BIG_SIZE[0] - last_col * tw, th)


def test_42_rdef_validation(pixeldata):
    path = f"{G}/render_image_rdef/{pixeldata.IMG}/0/0/"

    def message(**params: str) -> str:
        return _text(pixeldata.alice.get(path, params=params), 400)

    assert message() == "Rendering settings must specify channels as c"
    assert message(c="1|0:255,2|0:255", m="c") == "Must specify color for each channel"
    assert message(c="1$FF0000", m="c") == "Must specify window for each channel"
    assert message(c="1|0:255$FF0000", m="x") == (
        'Query parameter "m" must be present with value either "g" or "c"'
    )
    assert message(c="1|0:255$FF0000", m="c", maps="[") == "Failed to parse maps JSON"
    assert message(c="1|0:255$FF0000", m="c", maps="[{}, {}]") == (
        'Number of "maps" must match number of channels'
    )
    good = {"c": "1|0:1733$FFFFFF,-2|0:1$00FF00,-3|0:1$0000FF", "m": "g"}
    rgb = jpeg(pixeldata.alice.get(path, params=good))
    close(grey(rgb), linear(raw(0), 0, 1733))
    region = jpeg(
        pixeldata.alice.get(
            f"{G}/render_image_region_rdef/{pixeldata.IMG}/0/0/",
            params={**good, "region": "0,0,30,20"},
        )
    )
    assert size_of(region) == (30, 20)


def test_43_split_channel(pixeldata):
    split = img_data(pixeldata, pixeldata.IMG)["split_channel"]
    path = f"render_split_channel/{pixeldata.IMG}/0/0/"
    for model in ("c", "g"):
        rgb = render(pixeldata, path, m=model)
        assert size_of(rgb) == (split[model]["width"], split[model]["height"])
    # greyscale panels: panel 1 (top left, after the border) is channel 1 in grey
    rgb = render(pixeldata, path, m="g", c="1|0:1733$FF0000,2|100:1833$00FF00,3|200:1933$0000FF")
    panel = rgb[2 : 2 + H, 2 : 2 + W]
    close(grey(panel), linear(raw(0), 0, 1733))
    second = rgb[2 : 2 + H, 4 + W : 4 + 2 * W]
    close(grey(second), linear(raw(1), 100, 1833))
    assert rgb[:2].max() > 200  # the border is white
    # colour model: the merged image follows the channel panels (bottom right of 2 x 2)
    merged = render(pixeldata, path, m="c")[4 + H : 4 + 2 * H, 4 + W : 4 + 2 * W]
    whole = render(pixeldata, f"render_image/{pixeldata.IMG}/0/0/", m="c")
    assert np.abs(merged - whole).mean() < 2
