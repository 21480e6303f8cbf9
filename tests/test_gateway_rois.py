"""The webgateway's ROI routes: ROI/shape JSON, shape thumbnails and masks (spec 3.1).

One imported OME-TIFF (400 x 300, 3 Z, 2 T, uint16 grey ramp) in alice's private group
``vault`` carries a ROI of every shape kind; bob (only in ``lab``) can read none of it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pixeldata import BACKENDS, PASSWORD, logged_in_clients, module_instance
from pyomero.model.permissions import GroupLevel
from pyomero.services import accounts
from pyomero.services.imports import ImportTarget, import_files
from pyomero.services.instance import Instance
from pyomero.store import bulk
from pyomero.testing.images import color_int, write_ome_tiff

G = "/webgateway"

RED = color_int((255, 0, 0, 255))
HALF_GREEN = color_int((0, 255, 0, 128))
BLUE_FILL = color_int((0, 0, 255, 64))
MASK_BITS = bytes([0xFF, 0x00, 0xAA, 0x55, 0x0F])  # 10 x 4 bits, row-major, MSB first

SHAPES: list[dict[str, Any]] = [
    {"kind": "Rectangle", "x": 100.0, "y": 80.0, "width": 60.0, "height": 40.0, "thez": 0,
     "thet": 0, "strokecolor": RED, "strokewidth": 2.0, "textvalue": "rect", "fontsize": 12.0,
     "fontfamily": "sans-serif", "fontstyle": "Bold"},
    {"kind": "Ellipse", "x": 200.0, "y": 150.0, "radiusx": 30.0, "radiusy": 20.0,
     "fillcolor": HALF_GREEN},
    {"kind": "Point", "x": 50.0, "y": 50.0, "thec": 0, "fontsize": 9.0},
    {"kind": "Line", "x1": 150.0, "y1": 100.0, "x2": 230.0, "y2": 160.0, "markerend": "Arrow",
     "markerstart": "Arrow"},
    {"kind": "Polygon", "points": "100,100 150,120 120,160", "transform": "1,0,0,1,10,20"},
    {"kind": "Polyline", "points": "10,10 40,20 60,15", "markerend": "Arrow"},
    {"kind": "Mask", "x": 10.0, "y": 20.0, "width": 10.0, "height": 4.0, "bytes": MASK_BITS,
     "fillcolor": BLUE_FILL},
    {"kind": "Label", "x": 30.0, "y": 40.0, "textvalue": "hello", "fontsize": 10.0},
]  # fmt: skip
#: Shapes on several planes, given out of plane order (the default plane is Z 1, T 0).
PLANES: list[dict[str, Any]] = [
    {"kind": "Rectangle", "x": 10.0, "y": 10.0, "width": 20.0, "height": 20.0, "thez": 2,
     "thet": 0},
    {"kind": "Rectangle", "x": 30.0, "y": 30.0, "width": 20.0, "height": 20.0, "thez": 1,
     "thet": 0},
    {"kind": "Rectangle", "x": 50.0, "y": 50.0, "width": 20.0, "height": 20.0, "thez": 0,
     "thet": 1},
    {"kind": "Point", "x": 60.0, "y": 60.0},
]  # fmt: skip

#: Larger than the 250-pixel thumbnail, and overflowing the image on every side once framed.
BIG = {"kind": "Rectangle", "x": 0.0, "y": 0.0, "width": 400.0, "height": 300.0}
#: Its region would exceed OMERO's 3192-pixel plane limit.
HUGE = {"kind": "Rectangle", "x": 0.0, "y": 0.0, "width": 3000.0, "height": 10.0}


@dataclass
class World:
    instance: Instance
    image: int
    bare_image: int
    rois: list[bulk.RoiIds] = field(default_factory=list)
    plane_roi: bulk.RoiIds | None = None
    bare_roi: bulk.RoiIds | None = None
    clients: dict[str, Any] = field(default_factory=dict)

    def shape_id(self, kind: str) -> int:
        return self.rois[0].shape_ids[[s["kind"] for s in SHAPES].index(kind)]


def _build(directory: Path, instance: Instance) -> World:
    accounts.add_group(instance, name="vault", level=GroupLevel.PRIVATE)
    lab = accounts.add_group(instance, name="lab", level=GroupLevel.READ_ANNOTATE)
    alice = accounts.add_user(
        instance, username="alice", first_name="A", last_name="L", groups=["vault", "lab"],
        password=PASSWORD,
    )  # fmt: skip
    accounts.add_user(
        instance, username="bob", first_name="B", last_name="O", groups=["lab"], password=PASSWORD
    )
    ctx = accounts.login(instance, username="alice", password=PASSWORD)
    path = write_ome_tiff(
        directory / "roi.ome.tif", size_x=400, size_y=300, size_z=3, size_t=2, name="roi"
    )
    vault = ctx.actor.group_id
    (image,) = [c.id for c in import_files(ctx, [path], target=ImportTarget(group_id=vault))]
    with instance.db.write() as conn:
        (bare,) = bulk.insert_images(
            conn, owner_id=alice.id, group_id=lab.id,
            images=[{"name": "bare", "pixels": {"sizex": 64, "sizey": 48}}],
        )  # fmt: skip
        rois = bulk.insert_rois(
            conn, owner_id=alice.id, group_id=vault, image_id=image,
            rois=[{"name": "all", "shapes": SHAPES}, {"name": "planes", "shapes": PLANES},
                  {"name": "empty"}, {"name": "big", "shapes": [BIG]},
                  {"name": "huge", "shapes": [HUGE]}],
        )  # fmt: skip
        (bare_roi,) = bulk.insert_rois(
            conn, owner_id=alice.id, group_id=lab.id, image_id=bare,
            rois=[{"shapes": [{"kind": "Rectangle", "x": 1.0, "y": 1.0, "width": 5.0,
                               "height": 5.0}]}],
        )  # fmt: skip
    return World(instance, image, bare, rois, rois[1], bare_roi)


@pytest.fixture(name="world", scope="module", params=BACKENDS)
def world_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with module_instance(request.param, tmp_path_factory, "rois") as instance:
        world = _build(instance.settings.data_dir.parent, instance)
        with logged_in_clients(instance, ("alice", "bob")) as clients:
            world.clients.update(clients)
            yield world


def _jpeg(response: Any) -> np.ndarray:
    assert response.status_code == 200, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content[:3] == b"\xff\xd8\xff"
    with Image.open(io.BytesIO(response.content)) as picture:
        return np.asarray(picture.convert("RGB")).astype(np.int64)


def _is(rgb: np.ndarray, colour: tuple[int, int, int], tolerance: int = 60) -> bool:
    return bool(np.abs(rgb - np.array(colour)).max() <= tolerance)


# ---------------------------------------------------------------------------------- JSON


def test_rois_json_per_type(world: World) -> None:
    """Keys and values as ``shapeMarshal`` writes them: CSS colours with alphas, SVG points,
    ``matrix(...)``, markers on lines, font facts only with a text, never ``theC``."""
    alice = world.clients["alice"]
    response = alice.get(f"{G}/get_rois_json/{world.image}/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert [r["id"] for r in body] == sorted(r.id for r in world.rois)
    first = body[0]
    ids = world.rois[0].shape_ids
    rect, ellipse, point, line, polygon, polyline, mask, label = (
        ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6], ids[7]
    )  # fmt: skip
    by_id = {s["id"]: s for s in first["shapes"]}
    assert by_id[rect] == {
        "id": rect, "theT": 0, "theZ": 0, "type": "Rectangle", "x": 100.0, "y": 80.0,
        "width": 60.0, "height": 40.0, "textValue": "rect", "fontSize": 12.0,
        "fontStyle": "Bold", "fontFamily": "sans-serif", "strokeColor": "#ff0000",
        "strokeAlpha": 1.0, "strokeWidth": 2.0,
    }  # fmt: skip
    assert by_id[ellipse] == {
        "id": ellipse, "type": "Ellipse", "x": 200.0, "y": 150.0, "radiusX": 30.0,
        "radiusY": 20.0, "fillColor": "#00ff00", "fillAlpha": 128 / 255,
    }  # fmt: skip
    assert by_id[point] == {"id": point, "type": "Point", "x": 50.0, "y": 50.0}
    assert by_id[line] == {
        "id": line, "type": "Line", "x1": 150.0, "x2": 230.0, "y1": 100.0, "y2": 160.0,
        "markerStart": "Arrow", "markerEnd": "Arrow",
    }  # fmt: skip
    assert by_id[polygon] == {
        "id": polygon, "type": "Polygon", "points": "M 100 100 L 150 120 L 120 160 z",
        "transform": "matrix(1.0 0.0 0.0 1.0 10.0 20.0)",
    }  # fmt: skip
    assert by_id[polyline] == {
        "id": polyline, "type": "PolyLine", "points": "M 10 10 L 40 20 L 60 15",
        "markerEnd": "Arrow",
    }  # fmt: skip
    assert by_id[mask] == {
        "id": mask, "type": "Mask", "x": 10.0, "y": 20.0, "width": 10.0, "height": 4.0,
        "fillColor": "#0000ff", "fillAlpha": 64 / 255,
    }  # fmt: skip
    assert by_id[label] == {
        "id": label, "type": "Label", "x": 30.0, "y": 40.0, "textValue": "hello",
        "fontSize": 10.0,
    }  # fmt: skip
    # shapes without a plane sort first ("-01-01"), the rest keep model order
    assert [s["id"] for s in first["shapes"]] == [
        ellipse, point, line, polygon, polyline, mask, label, rect
    ]  # fmt: skip


def test_rois_json_sorts_shapes_by_plane(world: World) -> None:
    assert world.plane_roi is not None
    body = world.clients["alice"].get(f"{G}/get_rois_json/{world.image}/").json()
    planes = next(r for r in body if r["id"] == world.plane_roi.id)
    z2, z1, z0t1, bare = world.plane_roi.shape_ids
    assert [s["id"] for s in planes["shapes"]] == [bare, z0t1, z1, z2]  # by "ZZZTTT"
    empty = next(r for r in body if r["id"] == world.rois[2].id)
    assert empty == {"id": world.rois[2].id, "shapes": []}


def test_rois_json_callback_and_errors(world: World) -> None:
    alice, bob = world.clients["alice"], world.clients["bob"]
    response = alice.get(f"{G}/get_rois_json/{world.image}/?callback=cb")
    assert response.headers["content-type"] == "application/javascript"
    assert response.text.startswith("cb([{")
    assert alice.get(f"{G}/get_rois_json/999999/").status_code == 404
    assert bob.get(f"{G}/get_rois_json/{world.image}/").status_code == 404
    # an image without ROIs
    assert alice.get(f"{G}/get_rois_json/{world.bare_image}/").json() == [
        {"id": world.bare_roi.id, "shapes": [{"id": world.bare_roi.shape_ids[0],
         "type": "Rectangle", "x": 1.0, "y": 1.0, "width": 5.0, "height": 5.0}]}  # type: ignore[union-attr]
    ]  # fmt: skip


def test_shape_json(world: World) -> None:
    alice = world.clients["alice"]
    roi, rect = world.rois[0].id, world.shape_id("Rectangle")
    body = alice.get(f"{G}/get_shape_json/{roi}/{rect}/").json()
    assert body["id"] == rect and body["type"] == "Rectangle"
    # OMERO's view answers a JsonResponse itself: no JSONP wrapping
    wrapped = alice.get(f"{G}/get_shape_json/{roi}/{rect}/?callback=cb")
    assert wrapped.headers["content-type"] == "application/json"
    assert wrapped.json() == body
    other_roi = world.rois[1].id
    assert alice.get(f"{G}/get_shape_json/{other_roi}/{rect}/").status_code == 404
    assert alice.get(f"{G}/get_shape_json/{roi}/999999/").status_code == 404
    assert world.clients["bob"].get(f"{G}/get_shape_json/{roi}/{rect}/").status_code == 404


# ---------------------------------------------------------------------------- thumbnails


def test_rectangle_thumbnail_outline(world: World) -> None:
    """A 60 x 40 box gets the minimum 250 x 166 region at scale 1, the box at (95, 63)."""
    alice = world.clients["alice"]
    rect = world.shape_id("Rectangle")
    rgb = _jpeg(alice.get(f"{G}/render_shape_thumbnail/{rect}/?color=f00"))
    assert rgb.shape == (166, 250, 3)
    assert _is(rgb[83, 94:96], (255, 0, 0))  # left edge, mid height
    assert _is(rgb[62:64, 125], (255, 0, 0))  # top edge
    assert _is(rgb[83, 155:157], (255, 0, 0))  # right edge
    assert not _is(rgb[83, 125], (255, 0, 0))  # inside is image
    green = _jpeg(alice.get(f"{G}/render_shape_thumbnail/{rect}?color=0f0"))
    assert _is(green[83, 94:96], (0, 255, 0))
    white = _jpeg(alice.get(f"{G}/render_shape_thumbnail/{rect}/"))
    assert _is(white[83, 94:96], (255, 255, 255))
    unknown = _jpeg(alice.get(f"{G}/render_shape_thumbnail/{rect}/?color=abc"))
    assert _is(unknown[83, 94:96], (255, 0, 0))


@pytest.mark.parametrize("kind", ["Ellipse", "Point", "Line", "Polygon", "Polyline"])
def test_outlines_of_other_kinds(world: World, kind: str) -> None:
    """Every kind OMERO draws leaves red near its border; scale 1, so image coordinates
    map to the thumbnail by the region's corner."""
    url = f"{G}/render_shape_thumbnail/{world.shape_id(kind)}/?color=f00"
    rgb = _jpeg(world.clients["alice"].get(url))
    assert rgb.shape == (166, 250, 3)
    red = (rgb[:, :, 0] > 180) & (rgb[:, :, 1] < 90) & (rgb[:, :, 2] < 90)
    ys, xs = np.nonzero(red)
    assert len(xs) > 8
    expected = {
        # ellipse box (170, 130, 60, 40) -> region corner (75, 67): box at (95, 63)
        "Ellipse": ((95, 63), (155, 103)),
        "Point": ((123, 81), (127, 85)),  # a radius-2 circle in the middle
        # line box (150, 100, 80, 60): region 250 x 166 at (65, 47)
        "Line": ((85, 53), (165, 113)),
        # polygon box (100, 100, 50, 60): required 90 x 60 -> 250 x 166 at (0, 47)
        "Polygon": ((100, 53), (150, 113)),
        # polyline box (10, 10, 50, 10): region at (-90, -68) padded with grey
        "Polyline": ((100, 78), (150, 88)),
    }[kind]
    (x0, y0), (x1, y1) = expected
    assert abs(xs.min() - x0) <= 3 and abs(xs.max() - x1) <= 3, (xs.min(), xs.max())
    assert abs(ys.min() - y0) <= 3 and abs(ys.max() - y1) <= 3, (ys.min(), ys.max())
    if kind == "Polyline":
        assert _is(rgb[0:5, 0:5], (221, 221, 221), 12)  # outside the image


