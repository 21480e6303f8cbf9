"""Data builders and HTTP helpers shared by the ``tests/test_api_*.py`` suites.

The HTTP helpers mirror OMERO.web's ``testlib``: :func:`check_json` asserts the content type
and the ``X-OMERO-ApiVersion`` header of every JSON response (spec assertion 70), and
:func:`unsafe_json` replays each POST, PUT and DELETE without its CSRF token first and
expects the 403 (assertion 71), as ``csrf_response`` does.

Users, groups and containers are made through services and the API; images, plates, ROIs,
links and tags through ``pyomero.store.bulk`` and plain inserts, each in its own write
transaction. Expected JSON is written out from spec/omero-json-api.md section 4, not
computed by the encoder under test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, insert, select

from pyomero.model.entities import Experimenter, ExperimenterGroup
from pyomero.model.permissions import GroupLevel
from pyomero.services import accounts, passwords
from pyomero.services.instance import Instance
from pyomero.store import bulk, schema
from pyomero.testing.http import ApiClient

API = "/api/v0"
M = f"{API}/m"
ABS = "http://testserver"
SCHEMA = "http://www.openmicroscopy.org/Schemas/OME/2016-06"
PASSWORD = "user-password"
ROOT_PASSWORD = "root-password"
CSRF_MISSING = {"message": "CSRF Failed: CSRF token missing."}
NOT_LOGGED_IN = {"message": "Not logged in"}
TRACE = "Traceback (most recent call last):"

#: Every API test runs on SQLite and PostgreSQL (each PostgreSQL instance is a clone of a
#: template database). ``PYOMERO_API_SQLITE_ONLY=1`` runs the HTTP-level tests on SQLite
#: only, for a quick local loop; the store-level and SQL-heavy tests always run on both.
SQLITE_ONLY: list[pytest.MarkDecorator] = (
    [pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]
    if os.environ.get("PYOMERO_API_SQLITE_ONLY")
    else []
)


def sqlite_only(test: Callable[..., Any]) -> Callable[..., Any]:
    for mark in SQLITE_ONLY:
        test = mark(test)
    return test


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters: default hashing costs ~0.2 s per user and per login."""
    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )


# ---------------------------------------------------------------------------- HTTP


