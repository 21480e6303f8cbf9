"""Demo content for ``pyomero demo``: users, a group and one of every browsable hierarchy.

The images are synthetic cells written as OME-TIFF and imported like any user's files, so
they have real pixels: five 3-channel Z-stacks, a 2048x2048 overview with a pyramid, and an
HCS plate (OME-Zarr) of 2x3 wells with two fields each.
The content is owned by a demo user in a read-annotate group, as in a lab's OMERO, so that
the second demo user sees it read-only and the permission flags have something to show.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select

from pyomero.model.permissions import GroupLevel
from pyomero.pixels import synthetic
from pyomero.services import accounts, imports
from pyomero.services.instance import Instance
from pyomero.store import bulk, specs, targets
from pyomero.store.schema import plateacquisition, well
from pyomero.testing import images as test_images

DEMO_GROUP = "demo"
#: (username, first name, last name, group owner)
DEMO_USERS = (("alice", "Alice", "Owner", True), ("bob", "Bob", "Member", False))

#: Three widefield channels: name, (r, g, b), emission and excitation wavelength in nm.
_CHANNELS = (
    ("DAPI", (0, 0, 255), 461.0, 358.0),
    ("GFP", (0, 255, 0), 509.0, 488.0),
    ("mCherry", (255, 0, 0), 610.0, 587.0),
)


def rgba(red: int, green: int, blue: int, alpha: int = 255) -> int:
    """OMERO's colour integer: RGBA packed into a signed 32-bit int."""
    value = (red << 24) | (green << 16) | (blue << 8) | alpha
    return value - (1 << 32) if value >= 1 << 31 else value


def _stack(path: Path, *, seed: int) -> Path:
    """A 512x512, 5-plane, 3-channel uint16 Z-stack of synthetic cells."""
    data = synthetic.cells(size_x=512, size_y=512, size_z=5, size_c=3, seed=seed)
    return synthetic.write_ome_tiff(
        path,
        data,
        channel_names=[c[0] for c in _CHANNELS],
        emission=[c[2] for c in _CHANNELS],
        physical_size=(0.1625, 0.1625, 0.5),
        acquisition_date=datetime(2024, 3, 1 + seed, 10, 30),
    )


def _overview(path: Path) -> Path:
    """A 2048x2048 3-channel overview: large enough that the store builds a pyramid."""
    data = synthetic.cells(size_x=2048, size_y=2048, size_c=3, cells=400, seed=99, dtype="uint8")
    return synthetic.write_ome_tiff(
        path,
        data,
        channel_names=[c[0] for c in _CHANNELS],
        emission=[c[2] for c in _CHANNELS],
        physical_size=(0.65, 0.65, 1.0),
        tile=512,
    )


def _shape(kind: str, **fields: Any) -> specs.ShapeSpec:
    """A shape on the middle plane, outlined in yellow unless ``fields`` say otherwise."""
    spec = {
        "kind": kind,
        "thez": 2,
        "thet": 0,
        "strokecolor": rgba(255, 255, 0),
        "strokewidth": 1.0,
    }
    return cast(specs.ShapeSpec, spec | fields)


def _shapes() -> list[specs.ShapeSpec]:
    return [
        _shape(
            "Rectangle",
            x=96.0,
            y=80.0,
            width=128.0,
            height=96.0,
            textvalue="nucleus",
            fillcolor=rgba(255, 255, 0, 64),
        ),
        _shape("Ellipse", x=320.0, y=240.0, radiusx=48.0, radiusy=30.0, textvalue="cell"),
        _shape("Point", x=256.0, y=256.0, strokecolor=rgba(0, 255, 255), textvalue="centre"),
        _shape("Line", x1=40.0, y1=460.0, x2=200.0, y2=420.0, markerend="Arrow", textvalue="5 um"),
        _shape(
            "Polygon", points=[(380, 60), (470, 90), (450, 180), (360, 150)], textvalue="region"
        ),
    ]


