"""Database access for app-side state: one SQLAlchemy engine per app, SQLite file by default, any URL works.

Every table module in this package declares its models on `Base`; `Database.create_all()` migrates the schema to
the newest Alembic revision (`smart_app/store/migrations`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from smart_app.store.secret_files import create_private_file


class Base(DeclarativeBase):
    """Declarative base of every app-side table."""


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):
        return None  # a URI filename: the caller manages it
    return Path(parsed.database)


DEFAULT_THREADS = 16  # gunicorn_conf's default threads per worker


def default_pool_size() -> int:
    """One pooled connection per request thread of this process: gunicorn's `SMART_APP_THREADS` (default 16).

    SQLAlchemy's default pool keeps 5 connections and opens (then closes) up to 10 more under load, so a burst
    served by 16 threads kept connecting and disconnecting; a pool as large as the thread count never does.
    """
    value = os.environ.get("SMART_APP_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_THREADS


def make_engine(url: str, *, pool_size: int | None = None) -> Engine:
    """An engine for `url` whose pool holds `pool_size` connections (default: one per request thread).

    SQLite gets WAL, `synchronous=NORMAL` (in WAL mode a commit is durable against crashes of the app, and the
    database never corrupts; only a power loss may drop the last commits) and a busy timeout, so parallel
    requests do not trip over locks. A SQLite file is created mode 0600 before SQLite opens it (its -wal and -shm
    files take the same mode), so tokens and drafts are never readable by other local users.
    """
    size = pool_size or default_pool_size()
    if url.startswith("sqlite"):
        database_file = sqlite_file(url)
        if database_file is not None:
            create_private_file(database_file)
        pooled = {"pool_size": size, "max_overflow": size} if database_file is not None else {}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pooled)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=size, max_overflow=size)


class Database:
    """The engine and a session factory. `with db.session() as s:` commits on success and rolls back on error."""

    def __init__(self, url: str, *, pool_size: int | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_all(self) -> None:
        """Bring the schema to the newest migration (Alembic; see `smart_app.store.migrate`)."""
        from smart_app.store.migrate import upgrade

        upgrade(self)

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core connection in one transaction (commit on success, rollback on error), for the hot paths of a
        launch: plain INSERT/UPDATE/SELECT statements cost a fraction of the ORM's unit of work."""
        with self.engine.begin() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()
