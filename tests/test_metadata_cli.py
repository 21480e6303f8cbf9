"""``pyomero metadata populate`` against a real ``pyomero serve`` on a free port.

The instance (a Screen with one 2x3 plate, owned by user1 in ``lab``) is made before the
server starts; the command runs as a separate process, as from another machine. A bad CSV
must leave no file, OriginalFile or annotation behind.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pyomero.model.permissions import GroupLevel
from pyomero.services import accounts
from pyomero.services.instance import init_instance
from pyomero.store import bulk
from pyomero.testing.http import ApiClient
from pyomero.testing.server import pyomero_command, served

USER_PW = "metadata-user-pw"


@dataclass
class Served:
    base: str
    directory: Path
    screen: int
    wells: list[int]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(pyomero_command(*args), capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("metadata-served") / "instance"
    instance = init_instance(directory, root_password="root-pw")
    try:
        group = accounts.add_group(instance, name="lab", level=GroupLevel.READ_ANNOTATE)
        user = accounts.add_user(
            instance, username="user1", first_name="User", last_name="One", groups=["lab"],
            password=USER_PW,
        )  # fmt: skip
        with instance.db.write() as conn:
            who = {"owner_id": user.id, "group_id": group.id}
            (screen,) = bulk.insert_screens(conn, **who, screens=[{"name": "screen"}])
            plate = bulk.insert_plate(conn, **who, name="P1", rows=2, columns=3, screen_id=screen)
    finally:
        instance.close()
    with served(directory) as base:
        yield Served(base, directory, screen, list(plate.well_ids))


def _populate(server: Served, csv: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _run(
        "metadata", "populate", "--file", str(csv), f"Screen:{server.screen}",
        "-s", server.base, "-u", "user1", "-w", USER_PW, *extra,
    )  # fmt: skip


def _table_files(server: Served) -> list[Path]:
    return [p for p in (server.directory / "files").rglob("*") if p.is_file()]


@pytest.mark.server
def test_populate_and_query(server: Served, tmp_path: Path) -> None:
    csv = tmp_path / "annotation.csv"
    csv.write_text(
        "# header plate,well,s,d\nPlate,Well,Gene Symbol,Score\n"
        "P1,A1,ECT2,0.5\nP1,A2,ADE8,1.5\nP1,B3,CDK1,2.5\n"
    )
    done = _populate(server, csv, "--context", "bulkmap")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"FileAnnotation:\d+", lines[0]), lines
    assert len(lines) == 4 and all(line.startswith("MapAnnotation:") for line in lines[1:])
    well = server.wells[5]  # B3
    with httpx.Client(base_url=server.base, timeout=30) as client:
        token = client.get("/api/v0/token/").json()["data"]
        client.post(
            "/api/v0/login/",
            data={"username": "user1", "password": USER_PW, "server": "1"},
            headers={"X-CSRFToken": token},
        )
        body = client.get(
            f"/webgateway/table/Screen.plateLinks.child.wells/{well}/query/",
            params={"query": f"Well-{well}"},
        ).json()
    assert body["parentId"] == server.screen and body["annId"] == int(lines[0].split(":")[1])
    row = dict(zip(body["data"]["columns"], body["data"]["rows"][0], strict=True))
    assert row["Gene Symbol"] == "CDK1" and row["Well"] == well


@pytest.mark.server
def test_bad_csv_creates_nothing(server: Served, tmp_path: Path) -> None:
    before = _table_files(server)
    csv = tmp_path / "bad.csv"
    csv.write_text("# header plate,well,s\nPlate,Well,Gene\nP1,A1,x\nP1,Q7,y\n")
    done = _populate(server, csv)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error: ") and "line 4: Well 'Q7'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert _table_files(server) == before


@pytest.mark.server
def test_argument_errors(server: Served, tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text("Well\nA1\n")
    done = _run("metadata", "populate", "--file", str(csv), "Image:1", "-s", server.base,
                "-u", "user1", "-w", USER_PW)  # fmt: skip
    assert done.returncode == 1 and "expected Screen:ID" in done.stderr
    done = _populate(server, tmp_path / "missing.csv")
    assert done.returncode != 0
    done = _run("metadata", "populate", "--file", str(csv), f"Screen:{server.screen}",
                "-s", server.base, "-u", "user1", "-w", "wrong")  # fmt: skip
    assert done.returncode == 1 and done.stderr.startswith("error: ")


@pytest.mark.server
def test_column_types_detected_unless_manual_header(server: Served, tmp_path: Path) -> None:
    csv = tmp_path / "typed.csv"
    csv.write_text("Plate,Well,Score,Count,Note\nP1,A1,0.5,3,x\nP1,A2,1.5,4,y\n")
    kinds = {}
    for flags in ((), ("--manual_header",)):
        done = _populate(server, csv, *flags)
        assert done.returncode == 0, done.stdout + done.stderr
        annotation = int(done.stdout.split()[0].split(":")[1])
        with httpx.Client(base_url=server.base, timeout=30) as client:
            ApiClient(client).login("user1", USER_PW)
            listed = client.get(f"/webgateway/annotations/Screen/{server.screen}/").json()
            file_id = next(a["file"] for a in listed["data"] if a["id"] == annotation)
            meta = client.get(f"/webgateway/table/{file_id}/metadata/").json()
        kinds[flags] = {c["name"]: c["type"] for c in meta["columns"]}
    assert kinds[()]["Score"] == "DoubleColumn" and kinds[()]["Count"] == "LongColumn"
    assert kinds[("--manual_header",)]["Score"] == "StringColumn"
    assert kinds[("--manual_header",)]["Count"] == "StringColumn"
    assert kinds[()]["Well"] == kinds[("--manual_header",)]["Well"] == "WellColumn"


@pytest.mark.server
def test_bulkmap_with_configuration_then_deletemap(server: Served, tmp_path: Path) -> None:
    """omero-metadata's bulkmap and deletemap steps with --cfg, on the newest table."""
    csv = tmp_path / "genes.csv"
    csv.write_text("Plate,Well,Gene Symbol\nP1,A1,ECT2\nP1,A2,ECT2\nP1,A3,ADE8\n")
    config = tmp_path / "bulkmap.yml"
    config.write_text(
        "columns:\n"
        "  - group:\n"
        "      namespace: openmicroscopy.org/mapr/gene\n"
        "      columns: [{name: Gene Symbol}]\n"
        "advanced:\n"
        "  primary_group_keys: [{namespace: openmicroscopy.org/mapr/gene, keys: [Gene Symbol]}]\n"
    )
    assert _populate(server, csv).returncode == 0
    done = _run("metadata", "populate", "--context", "bulkmap", "--cfg", str(config),
                f"Screen:{server.screen}", "-s", server.base, "-u", "user1", "-w", USER_PW)  # fmt: skip
    assert done.returncode == 0, done.stderr
    made = done.stdout.split()
    assert len([m for m in made if m.startswith("MapAnnotation:")]) >= 2  # ECT2 shared
    again = _run("metadata", "populate", "--context", "deletemap", "--cfg", str(config),
                 f"Screen:{server.screen}", "-s", server.base, "-u", "user1", "-w", USER_PW)  # fmt: skip
    assert again.returncode == 0, again.stderr
    deleted = [line.split()[0] for line in again.stdout.splitlines()]
    assert set(made) <= set(deleted)
    assert all(line.endswith("(deleted)") for line in again.stdout.splitlines())
    nothing = _run("metadata", "populate", "Screen:1", "-s", server.base, "-u", "user1",
                   "-w", USER_PW)  # fmt: skip
    assert nothing.returncode != 0 and "--file is required" in nothing.stderr
