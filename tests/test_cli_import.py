"""``pyomero import`` against a real ``pyomero serve`` on a free port, and its argument errors.

The server and its users are made with the command line; the import runs as a separate
process, as a user would run it from another machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from pyomero.cli.main import main
from pyomero.testing.http import ApiClient
from pyomero.testing.images import write_ome_zarr_plate, write_png
from pyomero.testing.server import free_port, pyomero_command, served

ROOT_PW = "import-root-pw"
USER_PW = "import-user-pw"
SCHEMA = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(pyomero_command(*args), capture_output=True, text=True, timeout=120)


def _ok(*args: str) -> None:
    done = _run(*args)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def import_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's one import root, for ``--transfer ln_s``."""
    return tmp_path_factory.mktemp("import-root")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, import_root: Path) -> Iterator[str]:
    """The base URL of a running server with user1 in group ``lab``."""
    directory: Path = tmp_path_factory.mktemp("import-served") / "instance"
    _ok("init", str(directory), "--root-password", ROOT_PW)
    _ok("group", "add", "lab", "--type", "read-annotate", "--data", str(directory))
    _ok(
        "user", "add", "user1", "--first", "User", "--last", "One", "--group", "lab",
        "--password", USER_PW, "--data", str(directory),
    )  # fmt: skip
    with served(directory, env={"PYOMERO_IMPORT_ROOTS": str(import_root)}) as base:
        yield base


@pytest.fixture
def api(server: str) -> Iterator[ApiClient]:
    with httpx.Client(base_url=server, timeout=30) as client:
        api = ApiClient(client)
        api.login("user1", USER_PW)
        yield api


def _created(done: subprocess.CompletedProcess[str], kind: str) -> list[int]:
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    lines = done.stdout.splitlines()
    assert lines and all(re.fullmatch(rf"{kind}:\d+", line) for line in lines), lines
    return [int(line.split(":")[1]) for line in lines]


@pytest.mark.server
def test_import_a_png_over_a_socket(server, api, tmp_path):
    png = write_png(tmp_path / "socket.png", size_x=48, size_y=32)
    done = _run("import", str(png), "-s", server, "-u", "user1", "-w", USER_PW)
    [image_id] = _created(done, "Image")
    image = api.get(f"/api/v0/m/images/{image_id}/").json()["data"]
    assert image["Name"] == "socket.png"
    assert image["Pixels"]["SizeX"] == 48


