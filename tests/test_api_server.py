"""A real ``pyomero serve`` on a free port, spoken to over a socket with httpx.

The instance and its users are made with the command line (``pyomero init``, ``group add``,
``user add``); one server process serves the whole module.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from pyomero.testing.http import ApiClient
from pyomero.testing.server import pyomero_command, served

pytestmark = pytest.mark.server

ROOT_PW = "server-root-pw"
USER_PW = "server-user-pw"
SCHEMA = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def _run(*args: str) -> None:
    done = subprocess.run(pyomero_command(*args), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running server with root and user1 (group ``lab``, read-annotate)."""
    directory: Path = tmp_path_factory.mktemp("served") / "instance"
    _run("init", str(directory), "--root-password", ROOT_PW)
    _run("group", "add", "lab", "--type", "read-annotate", "--data", str(directory))
    _run(
        "user", "add", "user1", "--first", "User", "--last", "One", "--group", "lab",
        "--password", USER_PW, "--data", str(directory),
    )  # fmt: skip
    with served(directory) as base:
        yield base


@pytest.fixture
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=10) as client:
        yield client


def test_server_login_create_list_delete(server, http):
    """The documented flow over a socket: login, create a project, list it, delete it."""
    base_url = http.get("/api/").json()["data"][-1]["url:base"]
    assert base_url == f"{server}/api/v0/"
    base = http.get(base_url).json()
    token = http.get(base["url:token"]).json()["data"]
    response = http.post(
        base["url:login"],
        data={"username": "user1", "password": USER_PW, "server": 1},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200, response.text
    ec = response.json()["eventContext"]
    assert ec["userName"] == "user1"
    group = ec["groupId"]
    response = http.post(
        f"{base['url:save']}?group={group}",
        json={"Name": "Served", "@type": f"{base['url:schema']}#Project"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 201, response.text
    assert response.headers["x-omero-apiversion"] == "0.2"
    pid = response.json()["data"]["@id"]
    listed = http.get(base["url:projects"])
    assert listed.headers["content-type"] == "application/json"
    body = listed.json()
    assert [(p["@id"], p["Name"]) for p in body["data"]] == [(pid, "Served")]
    assert body["data"][0]["url:project"] == f"{server}/api/v0/m/projects/{pid}/"
    assert body["meta"] == {"offset": 0, "limit": 200, "maxLimit": 500, "totalCount": 1}
    assert http.get(f"{base['url:projects']}{pid}/").json()["data"]["Name"] == "Served"
    deleted = http.delete(f"{base['url:projects']}{pid}/", headers={"X-CSRFToken": token})
    assert deleted.status_code == 200 and deleted.json()["data"]["@id"] == pid
    missing = http.get(f"{base['url:projects']}{pid}/")
    assert missing.status_code == 404
    assert missing.json()["message"] == f"Project {pid} not found"
    assert http.get(base["url:projects"]).json()["data"] == []


def test_server_anonymous_answers(server, http):
    """Not logged in, CSRF, trailing-slash redirect and unrouted URLs over a socket."""
    response = http.get("/api/v0/m/projects/")
    assert response.status_code == 403
    assert response.json() == {"message": "Not logged in"}
    assert "x-omero-apiversion" not in response.headers
    response = http.post(
        "/api/v0/login/", data={"username": "user1", "password": USER_PW, "server": 1}
    )
    assert response.status_code == 403
    assert response.json() == {"message": "CSRF Failed: CSRF cookie not set."}
    response = http.get("/api/v0/m/projects", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == f"{server}/api/v0/m/projects/"
    response = http.get("/api/v9/")
    assert response.status_code == 404 and response.headers["content-type"] == "application/json"
    assert http.get("/api/v0/servers/").json() == {
        "data": [{"id": 1, "host": "localhost", "port": 4064, "server": "omero"}]
    }


def test_server_sessions(server):
    """A session joined with ``?bsession=`` from another client; the ApiClient helper works
    against a real server too."""
    with (
        httpx.Client(base_url=server, timeout=10) as first,
        httpx.Client(base_url=server, timeout=10) as second,
    ):
        api = ApiClient(first)
        ec = api.login("root", ROOT_PW)
        assert ec["isAdmin"] is True
        response = api.save({"Name": "By root", "@type": f"{SCHEMA}#Screen"}, group=ec["groupId"])
        assert response.status_code == 201, response.text
        sid = response.json()["data"]["@id"]
        response = second.get(f"/api/v0/m/screens/?bsession={ec['sessionUuid']}")
        assert response.status_code == 200
        assert [s["@id"] for s in response.json()["data"]] == [sid]
        assert second.get("/api/v0/m/screens/").status_code == 200  # the cookie was set
        assert api.delete(f"/api/v0/m/screens/{sid}/").status_code == 200


def test_server_concurrent_requests(server):
    """Twenty parallel requests on one session all succeed."""
    with httpx.Client(base_url=server, timeout=20) as client:
        ApiClient(client).login("user1", USER_PW)
        paths = [
            "/api/v0/m/projects/",
            "/api/v0/m/experimenters/",
            "/api/v0/m/images/",
            "/api/v0/",
        ] * 5
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda p: client.get(p).status_code, paths))
    assert statuses == [200] * 20
