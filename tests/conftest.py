"""Fixtures shared by the test suite.

``backend`` runs a test once on SQLite and once on PostgreSQL (when the server on
127.0.0.1:5432 answers; CI makes sure it does).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyomero.testing.databases import postgres_available, postgres_database

_PG = postgres_available()
ROOT_PASSWORD = "root-password"
BACKENDS = ["sqlite", "postgresql"]


def pytest_report_header(config: pytest.Config) -> str:
    return f"pyomero: PostgreSQL {'available' if _PG else 'NOT available (tests skipped)'}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not _PG:
        if os.environ.get("PYOMERO_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required (PYOMERO_REQUIRE_POSTGRES) but not reachable")
        pytest.skip("PostgreSQL not reachable")
    return request.param


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str | None]:
    """None for SQLite (the instance's own file), a fresh database URL for PostgreSQL."""
    if backend == "sqlite":
        yield None
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture(scope="session")
def postgres_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, seeded instance database (root / ROOT_PASSWORD) that tests clone."""
    from pyomero.services.instance import init_instance
    from pyomero.testing.databases import database_name

    with postgres_database("pyomero_template") as url:
        init_instance(
            tmp_path_factory.mktemp("template") / "instance",
            root_password=ROOT_PASSWORD,
            database_url=url,
        ).close()
        yield database_name(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded SQLite instance (root / ROOT_PASSWORD) whose database tests copy."""
    from pyomero.services.instance import init_instance

    directory = tmp_path_factory.mktemp("sqlite-template") / "instance"
    init_instance(directory, root_password=ROOT_PASSWORD).close()
    return directory


@pytest.fixture
def instance(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    """A fresh instance (root's password is ROOT_PASSWORD) on each backend.

    Its database is a copy of a template migrated once per session: the SQLite file of
    ``sqlite_template``, or on PostgreSQL a clone of ``postgres_template`` (a tenth of the
    time of a migration); the directory is made as ``pyomero init`` makes it.
    """
    from pyomero.services.instance import load_instance
    from pyomero.settings import write_config

    directory = tmp_path / "instance"
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        directory.mkdir()
        for database in template.glob("pyomero.db*"):
            shutil.copyfile(database, directory / database.name)
        for sub in ("pixels", "files"):
            (directory / sub).mkdir()
        write_config(directory, {})
        inst = load_instance(directory)
        yield inst
        inst.close()
        return
    template = request.getfixturevalue("postgres_template")
    with postgres_database(template=template) as url:
        directory.mkdir()
        for sub in ("pixels", "files"):
            (directory / sub).mkdir()
        write_config(directory, {"database_url": url})
        inst = load_instance(directory)
        yield inst
        inst.close()


@pytest.fixture
def client(instance):
    """A Starlette TestClient on the instance's app (anonymous until it logs in)."""
    from starlette.testclient import TestClient

    from pyomero.web.app import create_app

    with TestClient(create_app(instance)) as test_client:
        yield test_client


@pytest.fixture
def make_client(instance):
    """A factory of independent ApiClients (separate cookies) on the same app."""
    from starlette.testclient import TestClient

    from pyomero.testing.http import ApiClient
    from pyomero.web.app import create_app

    app = create_app(instance)
    opened = []

    def make() -> ApiClient:
        test_client = TestClient(app)
        opened.append(test_client)
        return ApiClient(test_client)

    yield make
    for test_client in opened:
        test_client.close()