@pytest.mark.server
def test_import_a_directory_into_a_named_dataset(server, api, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    write_png(folder / "a.png", size_x=8, size_y=8)
    write_png(folder / "b.png", size_x=8, size_y=8)
    host_port = server.removeprefix("http://")
    done = _run(
        "import", str(folder), "-s", host_port, "-u", "user1", "-w", USER_PW,
        "-g", "lab", "-T", "Dataset:name:Imported folder",
    )  # fmt: skip
    ids = _created(done, "Image")
    assert len(ids) == 2
    datasets = api.get("/api/v0/m/datasets/").json()["data"]
    [dataset] = [d for d in datasets if d["Name"] == "Imported folder"]
    images = api.get(f"/api/v0/m/datasets/{dataset['@id']}/images/").json()["data"]
    assert sorted(i["@id"] for i in images) == sorted(ids)


@pytest.mark.server
def test_import_an_ome_zarr_plate_into_a_screen(server, api, tmp_path):
    gid = api.get("/api/v0/m/experimentergroups/").json()["data"]
    group = next(g["@id"] for g in gid if g["Name"] == "lab")
    response = api.save({"Name": "Screen", "@type": f"{SCHEMA}#Screen"}, group=group)
    screen = response.json()["data"]["@id"]
    plate = write_ome_zarr_plate(tmp_path / "plate.zarr", rows=1, columns=2, fields=1)
    done = _run("import", str(plate), "-s", server, "-u", "user1", "-w", USER_PW, "-r", str(screen))
    [plate_id] = _created(done, "Plate")
    plates = api.get(f"/api/v0/m/screens/{screen}/plates/").json()["data"]
    assert [p["@id"] for p in plates] == [plate_id]


@pytest.mark.server
def test_import_errors_over_a_socket(server, tmp_path):
    png = write_png(tmp_path / "e.png", size_x=8, size_y=8)
    args = [str(png), "-s", server, "-u", "user1"]
    for extra, message in [
        (
            ["-w", "wrong"],
            "error: Connection not available, please check your user name and password.",
        ),
        (["-w", USER_PW, "-d", "987654"], "error: Dataset 987654 not found"),
        (["-w", USER_PW, "-g", "nogroup"], "error: Group nogroup not found"),
    ]:
        done = _run("import", *args, *extra)
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stdout == ""
        assert done.stderr.splitlines() == [message]
    garbage = tmp_path / "garbage.tif"
    garbage.write_bytes(b"II*\x00 not really a tiff" * 10)
    done = _run("import", str(garbage), "-s", server, "-u", "user1", "-w", USER_PW)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: ") and "garbage.tif" in done.stderr, done.stderr


@pytest.mark.server
def test_import_in_place(server, api, import_root, tmp_path):
    """``--transfer ln_s`` registers a server path under an import root; others are refused."""
    inside = write_png(import_root / "in-place.png", size_x=12, size_y=12)
    done = _run(
        "import", str(inside), "-s", server, "-u", "user1", "-w", USER_PW, "--transfer", "ln_s"
    )  # fmt: skip
    [image_id] = _created(done, "Image")
    assert api.get(f"/api/v0/m/images/{image_id}/").json()["data"]["Name"] == "in-place.png"
    assert inside.exists()
    outside = write_png(tmp_path / "outside.png", size_x=12, size_y=12)
    done = _run(
        "import", str(outside), "-s", server, "-u", "user1", "-w", USER_PW, "--transfer", "ln_s"
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"error: omero.SecurityViolation: {outside} is not under an import root of this server"
    ]


# ---------------------------------------------------------------------------- arguments


def run(*args: Any) -> Result:
    return CliRunner().invoke(main, ["import", *[str(a) for a in args]])


def assert_error(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [f"error: {message}"]
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-d", "1", "-r", "2"], "-d and -r cannot be used together"),
        (["-d", "1", "-T", "Dataset:name:x"], "-d and -T cannot be used together"),
        (["-d", "0"], "-d: 0 is not an id"),
        (
            ["-T", "Project:id:1"],
            "-T 'Project:id:1': expected Dataset:id:ID, Dataset:name:NAME or Screen:id:ID",
        ),
        (
            ["-T", "Screen:name:s"],
            "-T 'Screen:name:s': expected Dataset:id:ID, Dataset:name:NAME or Screen:id:ID",
        ),
        (["-T", "Dataset:id:x"], "-T: 'x' is not an id"),
        (["-T", "Dataset:name: "], "-T Dataset:name: needs a name"),
        (["-s", "ftp://host"], "not a server address: 'ftp://host'"),
    ],
)
def test_argument_errors(tmp_path, args, message):
    png = write_png(tmp_path / "a.png", size_x=4, size_y=4)
    base = ["-u", "user1", "-w", "pw"]
    if "-s" not in args:
        base += ["-s", "127.0.0.1:1"]
    assert_error(run(png, *base, *args), message)


def test_missing_file_and_unreachable_server(tmp_path):
    missing = tmp_path / "missing.tif"
    result = run(missing, "-s", "127.0.0.1:1", "-u", "u", "-w", "p")
    assert_error(result, f"{missing}: no such file or directory")
    png = write_png(tmp_path / "a.png", size_x=4, size_y=4)
    port = free_port()
    result = run(png, "-s", f"127.0.0.1:{port}", "-u", "u", "-w", "p")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot reach http://127.0.0.1:{port}: ")
    assert len(result.stderr.splitlines()) == 1


def test_usage_errors_are_clicks():
    assert run("x.tif", "-u", "u").exit_code == 2  # no -s
    result = run("x.tif", "-s", "h:1", "-u", "u", "-w", "p", "--transfer", "copy")
    assert result.exit_code == 2 and "'copy' is not one of 'upload', 'ln_s'" in result.stderr
    assert run("-s", "h:1", "-u", "u").exit_code == 2  # no PATH


def test_progress_bar_only_on_a_terminal(monkeypatch):
    import io

    from pyomero.cli.importer import _progress_bar

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    with _progress_bar() as progress:
        assert progress is None  # pytest captures stderr: not a terminal
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with _progress_bar() as progress:
        assert progress is not None
        progress(512, 1024)
        progress(1024, 1024)
    assert terminal.getvalue()
