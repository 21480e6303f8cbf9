"""Resumable uploads and imports over HTTP: the service, the ``/pyomero/imports/`` routes and
the Python client, in process.

Tests that end in a real import (``finish_upload``) need the import service and the
synthetic image writers of ``pyomero.testing.images``.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from apidata import (
    CSRF_MISSING,
    NOT_LOGGED_IN,
    PASSWORD,
    check_json,
    create,
    fast_passwords,  # noqa: F401 - autouse fixture
    make_lab,
    new_user,
    sqlite_only,
)
from pyomero.client import Importer, ServerUnreachable, collect_files, import_paths, server_url
from pyomero.errors import InvalidInput, LoginFailed, NotFound
from pyomero.model.permissions import GroupLevel
from pyomero.services import accounts, uploads
from pyomero.services.imports import ImportTarget
from pyomero.testing.images import write_garbage, write_png

IMPORTS = "/pyomero/imports"


def uploads_dir(instance: Any) -> Path:
    return Path(instance.settings.data_dir) / uploads.UPLOADS


def start(api: Any, files: list[dict[str, Any]], status: int = 201) -> Any:
    return check_json(api.post(f"{IMPORTS}/", json={"files": files}), status)


def put(api: Any, token: str, index: int, offset: int, data: bytes) -> Any:
    return api.put(f"{IMPORTS}/{token}/files/{index}/", params={"offset": offset}, content=data)


@pytest.fixture
def ctx(instance: Any) -> Any:
    """A logged-in service context for a member of group ``lab``."""
    accounts.add_group(instance, name="lab", level=GroupLevel.READ_ANNOTATE)
    new_user(instance, "alice", ["lab"])
    return accounts.login(instance, username="alice", password=PASSWORD)


# ---------------------------------------------------------------------------- service


@sqlite_only
def test_service_chunks_resume_and_cancel(ctx):
    """Chunks append at the server's count only; a wrong offset says where to resume."""
    status = uploads.start_upload(ctx, [("a/one.bin", 10), ("two.bin", 0)])
    token = status.token
    assert [(f.path, f.size, f.received) for f in status.files] == [
        ("a/one.bin", 10, 0),
        ("two.bin", 0, 0),
    ]
    assert uploads.write_chunk(ctx, token, 0, offset=0, data=b"0123") == 4
    with pytest.raises(uploads.UploadBusy) as wrong:
        uploads.write_chunk(ctx, token, 0, offset=2, data=b"xx")
    assert wrong.value.received == 4
    assert uploads.write_chunk(ctx, token, 0, offset=4, data=iter([b"45", b"", b"6789"])) == 10
    assert uploads.upload_status(ctx, token).complete
    root = uploads_dir(ctx.instance) / token
    assert (root / "files" / "a" / "one.bin").read_bytes() == b"0123456789"
    uploads.cancel_upload(ctx, token)
    assert not root.exists()
    with pytest.raises(NotFound):
        uploads.upload_status(ctx, token)


@sqlite_only
def test_service_never_grows_beyond_the_declared_size(ctx):
    token = uploads.start_upload(ctx, [("f.bin", 5)]).token
    with pytest.raises(InvalidInput, match="beyond the declared size"):
        uploads.write_chunk(ctx, token, 0, offset=0, data=iter([b"abc", b"def"]))
    assert uploads.upload_status(ctx, token).files[0].received == 0  # the chunk was cut off
    with pytest.raises(InvalidInput, match="beyond the declared size"):
        uploads.write_chunk(ctx, token, 0, offset=0, data=b"x", length=6)
    with pytest.raises(NotFound):
        uploads.write_chunk(ctx, token, 1, offset=0, data=b"x")


@sqlite_only
def test_service_tokens_cannot_name_paths(ctx):
    for token in ("..", "../../etc", "a/b", "x" * 5, ""):
        with pytest.raises(NotFound):
            uploads.upload_status(ctx, token)


