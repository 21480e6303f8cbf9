"""Fixtures shared by the test suite.

``backend`` runs a test once on SQLite and once on PostgreSQL (when the server on
127.0.0.1:5432 answers; CI makes sure it does).
"""

from __future__ import annotations

import os
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


@pytest.fixture
def instance(database_url: str | None, tmp_path: Path):
    """A fresh instance (root's password is ROOT_PASSWORD) on each backend."""
    from pyomero.services.instance import init_instance

    inst = init_instance(
        tmp_path / "instance", root_password=ROOT_PASSWORD, database_url=database_url
    )
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
