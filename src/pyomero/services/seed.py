"""Demo content for ``pyomero demo``: users, a group and one of every browsable hierarchy.

Only metadata rows for now; real pixel data for these images arrives with the pixel store.
The content is owned by a demo user in a read-annotate group, as in a lab's OMERO, so that
the second demo user sees it read-only and the permission flags have something to show.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from pyomero.model.permissions import GroupLevel
from pyomero.services import accounts
from pyomero.services.instance import Instance
from pyomero.store import bulk, specs

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


def _channels(count: int) -> list[specs.ChannelSpec]:
    return [
        {
            "name": name,
            "red": r,
            "green": g,
            "blue": b,
            "alpha": 255,
            "emissionwave": emission,
            "excitationwave": excitation,
            "fluor": name,
        }
        for name, (r, g, b), emission, excitation in _CHANNELS[:count]
    ]


_STACK: specs.PixelsSpec = {
    "sizex": 512,
    "sizey": 512,
    "sizez": 5,
    "sizet": 1,
    "pixelstype": "uint16",
    "dimensionorder": "XYZCT",
    "physicalsizex": 0.1625,
    "physicalsizey": 0.1625,
    "physicalsizez": 0.5,
}
_WELL_FIELD: specs.PixelsSpec = {
    "sizex": 256,
    "sizey": 256,
    "pixelstype": "uint16",
    "physicalsizex": 0.65,
    "physicalsizey": 0.65,
}


def _image(name: str, day: int) -> specs.ImageSpec:
    return {
        "name": name,
        "acquisition_date": datetime(2024, 3, day, 10, 30),
        "format": "OME-TIFF",
        "pixels": _STACK,
        "channels": _channels(3),
    }


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
        layout = {
            mitosis: [f"mitosis_{n:02d}.ome.tiff" for n in range(1, 4)],
            interphase: [f"interphase_{n:02d}.ome.tiff" for n in range(1, 3)],
            orphan: ["overview.ome.tiff"],
        }
        specs = [
            (ds, _image(name, day + 1))
            for ds, names in layout.items()
            for day, name in enumerate(names)
        ]
        image_ids = bulk.insert_images(conn, **who, images=[spec for _, spec in specs])
        bulk.link_dataset_images(
            conn, **who, links=[(ds, iid) for (ds, _), iid in zip(specs, image_ids, strict=True)]
        )
        (screen_id,) = bulk.insert_screens(
            conn, **who, screens=[{"name": "Demo screen", "description": "siRNA knock-downs"}]
        )
        plate = bulk.insert_plate(
            conn,
            **who,
            name="Plate 1",
            rows=2,
            columns=3,
            fields=2,
            acquisitions=1,
            pixels=_WELL_FIELD,
            channels=_channels(2),
            screen_id=screen_id,
        )
        (roi,) = bulk.insert_rois(
            conn,
            **who,
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
        "plate": plate.plate_id,
        "plate_acquisition": plate.acquisition_ids[0],
        "wells": plate.well_ids,
        "plate_images": plate.image_ids,
        "roi": roi.id,
        "shapes": roi.shape_ids,
    }