@sqlite_only
def test_sweep_removes_only_abandoned_sessions(ctx):
    old = uploads.start_upload(ctx, [("old.bin", 3)]).token
    fresh = uploads.start_upload(ctx, [("fresh.bin", 3)]).token
    root = uploads_dir(ctx.instance)
    half_made = root / "half-made-session-xyz"
    half_made.mkdir()
    two_days_ago = time.time() - 2 * 86400
    os.utime(root / old / uploads.MANIFEST, (two_days_ago, two_days_ago))
    os.utime(half_made, (two_days_ago, two_days_ago))
    assert uploads.sweep_uploads(ctx.instance, timedelta(days=1)) == 2
    assert sorted(p.name for p in root.iterdir()) == [fresh]
    # writing a chunk keeps a slow upload alive
    os.utime(root / fresh / uploads.MANIFEST, (two_days_ago, two_days_ago))
    uploads.write_chunk(ctx, fresh, 0, offset=0, data=b"a")
    assert uploads.sweep_uploads(ctx.instance) == 0


# ---------------------------------------------------------------------------- HTTP


@sqlite_only
def test_http_upload_status_resume(instance, make_client):
    api = make_lab(instance, make_client).api
    started = start(api, [{"path": "dir/a.bin", "size": 6}, {"path": "b.bin", "size": 2}])
    token = started["token"]
    assert started["files"] == [
        {"path": "dir/a.bin", "size": 6, "received": 0},
        {"path": "b.bin", "size": 2, "received": 0},
    ]
    assert check_json(put(api, token, 0, 0, b"abc"), 200) == {"received": 3}
    conflict = check_json(put(api, token, 0, 1, b"xyz"), 409)
    assert conflict["received"] == 3 and "resume from 3" in conflict["message"]
    status = check_json(api.get(f"{IMPORTS}/{token}/"), 200)
    assert [f["received"] for f in status["files"]] == [3, 0]
    assert check_json(put(api, token, 0, 3, b"def"), 200) == {"received": 6}
    assert check_json(put(api, token, 1, 0, b"gh"), 200) == {"received": 2}
    too_long = check_json(put(api, token, 1, 2, b"i"), 400)
    assert "beyond the declared size" in too_long["message"]
    assert (
        check_json(put(api, token, 5, 0, b"i"), 404)["message"] == f"Upload {token} has no file 5"
    )
    check_json(api.put(f"{IMPORTS}/{token}/files/0/", content=b"x"), 400)  # offset missing
    check_json(put(api, token, 0, -1, b"x"), 400)
    data = uploads_dir(instance) / token / "files"
    assert (data / "dir" / "a.bin").read_bytes() == b"abcdef"
    assert check_json(api.delete(f"{IMPORTS}/{token}/"), 200) == {"token": token, "cancelled": True}
    assert not (uploads_dir(instance) / token).exists()
    check_json(api.get(f"{IMPORTS}/{token}/"), 404)


BAD_MANIFESTS = [
    ({"files": [{"path": "/etc/passwd", "size": 1}]}, "is absolute"),
    ({"files": [{"path": "../x", "size": 1}]}, "contains '..'"),
    ({"files": [{"path": "a/../../x", "size": 1}]}, "contains '..'"),
    ({"files": [{"path": "a/./b", "size": 1}]}, "not normalised"),
    ({"files": [{"path": "a//b", "size": 1}]}, "not normalised"),
    ({"files": [{"path": "a/", "size": 1}]}, "not normalised"),
    ({"files": [{"path": "a\\b", "size": 1}]}, "separator"),
    ({"files": [{"path": "a\u0000b", "size": 1}]}, "NUL"),
    ({"files": [{"path": "", "size": 1}]}, "empty"),
    ({"files": [{"path": "a", "size": 1}, {"path": "a", "size": 2}]}, "declared twice"),
    ({"files": [{"path": "a", "size": 1}, {"path": "a/b", "size": 2}]}, "holds other files"),
    ({"files": [{"path": "a", "size": -1}]}, "out of range"),
    ({"files": [{"path": "a", "size": True}]}, "must be an integer"),
    ({"files": [{"path": "a", "size": "1"}]}, "must be an integer"),
    ({"files": [{"path": 3, "size": 1}]}, "must be a string"),
    ({"files": [{"path": "a", "size": 1, "mode": 1}]}, "exactly the keys"),
    ({"files": []}, "at least one file"),
    ({"files": "a.tif"}, "must be a list"),
    ({"files": [], "dataset": 1}, "unknown field 'dataset'"),
    ({}, "give files"),
]


