"""The `pyomero` command: every command's output, every error as one line, nothing changed."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pyomero.cli.main import main
from pyomero.errors import LoginFailed
from pyomero.services import accounts
from pyomero.services.instance import load_instance

#: The variables `serve` exports; CliRunner puts them back after each call.
SERVE_ENV: dict[str, str | None] = {
    f"PYOMERO_{name}": None for name in ("DATA_DIR", "HOST", "PORT", "WORKERS")
}


def run(*args: Any, input: str | None = None, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], input=input, env=env or SERVE_ENV)


def assert_error(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [f"error: {message}"]
    assert result.stdout == ""


def snapshot(data: Path) -> str:
    groups, users = run("group", "list", "--data", data), run("user", "list", "--data", data)
    assert groups.exit_code == 0 and users.exit_code == 0
    return groups.stdout + users.stdout


def table_rows(output: str) -> dict[str, list[str]]:
    """The rows of a `list` table by name: the words of each line that starts with an id."""
    words = [line.split() for line in output.splitlines()]
    return {w[1]: w for w in words if w and w[0].isdigit()}


def can_login(data: Path, username: str, password: str) -> bool:
    instance = load_instance(data)
    try:
        accounts.login(instance, username=username, password=password)
        return True
    except LoginFailed:
        return False
    finally:
        instance.close()


@pytest.fixture
def data(tmp_path: Path, database_url: str | None) -> Iterator[Path]:
    """An instance made by `pyomero init`, on SQLite or PostgreSQL, with group lab and alice."""
    directory = tmp_path / "inst"
    args: list[Any] = ["init", directory, "--root-password", "rootpw"]
    if database_url:
        args += ["--database-url", database_url]
    result = run(*args)
    assert result.exit_code == 0, result.output
    for args in (
        ["group", "add", "lab", "--type", "read-annotate"],
        [
            "user",
            "add",
            "alice",
            "--first",
            "Alice",
            "--last",
            "Liddell",
            "--group",
            "lab",
            "--password",
            "alicepw",
        ],
    ):
        assert run(*args, "--data", directory).exit_code == 0
    yield directory


# -- init ---------------------------------------------------------------------------------


def test_init(tmp_path: Path) -> None:
    directory = tmp_path / "new"
    result = run("init", directory, "--root-password", "pw")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"Created pyomero instance in {directory}",
        f"  database: sqlite:///{directory}/pyomero.db",
        "  administrator: root (group system)",
        f"Start it with: pyomero serve {directory}",
    ]
    assert result.stderr == ""
    assert {p.name for p in directory.iterdir()} >= {
        "pyomero.toml",
        "pyomero.db",
        "pixels",
        "files",
    }
    assert can_login(directory, "root", "pw")


def test_init_postgres_hides_password(tmp_path: Path, database_url: str | None) -> None:
    if database_url is None:
        pytest.skip("PostgreSQL only")
    url = database_url.replace("postgres@", "postgres:secret@")
    result = run("init", tmp_path / "pg", "--root-password", "pw", "--database-url", url)
    assert result.exit_code == 0, result.output
    assert "secret" not in result.stdout and ":***@" in result.stdout
    assert 'database_url = "' in (tmp_path / "pg" / "pyomero.toml").read_text()


def test_init_prompts_for_the_root_password(tmp_path: Path) -> None:
    result = run("init", tmp_path / "p", input="pw\npw\n")
    assert result.exit_code == 0, result.output
    assert can_login(tmp_path / "p", "root", "pw")


def test_init_refuses_an_existing_instance(data: Path) -> None:
    before = snapshot(data)
    assert_error(
        run("init", data, "--root-password", "other"), f"{data} already holds a pyomero instance"
    )
    assert snapshot(data) == before
    assert can_login(data, "root", "rootpw")


def test_init_refuses_an_empty_root_password(tmp_path: Path) -> None:
    assert_error(
        run("init", tmp_path / "x", "--root-password", ""), "the root password must not be empty"
    )
    assert not (tmp_path / "x").exists()


# -- groups -------------------------------------------------------------------------------


def test_group_add_and_list(data: Path) -> None:
    for name, kind, perms in (
        ("p", "private", "rw----"),
        ("ro", "read-only", "rwr---"),
        ("rw", "read-write", "rwrw--"),
    ):
        result = run("group", "add", name, "--type", kind, "--data", data)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"Added group {name} (id=")
        assert result.stdout.endswith(f") with permissions {perms} ({kind})\n")
    listing = run("group", "list", "--data", data)
    assert listing.exit_code == 0
    rows = table_rows(listing.stdout)
    assert rows["lab"][2:] == ["read-annotate", "rwra--", "alice"]
    assert rows["ro"][2:] == ["read-only", "rwr---", "-"]
    assert rows["system"][2:] == ["private", "rw----", "root"]
    assert rows["user"][2:] == ["read-only", "rwr---", "root,", "alice"]
    assert "* owner" in listing.stdout


def test_group_add_defaults_to_private(data: Path) -> None:
    result = run("group", "add", "quiet", "--data", data)
    assert result.exit_code == 0
    assert "rw---- (private)" in result.stdout


def test_group_add_duplicate(data: Path) -> None:
    before = snapshot(data)
    assert_error(
        run("group", "add", "lab", "--type", "private", "--data", data),
        "group 'lab' already exists",
    )
    assert snapshot(data) == before


def test_group_add_unknown_type(data: Path) -> None:
    before = snapshot(data)
    assert_error(
        run("group", "add", "new", "--type", "public", "--data", data),
        "unknown group type 'public': expected one of private, read-only, read-annotate, read-write",
    )
    assert snapshot(data) == before


def test_group_adduser(data: Path) -> None:
    run(
        "user",
        "add",
        "bob",
        "--first",
        "B",
        "--last",
        "B",
        "--group",
        "lab",
        "--password",
        "x",
        "--data",
        data,
    )
    assert run("group", "add", "other", "--data", data).exit_code == 0
    result = run("group", "adduser", "other", "alice", "bob", "--data", data)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Added alice, bob to group other\n"
    result = run("group", "adduser", "lab", "alice", "--as-owner", "--data", data)
    assert result.stdout == "Added alice to group lab as owner\n"
    listing = run("group", "list", "--data", data).stdout
    assert "alice*, bob" in listing
    assert "alice, bob" in listing


def test_group_adduser_unknown_user_or_group(data: Path) -> None:
    before = snapshot(data)
    assert_error(
        run("group", "adduser", "lab", "alice", "nobody", "--as-owner", "--data", data),
        "user 'nobody' does not exist",
    )
    assert_error(
        run("group", "adduser", "nolab", "alice", "--data", data), "group 'nolab' does not exist"
    )
    assert snapshot(data) == before


# -- users --------------------------------------------------------------------------------


def test_user_add_and_list(data: Path) -> None:
    assert run("group", "add", "lab2", "--data", data).exit_code == 0
    result = run(
        "user",
        "add",
        "carol",
        "--first",
        "Carol",
        "--last",
        "Cat",
        "--group",
        "lab2",
        "--group",
        "lab",
        "--password",
        "cpw",
        "--admin",
        "--email",
        "c@example.org",
        "--data",
        data,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Added user carol (id=")
    assert result.stdout.endswith(") in groups lab2 (default), lab, administrator\n")
    listing = run("user", "list", "--data", data)
    assert listing.exit_code == 0
    rows = table_rows(listing.stdout)
    assert rows["alice"][2:] == ["Alice", "Liddell", "-", "lab,", "user"]
    assert rows["carol"][2:] == [
        "Carol",
        "Cat",
        "c@example.org",
        "lab2,",
        "lab,",
        "system,",
        "user",
        "yes",
    ]
    assert rows["root"][-1] == "yes"
    instance = load_instance(data)
    try:
        ctx = accounts.login(instance, username="carol", password="cpw")
        assert ctx.actor.is_admin
        assert accounts.event_context(ctx).group_name == "lab2"
    finally:
        instance.close()


def test_user_add_prompts_for_the_password(data: Path) -> None:
    result = run(
        "user",
        "add",
        "dan",
        "--first",
        "D",
        "--last",
        "D",
        "--group",
        "lab",
        "--data",
        data,
        input="dpw\ndpw\n",
    )
    assert result.exit_code == 0, result.output
    assert can_login(data, "dan", "dpw")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["alice", "--group", "lab", "--password", "x"], "user 'alice' already exists"),
        (["bob", "--group", "nolab", "--password", "x"], "group 'nolab' does not exist"),
        (
            ["bob", "--group", "lab", "--group", "nolab", "--password", "x"],
            "group 'nolab' does not exist",
        ),
        (["bob", "--group", "lab", "--password", ""], "the password must not be empty"),
    ],
    ids=["duplicate-user", "unknown-group", "unknown-second-group", "empty-password"],
)
def test_user_add_errors(data: Path, args: list[str], message: str) -> None:
    before = snapshot(data)
    assert_error(run("user", "add", *args, "--first", "F", "--last", "L", "--data", data), message)
    assert snapshot(data) == before
    assert can_login(data, "alice", "alicepw")


def test_user_password(data: Path) -> None:
    result = run("user", "password", "alice", "--password", "new", "--data", data)
    assert result.exit_code == 0
    assert result.stdout == "Password changed for alice\n"
    assert can_login(data, "alice", "new") and not can_login(data, "alice", "alicepw")
    result = run("user", "password", "alice", "--data", data, input="newer\nnewer\n")
    assert result.exit_code == 0, result.output
    assert "newer" not in result.stdout  # no echo
    assert can_login(data, "alice", "newer")


def test_user_password_errors(data: Path) -> None:
    assert_error(
        run("user", "password", "alice", "--password", "", "--data", data),
        "the password must not be empty",
    )
    result = run("user", "password", "alice", "--data", data, input="\n\n")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == ["error: the password must not be empty"]
    assert_error(
        run("user", "password", "nobody", "--password", "x", "--data", data),
        "user 'nobody' does not exist",
    )
    assert can_login(data, "alice", "alicepw")


# -- the instance directory ---------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["group", "add", "lab", "--type", "private"],
        ["group", "list"],
        ["group", "adduser", "lab", "alice"],
        ["user", "add", "bob", "--first", "B", "--last", "B", "--group", "lab", "--password", "x"],
        ["user", "list"],
        ["user", "password", "alice", "--password", "x"],
    ],
)
def test_missing_or_wrong_instance(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "missing"
    assert_error(
        run(*args, "--data", missing),
        f"{missing} does not exist; run `pyomero init {missing}` first",
    )
    assert not missing.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_error(
        run(*args, "--data", empty),
        f"{empty} is not a pyomero instance (no pyomero.toml); run `pyomero init {empty}` first",
    )
    assert list(empty.iterdir()) == []
    assert_error(run(*args), "no instance directory: pass --data DIR or set PYOMERO_DATA_DIR")


def test_data_dir_from_the_environment(data: Path) -> None:
    result = run("group", "list", env={**SERVE_ENV, "PYOMERO_DATA_DIR": str(data)})
    assert result.exit_code == 0
    assert "lab" in result.stdout


# -- serve and demo -----------------------------------------------------------------------


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple, dict, dict]]:
    """uvicorn.run replaced by a recorder of its arguments and of the PYOMERO_* environment."""
    import uvicorn

    calls: list[tuple[tuple, dict, dict]] = []

    def record(*args: Any, **kwargs: Any) -> None:
        calls.append((args, kwargs, {k: os.environ.get(k) for k in SERVE_ENV}))

    monkeypatch.setattr(uvicorn, "run", record)
    return calls


def test_serve(data: Path, uvicorn_calls: list) -> None:
    result = run("serve", data, "--port", "4999", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"pyomero serving {data} on http://127.0.0.1:4999/\n"
    assert uvicorn_calls == [
        (
            ("pyomero.web.app:app_factory",),
            {
                "factory": True,
                "host": "127.0.0.1",
                "port": 4999,
                "workers": 2,
                "log_level": "warning",
                "access_log": False,
            },
            {
                "PYOMERO_DATA_DIR": str(data),
                "PYOMERO_HOST": None,
                "PYOMERO_PORT": "4999",
                "PYOMERO_WORKERS": "2",
            },
        )
    ]
    assert os.environ.get("PYOMERO_DATA_DIR") != str(data)


def test_serve_uses_the_instance_settings(data: Path, uvicorn_calls: list) -> None:
    toml = data / "pyomero.toml"
    toml.write_text(toml.read_text() + 'port = 4321\nhost = "0.0.0.0"\n')
    result = run("serve", data, "--host", "127.0.0.2")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"pyomero serving {data} on http://127.0.0.2:4321/\n"
    args, kwargs, env = uvicorn_calls[0]
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("127.0.0.2", 4321, 1)
    assert env["PYOMERO_HOST"] == "127.0.0.2" and env["PYOMERO_PORT"] is None


def test_serve_fails_fast(tmp_path: Path, uvicorn_calls: list) -> None:
    missing = tmp_path / "missing"
    assert_error(
        run("serve", missing), f"{missing} does not exist; run `pyomero init {missing}` first"
    )
    assert uvicorn_calls == []


def test_demo_seeds_and_prints_the_logins(tmp_path: Path, uvicorn_calls: list) -> None:
    directory = tmp_path / "demo"
    result = run("demo", "--dir", directory, "--port", "4555", "--no-serve")
    assert result.exit_code == 0, result.output
    assert uvicorn_calls == []
    lines = result.stdout.splitlines()
    assert lines[0] == f"pyomero demo instance in {directory}"
    assert "Project:1 with Dataset:1 and Dataset:2, orphan Dataset:3, 6 images" in lines[1]
    assert "Screen:1 with Plate:1 (6 wells, 12 images), Roi:1 with 5 shapes on Image:1" in lines[2]
    assert lines[3:] == [
        "Log in at http://127.0.0.1:4555/ as",
        "  root / omero  (administrator)",
        "  alice / omero  (owner of group demo)",
        "  bob / omero  (member of group demo)",
    ]
    assert can_login(directory, "alice", "omero") and can_login(directory, "root", "omero")
    assert "demo" in run("group", "list", "--data", directory).stdout


def test_demo_serves_a_temporary_instance_and_removes_it(uvicorn_calls: list) -> None:
    result = run("demo", "--port", "4556")
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    directory = Path(first.removeprefix("pyomero demo instance in "))
    assert (
        result.stdout.splitlines()[-1] == f"pyomero serving {directory} on http://127.0.0.1:4556/"
    )
    assert len(uvicorn_calls) == 1 and uvicorn_calls[0][1]["port"] == 4556
    assert not directory.exists()


def test_version_and_help() -> None:
    assert run("--version").stdout.startswith("pyomero, version ")
    result = run("--help")
    assert result.exit_code == 0
    for command in ("init", "serve", "demo", "group", "user"):
        assert command in result.stdout


# -- a real process -----------------------------------------------------------------------


def test_real_command(tmp_path: Path) -> None:
    command = shutil.which("pyomero")
    if command is None:
        pytest.skip("the pyomero script is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYOMERO_")}

    def call(*args: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [command, *map(str, args)], capture_output=True, text=True, env=env, timeout=60
        )

    directory = tmp_path / "inst"
    assert call("init", directory, "--root-password", "pw").returncode == 0
    first = call("group", "add", "lab", "--type", "read-write", "--data", directory)
    assert first.returncode == 0
    assert first.stdout == "Added group lab (id=3) with permissions rwrw-- (read-write)\n"
    again = call("group", "add", "lab", "--type", "read-write", "--data", directory)
    assert again.returncode == 1
    assert again.stderr == "error: group 'lab' already exists\n"
    assert again.stdout == ""
    bad = call("group", "add", "x", "--type", "nope", "--data", directory)
    assert (bad.returncode, bad.stderr.count("\n")) == (1, 1)