def test_large_shape_scaled_and_padded(world: World) -> None:
    """The ROI's only shape stands for it; its 675 x 450 region (at -137, -75) is scaled to
    250 x 166, grey (221, 221, 221) outside the image, the box at (50, 27)-(198, 138)."""
    alice = world.clients["alice"]
    rgb = _jpeg(alice.get(f"{G}/render_roi_thumbnail/{world.rois[3].id}/?color=f00"))
    assert rgb.shape == (166, 250, 3)
    assert _is(rgb[0:20, 0:40], (221, 221, 221), 12)
    assert _is(rgb[80, 49:51], (255, 0, 0))
    assert _is(rgb[26:28, 120], (255, 0, 0))
    assert _is(rgb[138:140, 120], (255, 0, 0))


def test_too_large_shape_placeholder(world: World) -> None:
    """A region beyond 3192 pixels gets OMERO's grey "Shape too large" picture."""
    rgb = _jpeg(world.clients["alice"].get(f"{G}/render_roi_thumbnail/{world.rois[4].id}/"))
    assert rgb.shape == (166, 250, 3)
    assert _is(rgb[100:, :], (221, 221, 221), 12)
    assert (rgb[25:60, 5:150, 0] - rgb[25:60, 5:150, 1] > 80).any()  # red text