@sqlite_only
@pytest.mark.parametrize(("body", "message"), BAD_MANIFESTS)
def test_http_bad_manifests_are_400(instance, make_client, body, message):
    api = make_lab(instance, make_client).api
    answer = check_json(api.post(f"{IMPORTS}/", json=body), 400)
    assert message in answer["message"], answer
    assert not uploads_dir(instance).exists() or not any(uploads_dir(instance).iterdir())


@sqlite_only
def test_http_bad_bodies_are_400(instance, make_client):
    api = make_lab(instance, make_client).api
    check_json(
        api.post(f"{IMPORTS}/", content=b"{nope", headers={"Content-Type": "application/json"}), 400
    )
    check_json(api.post(f"{IMPORTS}/", json=[1]), 400)
    token = start(api, [{"path": "a", "size": 1}])["token"]
    finish = f"{IMPORTS}/{token}/import/"
    for body, parameter in [
        ({"dataset": "1"}, "dataset"),
        ({"dataset": True}, "dataset"),
        ({"screen": -1}, "screen"),
        ({"group": 1.5}, "group"),
        ({"dataset_name": ""}, "dataset_name"),
        ({"dataset": 1, "screen": 2}, "screen"),
        ({"dataset": 1, "dataset_name": "x"}, "dataset_name"),
        ({"project": 1}, "project"),
    ]:
        answer = check_json(api.post(finish, json=body), 400)
        assert answer["parameter"] == parameter, answer
    # none of these touched the upload
    assert check_json(api.get(f"{IMPORTS}/{token}/"), 200)["token"] == token


@sqlite_only
def test_http_other_users_uploads_are_not_found(instance, make_client):
    lab = make_lab(instance, make_client, users=2)
    owner, other = lab.apis
    token = start(owner, [{"path": "a.bin", "size": 2}])["token"]
    message = {"message": f"Upload {token} not found"}
    assert check_json(other.get(f"{IMPORTS}/{token}/"), 404)["message"] == message["message"]
    assert check_json(put(other, token, 0, 0, b"ab"), 404)["message"] == message["message"]
    assert (
        check_json(other.post(f"{IMPORTS}/{token}/import/", json={}), 404)["message"]
        == message["message"]
    )
    assert check_json(other.delete(f"{IMPORTS}/{token}/"), 404)["message"] == message["message"]
    assert check_json(owner.get(f"{IMPORTS}/{token}/"), 200)["files"][0]["received"] == 0


@sqlite_only
def test_http_csrf_and_login_are_required(instance, make_client):
    lab = make_lab(instance, make_client)
    api = lab.api
    token = start(api, [{"path": "a.bin", "size": 2}])["token"]
    bare = api.client
    for method, url, kwargs in [
        ("POST", f"{IMPORTS}/", {"json": {"files": [{"path": "b", "size": 1}]}}),
        ("PUT", f"{IMPORTS}/{token}/files/0/?offset=0", {"content": b"ab"}),
        ("POST", f"{IMPORTS}/{token}/import/", {"json": {}}),
        ("DELETE", f"{IMPORTS}/{token}/", {}),
    ]:
        response = bare.request(method, url, **kwargs)
        assert check_json(response, 403, version=False) == CSRF_MISSING
    anonymous = make_client()
    anonymous.csrf_token()
    assert check_json(anonymous.get(f"{IMPORTS}/{token}/"), 403, version=False) == NOT_LOGGED_IN
    for response in (
        anonymous.post(f"{IMPORTS}/", json={"files": [{"path": "b", "size": 1}]}),
        put(anonymous, token, 0, 0, b"ab"),
        anonymous.post(f"{IMPORTS}/{token}/import/", json={}),
    ):
        assert check_json(response, 403, version=False) == NOT_LOGGED_IN
    assert check_json(api.get(f"{IMPORTS}/{token}/"), 200)["files"][0]["received"] == 0


