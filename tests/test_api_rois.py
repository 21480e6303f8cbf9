"""ROIs and shapes (spec assertions 48-51, sections 2.5, 2.6 and 4.5)."""

from __future__ import annotations

from apidata import (
    OWNER,
    SCHEMA,
    M,
    add_images,
    add_rois,
    details_json,
    error_body,
    fast_passwords,  # noqa: F401 - autouse
    get_json,
    ids,
    length,
    make_lab,
    row_count,
    sqlite_only,
    unsafe_json,
    url,
)
from pyomero.store import schema

SHAPES = [
    {"kind": "Rectangle", "x": 1.0, "y": 2.0, "width": 3.0, "height": 4.0, "thez": 0, "thet": 0,
     "strokecolor": -16776961, "strokewidth": 2.0, "textvalue": "rect", "locked": False},
    {"kind": "Ellipse", "x": 5.0, "y": 6.0, "radiusx": 7.0, "radiusy": 8.0, "fillcolor": 1694498815},
    {"kind": "Line", "x1": 0.0, "y1": 0.0, "x2": 10.0, "y2": 10.0, "markerend": "Arrow"},
    {"kind": "Point", "x": 9.0, "y": 9.0, "thec": 1, "fontsize": 12.0},
    {"kind": "Polygon", "points": [(0, 0), (1, 2), (3, 5)], "transform": "1,0,0,1,10,20"},
]  # fmt: skip


def _roi_world(instance, make_client):
    lab = make_lab(instance, make_client)
    (iid,) = add_images(instance, lab.uid, lab.gid, ["Image"])
    a, b = add_rois(
        instance,
        lab.uid,
        lab.gid,
        iid,
        [{"name": "A", "shapes": SHAPES}, {"name": "B", "description": "empty"}],
    )
    (c,) = add_rois(
        instance,
        lab.uid,
        lab.gid,
        None,
        [
            {
                "name": "C",
                "shapes": [{"kind": "Mask", "x": 0.0, "y": 0.0, "width": 4.0, "height": 4.0}],
            }
        ],
    )
    return lab, iid, a, b, c


def test_image_rois(instance, make_client):
    """48-49. All ROIs in id order with their shapes; ``?image=`` keeps the image's."""
    lab, iid, a, b, c = _roi_world(instance, make_client)
    details = details_json(lab.users[0], lab.group, OWNER)
    body = get_json(lab.api, f"{M}/rois/")
    assert ids(body["data"]) == [a.id, b.id, c.id]
    assert body["meta"] == {"offset": 0, "limit": 200, "maxLimit": 500, "totalCount": 3}
    roi_a, roi_b, roi_c = body["data"]
    for roi in body["data"]:
        assert roi["@type"] == f"{SCHEMA}#ROI"
        assert roi["url:roi"] == url(f"rois/{roi['@id']}/")
        assert "Image" not in roi and "image" not in roi  # no image reference
    assert [s["@type"].split("#")[1] for s in roi_a["shapes"]] == [
        "Rectangle",
        "Ellipse",
        "Line",
        "Point",
        "Polygon",
    ]
    assert ids(roi_a["shapes"]) == a.shape_ids
    rectangle, ellipse, line, point, polygon = roi_a["shapes"]
    assert rectangle == {
        "@id": a.shape_ids[0],
        "@type": f"{SCHEMA}#Rectangle",
        "omero:details": details,
        "X": 1.0,
        "Y": 2.0,
        "Width": 3.0,
        "Height": 4.0,
        "TheZ": 0,
        "TheT": 0,
        "StrokeColor": -16776961,
        "StrokeWidth": length(2.0, "PIXEL", "pixel"),
        "Text": "rect",
        "Locked": False,
    }
    assert (ellipse["RadiusX"], ellipse["RadiusY"], ellipse["FillColor"]) == (7.0, 8.0, 1694498815)
    assert (line["X1"], line["Y1"], line["X2"], line["Y2"], line["MarkerEnd"]) == (
        0.0,
        0.0,
        10.0,
        10.0,
        "Arrow",
    )
    assert "MarkerStart" not in line
    assert (point["X"], point["Y"], point["TheC"]) == (9.0, 9.0, 1)
    assert point["FontSize"] == length(12.0, "POINT", "pt")
    assert polygon["Points"] == "0,0 1,2 3,5"
    transform = polygon["Transform"]
    assert transform["@type"] == f"{SCHEMA}#AffineTransform"
    assert [transform[k] for k in ("A00", "A10", "A01", "A11", "A02", "A12")] == [
        1.0,
        0.0,
        0.0,
        1.0,
        10.0,
        20.0,
    ]
    assert roi_b == {
        "@id": b.id,
        "@type": f"{SCHEMA}#ROI",
        "omero:details": details,
        "Name": "B",
        "Description": "empty",
        "url:roi": url(f"rois/{b.id}/"),
    }  # no shapes key for a ROI without shapes
    assert [s["@type"] for s in roi_c["shapes"]] == [f"{SCHEMA}#Mask"]
    assert (roi_c["shapes"][0]["Width"], roi_c["shapes"][0]["Height"]) == (4.0, 4.0)
    # 49. the image's ROIs, by query and by path
    body = get_json(lab.api, f"{M}/rois/?image={iid}")
    assert ids(body["data"]) == [a.id, b.id]
    assert body["meta"]["totalCount"] == 2
    assert get_json(lab.api, f"{M}/images/{iid}/rois/")["data"] == body["data"]
    assert get_json(lab.api, f"{M}/rois/?limit=1&offset=1")["data"] == [roi_b]
    assert get_json(lab.api, f"{M}/images/{iid}/rois/?image=999999")["data"] == body["data"]


