"""The Alembic migrations build exactly the schema of ``store/schema.py``, on both backends."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from pyomero.store.db import Database
from pyomero.store.migrate import current_revision, head_revision, upgrade
from pyomero.store.schema import include_name, metadata
from pyomero.testing.databases import sqlite_url


def _database(database_url: str | None, tmp_path: Path) -> Database:
    return Database(database_url or sqlite_url(tmp_path))


def test_migrations_reach_head_and_match_the_schema(database_url, tmp_path):
    db = _database(database_url, tmp_path)
    try:
        assert current_revision(db) is None
        upgrade(db)
        assert current_revision(db) == head_revision(db)
        with db.engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"include_name": include_name}), metadata
            )
        assert diff == []
        tables = set(inspect(db.engine).get_table_names())
        assert set(metadata.tables) <= tables
    finally:
        db.dispose()


def test_name_order_indexes_exist(database_url, tmp_path):
    """The expression indexes for OMERO's ``lower(name), id`` order, which autogenerate skips."""
    db = _database(database_url, tmp_path)
    try:
        upgrade(db)
        # Inspectors skip expression indexes, so ask each catalogue directly.
        query = (
            "SELECT name FROM sqlite_master WHERE type = 'index'"
            if db.dialect == "sqlite"
            else "SELECT indexname FROM pg_indexes"
        )
        with db.engine.connect() as conn:
            names = set(conn.execute(text(query)).scalars())
        for table in ("project", "dataset", "image", "screen", "plate"):
            assert f"ix_{table}_lower_name" in names
    finally:
        db.dispose()


def test_upgrade_twice_is_a_no_op(database_url, tmp_path):
    db = _database(database_url, tmp_path)
    try:
        upgrade(db)
        upgrade(db)
        assert current_revision(db) == head_revision(db)
    finally:
        db.dispose()