def check_json(response: Any, status: int, *, version: bool = True) -> Any:
    """The JSON body of ``response`` after checking status, content type and API version."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json", response.headers
    if version:
        assert response.headers.get("x-omero-apiversion") == "0.2", response.headers
    else:
        assert "x-omero-apiversion" not in response.headers, response.headers
    return response.json()


def get_json(api: ApiClient | Any, url: str, status: int = 200, **kwargs: Any) -> Any:
    return check_json(api.get(url, **kwargs), status)


def unsafe_json(api: ApiClient, method: str, url: str, status: int, *, json: Any = None) -> Any:
    """As OMERO.web's ``csrf_response``: the request without ``X-CSRFToken`` must be a 403,
    then the same request with the token must answer ``status``."""
    api.csrf_token()  # the csrftoken cookie is present for the bare request
    bare = api.client.request(method, url, json=json)
    assert check_json(bare, 403, version=False) == CSRF_MISSING
    return check_json(getattr(api, method.lower())(url, json=json), status)


def error_body(body: dict[str, Any], message: str, *, trace: bool = True) -> None:
    """An error envelope: exact ``message``; a short synthetic ``stacktrace`` iff ``trace``."""
    assert body["message"] == message, body
    if trace:
        assert body["stacktrace"].startswith(TRACE), body
        assert 'File "' not in body["stacktrace"], body  # no real traceback unless debug
    else:
        assert "stacktrace" not in body, body


def strip_urls(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("url:")}


def url(path: str) -> str:
    """The absolute ``url:`` value of an API path below ``/api/v0/m/``."""
    return f"{ABS}{M}/{path}"


def names(data: list[dict[str, Any]]) -> list[str]:
    return [item["Name"] for item in data]


def ids(data: list[dict[str, Any]]) -> list[int]:
    return [item["@id"] for item in data]


# ---------------------------------------------------------------------------- accounts


def new_group(
    instance: Instance, name: str, level: GroupLevel = GroupLevel.READ_ANNOTATE
) -> ExperimenterGroup:
    return accounts.add_group(instance, name=name, level=level)


def new_user(
    instance: Instance,
    username: str,
    groups: Sequence[str],
    *,
    first_name: str | None = None,
    last_name: str | None = None,
) -> Experimenter:
    return accounts.add_user(
        instance,
        username=username,
        first_name=first_name or username.capitalize(),
        last_name=last_name or "Tester",
        groups=list(groups),
        password=PASSWORD,
    )


@dataclass
class Lab:
    """A group with logged-in members: ``users[i]`` talks through ``apis[i]``."""

    instance: Instance
    group: ExperimenterGroup
    users: list[Experimenter] = field(default_factory=list)
    apis: list[ApiClient] = field(default_factory=list)
    contexts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def gid(self) -> int:
        return self.group.id

    @property
    def uid(self) -> int:
        return self.users[0].id

    @property
    def api(self) -> ApiClient:
        return self.apis[0]


def make_lab(
    instance: Instance,
    make_client: Any,
    *,
    users: int = 1,
    level: GroupLevel = GroupLevel.READ_ANNOTATE,
    name: str = "lab",
) -> Lab:
    """Group ``name`` with members user1..userN, each logged in with a client of its own."""
    lab = Lab(instance, new_group(instance, name, level))
    for n in range(1, users + 1):
        user = new_user(instance, f"user{n}", [name])
        api = make_client()
        lab.users.append(user)
        lab.apis.append(api)
        lab.contexts.append(api.login(user.omename, PASSWORD))
    return lab


def login(make_client: Any, username: str, password: str = PASSWORD) -> ApiClient:
    api = make_client()
    api.login(username, password)
    return api


# ---------------------------------------------------------------------------- save


def container_json(kind: str, name: str | None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"@type": f"{SCHEMA}#{kind}"}
    if name is not None:
        body["Name"] = name
    body.update(fields)
    return body


def create(api: ApiClient, kind: str, name: str, group: int, **fields: Any) -> dict[str, Any]:
    """POST a Project, Dataset or Screen (201) and return its ``data``."""
    return unsafe_json(
        api, "POST", f"{M}/save/?group={group}", 201, json=container_json(kind, name, **fields)
    )["data"]


def create_projects(api: ApiClient, group: int, project_names: Sequence[str]) -> dict[str, int]:
    return {n: create(api, "Project", n, group)["@id"] for n in project_names}


# ---------------------------------------------------------------------------- bulk data


def _bulk(instance: Instance, function: Any, owner: int, group: int, **kwargs: Any) -> Any:
    with instance.db.write() as conn:
        return function(conn, owner_id=owner, group_id=group, **kwargs)


def add_datasets(instance: Instance, owner: int, group: int, names_: Sequence[str]) -> list[int]:
    return _bulk(
        instance, bulk.insert_datasets, owner, group, datasets=[{"name": n} for n in names_]
    )


def add_images(
    instance: Instance,
    owner: int,
    group: int,
    names_: Sequence[str],
    *,
    pixels: dict[str, Any] | None = None,
    channels: Sequence[dict[str, Any]] | None = None,
    with_pixels: bool = True,
) -> list[int]:
    """Images with 64x48 uint8 Pixels and one channel, unless told otherwise."""
    specs = []
    for n in names_:
        spec: dict[str, Any] = {"name": n}
        if with_pixels:
            spec["pixels"] = pixels or {"sizex": 64, "sizey": 48}
            spec["channels"] = channels
        specs.append(spec)
    return _bulk(instance, bulk.insert_images, owner, group, images=specs)


def link_project_datasets(
    instance: Instance, owner: int, group: int, links: Sequence[tuple[int, int]]
) -> list[int]:
    return _bulk(instance, bulk.link_project_datasets, owner, group, links=links)


def link_dataset_images(
    instance: Instance, owner: int, group: int, links: Sequence[tuple[int, int]]
) -> list[int]:
    return _bulk(instance, bulk.link_dataset_images, owner, group, links=links)


def link_screen_plates(
    instance: Instance, owner: int, group: int, links: Sequence[tuple[int, int]]
) -> list[int]:
    return _bulk(instance, bulk.link_screen_plates, owner, group, links=links)


def add_plate(
    instance: Instance, owner: int, group: int, name: str, **kwargs: Any
) -> bulk.PlateIds:
    """A whole plate (see ``bulk.insert_plate``): 1x1 well, one field, one run by default."""
    kwargs.setdefault("rows", 1)
    kwargs.setdefault("columns", 1)
    return _bulk(instance, bulk.insert_plate, owner, group, name=name, **kwargs)


def add_rois(
    instance: Instance, owner: int, group: int, image_id: int | None, rois: Sequence[dict[str, Any]]
) -> list[bulk.RoiIds]:
    return _bulk(instance, bulk.insert_rois, owner, group, image_id=image_id, rois=rois)


def _details(conn: Any, owner: int, group: int) -> dict[str, int]:
    event = bulk.new_event(conn, owner_id=owner, group_id=group)
    return {
        "owner_id": owner,
        "group_id": group,
        "creation_event_id": event,
        "update_event_id": event,
    }


def add_empty_well(
    instance: Instance, owner: int, group: int, plate_id: int, row: int, column: int
) -> int:
    with instance.db.write() as conn:
        values = {"plate": plate_id, "row": row, "column": column, **_details(conn, owner, group)}
        return conn.execute(insert(schema.well).values(**values)).inserted_primary_key[0]


def add_run(instance: Instance, owner: int, group: int, plate_id: int, name: str) -> int:
    """A PlateAcquisition without WellSamples."""
    with instance.db.write() as conn:
        values = {"plate": plate_id, "name": name, **_details(conn, owner, group)}
        return conn.execute(insert(schema.plateacquisition).values(**values)).inserted_primary_key[
            0
        ]


def add_tag(instance: Instance, owner: int, group: int, text: str, kind: str = "Tag") -> int:
    """A Tag (or another text annotation: ``kind`` ``Comment``, ``Xml``)."""
    with instance.db.write() as conn:
        values = {"discriminator": kind, "textvalue": text, **_details(conn, owner, group)}
        return conn.execute(insert(schema.annotation).values(**values)).inserted_primary_key[0]


def link_tag(instance: Instance, owner: int, group: int, kind: str, parent: int, tag: int) -> int:
    """Link annotation ``tag`` to the ``kind`` (``project``...) object ``parent``."""
    with instance.db.write() as conn:
        values = {"parent": parent, "child": tag, **_details(conn, owner, group)}
        table = schema.annotation_links[kind]
        return conn.execute(insert(table).values(**values)).inserted_primary_key[0]


def annotation_count(instance: Instance, kind: str, parent: int) -> int:
    link = schema.annotation_links[kind]
    with instance.db.read() as conn:
        return conn.scalar(select(func.count()).where(link.c.parent == parent)) or 0


def row_count(instance: Instance, table: Any, **where: int) -> int:
    with instance.db.read() as conn:
        conds = [table.c[k] == v for k, v in where.items()]
        return conn.scalar(select(func.count()).select_from(table).where(*conds)) or 0


# ---------------------------------------------------------------------------- expected JSON

OWNER = {"annotate": True, "delete": True, "edit": True, "link": True}
NOTHING = {"annotate": False, "delete": False, "edit": False, "link": False}
#: A plain member on another member's object in a read-annotate group (spec 2.9).
MEMBER_READ_ANNOTATE = {"annotate": True, "delete": False, "edit": False, "link": False}


def permissions_json(
    perm: str, *, annotate: bool, delete: bool, edit: bool, link: bool
) -> dict[str, Any]:
    """``TBD#Permissions``: the twelve keys of spec 4.2 (flags from the perm string)."""
    return {
        "@type": "TBD#Permissions",
        "perm": perm,
        "canAnnotate": annotate,
        "canDelete": delete,
        "canEdit": edit,
        "canLink": link,
        "isWorldWrite": perm[5] == "w",
        "isWorldRead": perm[4] == "r",
        "isGroupWrite": perm[3] == "w",
        "isGroupRead": perm[2] == "r",
        "isGroupAnnotate": perm[3] in "aw",
        "isUserWrite": perm[1] == "w",
        "isUserRead": perm[0] == "r",
    }


