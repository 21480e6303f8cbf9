"""The Database wrapper: transactions, shared reads, planner statistics."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from pyomero.model.permissions import GroupLevel
from pyomero.store import accounts as store
from pyomero.store.schema import experimentergroup


def _groups(db) -> int:
    with db.read() as conn:
        return conn.scalar(select(func.count()).select_from(experimentergroup))


def test_a_failed_write_leaves_nothing(instance):
    before = _groups(instance.db)
    with pytest.raises(RuntimeError), instance.db.write() as conn:
        store.insert_group(conn, name="half-made", level=GroupLevel.PRIVATE)
        raise RuntimeError("fails after the insert")
    assert _groups(instance.db) == before


def test_nested_reads_share_one_connection(instance):
    with instance.read_scope(), instance.db.read() as outer, instance.db.read() as inner:
        assert outer is inner


def test_sqlite_gets_planner_statistics(instance):
    if instance.db.dialect != "sqlite":
        pytest.skip("PostgreSQL's autovacuum keeps its own statistics")
    with instance.db.write() as conn:
        conn.exec_driver_sql("DELETE FROM sqlite_stat1")
    instance.refresh_statistics()
    with instance.db.read() as conn:
        tables = set(conn.execute(text("SELECT tbl FROM sqlite_stat1")).scalars())
    assert {"experimenter", "groupexperimentermap"} <= tables
