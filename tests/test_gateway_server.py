"""The webgateway against a real ``pyomero serve`` process: images imported with
``pyomero import``, then imgData, planes, tiles and thumbnails fetched over a socket."""

from __future__ import annotations

import base64
import io
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from pyomero.testing.http import ApiClient
from pyomero.testing.images import write_ome_tiff
from pyomero.testing.server import pyomero_command, served

pytestmark = pytest.mark.server

ROOT_PW = "gateway-root-pw"


def _ok(*args: str) -> str:
    done = subprocess.run(pyomero_command(*args), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[httpx.Client, dict[str, int]]]:
    root: Path = tmp_path_factory.mktemp("gateway-served")
    directory = root / "instance"
    _ok("init", str(directory), "--root-password", ROOT_PW)
    small = write_ome_tiff(root / "small.ome.tiff", size_x=696, size_y=520, size_c=3)
    big = write_ome_tiff(
        root / "big.ome.tiff", size_x=2500, size_y=1500, dtype="uint8", tile=(256, 256)
    )
    with served(directory) as base:
        ids = {}
        for name, path in (("small", small), ("big", big)):
            out = _ok("import", str(path), "-s", base, "-u", "root", "-w", ROOT_PW)
            match = re.fullmatch(r"Image:(\d+)", out.strip())
            assert match, out
            ids[name] = int(match.group(1))
        with httpx.Client(base_url=base, timeout=30) as client:
            ApiClient(client).login("root", ROOT_PW)
            yield client, ids


def _picture(body: bytes) -> Image.Image:
    assert body[:3] == b"\xff\xd8\xff"
    return Image.open(io.BytesIO(body))


def test_imgdata_plane_tile_and_thumbnails_over_a_socket(gateway):
    client, ids = gateway
    small, big = ids["small"], ids["big"]
    data = client.get(f"/webgateway/imgData/{small}/").json()
    assert data["size"] == {"width": 696, "height": 520, "z": 1, "t": 1, "c": 3}
    assert [c["color"] for c in data["channels"]] == ["FF0000", "00FF00", "0000FF"]
    assert data["split_channel"]["g"] == {
        "width": 1398, "height": 1046, "border": 2, "gridx": 2, "gridy": 2,
    }  # fmt: skip
    plane = client.get(f"/webgateway/render_image/{small}/0/0/")
    assert plane.headers["content-type"] == "image/jpeg"
    assert _picture(plane.content).size == (696, 520)
    assert _picture(client.get(f"/webgateway/render_thumbnail/{small}/").content).size == (96, 71)

    tiled = client.get(f"/webgateway/imgData/{big}/").json()
    assert tiled["tiles"] is True and tiled["levels"] >= 3
    width, height = tiled["tile_size"]["width"], tiled["tile_size"]["height"]
    tile = client.get(f"/webgateway/render_image_region/{big}/0/0/?tile=0,1,0")
    region = client.get(
        f"/webgateway/render_image_region/{big}/0/0/?region={width},0,{width},{height}"
    )
    assert _picture(tile.content).size == (width, height)
    assert tile.content == region.content
    again = client.get(
        f"/webgateway/render_image_region/{big}/0/0/?tile=0,1,0",
        headers={"If-None-Match": tile.headers["etag"]},
    )
    assert again.status_code == 304 and again.content == b""

    batch = client.get("/webgateway/get_thumbnails/", params={"id": [small, big, 999999]}).json()
    assert batch[str(999999)] is None
    for image_id in (small, big):
        uri = batch[str(image_id)]
        assert uri.startswith("data:image/jpeg;base64,")
        thumb = _picture(base64.b64decode(uri.split(",", 1)[1]))
        assert max(thumb.size) == 96


def test_anonymous_browser_is_sent_to_login(gateway):
    client, ids = gateway
    with httpx.Client(base_url=str(client.base_url), timeout=10) as anonymous:
        response = anonymous.get(f"/webgateway/render_image/{ids['small']}/0/0/")
        assert response.status_code == 302
        assert response.headers["location"].startswith("/webclient/login/?url=")
        ajax = anonymous.get(
            f"/webgateway/imgData/{ids['small']}/", headers={"X-Requested-With": "XMLHttpRequest"}
        )
        assert ajax.status_code == 403
