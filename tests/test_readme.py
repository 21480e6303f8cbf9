"""The README's commands, executed, so that they cannot drift from what pyomero does."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = [
    block.strip().splitlines()
    for block in re.findall(r"^```[a-z]*\n(.*?)^```$", README, re.S | re.M)
]


def _pyomero() -> list[str]:
    return [sys.executable, "-m", "pyomero.cli.main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_first_screen_is_two_commands():
    assert BLOCKS[0] == ["pip install .", "pyomero demo"]


def test_ci_runs_the_readme_test_command():
    tests = next(block for block in BLOCKS if any("pytest" in line for line in block))
    command = next(line for line in tests if "pytest" in line)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert command in ci
    install = next(line for line in tests if line.startswith("pip install"))
    assert f"python -m {install}" in " ".join(ci).replace("--quiet ", "")


@pytest.mark.server
def test_pyomero_demo_serves_the_demo_data(tmp_path):
    """`pyomero demo` (the README's second command) answers with its Project and Screen."""
    port = _free_port()
    process = subprocess.Popen(
        [*_pyomero(), "demo", "--port", str(port), "--dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v0/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "pyomero demo did not answer within 60 s"
            time.sleep(0.3)
        with httpx.Client(base_url=base) as client:
            token = client.get("/api/v0/token/").json()["data"]
            login = client.post(
                "/api/v0/login/",
                data={"username": "root", "password": "omero", "server": 1},
                headers={"X-CSRFToken": token},
            )
            assert login.status_code == 200, login.text
            projects = client.get("/api/v0/m/projects/?childCount=true").json()["data"]
            assert [p["omero:childCount"] for p in projects] == [2]
            assert len(client.get("/api/v0/m/screens/").json()["data"]) == 1
            assert len(client.get("/api/v0/m/plates/").json()["data"]) == 1
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_instance_commands_run(tmp_path):
    """The 'A real instance' block, on SQLite, without serving."""
    block = next(b for b in BLOCKS if b and b[0].startswith("pyomero init"))
    env = dict(os.environ)
    for line in block:
        command = line.split("#")[0].strip()
        if "--database-url" in command or command.startswith("pyomero serve"):
            continue
        args = shlex.split(command.replace("./data", str(tmp_path / "data")))
        assert args[0] == "pyomero"
        result = subprocess.run(
            [*_pyomero(), *args[1:]], capture_output=True, text=True, env=env, timeout=120
        )
        assert result.returncode == 0, (command, result.stdout, result.stderr)
    users = subprocess.run(
        [*_pyomero(), "user", "list", "--data", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "alice" in users.stdout


@pytest.mark.server
def test_import_commands_run_against_a_server(tmp_path):
    """The 'Importing images' block against a real `pyomero serve` of the README instance."""
    from pyomero.testing.http import ApiClient
    from pyomero.testing.images import write_ome_tiff, write_ome_zarr_plate
    from pyomero.testing.server import served

    data = str(tmp_path / "data")
    setup = next(b for b in BLOCKS if b and b[0].startswith("pyomero init"))
    for line in setup:
        command = line.split("#")[0].strip()
        if "--database-url" in command or command.startswith("pyomero serve"):
            continue
        args = shlex.split(command.replace("./data", data))
        subprocess.run([*_pyomero(), *args[1:]], check=True, capture_output=True, timeout=120)
    write_ome_tiff(tmp_path / "cells.ome.tiff", size_x=64, size_y=48, size_c=2)
    write_ome_zarr_plate(tmp_path / "plate.ome.zarr", rows=1, columns=2, fields=1)
    with served(Path(data)) as base:
        port = base.rsplit(":", 1)[1]
        block = next(b for b in BLOCKS if b and b[0].startswith("pyomero import"))
        outputs = []
        for line in block:
            args = shlex.split(line.replace(":4080", f":{port}"))
            result = subprocess.run(
                [*_pyomero(), *args[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=120
            )
            assert result.returncode == 0, (line, result.stdout, result.stderr)
            outputs.append(result.stdout.strip())
        assert re.fullmatch(r"Image:\d+", outputs[0]), outputs
        assert re.fullmatch(r"Plate:\d+", outputs[1]), outputs
        (tmp_path / "plate-annotation.csv").write_text(
            "Plate,Well,Gene Symbol\nplate,A1,ADE8\nplate,A2,ECT2\n"
        )
        (line,) = next(b for b in BLOCKS if b and b[0].startswith("pyomero metadata"))
        line = line.replace(":4080", f":{port}").replace("Plate:1", outputs[1])
        result = subprocess.run(
            [*_pyomero(), *shlex.split(line)[1:]], cwd=tmp_path, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, (line, result.stdout, result.stderr)
        assert result.stdout.startswith("FileAnnotation:")
        with httpx.Client(base_url=base, timeout=30) as client:
            ApiClient(client).login("alice", "pw")
            found = client.get(
                "/searchengine/api/v1/resources/image/search/",
                params={"key": "Gene Symbol", "value": "ade8"},
            ).json()
        assert len(found["results"]["results"]) == 1
