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
