"""``/webgateway/`` over HTTP, in process: thumbnails and their disk cache, the plate grid
(spec webgateway-idr.md section 8, assertions 44-62), login, permissions, ETags and the
answers to malformed requests.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from sqlalchemy import select

from pixeldata import (
    BIG_SIZE,
    IMG_SIZE,
    PLATE_COLUMNS,
    PLATE_FIELDS,
    PLATE_IMAGE,
    PLATE_ROWS,
    PLATE_WELLS,
    G,
    data_uri_image,
    jpeg,
    pixeldata_fixture,  # noqa: F401 - the pixeldata fixture
    size_of,
)
from pyomero.model.rendering import WHITE
from pyomero.services import accounts, rendering
from pyomero.store import bulk, schema
from pyomero.store import pixels as pixel_store

MISSING = 987654
CELL_KEYS = {"type", "id", "name", "description", "author", "date", "wellId", "field", "thumb_url"}


def thumb(client: Any, path: str, **params: Any) -> np.ndarray:
    return jpeg(client.get(path, params=params))


def longest(rgb: np.ndarray) -> int:
    return max(size_of(rgb))


def json_of(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/json", response.headers
    return response.json()


# ---------------------------------------------------------------------------- thumbnails


def test_44_render_thumbnail(pixeldata):
    rgb = thumb(pixeldata.alice, f"{G}/render_thumbnail/{pixeldata.IMG}/")
    assert size_of(rgb) == (96, 71)
    assert size_of(thumb(pixeldata.alice, f"{G}/render_thumbnail/{pixeldata.BIG}/")) == (96, 64)
    # a tall image: the height is the longest side
    assert size_of(thumb(pixeldata.alice, f"{G}/render_thumbnail/{pixeldata.IMG1}/")) == (96, 72)


def test_44_thumbnail_pixels(pixeldata):
    """The thumbnail is the rendered plane scaled down: its mean colour matches."""
    full = jpeg(pixeldata.alice.get(f"{G}/render_image/{pixeldata.IMG}/0/0/"))
    small = thumb(pixeldata.alice, f"{G}/render_thumbnail/{pixeldata.IMG}/")
    assert np.abs(full.mean(axis=(0, 1)) - small.mean(axis=(0, 1))).max() < 6


def test_45_thumbnail_sizes(pixeldata):
    assert size_of(thumb(pixeldata.alice, f"{G}/render_thumbnail/{pixeldata.IMG}/64/")) == (64, 47)
    exact = thumb(pixeldata.alice, f"{G}/render_thumbnail/{pixeldata.IMG}/64/32/")
    assert size_of(exact) == (64, 32)
    # upscaling is allowed
    big = thumb(pixeldata.alice, f"{G}/render_thumbnail/{pixeldata.IMG1}/200/")
    assert size_of(big) == (200, 150)


def test_46_thumbnail_of_missing_image(pixeldata):
    response = pixeldata.alice.get(f"{G}/render_thumbnail/{MISSING}/")
    assert response.status_code == 404
    placeholder = pixeldata.alice.get(f"/webclient/render_thumbnail/{MISSING}/")
    assert placeholder.status_code == 200
    assert placeholder.headers["content-type"] == "image/jpeg"


def test_47_webclient_thumbnails(pixeldata):
    sized = thumb(pixeldata.alice, f"/webclient/render_thumbnail/size/64/{pixeldata.IMG}/")
    assert longest(sized) == 64
    assert longest(thumb(pixeldata.alice, f"/webclient/render_thumbnail/{pixeldata.IMG}/")) == 96


def test_48_birds_eye_view(pixeldata):
    eye = thumb(pixeldata.alice, f"{G}/render_birds_eye_view/{pixeldata.IMG}/")
    assert size_of(eye) == (96, 71)
    sized = thumb(pixeldata.alice, f"{G}/render_birds_eye_view/{pixeldata.IMG}/128/")
    assert longest(sized) == 128


def test_49_get_thumbnails(pixeldata):
    a, b = pixeldata.IMG, pixeldata.BIG
    data = json_of(pixeldata.alice.get(f"{G}/get_thumbnails/?id={a}&id={b}&id={a}"))
    assert set(data) == {str(a), str(b)}
    assert size_of(data_uri_image(data[str(a)])) == (96, 71)
    assert size_of(data_uri_image(data[str(b)])) == (96, 64)


def test_50_get_thumbnails_missing(pixeldata):
    a = pixeldata.IMG
    data = json_of(pixeldata.alice.get(f"{G}/get_thumbnails/?id={a}&id={MISSING}"))
    assert set(data) == {str(a), str(MISSING)}
    assert data[str(MISSING)] is None
    assert data[str(a)].startswith("data:image/jpeg;base64,")
    assert json_of(pixeldata.alice.get(f"{G}/get_thumbnails/")) == {}


def test_51_get_thumbnails_limit(pixeldata):
    query = "&".join(f"id={i}" for i in range(1, 52))
    response = pixeldata.alice.get(f"{G}/get_thumbnails/?{query}")
    assert response.status_code == 500
    assert response.text == "Max 50 thumbnails at a time."
    # 50 distinct ids (duplicates do not count) are fine
    query = "&".join(f"id={i}" for i in [*range(1, 51), 1, 2])
    assert len(json_of(pixeldata.alice.get(f"{G}/get_thumbnails/?{query}"))) == 50


def test_52_get_thumbnails_size(pixeldata):
    a, b = pixeldata.IMG, pixeldata.IMG1
    data = json_of(pixeldata.alice.get(f"{G}/get_thumbnails/64/?id={a}&id={b}"))
    assert size_of(data_uri_image(data[str(a)])) == (64, 47)
    assert size_of(data_uri_image(data[str(b)])) == (64, 48)


def test_53_get_thumbnail(pixeldata):
    value = json_of(pixeldata.alice.get(f"{G}/get_thumbnail/{pixeldata.IMG}/"))
    assert isinstance(value, str)
    assert size_of(data_uri_image(value)) == (96, 71)
    sized = json_of(pixeldata.alice.get(f"{G}/get_thumbnail/{pixeldata.IMG}/64/"))
    assert size_of(data_uri_image(sized)) == (64, 47)


def test_thumbnail_plane(pixeldata):
    """``?z=`` picks the plane; the default is defaultZ."""
    path = f"{G}/render_thumbnail/{pixeldata.IMGZ}/"
    default = thumb(pixeldata.alice, path)
    assert np.array_equal(default, thumb(pixeldata.alice, path, z=3))
    assert thumb(pixeldata.alice, path, z=0).mean() < default.mean() - 10


# ---------------------------------------------------------------------------- cache


def _cached(directory: Path) -> set[Path]:
    return {p for p in directory.rglob("*.jpg")} if directory.is_dir() else set()


def _save_settings(data: Any, user: str, image_id: int, **changes: Any) -> None:
    """Save ``user``'s own rendering settings of an image: the defaults with ``changes``."""
    instance = data.instance
    ctx = accounts.login(instance, username=user, password="user-password")
    view = rendering.open_image(ctx, image_id)
    rdef = view.rdef.with_(**changes)
    with instance.db.write() as conn:
        event = bulk.new_event(conn, owner_id=ctx.actor.user_id, group_id=data.LAB)
        pixel_store.save_rendering_def(
            conn, view.record.pixels_id, rdef,
            owner_id=ctx.actor.user_id, group_id=data.LAB, event_id=event,
        )  # fmt: skip


