"""The JSON of the webclient's tree API, as OMERO.web's ``webclient/tree.py`` marshals it.

Keys, their presence rules and their formats are OMERO's: ``permsCss`` is a space-separated
subset of ``canEdit canAnnotate canLink canDelete canChgrp canChown`` in that order, plus
``isOwned``; dates are ISO 8601 in the server's display time zone (Europe/London, OMERO.web's
``TIME_ZONE``) to the second; an unnamed run is called by its times or ``Run <id>``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pyomero.model.permissions import Action
from pyomero.wire.plategrid import column_label, row_label

#: OMERO.web's ``TIME_ZONE`` default, in which ``date``/``acqDate`` are written.
TIME_ZONE = ZoneInfo("Europe/London")

_CSS = (
    (Action.EDIT, "canEdit"),
    (Action.ANNOTATE, "canAnnotate"),
    (Action.LINK, "canLink"),
    (Action.DELETE, "canDelete"),
    (Action.CHGRP, "canChgrp"),
    (Action.CHOWN, "canChown"),
)


class Permitted(Protocol):
    """What the service says about one object: what the caller may do, whose it is."""

    @property
    def allowed(self) -> frozenset[Action]: ...

    @property
    def owned(self) -> bool: ...


def perms_css(item: Permitted) -> str:
    names = [css for action, css in _CSS if action in item.allowed]
    if item.owned:
        names.append("isOwned")
    return " ".join(names)


def marshal_date(value: datetime | None) -> str | None:
    """A stored (naive UTC) time as OMERO.web writes it: ``2024-03-01T10:20:30+00:00``."""
    if value is None:
        return None
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return aware.astimezone(TIME_ZONE).replace(microsecond=0).isoformat()


def node(item: Any) -> dict[str, Any]:
    """A Project, Dataset, Screen or Plate: ``{id, name, ownerId, childCount, permsCss}``."""
    row = item.row
    return {
        "id": row.id,
        "name": row.name,
        "ownerId": row.owner_id,
        "childCount": row.child_count,
        "permsCss": perms_css(item),
    }


def image(item: Any, *, dates: bool) -> dict[str, Any]:
    """An image; ``filesetId``, sizes, dates and ``thumbVersion`` only when OMERO adds them."""
    row = item.row
    data: dict[str, Any] = {
        "id": row.id,
        "archived": row.archived,
        "name": row.name,
        "ownerId": row.owner_id,
        "permsCss": perms_css(item),
    }
    if row.fileset_id is not None:
        data["filesetId"] = row.fileset_id
    if row.size is not None:
        data["sizeX"], data["sizeY"], data["sizeZ"], data["sizeT"] = row.size
    if dates:
        data["date"] = marshal_date(row.created)
        if row.acquired is not None:
            data["acqDate"] = marshal_date(row.acquired)
    if row.thumb_version is not None:
        data["thumbVersion"] = row.thumb_version
    return data


def run_name(row: Any) -> str:
    """A run's name, or ``"<start> - <end>"`` (UTC, Python's ``str`` of a datetime), or
    ``"Run <id>"``, as OMERO.web names unnamed PlateAcquisitions."""
    if row.name is not None:
        return str(row.name)
    if row.start is not None and row.end is not None:
        return f"{row.start} - {row.end}"
    if row.start is not None:
        return str(row.start)
    return f"Run {row.id}"


def run(item: Any) -> dict[str, Any]:
    row = item.row
    return {
        "id": row.id,
        "name": run_name(row),
        "ownerId": row.owner_id,
        "permsCss": perms_css(item),
    }


def tag(item: Any) -> dict[str, Any]:
    """A tag or tag set: ``description`` only when it is not empty, ``set`` for a tag set,
    whose ``childCount`` counts its tags (a tag's counts the images it is on)."""
    row = item.row
    data: dict[str, Any] = {"id": row.id, "value": row.value}
    if row.description:
        data["description"] = row.description
    data["ownerId"] = row.owner_id
    data["permsCss"] = perms_css(item)
    data["set"] = row.is_set
    data["childCount"] = row.child_count
    return data


def well_name(row: Any) -> str:
    """``"<plate> - <row><column>"``, e.g. ``"plate1 - B3"``, after the plate's naming."""
    return (
        f"{row.plate_name} - {row_label(row.row, row.row_naming)}"
        f"{column_label(row.column, row.column_naming)}"
    )


def well(item: Any) -> dict[str, Any]:
    """A tagged well: ``{id, ownerId, plateId, permsCss, name}``."""
    row = item.row
    return {
        "id": row.id,
        "ownerId": row.owner_id,
        "plateId": row.plate_id,
        "permsCss": perms_css(item),
        "name": well_name(row),
    }


def tagged(found: Any, *, dates: bool) -> dict[str, Any]:
    """``api/tags/?id=``: the objects a tag is on, then the set's tags under ``tags``."""
    return {
        "projects": [node(i) for i in found.projects],
        "datasets": [node(i) for i in found.datasets],
        "images": [image(i, dates=dates) for i in found.images],
        "screens": [node(i) for i in found.screens],
        "plates": [node(i) for i in found.plates],
        "acquisitions": [run(i) for i in found.acquisitions],
        "wells": [well(i) for i in found.wells],
        "tags": [tag(i) for i in found.tags],
    }


def orphaned(experimenter_id: int, count: int) -> dict[str, Any]:
    return {"id": experimenter_id, "childCount": count, "name": "Orphaned Images"}


def group(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "perm": row.perm}


def experimenter(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "omeName": row.omename,
        "firstName": row.first_name,
        "lastName": row.last_name,
    }


#: OMERO.web's stand-in for experimenter -1 (the "All members" entry of the user menu).
ALL_MEMBERS = {"id": -1, "omeName": "All members", "firstName": "All members", "lastName": ""}


def paths(found: list[list[tuple[str, int]]]) -> dict[str, Any]:
    return {"paths": [[{"type": kind, "id": oid} for kind, oid in path] for path in found]}


def links(found: list[Any]) -> dict[str, Any]:
    return {
        "data": [
            {
                "id": link.id,
                "parent": {"type": link.parent[0], "id": link.parent[1]},
                "child": {"type": link.child[0], "id": link.child[1]},
            }
            for link in found
        ]
    }
