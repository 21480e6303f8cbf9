"""The JSON of OMERO.web's annotation panel, ``webclient/api/annotations/`` (spec
webgateway-idr.md 4.6): one item per annotation link, the experimenters they name, and with
``parents=true`` the annotations of the objects' containers plus the lineage to them.

The shapes it reads are described by protocols, so that ``wire`` needs nothing but ``model``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pyomero.model.entities import Annotation, Experimenter
from pyomero.model.permissions import Permissions

#: OMERO.web's ``TIME_ZONE``: dates are shown in it, with their UTC offset.
TIME_ZONE = ZoneInfo("Europe/London")

#: Store kind -> the omero.model class name OMERO.web puts in ``link.parent.class``.
PARENT_CLASS = {
    "project": "ProjectI",
    "dataset": "DatasetI",
    "image": "ImageI",
    "screen": "ScreenI",
    "plate": "PlateI",
    "plateacquisition": "PlateAcquisitionI",
    "well": "WellI",
}


class FileLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def mimetype(self) -> str | None: ...


class LinkLike(Protocol):
    """An annotation link as the panel shows it (``store.annotations.LinkRow``)."""

    @property
    def id(self) -> int: ...
    @property
    def owner_id(self) -> int: ...
    @property
    def time(self) -> datetime | None: ...
    @property
    def parent_type(self) -> str: ...
    @property
    def parent_id(self) -> int: ...
    @property
    def parent_name(self) -> str: ...
    @property
    def annotation(self) -> Annotation: ...
    @property
    def annotation_time(self) -> datetime | None: ...
    @property
    def file(self) -> FileLike | None: ...
    @property
    def permissions(self) -> Permissions | None: ...


class PanelLike(Protocol):
    @property
    def links(self) -> Sequence[LinkLike]: ...
    @property
    def experimenters(self) -> Sequence[Experimenter]: ...
    @property
    def lineage(self) -> dict[str, list[tuple[str, int]]]: ...


def iso_date(value: datetime | None) -> str | None:
    """ISO-8601 with the UTC offset of OMERO.web's time zone; naive datetimes are UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(TIME_ZONE).isoformat()


def _permissions(p: Permissions | None) -> dict[str, bool]:
    if p is None:
        return {"canDelete": False, "canAnnotate": False, "canLink": False, "canEdit": False}
    return {
        "canDelete": p.can_delete,
        "canAnnotate": p.can_annotate,
        "canLink": p.can_link,
        "canEdit": p.can_edit,
    }


def _values(a: Annotation, item: dict[str, Any]) -> None:
    """The value keys of each class (``values`` for maps; the typed value otherwise)."""
    kind = a.kind
    if kind == "Map":
        item["values"] = [[k, v] for k, v in a.map_value or ()]
    elif kind in ("Comment", "Tag", "Xml"):
        item["textValue"] = a.text_value
    elif kind == "Long":
        item["longValue"] = a.long_value
    elif kind == "Double":
        item["doubleValue"] = a.double_value
    elif kind == "Boolean":
        item["boolValue"] = a.bool_value
    elif kind == "Timestamp":
        item["timeValue"] = iso_date(a.time_value)
    elif kind == "Term":
        item["termValue"] = a.term_value


def annotation_item(link: LinkLike) -> dict[str, Any]:
    """One annotation as linked to one parent (tree.py ``_marshal_annotation``)."""
    a = link.annotation
    details = a.details
    owner = details.owner.id if details is not None and details.owner is not None else None
    permissions = _permissions(details.permissions if details is not None else None)
    item: dict[str, Any] = {
        "id": a.id,
        "ns": a.ns,
        "name": None,
        "description": a.description,
        "owner": {"id": owner},
        "date": iso_date(link.annotation_time),
        "permissions": permissions,
        "link": {
            "id": link.id,
            "owner": {"id": link.owner_id},
            "parent": {
                "id": link.parent_id,
                "class": PARENT_CLASS[link.parent_type],
                "name": link.parent_name,
            },
            "date": iso_date(link.time),
            "permissions": _permissions(link.permissions),
        },
        "class": f"{a.kind}AnnotationI",
    }
    if a.kind == "File":
        f = link.file
        permissions["canDownload"] = f is not None
        if f is not None:
            item["file"] = {
                "id": f.id,
                "name": f.name,
                "size": f.size,
                "path": f.path,
                "mimetype": f.mimetype,
            }
    _values(a, item)
    return item


def experimenter_item(e: Experimenter) -> dict[str, Any]:
    return {"id": e.id, "omeName": e.omename, "firstName": e.first_name, "lastName": e.last_name}


def lineage_json(lineage: dict[str, list[tuple[str, int]]]) -> dict[str, list[dict[str, Any]]]:
    """``{"image-1": [{"type": "dataset", "id": 2}, {"type": "project", "id": 3}]}``."""
    return {
        key: [{"type": kind, "id": oid} for kind, oid in chain] for key, chain in lineage.items()
    }


def panel_json(panel: PanelLike, parents: PanelLike | None = None) -> dict[str, Any]:
    """``{"annotations", "experimenters"}`` (+ ``parents`` when asked for); the
    experimenters of both lists are merged, unique and sorted by id."""
    people = {e.id: e for e in panel.experimenters}
    out: dict[str, Any] = {
        "annotations": [annotation_item(row) for row in panel.links],
    }
    if parents is not None:
        people.update({e.id: e for e in parents.experimenters})
        out["parents"] = {
            "annotations": [annotation_item(row) for row in parents.links],
            "lineage": lineage_json(panel.lineage),
        }
    out["experimenters"] = [experimenter_item(people[i]) for i in sorted(people)]
    return out