def test_thumbnail_disk_cache(pixeldata):
    cache = Path(pixeldata.instance.settings.data_dir) / "thumbnails"
    shutil.rmtree(cache, ignore_errors=True)
    path = f"{G}/render_thumbnail/{pixeldata.IMG}/"
    first = pixeldata.bob.get(path)
    assert first.status_code == 200
    files = _cached(cache)
    assert len(files) == 1, files
    (cached,) = files
    assert cached.read_bytes() == first.content
    # the second request is served from the file: replace it and see the change
    marker = pixeldata.bob.get(f"{G}/render_thumbnail/{pixeldata.IMG1}/").content
    cached.write_bytes(marker)
    assert pixeldata.bob.get(path).content == marker
    cached.write_bytes(first.content)

    # bob's own settings (greyscale, channel 1 only) give another thumbnail and cache file
    view_channels = rendering.open_image(
        accounts.login(pixeldata.instance, username="bob", password="user-password"),
        pixeldata.IMG,
    ).rdef.channels
    grey = tuple(
        b.with_(active=i == 0, color=WHITE, start=0.0, end=400.0)
        for i, b in enumerate(view_channels)
    )
    _save_settings(pixeldata, "bob", pixeldata.IMG, model="greyscale", channels=grey)
    try:
        changed = pixeldata.bob.get(path)
        assert changed.status_code == 200 and changed.content != first.content
        rgb = jpeg(changed)
        assert np.abs(rgb[..., 0] - rgb[..., 2]).max() <= 8  # grey
        assert len(_cached(cache)) == 3  # IMG, IMG1 (the marker), IMG with bob's settings
        # alice's view is unchanged
        assert pixeldata.alice.get(path).content == first.content
    finally:
        with pixeldata.instance.db.write() as conn:
            pixels_id = conn.scalar(
                select(schema.pixels.c.id).where(schema.pixels.c.image == pixeldata.IMG)
            )
            pixel_store.delete_rendering_defs(conn, pixels_id, except_owner=pixeldata.ALICE)


