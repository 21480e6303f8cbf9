"""Rendering settings, LUTs, downloads and the small lists of ``/webgateway/`` over HTTP:
saveImgRDef / getImgRDef / copyImgRDef / resetRDef / applyOwnersRDef / get_image_rdefs_json,
luts and luts_png, archived files and rendered downloads, dataset and well children."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pixeldata import (
    IMG_SIZE,
    PLATE_FIELDS,
    G,
    jpeg,
    pixeldata_fixture,  # noqa: F401 - the pixeldata fixture
)

CSRF = "X-CSRFToken"


def token(client: Any) -> dict[str, str]:
    return {CSRF: client.get("/api/v0/token/").json()["data"]}


def channels(client: Any, image_id: int) -> list[dict[str, Any]]:
    response = client.get(f"{G}/imgData/{image_id}/channels/")
    assert response.status_code == 200, response.text
    return response.json()


def save(client: Any, image_id: int, **form: str) -> Any:
    return client.post(f"{G}/saveImgRDef/{image_id}/", data=form, headers=token(client))


def reset(client: Any, image_id: int) -> None:
    response = client.post(f"{G}/resetRDef/", data={"toids": str(image_id)}, headers=token(client))
    assert response.status_code == 200 and response.json() == [image_id], response.text


# -- saving and listing -------------------------------------------------------------------------


def test_save_changes_what_the_saver_sees_and_only_for_them(pixeldata):
    img, alice, bob = pixeldata.IMG, pixeldata.alice, pixeldata.bob
    before_bob = channels(bob, img)
    response = save(alice, img, c="1|10:500$FF00FF,-2|0:600$00FF00,3|0:700$0000FF", m="g", z="1")
    assert response.status_code == 200 and response.json() is True
    mine = channels(alice, img)
    assert [c["active"] for c in mine] == [True, False, True]
    assert mine[0]["color"] == "FF00FF"
    assert (mine[0]["window"]["start"], mine[0]["window"]["end"]) == (10.0, 500.0)
    assert alice.get(f"{G}/imgData/{img}/rdefs/").json()["model"] == "greyscale"
    # bob has no settings of his own: he sees the owner's (OMERO's fallback)
    assert channels(bob, img)[0]["color"] == "FF00FF" != before_bob[0]["color"]
    listed = alice.get(f"{G}/get_image_rdefs_json/{img}/").json()["rdefs"]
    assert len(listed) == 1
    assert listed[0]["owner"]["id"] == pixeldata.ALICE
    assert listed[0]["model"] == "greyscale"
    assert listed[0]["c"][0]["rgb"] == {"red": 255, "green": 0, "blue": 255}
    reset(alice, img)
    assert channels(alice, img) == before_bob


def test_save_is_strict_and_needs_csrf(pixeldata):
    img, alice = pixeldata.IMG, pixeldata.alice
    before = alice.get(f"{G}/get_image_rdefs_json/{img}/").json()
    assert save(alice, img, m="g").status_code == 400  # no c
    bad = save(alice, img, c="1|0:1,2|0:1,3|0:1", m="c")
    assert bad.status_code == 400 and "Must specify color for each channel" in bad.text
    assert save(alice, img, c="1|0:1$FF0000,2|0:1$00FF00,3|0:1$0000FF", m="x").status_code == 400
    assert (
        save(alice, img, c="1|0:1$FF0000,2|0:1$00FF00,3|0:1$0000FF", m="c", z="9").status_code
        == 400
    )
    bare = alice.post(f"{G}/saveImgRDef/{img}/", data={"c": "1|0:1$FF0000", "m": "c"})
    assert bare.status_code == 403
    assert alice.get(f"{G}/get_image_rdefs_json/{img}/").json() == before
    missing = save(alice, 987654, c="1|0:1$FF0000", m="c")
    assert missing.status_code == 404


def test_copy_then_paste_onto_another_image(pixeldata):
    img, tiff, alice = pixeldata.IMG, pixeldata.IMGTIFF, pixeldata.alice
    assert save(alice, img, c="1|5:50$FFFF00,2|0:600$00FF00,3|0:700$0000FF", m="c").json()
    assert alice.get(f"{G}/copyImgRDef/?fromid={img}").json() is True
    copied = alice.get(f"{G}/getImgRDef/").json()["rdef"]
    assert copied["c"].startswith("1|5.0:50.0$FFFF00,")
    assert copied["m"] == "color" and copied["pixel_range"] == "0:65535"
    pasted = alice.post(f"{G}/copyImgRDef/", data={"toids": str(tiff)}, headers=token(alice))
    assert pasted.json() == {"true": [tiff], "false": []}
    assert channels(alice, tiff)[0]["color"] == "FFFF00"
    # a target with another channel count is refused, not half-changed
    refused = alice.post(
        f"{G}/copyImgRDef/", data={"toids": str(pixeldata.IMG1)}, headers=token(alice)
    )
    assert refused.json() == {"true": [], "false": [pixeldata.IMG1]}
    reset(alice, img)
    reset(alice, tiff)


def test_copy_explicit_settings_and_paste_them(pixeldata):
    img1, alice = pixeldata.IMG1, pixeldata.alice
    copied = alice.get(f"{G}/copyImgRDef/", params={"c": "1|0:99$00FFFF", "m": "c"})
    assert copied.json() is True
    assert alice.get(f"{G}/getImgRDef/").json() == {"rdef": {"c": "1|0:99$00FFFF", "m": "c"}}
    pasted = alice.post(f"{G}/copyImgRDef/", data={"toids": str(img1)}, headers=token(alice))
    assert pasted.json() is True
    ch = channels(alice, img1)[0]
    assert ch["color"] == "00FFFF" and ch["window"]["end"] == 99.0
    reset(alice, img1)


def test_copy_without_anything_copied_is_405_and_reset_needs_ids(pixeldata):
    bob = pixeldata.bob
    assert bob.get(f"{G}/getImgRDef/").json() == {"rdef": None}
    assert bob.get(f"{G}/copyImgRDef/").status_code == 405
    assert bob.post(f"{G}/resetRDef/", data={}, headers=token(bob)).status_code == 404


def test_apply_owners_gives_the_owners_settings(pixeldata):
    img, alice, bob = pixeldata.IMGTIFF, pixeldata.alice, pixeldata.bob
    assert save(alice, img, c="1|0:42$FF0000,2|0:600$00FF00,3|0:700$0000FF", m="c").json()
    assert save(bob, img, c="1|0:7$0000FF,2|0:600$00FF00,3|0:700$0000FF", m="g").json()
    assert channels(bob, img)[0]["window"]["end"] == 7.0
    applied = bob.post(f"{G}/applyOwnersRDef/", data={"toids": str(img)}, headers=token(bob))
    assert applied.json() == [img]
    assert channels(bob, img)[0]["window"]["end"] == 42.0
    reset(alice, img)
    reset(bob, img)


def test_reset_a_whole_plate(pixeldata):
    alice = pixeldata.alice
    response = alice.post(
        f"{G}/resetRDef/",
        data={"toids": str(pixeldata.PLATE), "to_type": "plate"},
        headers=token(alice),
    )
    assert response.status_code == 200
    assert len(response.json()) == 3 * PLATE_FIELDS  # every field of every filled well


# -- LUTs -----------------------------------------------------------------------------------------


def test_luts_listing_and_strip(pixeldata):
    alice = pixeldata.alice
    body = alice.get(f"{G}/luts/").json()
    names = [lut["name"] for lut in body["luts"]]
    assert "fire.lut" in names and "cool.lut" in names
    assert all(lut["name"].endswith(".lut") for lut in body["luts"])
    assert body["png_luts_new"][-1] == "gradient.png"
    assert "rgb" not in body["luts"][0]
    with_rgb = alice.get(f"{G}/luts/?rgb=true").json()["luts"][0]
    assert len(with_rgb["rgb"]) == 256 and len(with_rgb["rgb"][0]) == 3
    strip = alice.get(f"{G}/luts_png/")
    assert strip.headers["content-type"] == "image/png"
    picture = Image.open(io.BytesIO(strip.content))
    assert picture.size == (256, 10 * (len(names) + 1))


def test_a_lut_renders_through_its_table(pixeldata):
    img1, alice = pixeldata.IMG1, pixeldata.alice
    grey = jpeg(alice.get(f"{G}/render_image/{img1}/0/0/?c=1|0:160$FFFFFF&m=c&q=1"))
    fire = jpeg(alice.get(f"{G}/render_image/{img1}/0/0/?c=1|0:160$fire.lut&m=c&q=1"))
    assert np.abs(grey.astype(int) - fire.astype(int)).mean() > 10
    assert not np.allclose(fire[..., 0], fire[..., 2], atol=8)  # coloured, not grey


# -- downloads --------------------------------------------------------------------------------------


def test_archived_file_is_the_imported_file(pixeldata):
    tiff, alice = pixeldata.IMGTIFF, pixeldata.alice
    response = alice.get(f"{G}/archived_files/download/{tiff}/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/force-download"
    assert response.headers["content-disposition"] == "attachment; filename=img.ome.tif"
    assert response.content == (pixeldata.directory / "files" / "img.ome.tif").read_bytes()
    paths = alice.get(f"{G}/original_file_paths/{tiff}/").json()
    assert paths["client"] == [str(pixeldata.directory / "files" / "img.ome.tif")]
    assert len(paths["repo"]) == 1 and isinstance(paths["fileset"]["id"], int)


def test_archived_files_of_an_ome_zarr_come_as_a_zip(pixeldata):
    response = pixeldata.alice.get(f"{G}/archived_files/download/{pixeldata.IMG}/")
    assert response.status_code == 200
    assert response.headers["content-disposition"].endswith(".zip")
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert any(name.endswith(".zattrs") for name in names)


def test_downloads_obey_read_permission(pixeldata):
    bob = pixeldata.bob
    assert bob.get(f"{G}/archived_files/download/{pixeldata.PRIVATE}/").status_code == 404
    assert bob.get(f"{G}/original_file_paths/{pixeldata.PRIVATE}/").status_code == 404
    assert bob.get(f"{G}/render_image_download/{pixeldata.PRIVATE}/").status_code == 404
    assert bob.get(f"{G}/archived_files/download/").status_code == 400  # no images named


@pytest.mark.parametrize(
    ("fmt", "magic"), [("jpeg", b"\xff\xd8\xff"), ("png", b"\x89PNG"), ("tif", b"II*\x00")]
)
def test_render_image_download_formats(pixeldata, fmt, magic):
    response = pixeldata.alice.get(f"{G}/render_image_download/{pixeldata.IMG}/?format={fmt}")
    assert response.status_code == 200
    assert response.content.startswith(magic)
    extension = {"jpeg": "jpg"}.get(fmt, fmt)
    assert response.headers["content-disposition"].endswith(f".{extension}")
    picture = Image.open(io.BytesIO(response.content))
    assert picture.size == IMG_SIZE


def test_download_as_zips_several_images(pixeldata):
    url = f"{G}/download_as/?image={pixeldata.IMG}&image={pixeldata.IMG1}&format=png"
    response = pixeldata.alice.get(url)
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert len(archive.namelist()) == 2 and all(n.endswith(".png") for n in archive.namelist())


# -- lists ----------------------------------------------------------------------------------------


def test_dataset_children(pixeldata):
    body = pixeldata.alice.get(f"{G}/dataset/{pixeldata.DATASET}/children/?tiled=true").json()
    assert [item["id"] for item in body] == [pixeldata.IMG]
    item = body[0]
    assert item["type"] == "Image" and item["author"] == "Alice Imager"
    assert item["thumb_url"] == f"{G}/render_thumbnail/{pixeldata.IMG}/"
    assert item["size"]["width"] == IMG_SIZE[0] and item["tiled"] is False
    assert isinstance(item["date"], float)
    assert pixeldata.alice.get(f"{G}/dataset/987654/children/").status_code == 404


def test_well_children_and_open_with(pixeldata):
    alice = pixeldata.alice
    grid = alice.get(f"{G}/plate/{pixeldata.PLATE}/").json()
    well_id = next(cell["wellId"] for row in grid["grid"] for cell in row if cell)
    children = alice.get(f"{G}/well/{well_id}/children/").json()
    assert len(children) == PLATE_FIELDS
    assert all(child["type"] == "Image" for child in children)
    assert alice.get(f"{G}/well/987654/children/").status_code == 404
    first = alice.get(f"{G}/open_with/").json()["open_with_options"][0]
    assert first["id"] == "Image viewer" and first["url"] == "/webgateway/"
    assert first["supported_objects"] == ["image"]