def test_roi_thumbnail_picks_default_plane(world: World) -> None:
    """Of several shapes, the one on the default T and Z (Z 1 of 3, T 0) stands for the ROI."""
    assert world.plane_roi is not None
    alice = world.clients["alice"]
    roi = alice.get(f"{G}/render_roi_thumbnail/{world.plane_roi.id}/")
    chosen = alice.get(f"{G}/render_shape_thumbnail/{world.plane_roi.shape_ids[1]}/")
    assert roi.status_code == chosen.status_code == 200
    assert roi.content == chosen.content
    assert alice.get(f"{G}/render_roi_thumbnail/{world.plane_roi.id}").content == roi.content


def test_label_and_mask_thumbnails_draw_nothing(world: World) -> None:
    alice = world.clients["alice"]
    for kind in ("Label", "Mask"):
        rgb = _jpeg(alice.get(f"{G}/render_shape_thumbnail/{world.shape_id(kind)}/?color=f00"))
        red = (rgb[:, :, 0] > 180) & (rgb[:, :, 1] < 90) & (rgb[:, :, 2] < 90)
        assert not red.any(), kind


def test_thumbnail_errors(world: World) -> None:
    alice, bob = world.clients["alice"], world.clients["bob"]
    assert alice.get(f"{G}/render_roi_thumbnail/999999/").status_code == 404
    assert alice.get(f"{G}/render_shape_thumbnail/999999/").status_code == 404
    empty = world.rois[2].id
    assert alice.get(f"{G}/render_roi_thumbnail/{empty}/").status_code == 404
    rect = world.shape_id("Rectangle")
    assert bob.get(f"{G}/render_shape_thumbnail/{rect}/").status_code == 404
    assert bob.get(f"{G}/render_roi_thumbnail/{world.rois[0].id}/").status_code == 404
    # an image without pixel data: 404, not 500
    assert world.bare_roi is not None
    assert alice.get(f"{G}/render_roi_thumbnail/{world.bare_roi.id}/").status_code == 404
    shape = world.bare_roi.shape_ids[0]
    assert alice.get(f"{G}/render_shape_thumbnail/{shape}/").status_code == 404


