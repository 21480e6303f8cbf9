"""Throw-away databases for tests: a SQLite file, or a fresh PostgreSQL database.

A PostgreSQL database can be cloned from a template (``CREATE DATABASE ... TEMPLATE``), so a
suite migrates and seeds once and then gets a new instance database per test quickly.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

POSTGRES_ADMIN_URL = os.environ.get(
    "PYOMERO_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def postgres_available() -> bool:
    """Whether the test PostgreSQL server answers (psycopg installed and server reachable)."""
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def _admin_engine():
    return create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")


@contextmanager
def postgres_database(
    prefix: str = "pyomero_test", *, template: str | None = None
) -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards; yields its URL.

    With ``template`` (a database name) the new database is a copy of it, which is how the
    test suite gets a migrated, seeded instance database in a fraction of a migration's time.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    clause = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'pyomero.db'}"
