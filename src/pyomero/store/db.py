"""Engines and transactions for SQLite (embedded) and PostgreSQL (scale-out).

SQLite runs in WAL mode with foreign keys on; a write transaction starts with
``BEGIN IMMEDIATE`` so that writers queue on the database lock instead of failing halfway.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, create_engine, event
from sqlalchemy.pool import NullPool

_WRITE = "pyomero_write"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` (as users write it) and pick the psycopg 3 driver."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, pool_size: int = 8) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, pool_size=pool_size, max_overflow=16, pool_pre_ping=False)
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql"):
        # No pre-ping: it costs a round trip (~1 ms) per request; a connection the server
        # dropped fails one request and is then replaced, and old ones are recycled.
        return create_engine(url, pool_size=pool_size, max_overflow=16, pool_recycle=1800)
    return create_engine(url, poolclass=NullPool)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of pysqlite's hands so that we choose DEFERRED or IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row one INSERT made."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the statement inserted no row")
    return int(key[0])


class Database:
    """The metadata database: an engine plus read and write transactions."""

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, pool_size=pool_size)
        self._reading = threading.local()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction; nested ``read()`` calls in the same thread share the outer one.

        So a request that authenticates and then lists reads one snapshot on one connection,
        paying for one pool checkout and one BEGIN.
        """
        shared: Connection | None = getattr(self._reading, "conn", None)
        if shared is not None:
            yield shared
            return
        with self.engine.connect() as conn, conn.begin():
            self._reading.conn = conn
            try:
                yield conn
            finally:
                self._reading.conn = None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on any exception."""
        with self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    def refresh_statistics(self) -> None:
        """Give SQLite's planner current statistics (PostgreSQL's autovacuum does its own).

        Without them SQLite walks the name index of a million images to fill a page of one
        dataset (150 ms instead of 1.5 ms). A sampled ANALYZE costs a few milliseconds.
        """
        if self.dialect != "sqlite":
            return
        with self.write() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")

    def dispose(self) -> None:
        self.engine.dispose()