# ---------------------------------------------------------------------------- plate grid


def plate(data: Any, suffix: str = "", **params: Any) -> dict[str, Any]:
    return json_of(data.alice.get(f"{G}/plate/{data.PLATE}/{suffix}", params=params))


def filled(grid: list[list[Any]]) -> dict[tuple[int, int], dict[str, Any]]:
    return {(r, c): cell for r, row in enumerate(grid) for c, cell in enumerate(row) if cell}


def test_54_plate_keys(pixeldata):
    assert set(plate(pixeldata, "0/")) == {"grid", "collabels", "rowlabels", "image_sizes"}


def test_55_plate_shape(pixeldata):
    for layout in ("expand", "shrink", "trim"):
        data = plate(pixeldata, "0/", layout=layout)
        assert len(data["grid"]) == len(data["rowlabels"])
        assert all(len(row) == len(data["collabels"]) for row in data["grid"])


def test_56_expand_layout(pixeldata):
    data = plate(pixeldata, "0/")
    assert (len(data["rowlabels"]), len(data["collabels"])) == (8, 12)
    assert set(filled(data["grid"])) == set(PLATE_WELLS)
    assert plate(pixeldata, "0/", layout="bogus") == data


def test_57_labels(pixeldata):
    data = plate(pixeldata, "0/")
    assert data["rowlabels"] == list("ABCDEFGH")
    assert data["collabels"] == list(range(1, 13))


def test_58_cells(pixeldata):
    cells = filled(plate(pixeldata, "0/")["grid"])
    assert len(cells) == len(PLATE_WELLS)
    for cell in cells.values():
        assert set(cell) == CELL_KEYS
        assert cell["type"] == "Image" and cell["field"] == 0
        assert cell["thumb_url"] == f"/webgateway/render_thumbnail/{cell['id']}/"
        assert cell["author"] == "Alice Imager"
        assert isinstance(cell["date"], int) and cell["date"] > 0
        assert cell["description"] == ""
    assert len({c["id"] for c in cells.values()}) == len({c["wellId"] for c in cells.values()})
    field1 = filled(plate(pixeldata, "1/")["grid"])
    assert set(field1) == set(cells)
    assert all(c["field"] == 1 for c in field1.values())
    assert {c["id"] for c in field1.values()}.isdisjoint(c["id"] for c in cells.values())
    for pos, cell in field1.items():
        assert cell["wellId"] == cells[pos]["wellId"]


def test_59_thumb_size(pixeldata):
    cells = filled(plate(pixeldata, "0/", size=64)["grid"]).values()
    assert cells and all(c["thumb_url"].endswith(f"/{c['id']}/64/") for c in cells)
    # the URL it names works
    first = next(iter(cells))
    assert longest(thumb(pixeldata.alice, first["thumb_url"])) == 64


