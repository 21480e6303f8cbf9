"""The public user (OMERO.web's ``omero.web.public.*``; spec webgateway-idr.md 2.2, 9 step 1).

An anonymous GET under ``public_url_filter`` runs as the public user in a new session whose
cookie later requests reuse; it only reads what the account's groups allow, never writes,
and never leaves the filtered paths.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from apidata import (
    _bulk,
    add_plate,
    fast_passwords,  # noqa: F401 - autouse
    new_group,
    new_user,
    sqlite_only,
)
from pyomero.model.permissions import GroupLevel
from pyomero.store import bulk
from pyomero.web.app import create_app

W = "/webclient/api"


@pytest.fixture
def idr(instance):
    """An IDR-like instance: a read-only public group with a screen of plates, a private
    group the public user is not in, and the public user enabled for /webclient/ and /api/."""
    public = new_group(instance, "public", GroupLevel.READ_ONLY)
    private = new_group(instance, "private", GroupLevel.PRIVATE)
    curator = new_user(instance, "curator", ["public", "private"])
    new_user(instance, "public-user", ["public"])
    (screen,) = _bulk(
        instance, bulk.insert_screens, curator.id, public.id, screens=[{"name": "idr0001"}]
    )
    plates = [
        add_plate(instance, curator.id, public.id, name, screen_id=screen).plate_id
        for name in ("plate2", "plate1")
    ]
    (hidden,) = _bulk(
        instance, bulk.insert_projects, curator.id, private.id, projects=[{"name": "secret"}]
    )
    settings = instance.settings.with_values(
        public_user="public-user", public_url_filter=r"^/(webclient|api)/"
    )
    app = create_app(replace(instance, settings=settings))
    return {"app": app, "screen": screen, "plates": plates, "hidden": hidden}


@sqlite_only
def test_notebook_session(idr):
    """Step 1: ``GET /webclient/?experimenter=-1`` without a cookie gives 200 and a session
    cookie that then reads ``api/plates/?id=<screen>`` (step 3), read-only."""
    client = TestClient(idr["app"])
    first = client.get("/webclient/?experimenter=-1", follow_redirects=False)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/html")
    cookie = first.cookies.get("sessionid")
    assert cookie
    plates = client.get(f"{W}/plates/?id={idr['screen']}")
    assert plates.status_code == 200
    assert "sessionid" not in plates.cookies  # the same session, not a new one
    assert [p["name"] for p in plates.json()["plates"]] == ["plate1", "plate2"]
    assert {p["permsCss"] for p in plates.json()["plates"]} == {""}
    assert [p["childCount"] for p in plates.json()["plates"]] == [1, 1]


@sqlite_only
def test_reads_only_its_groups(idr):
    client = TestClient(idr["app"])
    top = client.get(f"{W}/containers/").json()
    assert top["projects"] == []  # the private group's project stays invisible
    assert [s["id"] for s in top["screens"]] == [idr["screen"]]
    private = client.get(f"{W}/containers/?group=-1").json()
    assert idr["hidden"] not in [p["id"] for p in private["projects"]]
    response = client.get(f"{W}/paths_to_object/?project={idr['hidden']}")
    assert response.json() == {"paths": []}


@sqlite_only
def test_never_writes(idr):
    """POST with the public session and a valid CSRF token: 403, nothing created."""
    client = TestClient(idr["app"])
    assert client.get("/webclient/").status_code == 200  # the public session
    token = client.get("/api/v0/token/").json()["data"]
    body = {"@type": "http://www.openmicroscopy.org/Schemas/OME/2016-06#Project", "Name": "x"}
    saved = client.post("/api/v0/m/save/", json=body, headers={"X-CSRFToken": token})
    assert saved.status_code == 403, saved.text
    assert saved.json()["message"] == "Not logged in"
    # an anonymous POST does not get a public session either
    fresh = TestClient(idr["app"])
    token = fresh.get("/api/v0/token/").json()["data"]
    refused = fresh.post("/api/v0/m/save/", json=body, headers={"X-CSRFToken": token})
    assert refused.status_code == 403
    assert "sessionid" not in refused.cookies


@sqlite_only
def test_stays_inside_the_filter(idr):
    client = TestClient(idr["app"])
    assert client.get("/webclient/").status_code == 200
    outside = client.get("/webgateway/imgData/1/", follow_redirects=False)
    assert outside.status_code == 302  # the public session does not reach past the filter
    anonymous = TestClient(idr["app"]).get("/webgateway/imgData/1/", follow_redirects=False)
    assert anonymous.status_code == 302


@sqlite_only
def test_disabled_by_default(instance):
    client = TestClient(create_app(instance))
    response = client.get("/webclient/?experimenter=-1", follow_redirects=False)
    assert response.status_code == 302
    assert "sessionid" not in response.cookies


@sqlite_only
def test_real_login_wins(idr, instance):
    """A logged-in user keeps their own session under the filtered paths."""
    client = TestClient(idr["app"])
    token = client.get("/api/v0/token/").json()["data"]
    login = client.post(
        "/api/v0/login/",
        data={"username": "curator", "password": "user-password", "server": 1},
        headers={"X-CSRFToken": token},
    )
    assert login.status_code == 200, login.text
    top = client.get(f"{W}/containers/").json()
    assert [p["id"] for p in top["projects"]] == [idr["hidden"]]
