"""Images: lists with Pixels, orphans, paging, the single image with Channels
(spec assertions 43-47, sections 2.3 and 2.5)."""

from __future__ import annotations

from datetime import datetime

from apidata import (
    OWNER,
    SCHEMA,
    M,
    add_images,
    add_plate,
    create,
    details_json,
    error_body,
    fast_passwords,  # noqa: F401 - autouse
    get_json,
    ids,
    length,
    link_dataset_images,
    make_lab,
    names,
    sqlite_only,
    url,
)

UINT8 = {"@type": "TBD#PixelsType", "value": "uint8"}


def _enum(obj: dict) -> dict:
    return {"@type": obj["@type"], "value": obj["value"]}


def test_dataset_images(instance, make_client):
    """43-47. Five images in a dataset and one orphan."""
    lab = make_lab(instance, make_client)
    did = create(lab.api, "Dataset", "Dataset", lab.gid)["@id"]
    order = ["Image0", "image1", "Image2", "image3", "Image4"]
    created = add_images(
        instance, lab.uid, lab.gid, ["image3", "Image0", "Image4", "image1", "Image2"]
    )
    by_name = dict(zip(["image3", "Image0", "Image4", "image1", "Image2"], created, strict=True))
    in_dataset = [by_name[n] for n in order]
    link_dataset_images(instance, lab.uid, lab.gid, [(did, i) for i in in_dataset])
    (orphan,) = add_images(
        instance,
        lab.uid,
        lab.gid,
        ["Orphan"],
        pixels={
            "sizex": 256,
            "sizey": 128,
            "sizez": 3,
            "sizet": 2,
            "pixelstype": "uint16",
            "physicalsizex": 0.5,
            "physicalsizey": 0.5,
        },
        channels=[
            {
                "name": "DAPI",
                "red": 255,
                "green": 0,
                "blue": 255,
                "alpha": 255,
                "emissionwave": 500.0,
            }
        ],
    )

    # 43. every image of the group
    body = get_json(lab.api, f"{M}/images/?group={lab.gid}")
    assert ids(body["data"]) == [*in_dataset, orphan]
    assert body["meta"] == {"totalCount": 6, "limit": 200, "maxLimit": 500, "offset": 0}
    # 44. the orphan only
    body = get_json(lab.api, f"{M}/images/?orphaned=true&group={lab.gid}")
    assert ids(body["data"]) == [orphan]
    assert body["meta"]["totalCount"] == 1
    # 45. the dataset's images in name order; Pixels with Type, no Channels
    body = get_json(lab.api, f"{M}/images/?dataset={did}")
    assert names(body["data"]) == order
    assert body["meta"]["totalCount"] == 5
    first = body["data"][0]
    pixels = first["Pixels"]
    assert _enum(pixels["Type"]) == UINT8
    assert "Channels" not in pixels
    assert "DimensionOrder" not in pixels
    assert "omero:format" not in first
    assert (
        pixels["SizeX"],
        pixels["SizeY"],
        pixels["SizeZ"],
        pixels["SizeC"],
        pixels["SizeT"],
    ) == (64, 48, 1, 1, 1)
    assert pixels["@type"] == f"{SCHEMA}#Pixels"
    assert first["url:image"] == url(f"images/{first['@id']}/")
    assert first["url:datasets"] == url(f"images/{first['@id']}/datasets/")
    assert first["omero:details"] == details_json(lab.users[0], lab.group, OWNER)
    # 46. paging, through both routes
    body = get_json(lab.api, f"{M}/datasets/{did}/images/?limit=3")
    assert ids(body["data"]) == in_dataset[:3]
    assert body["meta"] == {"totalCount": 5, "limit": 3, "maxLimit": 500, "offset": 0}
    body = get_json(lab.api, f"{M}/images/?dataset={did}&limit=3&offset=3")
    assert ids(body["data"]) == in_dataset[3:]
    assert body["meta"] == {"totalCount": 5, "limit": 3, "maxLimit": 500, "offset": 3}
    # 47. the single orphan with its channel
    response = lab.api.get(f"{M}/images/{orphan}/")
    image = get_json(lab.api, f"{M}/images/{orphan}/")["data"]
    assert b"\\u00b5m" in response.content  # ensure_ascii, as OMERO.web sends it
    pixels = image["Pixels"]
    assert len(pixels["Channels"]) == 1
    channel = pixels["Channels"][0]
    assert channel["@type"] == f"{SCHEMA}#Channel"
    assert channel["Color"] == -16711681  # (255, 0, 255, 255) as signed RGBA
    assert channel["Name"] == "DAPI"
    assert channel["EmissionWavelength"] == length(500.0, "NANOMETER", "nm")
    assert channel["omero:details"] == details_json(lab.users[0], lab.group, OWNER)
    assert "omero:LogicalChannelId" in channel
    assert _enum(pixels["Type"]) == {"@type": "TBD#PixelsType", "value": "uint16"}
    assert pixels["PhysicalSizeX"] == length(0.5, "MICROMETER", "\u00b5m")
    assert pixels["PhysicalSizeY"] == length(0.5, "MICROMETER", "\u00b5m")
    assert "PhysicalSizeZ" not in pixels
    assert (
        pixels["SizeX"],
        pixels["SizeY"],
        pixels["SizeZ"],
        pixels["SizeC"],
        pixels["SizeT"],
    ) == (256, 128, 3, 1, 2)
    assert pixels["SignificantBits"] == 16
    assert image["Name"] == "Orphan"
    assert image["omero:archived"] is False and image["omero:partial"] is False
    assert image["omero:series"] == 0
    assert set(k for k in image if k.startswith("url:")) == {"url:datasets", "url:rois"}
    # the single image is the list item plus channels
    (listed,) = get_json(lab.api, f"{M}/images/?orphaned=true")["data"]
    listed_pixels = dict(listed["Pixels"])
    assert {**listed_pixels, "Channels": pixels["Channels"]} == pixels
    # images have no link class: never a childCount
    counted = get_json(lab.api, f"{M}/images/?childCount=true")["data"]
    assert all("omero:childCount" not in i for i in counted)
    assert (
        "omero:childCount" not in get_json(lab.api, f"{M}/images/{orphan}/?childCount=true")["data"]
    )
    # normalize lifts the image's owner and group, not those nested in Pixels
    normalized = get_json(lab.api, f"{M}/images/?dataset={did}&normalize=true")
    assert normalized["data"][0]["omero:details"]["owner"] == {"@id": lab.uid}
    nested = normalized["data"][0]["Pixels"]["omero:details"]
    assert nested == details_json(lab.users[0], lab.group, OWNER)
    assert get_json(lab.api, f"{M}/images/{orphan}/datasets/")["data"] == []
    assert ids(get_json(lab.api, f"{M}/images/{in_dataset[0]}/datasets/")["data"]) == [did]