@sqlite_only
def test_roi_delete(instance, make_client):
    """50-51. The single ROI has shapes and no ``url:`` key; DELETE takes its shapes."""
    lab, iid, a, b, c = _roi_world(instance, make_client)
    roi = get_json(lab.api, f"{M}/rois/{a.id}/")["data"]
    assert roi["shapes"][0]["@type"].split("#")[1] == "Rectangle"
    assert len(roi["shapes"]) == 5
    assert not [k for k in roi if k.startswith("url:")]
    listed = get_json(lab.api, f"{M}/rois/")["data"][0]
    assert {k: v for k, v in listed.items() if k != "url:roi"} == roi
    deleted = unsafe_json(lab.api, "DELETE", f"{M}/rois/{a.id}/", 200)["data"]
    assert deleted["@id"] == a.id and deleted["Name"] == "A"
    error_body(get_json(lab.api, f"{M}/rois/{a.id}/", 404), f"Roi {a.id} not found")
    for sid in a.shape_ids:
        error_body(get_json(lab.api, f"{M}/shapes/{sid}/", 404), f"Shape {sid} not found")
    assert row_count(instance, schema.shape, roi=a.id) == 0
    assert ids(get_json(lab.api, f"{M}/rois/")["data"]) == [b.id, c.id]
    error_body(unsafe_json(lab.api, "DELETE", f"{M}/rois/{a.id}/", 404), f"Roi {a.id} not found")
    # the image is untouched
    assert get_json(lab.api, f"{M}/images/{iid}/")["data"]["@id"] == iid


@sqlite_only
def test_shapes(instance, make_client):
    """Shapes: the list has no ``url:roi`` (released omero-marshal), the single shape has one."""
    lab, iid, a, b, c = _roi_world(instance, make_client)
    body = get_json(lab.api, f"{M}/shapes/")
    all_shapes = [*a.shape_ids, *c.shape_ids]
    assert sorted(ids(body["data"])) == sorted(all_shapes)  # no ORDER BY in OMERO
    assert body["meta"]["totalCount"] == 6
    assert all(not [k for k in s if k.startswith("url:")] for s in body["data"])
    sid = a.shape_ids[1]
    shape = get_json(lab.api, f"{M}/shapes/{sid}/")["data"]
    assert shape["@type"] == f"{SCHEMA}#Ellipse"
    assert shape["url:roi"] == url(f"rois/{a.id}/")
    assert "roi" not in shape
    deleted = unsafe_json(lab.api, "DELETE", f"{M}/shapes/{sid}/", 200)["data"]
    assert deleted["@id"] == sid
    error_body(get_json(lab.api, f"{M}/shapes/{sid}/", 404), f"Shape {sid} not found")
    roi = get_json(lab.api, f"{M}/rois/{a.id}/")["data"]
    assert [s["@type"].split("#")[1] for s in roi["shapes"]] == [
        "Rectangle",
        "Line",
        "Point",
        "Polygon",
    ]
    assert get_json(lab.api, f"{M}/shapes/?limit=2")["meta"] == {
        "offset": 0,
        "limit": 2,
        "maxLimit": 500,
        "totalCount": 5,
    }