def test_60_default_field_and_missing_field(pixeldata):
    assert plate(pixeldata) == plate(pixeldata, "0/")
    empty = plate(pixeldata, "999/")
    assert (len(empty["rowlabels"]), len(empty["collabels"])) == (8, 12)
    assert not filled(empty["grid"])
    assert empty["image_sizes"] == []


def test_61_image_sizes(pixeldata):
    data = plate(pixeldata, "0/")
    ids = {c["id"] for c in filled(data["grid"]).values()}
    (sizes,) = data["image_sizes"]
    assert set(sizes) == {"x", "y", "image_id"}
    assert (sizes["x"], sizes["y"]) == (PLATE_IMAGE, PLATE_IMAGE)
    assert sizes["image_id"] in ids


def test_62_trim_and_shrink(pixeldata):
    rows = max(r for r, _ in PLATE_WELLS) + 1
    columns = max(c for _, c in PLATE_WELLS) + 1
    trim = plate(pixeldata, "0/", layout="trim")
    assert (len(trim["rowlabels"]), len(trim["collabels"])) == (rows, columns)
    assert trim["rowlabels"] == list("ABC") and trim["collabels"] == [1, 2, 3, 4, 5]
    assert set(filled(trim["grid"])) == set(PLATE_WELLS)
    shrink = plate(pixeldata, "0/", layout="shrink")
    top, left = min(r for r, _ in PLATE_WELLS), min(c for _, c in PLATE_WELLS)
    assert shrink["rowlabels"] == ["B", "C"] and shrink["collabels"] == [2, 3, 4, 5]
    assert set(filled(shrink["grid"])) == {(r - top, c - left) for r, c in PLATE_WELLS}
    assert (PLATE_ROWS, PLATE_COLUMNS, PLATE_FIELDS) == (3, 5, 2)


def test_plate_missing(pixeldata):
    """OMERO answers 500 here only because its view returns the Http404 class (spec 10)."""
    response = pixeldata.alice.get(f"{G}/plate/{MISSING}/")
    assert json_of(response, 404)["message"]


# ---------------------------------------------------------------------------- login, permissions


@pytest.mark.parametrize(
    "path", ["render_image/{IMG}/0/0/?c=1|0:255$FF0000&m=c", "imgData/{IMG}/", "plate/{PLATE}/"]
)
def test_anonymous_browser_is_sent_to_login(pixeldata, path):
    url = f"{G}/" + path.format(IMG=pixeldata.IMG, PLATE=pixeldata.PLATE)
    response = pixeldata.anonymous.get(url, follow_redirects=False)
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert location.path == "/webclient/login/"
    assert parse_qs(location.query)["url"] == [url]