@sqlite_only
def test_http_incomplete_upload_is_refused_and_kept(instance, make_client):
    """Finishing before every byte arrived is a 400 naming the files; nothing is attempted
    and the upload stays, so that the client can complete it."""
    api = make_lab(instance, make_client).api
    token = start(api, [{"path": "a.bin", "size": 4}, {"path": "b.bin", "size": 1}])["token"]
    put(api, token, 0, 0, b"ab")
    answer = check_json(api.post(f"{IMPORTS}/{token}/import/", json={}), 400)
    assert answer["message"] == (
        "the upload is incomplete: a.bin (2 of 4 bytes), b.bin (0 of 1 bytes)"
    )
    assert (uploads_dir(instance) / token).is_dir()
    assert [f["received"] for f in check_json(api.get(f"{IMPORTS}/{token}/"), 200)["files"]] == [
        2,
        0,
    ]


# ---------------------------------------------------------------------------- end to end
# These import for real: they need pyomero.services.imports.import_files.


def _upload_file(api: Any, path: Path, name: str | None = None) -> str:
    data = path.read_bytes()
    token = start(api, [{"path": name or path.name, "size": len(data)}])["token"]
    middle = len(data) // 2
    check_json(put(api, token, 0, 0, data[:middle]), 200)
    check_json(put(api, token, 0, middle, data[middle:]), 200)
    return token


@sqlite_only
def test_http_upload_imports_an_image_into_a_dataset(instance, make_client, tmp_path):
    lab = make_lab(instance, make_client)
    api = lab.api
    dataset = create(api, "Dataset", "uploads", lab.gid)["@id"]
    png = write_png(tmp_path / "cells.png", size_x=40, size_y=30)
    token = _upload_file(api, png)
    answer = check_json(api.post(f"{IMPORTS}/{token}/import/", json={"dataset": dataset}), 200)
    assert len(answer["created"]) == 1 and answer["created"][0].startswith("Image:")
    image_id = int(answer["created"][0].split(":")[1])
    image = check_json(api.get(f"/api/v0/m/images/{image_id}/"), 200)["data"]
    assert image["Name"] == "cells.png"
    assert image["Pixels"]["SizeX"] == 40 and image["Pixels"]["SizeY"] == 30
    listed = check_json(api.get(f"/api/v0/m/datasets/{dataset}/images/"), 200)["data"]
    assert [i["@id"] for i in listed] == [image_id]
    assert not (uploads_dir(instance) / token).exists()
    check_json(api.get(f"{IMPORTS}/{token}/"), 404)


@sqlite_only
def test_http_failed_import_leaves_no_upload(instance, make_client, tmp_path):
    """A file that is no image: a 400 naming it, and the upload is gone all the same."""
    api = make_lab(instance, make_client).api
    garbage = write_garbage(tmp_path / "noise.tif")
    token = _upload_file(api, garbage)
    answer = check_json(api.post(f"{IMPORTS}/{token}/import/", json={}), 400)
    assert "noise.tif" in answer["message"], answer
    assert not (uploads_dir(instance) / token).exists()
    assert check_json(api.get("/api/v0/m/images/"), 200)["data"] == []