# --------------------------------------------------------------------------------- masks


def test_mask_png(world: World) -> None:
    alice = world.clients["alice"]
    response = alice.get(f"{G}/render_shape_mask/{world.shape_id('Mask')}/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as picture:
        assert picture.mode == "RGBA"
        rgba = np.asarray(picture)
    assert rgba.shape == (4, 10, 4)
    bits = np.unpackbits(np.frombuffer(MASK_BITS, dtype=np.uint8))[:40].reshape(4, 10) == 1
    assert (rgba[bits] == (0, 0, 255, 64)).all()
    assert (rgba[~bits] == (0, 0, 0, 0)).all()
    assert bits.any() and (~bits).any()


def test_mask_errors(world: World) -> None:
    alice = world.clients["alice"]
    mask = world.shape_id("Mask")
    # OMERO's route has no optional slash: the app redirects as Django's APPEND_SLASH does
    redirect = alice.get(f"{G}/render_shape_mask/{mask}", follow_redirects=False)
    assert redirect.status_code == 301
    assert alice.get(f"{G}/render_shape_mask/999999/").status_code == 404
    assert alice.get(f"{G}/render_shape_mask/{world.shape_id('Rectangle')}/").status_code == 404
    assert world.clients["bob"].get(f"{G}/render_shape_mask/{mask}/").status_code == 404