def experimenter_json(user: Experimenter) -> dict[str, Any]:
    """An Experimenter as OMERO's documented output nests it in ``omero:details``."""
    return {
        "@id": user.id,
        "@type": f"{SCHEMA}#Experimenter",
        "omero:details": {
            "@type": "TBD#Details",
            "permissions": permissions_json("------", **NOTHING),
        },
        "FirstName": user.first_name,
        "MiddleName": "",
        "LastName": user.last_name,
        "Email": "",
        "UserName": user.omename,
    }


def group_json(group: ExperimenterGroup) -> dict[str, Any]:
    return {
        "@id": group.id,
        "@type": f"{SCHEMA}#ExperimenterGroup",
        "omero:details": {
            "@type": "TBD#Details",
            "permissions": permissions_json(group.level.value, **NOTHING),
        },
        "Name": group.name,
    }


def details_json(
    owner: Experimenter, group: ExperimenterGroup, can: dict[str, bool]
) -> dict[str, Any]:
    return {
        "@type": "TBD#Details",
        "owner": experimenter_json(owner),
        "group": group_json(group),
        "permissions": permissions_json(group.level.value, **can),
    }


def container_expected(
    kind: str,
    obj_id: int,
    name: str,
    owner: Experimenter,
    group: ExperimenterGroup,
    *,
    can: dict[str, bool] = OWNER,
    **fields: Any,
) -> dict[str, Any]:
    """A Project, Dataset or Screen as the API encodes it (without ``url:`` keys)."""
    return {
        "@id": obj_id,
        "@type": f"{SCHEMA}#{kind}",
        "omero:details": details_json(owner, group, can),
        "Name": name,
        **fields,
    }


def length(value: float, unit: str, symbol: str) -> dict[str, Any]:
    return {"@type": "TBD#LengthI", "Unit": unit, "Symbol": symbol, "Value": value}
