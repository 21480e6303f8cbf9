"""Imported images with known pixels, built once per test module and per backend, for the
``tests/test_webgateway*.py`` suites.

Every image is written by ``pyomero.testing.images`` (so any plane can be recomputed with
``expected_plane``) and imported through ``services.imports.import_files`` by a logged-in
user, as ``pyomero import`` does. Users and groups:

* ``alice`` (member of read-annotate ``lab`` and of private ``vault``) imports everything;
* ``bob`` (member of ``lab`` only) reads alice's ``lab`` images but not ``PRIVATE`` in ``vault``.

The fixture ``pixeldata`` (import :func:`pixeldata_fixture` into a test module) is module
scoped and parametrised over SQLite and PostgreSQL (PostgreSQL skipped when unreachable,
and left out under ``PYOMERO_API_SQLITE_ONLY``).
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from argon2 import PasswordHasher

from pyomero.model.permissions import GroupLevel
from pyomero.services import accounts, passwords
from pyomero.services.imports import ImportTarget, import_files
from pyomero.services.instance import Instance, init_instance
from pyomero.store import bulk
from pyomero.testing.databases import postgres_available, postgres_database
from pyomero.testing.images import (
    dump_json,
    write_ome_tiff,
    write_ome_zarr,
    write_ome_zarr_plate,
)

PASSWORD = "user-password"
ROOT_PASSWORD = "root-password"
G = "/webgateway"

#: IDR-like image (spec section 8 fixture ``IMG``).
IMG_SIZE = (696, 520)
BIG_SIZE = (3000, 2000)
#: The plate: 3 x 5 wells declared, only these (row, column) hold images (2 fields each).
PLATE_ROWS, PLATE_COLUMNS, PLATE_FIELDS = 3, 5, 2
PLATE_WELLS = [(1, 1), (1, 3), (2, 4)]
PLATE_IMAGE = 32

BACKENDS = ["sqlite"] if os.environ.get("PYOMERO_API_SQLITE_ONLY") else ["sqlite", "postgresql"]


@dataclass
class PixelData:
    """The instance, its directory, the ids of every fixture object and logged-in clients."""

    instance: Instance
    directory: Path
    ids: dict[str, int] = field(default_factory=dict)
    clients: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> int:
        ids = self.__dict__.get("ids", {})
        if name.isupper() and name in ids:
            return ids[name]
        raise AttributeError(name)

    @property
    def alice(self) -> Any:
        return self.clients["alice"]

    @property
    def bob(self) -> Any:
        return self.clients["bob"]

    @property
    def anonymous(self) -> Any:
        return self.clients["anonymous"]


# ---------------------------------------------------------------------------- decoding


def decode(body: bytes) -> np.ndarray:
    """A JPEG (checked by its magic bytes) as an (H, W, 3) int array."""
    from PIL import Image

    assert body[:3] == b"\xff\xd8\xff", body[:40]
    with Image.open(io.BytesIO(body)) as picture:
        return np.asarray(picture.convert("RGB")).astype(np.int64)


def jpeg(response: Any) -> np.ndarray:
    assert response.status_code == 200, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == "image/jpeg", response.headers
    return decode(response.content)


def data_uri_image(value: str) -> np.ndarray:
    prefix = "data:image/jpeg;base64,"
    assert value.startswith(prefix), value[:60]
    return decode(base64.b64decode(value[len(prefix) :]))


def size_of(rgb: np.ndarray) -> tuple[int, int]:
    """(width, height) of a decoded image."""
    return rgb.shape[1], rgb.shape[0]


# ---------------------------------------------------------------------------- building


def _import(ctx: accounts.Context, path: Path, **target: Any) -> list[int]:
    return [c.id for c in import_files(ctx, [path], target=ImportTarget(**target))]


def _plate_file(directory: Path) -> Path:
    """An OME-Zarr plate of 3 x 5 wells declared, of which only ``PLATE_WELLS`` exist."""
    path = write_ome_zarr_plate(
        directory / "plate.ome.zarr",
        rows=PLATE_ROWS,
        columns=PLATE_COLUMNS,
        fields=PLATE_FIELDS,
        size_x=PLATE_IMAGE,
        size_y=PLATE_IMAGE,
        name="plate",
    )
    attrs_file = path / ".zattrs"
    attrs = json.loads(attrs_file.read_text())
    attrs["plate"]["wells"] = [
        w for w in attrs["plate"]["wells"] if (w["rowIndex"], w["columnIndex"]) in PLATE_WELLS
    ]
    dump_json(attrs_file, attrs)
    return path


def build(directory: Path, instance: Instance) -> PixelData:
    """Users, groups and every fixture image of the module (imports take most of the time)."""
    data = PixelData(instance, directory)
    lab = accounts.add_group(instance, name="lab", level=GroupLevel.READ_ANNOTATE)
    vault = accounts.add_group(instance, name="vault", level=GroupLevel.PRIVATE)
    alice = accounts.add_user(
        instance, username="alice", first_name="Alice", last_name="Imager",
        groups=["lab", "vault"], password=PASSWORD,
    )  # fmt: skip
    bob = accounts.add_user(
        instance, username="bob", first_name="Bob", last_name="Viewer",
        groups=["lab"], password=PASSWORD,
    )  # fmt: skip
    data.ids.update(LAB=lab.id, VAULT=vault.id, ALICE=alice.id, BOB=bob.id)
    ctx = accounts.login(instance, username="alice", password=PASSWORD)
    files = directory / "files"
    files.mkdir()
    w, h = IMG_SIZE

    with instance.db.write() as conn:
        (project,) = bulk.insert_projects(
            conn, owner_id=alice.id, group_id=lab.id, projects=[{"name": "proj"}]
        )
        (dataset,) = bulk.insert_datasets(
            conn, owner_id=alice.id, group_id=lab.id, datasets=[{"name": "ds"}]
        )
        bulk.link_project_datasets(
            conn, owner_id=alice.id, group_id=lab.id, links=[(project, dataset)]
        )
        (screen,) = bulk.insert_screens(
            conn, owner_id=alice.id, group_id=lab.id, screens=[{"name": "screen"}]
        )
    data.ids.update(PROJECT=project, DATASET=dataset, SCREEN=screen)

    img = write_ome_zarr(files / "img.ome.zarr", size_x=w, size_y=h, size_c=3)
    (data.ids["IMG"],) = _import(ctx, img, dataset_id=dataset, group_id=lab.id)
    img_tiff = write_ome_tiff(files / "img.ome.tif", size_x=w, size_y=h, size_c=3, name="imgtiff")
    (data.ids["IMGTIFF"],) = _import(ctx, img_tiff, group_id=lab.id)
    img1 = write_ome_zarr(files / "img1.ome.zarr", size_x=64, size_y=48, size_c=1)
    (data.ids["IMG1"],) = _import(ctx, img1, group_id=lab.id)
    imgz = write_ome_zarr(files / "imgz.ome.zarr", size_x=64, size_y=48, size_z=7, size_c=1)
    (data.ids["IMGZ"],) = _import(ctx, imgz, group_id=lab.id)
    c5 = write_ome_zarr(files / "c5.ome.zarr", size_x=64, size_y=48, size_c=5)
    (data.ids["C5"],) = _import(ctx, c5, group_id=lab.id)
    c8 = write_ome_zarr(files / "c8.ome.zarr", size_x=16, size_y=16, size_c=8)
    (data.ids["C8"],) = _import(ctx, c8, group_id=lab.id)
    waves = write_ome_tiff(
        files / "waves.ome.tif", size_x=64, size_y=48, size_c=3, emission=[450, 520, 600]
    )
    (data.ids["WAVES"],) = _import(ctx, waves, group_id=lab.id)
    big = write_ome_zarr(
        files / "big.ome.zarr", size_x=BIG_SIZE[0], size_y=BIG_SIZE[1], dtype="uint8", chunk=512
    )
    (data.ids["BIG"],) = _import(ctx, big, group_id=lab.id)
    (data.ids["PLATE"],) = _import(ctx, _plate_file(files), screen_id=screen, group_id=lab.id)
    private = write_ome_zarr(files / "private.ome.zarr", size_x=40, size_y=30, size_c=1)
    (data.ids["PRIVATE"],) = _import(ctx, private, group_id=vault.id)
    return data


@contextmanager
def logged_in_clients(instance: Instance, names: Sequence[str]) -> Iterator[dict[str, Any]]:
    """TestClients on one app, logged in as each of ``names`` ("anonymous": not logged in)."""
    from starlette.testclient import TestClient

    from pyomero.testing.http import ApiClient
    from pyomero.web.app import create_app

    app = create_app(instance)
    clients: dict[str, Any] = {}
    with ExitStack() as stack:
        for name in names:
            client = stack.enter_context(TestClient(app))
            if name != "anonymous":
                ApiClient(client).login(name, PASSWORD)
            clients[name] = client
        yield clients


@contextmanager
def module_instance(
    backend: str, tmp_path_factory: pytest.TempPathFactory, prefix: str
) -> Iterator[Instance]:
    """An instance for a whole module on ``backend`` with cheap password hashing; skipped
    (or failed, under PYOMERO_REQUIRE_POSTGRES) when PostgreSQL is not reachable."""
    if backend == "postgresql" and not postgres_available():
        if os.environ.get("PYOMERO_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required (PYOMERO_REQUIRE_POSTGRES) but not reachable")
        pytest.skip("PostgreSQL not reachable")
    directory = tmp_path_factory.mktemp(f"{prefix}-{backend}")
    with ExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        patch.setattr(
            passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        )
        url = stack.enter_context(postgres_database()) if backend == "postgresql" else None
        instance = init_instance(
            directory / "instance", root_password=ROOT_PASSWORD, database_url=url
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(name="pixeldata", scope="module", params=BACKENDS)
def pixeldata_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PixelData]:
    """One instance per module and backend with every fixture image imported."""
    with module_instance(request.param, tmp_path_factory, "pixeldata") as instance:
        data = build(instance.settings.data_dir.parent, instance)
        with logged_in_clients(instance, ("alice", "bob", "anonymous")) as clients:
            data.clients.update(clients)
            yield data