def seed_demo(instance: Instance, *, password: str = "omero") -> dict[str, Any]:
    """Create the demo group, users and content; return their names and ids.

    The returned dict holds ``group``, ``users`` (username and password each) and the ids of
    ``project``, ``datasets``, ``images``, ``orphan_dataset``, ``screen``, ``plate``,
    ``plate_acquisition``, ``wells``, ``plate_images``, ``roi``, ``shapes``.
    """
    group = accounts.add_group(
        instance, name=DEMO_GROUP, level=GroupLevel.READ_ANNOTATE, description="pyomero demo lab"
    )
    users: list[dict[str, Any]] = []
    for username, first, last, owner in DEMO_USERS:
        user = accounts.add_user(
            instance,
            username=username,
            first_name=first,
            last_name=last,
            groups=[DEMO_GROUP],
            password=password,
            email=f"{username}@example.org",
            institution="pyomero demo",
        )
        if owner:
            accounts.add_to_group(instance, group=DEMO_GROUP, usernames=[username], owner=True)
        users.append({"id": user.id, "username": username, "password": password, "owner": owner})

    owner_id: int = users[0]["id"]  # alice owns the content
    alice = accounts.login(instance, username=DEMO_USERS[0][0], password=password)
    with instance.db.write() as conn:
        event_id = bulk.new_event(conn, owner_id=owner_id, group_id=group.id, kind="Import")
        who: bulk.Who = {"owner_id": owner_id, "group_id": group.id, "event_id": event_id}
        (project_id,) = bulk.insert_projects(
            conn, **who, projects=[{"name": "Cell division", "description": "HeLa cells, H2B-GFP"}]
        )
        dataset_ids = bulk.insert_datasets(
            conn,
            **who,
            datasets=[
                {"name": "Mitosis", "description": "dividing cells"},
                {"name": "Interphase", "description": "control cells"},
                {"name": "Unsorted", "description": "not yet in a project"},
            ],
        )
        mitosis, interphase, orphan = dataset_ids
        bulk.link_project_datasets(
            conn, **who, links=[(project_id, mitosis), (project_id, interphase)]
        )
        (screen_id,) = bulk.insert_screens(
            conn, **who, screens=[{"name": "Demo screen", "description": "siRNA knock-downs"}]
        )
    with tempfile.TemporaryDirectory(prefix="pyomero-demo-sources-") as scratch:
        sources = Path(scratch)
        image_ids: list[int] = []
        for dataset_id, names in (
            (mitosis, [f"mitosis_{n:02d}.ome.tiff" for n in range(1, 4)]),
            (interphase, [f"interphase_{n:02d}.ome.tiff" for n in range(1, 3)]),
        ):
            paths = [
                _stack(sources / name, seed=len(image_ids) + i) for i, name in enumerate(names)
            ]
            target = imports.ImportTarget(dataset_id=dataset_id)
            image_ids += [
                c.id for c in imports.import_files(alice, paths, target=target, transfer="move")
            ]
        overview = _overview(sources / "overview.ome.tiff")
        image_ids += [
            c.id
            for c in imports.import_files(
                alice, [overview], target=imports.ImportTarget(dataset_id=orphan), transfer="move"
            )
        ]
        plate_path = test_images.write_ome_zarr_plate(
            sources / "Plate 1.zarr",
            rows=2,
            columns=3,
            fields=2,
            size_c=2,
            size_x=256,
            size_y=256,
            name="Plate 1",
        )
        (plate,) = imports.import_files(
            alice, [plate_path], target=imports.ImportTarget(screen_id=screen_id), transfer="move"
        )
    accounts.logout(instance, alice.session_uuid)
    with instance.db.read() as conn:
        plate_images = targets.images_in(conn, alice.actor, "plate", [plate.id])
        wells = list(
            conn.scalars(select(well.c.id).where(well.c.plate == plate.id).order_by(well.c.id))
        )
        runs = list(
            conn.scalars(select(plateacquisition.c.id).where(plateacquisition.c.plate == plate.id))
        )
    with instance.db.write() as conn:
        (roi,) = bulk.insert_rois(
            conn,
            owner_id=owner_id,
            group_id=group.id,
            image_id=image_ids[0],
            rois=[{"name": "Annotated cell", "shapes": _shapes()}],
        )
    return {
        "group": {"id": group.id, "name": group.name, "type": group.level.type_name},
        "users": users,
        "project": project_id,
        "datasets": [mitosis, interphase],
        "orphan_dataset": orphan,
        "images": image_ids,
        "screen": screen_id,
        "plate": plate.id,
        "plate_acquisition": runs[0] if runs else None,
        "wells": wells,
        "plate_images": plate_images,
        "roi": roi.id,
        "shapes": roi.shape_ids,
    }