def test_anonymous_ajax_is_forbidden(pixeldata):
    response = pixeldata.anonymous.get(
        f"{G}/render_image/{pixeldata.IMG}/0/0/",
        headers={"X-Requested-With": "XMLHttpRequest"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert response.content == b""


def test_other_group_image_is_invisible(pixeldata):
    private, img = pixeldata.PRIVATE, pixeldata.IMG
    assert jpeg(pixeldata.alice.get(f"{G}/render_image/{private}/0/0/")).shape == (30, 40, 3)
    assert pixeldata.bob.get(f"{G}/render_image/{private}/0/0/").status_code == 404
    assert (
        pixeldata.bob.get(f"{G}/render_image_region/{private}/0/0/?region=0,0,4,4").status_code
        == 404
    )
    assert pixeldata.bob.get(f"{G}/render_thumbnail/{private}/").status_code == 404
    json_of(pixeldata.bob.get(f"{G}/imgData/{private}/"), 404)
    data = json_of(pixeldata.bob.get(f"{G}/get_thumbnails/?id={img}&id={private}"))
    assert data[str(private)] is None and data[str(img)].startswith("data:image/jpeg")
    # bob reads alice's image in their read-annotate group, without edit rights
    perms = json_of(pixeldata.bob.get(f"{G}/imgData/{img}/"))["perms"]
    assert perms == {"canAnnotate": True, "canEdit": False, "canDelete": False, "canLink": False}
    assert json_of(pixeldata.alice.get(f"{G}/imgData/{img}/"))["perms"]["canEdit"] is True


# ---------------------------------------------------------------------------- ETags


@pytest.mark.parametrize(
    "path",
    ["render_image/{IMG}/0/0/?c=1|0:900$FF0000", "render_image_region/{IMG}/0/0/?tile=0,1,1"],
)
def test_etag_not_modified(pixeldata, path):
    url = f"{G}/" + path.format(IMG=pixeldata.IMG)
    first = pixeldata.alice.get(url)
    assert first.status_code == 200
    etag = first.headers["etag"]
    again = pixeldata.alice.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    other = pixeldata.alice.get(url + "&m=g", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag


# ---------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("render_image/{IMG}/5/0/", ["z", "5"]),
        ("render_image/{IMG}/0/3/", ["t", "3"]),
        ("render_image/{IMGZ}/7/", ["z", "7"]),
        ("render_image_region/{IMG}/9/0/?region=0,0,8,8", ["z", "9"]),
        ("render_split_channel/{IMG}/0/4/", ["t", "4"]),
        ("render_image_region/{IMG}/0/0/?region=700,0,10,10", ["region"]),
        ("render_image_region/{IMG}/0/0/?tile=0,99,0", ["tile"]),
        ("render_image_region/{BIG}/0/0/?tile=0,0,0,abc,def", ["tile"]),
        ("render_image/{IMG}/0/0/?q=abc", ["q"]),
        ("render_image/{IMG}/0/0/?q=2", ["q"]),
        ("render_thumbnail/{IMG}/?z=9", ["z"]),
        ("render_thumbnail/{IMG}/?z=x", ["invalid literal", "x"]),
        ("render_thumbnail/{IMG}/0/", ["size"]),
        ("render_thumbnail/{IMG}/5000/", ["size"]),
    ],
)
def test_malformed_image_requests_are_400(pixeldata, path, words):
    url = f"{G}/" + path.format(IMG=pixeldata.IMG, IMGZ=pixeldata.IMGZ, BIG=pixeldata.BIG)
    response = pixeldata.alice.get(url)
    assert response.status_code == 400, (response.status_code, response.text)
    assert all(word in response.text for word in words), response.text


@pytest.mark.parametrize(
    "path",
    [
        "get_thumbnails/?id=abc",
        "get_thumbnails/?id=1&id=",
        "get_thumbnail/{IMG}/?z=-1",
        "plate/{PLATE}/?size=big",
    ],
)
def test_malformed_json_requests_are_400(pixeldata, path):
    url = f"{G}/" + path.format(IMG=pixeldata.IMG, PLATE=pixeldata.PLATE)
    body = json_of(pixeldata.alice.get(url), 400)
    assert body["message"]


@pytest.mark.parametrize(
    "query",
    [
        "c=abc,1|x:y$zzzzzz,,-,9|0:1$FF0000",
        "c=1|0:100$GG0000",
        "c=1&maps=not-json",
        'c=1&maps=[{"inverted":7}]',
        "m=x&p=bogus&ia=7",
        "p=intmax|a:b",
    ],
)
def test_lenient_rendering_parameters(pixeldata, query):
    """OMERO ignores what it cannot parse in ``c``, ``m``, ``p`` and ``maps`` (spec 5)."""
    rgb = jpeg(pixeldata.alice.get(f"{G}/render_image/{pixeldata.IMG}/0/0/?{query}"))
    assert size_of(rgb) == IMG_SIZE


def test_huge_ids_are_404(pixeldata):
    assert pixeldata.alice.get(f"{G}/render_image/{10**30}/").status_code == 404
    assert pixeldata.alice.get(f"{G}/imgData/{10**30}/").status_code == 404


def test_whole_big_plane(pixeldata):
    """BIG (3000 x 2000) is under OMERO's plane limit: render_image renders it whole."""
    rgb = jpeg(pixeldata.alice.get(f"{G}/render_image/{pixeldata.BIG}/0/0/"))
    assert size_of(rgb) == BIG_SIZE
