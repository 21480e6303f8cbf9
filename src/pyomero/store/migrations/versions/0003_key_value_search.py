"""key-value search indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00.000000

The B-tree on ``(lower(name), lower(value))`` of ``annotation_mapvalue`` serves exact,
``in``, range and bucket queries. Substring search gets a trigram index inside the database:
an FTS5 table (external content, synced by triggers) on SQLite, a pg_trgm GIN index on
PostgreSQL. Without the pg_trgm extension (it is in contrib, which some servers lack) the
migration carries on without that index and ``contains`` falls back to a sequential scan.
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

_SQLITE = [
    "CREATE VIRTUAL TABLE annotation_mapvalue_fts USING fts5("
    "value, content='annotation_mapvalue', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER annotation_mapvalue_fts_insert AFTER INSERT ON annotation_mapvalue BEGIN "
    "INSERT INTO annotation_mapvalue_fts(rowid, value) VALUES (new.rowid, new.value); END",
    "CREATE TRIGGER annotation_mapvalue_fts_delete AFTER DELETE ON annotation_mapvalue BEGIN "
    "INSERT INTO annotation_mapvalue_fts(annotation_mapvalue_fts, rowid, value) "
    "VALUES ('delete', old.rowid, old.value); END",
    "CREATE TRIGGER annotation_mapvalue_fts_update AFTER UPDATE ON annotation_mapvalue BEGIN "
    "INSERT INTO annotation_mapvalue_fts(annotation_mapvalue_fts, rowid, value) "
    "VALUES ('delete', old.rowid, old.value); "
    "INSERT INTO annotation_mapvalue_fts(rowid, value) VALUES (new.rowid, new.value); END",
    "INSERT INTO annotation_mapvalue_fts(annotation_mapvalue_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    op.create_index(
        "ix_annotation_mapvalue_lower_name_value",
        "annotation_mapvalue",
        [sa.text("lower(name)"), sa.text("lower(value)")],
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in _SQLITE:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        _pg_trigram(bind)


def _pg_trigram(bind: sa.Connection) -> None:
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        bind.exec_driver_sql(
            "CREATE INDEX ix_annotation_mapvalue_value_trgm ON annotation_mapvalue "
            "USING gin (lower(value) gin_trgm_ops)"
        )
    except sa.exc.DBAPIError as exc:
        savepoint.rollback()
        log.warning("pg_trgm is not available (%s): 'contains' searches will scan", exc.orig)
    else:
        savepoint.commit()


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS annotation_mapvalue_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS annotation_mapvalue_fts")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_annotation_mapvalue_value_trgm")
    op.drop_index("ix_annotation_mapvalue_lower_name_value", table_name="annotation_mapvalue")