@sqlite_only
def test_image_without_pixels(instance, make_client):
    """A single Image without Pixels is returned without a Pixels key (OMERO answers 404)."""
    lab = make_lab(instance, make_client)
    (iid,) = add_images(instance, lab.uid, lab.gid, ["Bare"], with_pixels=False)
    image = get_json(lab.api, f"{M}/images/{iid}/")["data"]
    assert image["@id"] == iid and image["Name"] == "Bare"
    assert "Pixels" not in image
    (listed,) = get_json(lab.api, f"{M}/images/")["data"]
    assert listed["@id"] == iid and "Pixels" not in listed


@sqlite_only
def test_image_fields(instance, make_client):
    """Image dates are epoch milliseconds; several channels come in index order."""
    lab = make_lab(instance, make_client)
    from pyomero.store import bulk

    with instance.db.write() as conn:
        (iid,) = bulk.insert_images(
            conn,
            owner_id=lab.uid,
            group_id=lab.gid,
            images=[
                {
                    "name": "Dated",
                    "description": "",
                    "acquisition_date": datetime(2020, 1, 2, 3, 4, 5),
                    "pixels": {"sizex": 8, "sizey": 8, "timeincrement": 1.5},
                    "channels": [
                        {"name": "c0", "red": 255, "green": 255, "blue": 255, "alpha": 255},
                        {"name": "c1", "red": 0, "green": 0, "blue": 255},
                        {"name": "c2"},
                    ],
                }
            ],
        )
    image = get_json(lab.api, f"{M}/images/{iid}/")["data"]
    assert image["AcquisitionDate"] == 1577934245000
    assert image["Description"] == ""  # empty strings are kept
    channels = image["Pixels"]["Channels"]
    assert [c["Name"] for c in channels] == ["c0", "c1", "c2"]
    assert channels[0]["Color"] == -1
    assert channels[1]["Color"] == 65535  # alpha defaults to 255
    assert "Color" not in channels[2]
    assert image["Pixels"]["SizeC"] == 3
    assert image["Pixels"]["TimeIncrement"] == {
        "@type": "TBD#TimeI",
        "Unit": "SECOND",
        "Symbol": "s",
        "Value": 1.5,
    }


@sqlite_only
def test_orphaned_images_exclude_plate_images(instance, make_client):
    """An image referenced by a WellSample is not an orphan (spec 2.3)."""
    lab = make_lab(instance, make_client)
    plate = add_plate(instance, lab.uid, lab.gid, "Plate", rows=1, columns=2)
    (loose,) = add_images(instance, lab.uid, lab.gid, ["Loose"])
    body = get_json(lab.api, f"{M}/images/")
    assert sorted(ids(body["data"])) == sorted([*plate.image_ids, loose])
    assert ids(get_json(lab.api, f"{M}/images/?orphaned=true")["data"]) == [loose]
    assert get_json(lab.api, f"{M}/images/?orphaned=True")["meta"]["totalCount"] == 3
    error_body(get_json(lab.api, f"{M}/images/999999/", 404), "Image 999999 not found")
