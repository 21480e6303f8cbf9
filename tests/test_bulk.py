"""store/bulk.py on SQLite and PostgreSQL: ids, details, graphs, chunking, sequences."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, insert, select

from pyomero.errors import InvalidInput
from pyomero.model.permissions import ROOT_USER_ID, SYSTEM_GROUP_ID
from pyomero.model.plates import row_letters
from pyomero.services.instance import Instance, init_instance
from pyomero.services.seed import seed_demo
from pyomero.store import bulk
from pyomero.store.schema import (
    channel,
    dataset,
    datasetimagelink,
    event,
    image,
    pixels,
    plate,
    plateacquisition,
    project,
    projectdatasetlink,
    roi,
    screenplatelink,
    shape,
    well,
    wellsample,
)

WHO = {"owner_id": ROOT_USER_ID, "group_id": SYSTEM_GROUP_ID}
STACK: bulk.PixelsSpec = {
    "sizex": 512,
    "sizey": 256,
    "sizez": 5,
    "pixelstype": "uint16",
    "physicalsizex": 0.5,
    "physicalsizey": 0.5,
}
CHANNELS: list[bulk.ChannelSpec] = [
    {"name": "DAPI", "blue": 255, "alpha": 255, "emissionwave": 461.0},
    {"name": "GFP", "green": 255, "alpha": 255, "excitationwave": 488},
]


@pytest.fixture
def instance(tmp_path: Path, database_url: str | None) -> Iterator[Instance]:
    created = init_instance(tmp_path / "inst", root_password="pw", database_url=database_url)
    yield created
    created.close()


def count(conn: Connection, table, *where) -> int:
    return conn.scalar(select(func.count()).select_from(table).where(*where))


def test_containers_links_and_details(instance: Instance) -> None:
    with instance.db.write() as conn:
        event_id = bulk.new_event(conn, **WHO, kind="Import")
        projects = bulk.insert_projects(
            conn, **WHO, event_id=event_id, projects=[{"name": "P", "description": "d"}]
        )
        datasets = bulk.insert_datasets(conn, **WHO, datasets=[{"name": "A"}, {"name": "B"}])
        links = bulk.link_project_datasets(conn, **WHO, links=[(projects[0], d) for d in datasets])
    assert len(projects) == 1 and len(datasets) == 2 and len(links) == 2
    with instance.db.read() as conn:
        row = conn.execute(select(project).where(project.c.id == projects[0])).one()
        assert (row.name, row.description) == ("P", "d")
        assert (row.owner_id, row.group_id) == (ROOT_USER_ID, SYSTEM_GROUP_ID)
        assert row.creation_event_id == row.update_event_id == event_id
        names = conn.execute(select(dataset.c.name).order_by(dataset.c.id)).scalars().all()
        assert names == ["A", "B"]
        pairs = conn.execute(select(projectdatasetlink.c.parent, projectdatasetlink.c.child)).all()
        assert sorted(pairs) == [(projects[0], d) for d in datasets]
        # one event for the explicit id, one per call without it
        assert count(conn, event) == 3
        dataset_events = conn.execute(select(dataset.c.creation_event_id)).scalars().all()
        assert len(set(dataset_events)) == 1 and dataset_events[0] != event_id


def test_images_with_pixels_and_channels(instance: Instance) -> None:
    when = datetime(2024, 5, 6, 7, 8, 9)
    with instance.db.write() as conn:
        ids = bulk.insert_images(
            conn,
            **WHO,
            images=[
                {"name": "a", "pixels": STACK, "channels": CHANNELS, "acquisition_date": when},
                {"name": "b", "pixels": {"sizex": 10, "sizey": 20, "sizec": 3}},
                {"name": "c"},
            ],
        )
    with instance.db.read() as conn:
        rows = conn.execute(select(image).order_by(image.c.id)).all()
        assert [r.name for r in rows] == ["a", "b", "c"]
        assert [r.id for r in rows] == ids
        assert rows[0].acquisition_date == when
        assert (rows[0].archived, rows[0].partial, rows[0].series) == (False, False, 0)
        first = conn.execute(select(pixels).where(pixels.c.image == ids[0])).one()
        assert (first.sizex, first.sizey, first.sizez, first.sizec, first.sizet) == (
            512,
            256,
            5,
            2,
            1,
        )
        assert (first.pixelstype, first.dimensionorder, first.significantbits) == (
            "uint16",
            "XYZCT",
            16,
        )
        assert (first.physicalsizex, first.physicalsizexunit) == (0.5, "MICROMETER")
        assert first.physicalsizez is None and first.physicalsizezunit is None
        channels = conn.execute(
            select(channel).where(channel.c.pixels == first.id).order_by(channel.c.index)
        ).all()
        assert [(c.index, c.name) for c in channels] == [(0, "DAPI"), (1, "GFP")]
        assert (channels[0].emissionwave, channels[0].emissionwaveunit) == (461.0, "NANOMETER")
        assert (channels[1].excitationwave, channels[1].excitationwaveunit) == (488.0, "NANOMETER")
        assert channels[0].owner_id == ROOT_USER_ID
        second = conn.execute(select(pixels).where(pixels.c.image == ids[1])).one()
        assert (second.sizec, second.pixelstype, second.significantbits) == (3, "uint8", 8)
        assert count(conn, channel, channel.c.pixels == second.id) == 3
        assert count(conn, pixels, pixels.c.image == ids[2]) == 0


def test_chunked_images_and_links(instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK", 7)
    with instance.db.write() as conn:
        datasets = bulk.insert_datasets(conn, **WHO, datasets=({"name": f"d{i}"} for i in range(3)))
        images = bulk.insert_images(
            conn,
            **WHO,
            images=({"name": f"i{i}", "pixels": STACK, "channels": CHANNELS} for i in range(50)),
        )
        links = bulk.link_dataset_images(
            conn, **WHO, links=((datasets[i % 3], iid) for i, iid in enumerate(images))
        )
    assert len(set(images)) == 50 and len(set(links)) == 50
    with instance.db.read() as conn:
        assert count(conn, image) == 50
        assert count(conn, pixels) == 50
        assert count(conn, channel) == 100
        assert count(conn, datasetimagelink, datasetimagelink.c.parent == datasets[0]) == 17


def test_ordinary_inserts_after_bulk_do_not_collide(instance: Instance) -> None:
    with instance.db.write() as conn:
        ids = bulk.insert_projects(conn, **WHO, projects=[{"name": str(i)} for i in range(5)])
    with instance.db.write() as conn:
        event_id = bulk.new_event(conn, **WHO)
        new_id = conn.execute(
            insert(project).values(
                name="ordinary", **WHO, creation_event_id=event_id, update_event_id=event_id
            )
        ).inserted_primary_key[0]
    assert new_id > max(ids)
    with instance.db.write() as conn:
        again = bulk.insert_projects(conn, **WHO, projects=[{"name": "after"}])
    assert again[0] > new_id


def test_plate(instance: Instance) -> None:
    with instance.db.write() as conn:
        (screen_id,) = bulk.insert_screens(conn, **WHO, screens=[{"name": "S"}])
        layout = bulk.insert_plate(
            conn,
            **WHO,
            name="P1",
            rows=2,
            columns=3,
            fields=2,
            acquisitions=2,
            pixels={"sizex": 64, "sizey": 64, "pixelstype": "uint16"},
            channels=CHANNELS,
            screen_id=screen_id,
        )
        bare = bulk.insert_plate(conn, **WHO, name="P2", rows=1, columns=1, acquisitions=0)
    assert len(layout.well_ids) == 6
    assert len(layout.acquisition_ids) == 2
    assert len(layout.wellsample_ids) == len(layout.image_ids) == 6 * 2 * 2
    with instance.db.read() as conn:
        row = conn.execute(select(plate).where(plate.c.id == layout.plate_id)).one()
        assert (row.name, row.rows, row.columns, row.rownamingconvention) == ("P1", 2, 3, "letter")
        assert conn.execute(select(screenplatelink.c.parent, screenplatelink.c.child)).all() == [
            (screen_id, layout.plate_id)
        ]
        acquisitions = conn.execute(
            select(plateacquisition).where(plateacquisition.c.plate == layout.plate_id)
        ).all()
        assert {a.maximumfieldcount for a in acquisitions} == {2}
        wells = conn.execute(
            select(well.c.id, well.c.row, well.c.column).where(well.c.plate == layout.plate_id)
        ).all()
        assert sorted((w.row, w.column) for w in wells) == [
            (r, c) for r in range(2) for c in range(3)
        ]
        b3 = next(w.id for w in wells if (w.row, w.column) == (1, 2))
        assert layout.well_ids[1 * 3 + 2] == b3
        samples = conn.execute(
            select(wellsample).where(wellsample.c.well == b3).order_by(wellsample.c.well_index)
        ).all()
        assert [s.well_index for s in samples] == [0, 1, 2, 3]
        assert [s.plateacquisition for s in samples] == [layout.acquisition_ids[0]] * 2 + [
            layout.acquisition_ids[1]
        ] * 2
        names = conn.execute(
            select(image.c.name).where(image.c.id.in_([s.image for s in samples]))
        ).scalars()
        assert "P1 [Well B3, Field 2] (Run 2)" in set(names)
        assert count(conn, channel) == 24 * 2 + 1
        sample = conn.execute(
            select(wellsample).where(wellsample.c.id == bare.wellsample_ids[0])
        ).one()
        assert sample.plateacquisition is None
        assert sample.image == bare.image_ids[0]


def test_rois(instance: Instance) -> None:
    with instance.db.write() as conn:
        (image_id,) = bulk.insert_images(conn, **WHO, images=[{"name": "i", "pixels": STACK}])
        created = bulk.insert_rois(
            conn,
            **WHO,
            image_id=image_id,
            rois=[
                {
                    "name": "r",
                    "shapes": [
                        {
                            "kind": "Rectangle",
                            "x": 1,
                            "y": 2,
                            "width": 3,
                            "height": 4,
                            "strokewidth": 2,
                        },
                        {"kind": "Polygon", "points": [(0, 0), (10, 0), (5, 7.5)]},
                        {
                            "kind": "Mask",
                            "x": 0,
                            "y": 0,
                            "width": 8,
                            "height": 1,
                            "bytes": b"\x00\xff",
                        },
                    ],
                },
                {"shapes": [{"kind": "Point", "x": 5, "y": 6, "thez": 1, "locked": True}]},
            ],
        )
    assert [len(r.shape_ids) for r in created] == [3, 1]
    with instance.db.read() as conn:
        rois = conn.execute(select(roi).order_by(roi.c.id)).all()
        assert [(r.name, r.image) for r in rois] == [("r", image_id), (None, image_id)]
        shapes = conn.execute(select(shape).order_by(shape.c.id)).all()
        assert [s.id for s in shapes] == created[0].shape_ids + created[1].shape_ids
        assert [(s.roi_index, s.discriminator) for s in shapes] == [
            (0, "Rectangle"),
            (1, "Polygon"),
            (2, "Mask"),
            (0, "Point"),
        ]
        assert (shapes[0].strokewidth, shapes[0].strokewidthunit) == (2.0, "PIXEL")
        assert shapes[1].points == "0,0 10,0 5,7.5"
        assert shapes[2].bytes == b"\x00\xff"
        assert (shapes[3].thez, shapes[3].locked) == (1, True)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        ([{"name": "x", "colour": 1}], "unknown image field(s): colour"),
        ([{"name": ""}], "every image needs a non-empty name"),
        ([{"name": "x", "pixels": {"sizex": 1}}], "pixels need a positive integer sizey"),
        (
            [{"name": "x", "pixels": {"sizex": 1, "sizey": 1, "pixelstype": "u9"}}],
            "unknown pixels type 'u9'",
        ),
        (
            [{"name": "x", "pixels": {"sizex": 1, "sizey": 1, "sizec": 2}, "channels": [{}]}],
            "sizec is 2 but 1 channels are given",
        ),
        ([{"name": "x", "channels": [{}]}], "an image with channels needs pixels"),
        (
            [{"name": "x", "pixels": STACK, "channels": [{"nom": "a"}]}],
            "unknown channel field(s): nom",
        ),
    ],
)
def test_invalid_specs_change_nothing(instance: Instance, images: list, message: str) -> None:
    with pytest.raises(InvalidInput) as info, instance.db.write() as conn:
        bulk.insert_images(conn, **WHO, images=[{"name": "ok", "pixels": STACK}, *images])
    assert str(info.value) == message
    with instance.db.read() as conn:
        assert count(conn, image) == 0
        assert count(conn, event) == 0


def test_invalid_shape_kind(instance: Instance) -> None:
    with (
        pytest.raises(InvalidInput, match="unknown shape kind 'Circle'"),
        instance.db.write() as conn,
    ):
        bulk.insert_rois(conn, **WHO, image_id=None, rois=[{"shapes": [{"kind": "Circle"}]}])


def test_row_letters() -> None:
    assert [row_letters(i) for i in (0, 1, 25, 26, 27, 701, 702)] == [
        "A",
        "B",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
    ]


def test_seed_demo(instance: Instance) -> None:
    content = seed_demo(instance, password="secret")
    assert [u["username"] for u in content["users"]] == ["alice", "bob"]
    owner = content["users"][0]["id"]
    with instance.db.read() as conn:
        assert count(conn, project) == 1
        assert count(conn, dataset) == 3
        assert count(conn, projectdatasetlink) == 2
        assert (
            count(conn, datasetimagelink, datasetimagelink.c.parent == content["orphan_dataset"])
            == 1
        )
        assert (
            count(conn, projectdatasetlink, projectdatasetlink.c.child == content["orphan_dataset"])
            == 0
        )
        assert count(conn, image) == len(content["images"]) + len(content["plate_images"]) == 6 + 12
        px = conn.execute(select(pixels).where(pixels.c.image == content["images"][0])).one()
        assert (px.sizex, px.sizey, px.sizez, px.sizec, px.pixelstype) == (512, 512, 5, 3, "uint16")
        assert px.physicalsizexunit == "MICROMETER"
        names = (
            conn.execute(
                select(channel.c.name).where(channel.c.pixels == px.id).order_by(channel.c.index)
            )
            .scalars()
            .all()
        )
        assert names == ["DAPI", "GFP", "mCherry"]
        assert count(conn, well) == 6
        assert count(conn, wellsample) == 12
        assert count(conn, plateacquisition) == 1
        kinds = (
            conn.execute(select(shape.c.discriminator).order_by(shape.c.roi_index)).scalars().all()
        )
        assert kinds == ["Rectangle", "Ellipse", "Point", "Line", "Polygon"]
        owners = {conn.scalar(select(func.min(t.c.owner_id))) for t in (project, image, shape)}
        assert owners == {owner}