@sqlite_only
def test_service_finish_into_missing_dataset(ctx, tmp_path):
    png = write_png(tmp_path / "x.png", size_x=8, size_y=8)
    token = uploads.start_upload(ctx, [("x.png", png.stat().st_size)]).token
    uploads.write_chunk(ctx, token, 0, offset=0, data=png.read_bytes())
    with pytest.raises(NotFound):
        uploads.finish_upload(ctx, token, target=ImportTarget(dataset_id=999999))
    assert not (uploads_dir(ctx.instance) / token).exists()


@sqlite_only
def test_http_in_place_import(instance, make_client, tmp_path):
    api = make_lab(instance, make_client).api
    root = tmp_path / "root"
    root.mkdir()
    inside = write_png(root / "in.png", size_x=10, size_y=10)
    outside = write_png(tmp_path / "out.png", size_x=10, size_y=10)
    body = {"paths": [str(inside)], "transfer": "ln_s"}
    assert check_json(api.post(f"{IMPORTS}/", json=body), 403)  # no import root configured
    instance.settings = instance.settings.with_values(import_roots=str(root))
    check_json(api.post(f"{IMPORTS}/", json={**body, "transfer": "copy"}), 400)
    check_json(api.post(f"{IMPORTS}/", json={**body, "paths": ["relative.png"]}), 400)
    check_json(api.post(f"{IMPORTS}/", json={**body, "paths": [str(outside)]}), 403)
    escape = str(root / ".." / "out.png")
    check_json(api.post(f"{IMPORTS}/", json={**body, "paths": [escape]}), 403)
    created = check_json(api.post(f"{IMPORTS}/", json=body), 200)["created"]
    assert len(created) == 1 and created[0].startswith("Image:")
    assert inside.exists()  # registered in place, not moved


# ---------------------------------------------------------------------------- the client


def test_server_url_forms():
    assert server_url("http://127.0.0.1:4080") == "http://127.0.0.1:4080"
    assert server_url("127.0.0.1:4081") == "http://127.0.0.1:4081"
    assert server_url("localhost") == "http://localhost:4080"
    assert server_url("https://omero.example.org/") == "https://omero.example.org"
    assert server_url("[::1]:5000") == "http://[::1]:5000"
    for bad in ("", "ftp://x", "http://", "host:port"):
        with pytest.raises(InvalidInput):
            server_url(bad)


def test_collect_files(tmp_path):
    (tmp_path / "one.tif").write_bytes(b"1")
    tree = tmp_path / "exp"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "a.tif").write_bytes(b"22")
    (tree / ".DS_Store").write_bytes(b"x")
    zarr = tree / "img.zarr"
    (zarr / "0").mkdir(parents=True)
    (zarr / ".zattrs").write_text("{}")
    (zarr / "0" / ".zarray").write_text("{}")
    entries = collect_files([tmp_path / "one.tif", tree])
    assert [(e.path, e.size) for e in entries] == [
        ("one.tif", 1),
        ("exp/img.zarr/.zattrs", 2),
        ("exp/img.zarr/0/.zarray", 2),
        ("exp/sub/a.tif", 2),
    ]
    other = tmp_path / "other"
    other.mkdir()
    (other / "one.tif").write_bytes(b"3")
    clash = collect_files([tmp_path / "one.tif", other / "one.tif"])
    assert [e.path for e in clash] == ["1/one.tif", "2/one.tif"]
    with pytest.raises(InvalidInput, match="no such file"):
        collect_files([tmp_path / "missing.tif"])


@sqlite_only
def test_client_sends_in_chunks_and_resumes(instance, make_client, tmp_path):
    """Small chunks; one PUT whose answer is lost after the server kept the bytes. The client
    asks for the status and goes on from there."""
    lab = make_lab(instance, make_client)
    http = make_client().client
    payload = tmp_path / "payload.bin"
    payload.write_bytes(bytes(range(256)) * 4)
    importer = Importer("http://testserver", client=http, chunk_size=100, retry_wait=0)
    importer.login("user1", PASSWORD)
    original = importer._request
    dropped = []

    def flaky(method: str, path: str, **kwargs: Any) -> Any:
        response = original(method, path, **kwargs)
        if method == "PUT" and kwargs["params"]["offset"] == 300 and not dropped:
            dropped.append(path)
            raise ServerUnreachable("connection reset")
        return response

    importer._request = flaky  # type: ignore[method-assign]
    seen: list[tuple[int, int]] = []
    token = importer.upload(collect_files([payload]), progress=lambda a, b: seen.append((a, b)))
    assert dropped
    stored = uploads_dir(instance) / token / "files" / "payload.bin"
    assert stored.read_bytes() == payload.read_bytes()
    assert seen[-1] == (1024, 1024) and all(b == 1024 for _, b in seen)
    assert [a for a, _ in seen] == sorted(a for a, _ in seen)
    assert lab.uid


@sqlite_only
def test_client_imports_with_group_and_dataset_name(instance, make_client, tmp_path):
    lab = make_lab(instance, make_client)
    http = make_client().client
    png = write_png(tmp_path / "p.png", size_x=16, size_y=16)
    created = import_paths(
        "http://testserver",
        [png],
        username="user1",
        password=PASSWORD,
        group="lab",
        dataset_name="From the client",
        client=http,
    )
    assert len(created) == 1 and created[0].startswith("Image:")
    api = lab.api
    datasets = check_json(api.get("/api/v0/m/datasets/"), 200)["data"]
    assert [d["Name"] for d in datasets] == ["From the client"]
    images = check_json(api.get(f"/api/v0/m/datasets/{datasets[0]['@id']}/images/"), 200)["data"]
    assert [f"Image:{i['@id']}" for i in images] == created


@sqlite_only
def test_client_errors(instance, make_client, tmp_path):
    make_lab(instance, make_client)
    http = make_client().client
    png = write_png(tmp_path / "p.png", size_x=8, size_y=8)
    common: dict[str, Any] = {"username": "user1", "password": PASSWORD, "client": http}
    with pytest.raises(NotFound, match="Dataset 4242 not found"):
        import_paths("http://testserver", [png], dataset=4242, **common)
    with pytest.raises(NotFound, match="Group nope not found"):
        import_paths("http://testserver", [png], group="nope", **common)
    with pytest.raises(LoginFailed):
        import_paths("http://testserver", [png], username="user1", password="bad", client=http)
    assert not uploads_dir(instance).exists() or not any(uploads_dir(instance).iterdir())


def test_client_surface_is_pinned():
    import pyomero.client

    assert pyomero.client.__all__ == [
        "Importer",
        "ServerUnreachable",
        "UploadEntry",
        "collect_files",
        "import_paths",
        "server_url",
    ]


@sqlite_only
def test_a_file_that_vanishes_mid_upload_leaves_nothing(instance, make_client, tmp_path):
    """The second file disappears while the first is sent: the client stops with a clear
    message and cancels, and the server keeps no upload, file or image."""
    make_lab(instance, make_client)
    http = make_client().client
    first, second = tmp_path / "first.bin", tmp_path / "second.bin"
    first.write_bytes(os.urandom(1000))
    second.write_bytes(os.urandom(1000))
    importer = Importer("http://testserver", client=http, chunk_size=300, retry_wait=0)
    importer.login("user1", PASSWORD)

    def vanish(done: int, total: int) -> None:
        if done >= 300:
            second.unlink(missing_ok=True)

    with pytest.raises(InvalidInput, match="second.bin cannot be read any more"):
        importer.upload(collect_files([first, second]), progress=vanish)
    assert not any(uploads_dir(instance).iterdir())
    with instance.db.read() as conn:
        from sqlalchemy import func, select

        from pyomero.store import schema

        assert conn.scalar(select(func.count()).select_from(schema.image)) == 0
