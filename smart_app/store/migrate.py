"""Schema migrations with Alembic (scripts in `smart_app/store/migrations/versions`).

`upgrade(database)` brings any database to the newest revision. It is safe when several processes start at once:
on PostgreSQL the run holds a transaction-scoped advisory lock, on a SQLite file an exclusive file lock beside it.
A database made before migrations existed (every table present, no `alembic_version`) is stamped at the initial
revision first, so nothing is created twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from smart_app.store.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
INITIAL_REVISION = "0001_initial"
# The tables of the initial revision: a database holding them all without `alembic_version` predates migrations.
INITIAL_TABLES = frozenset(
    {"attestations", "audit_events", "browser_sessions", "kept_drafts", "launch_tokens", "launches"}
    | {"pending_authorizations"}
)
_ADVISORY_LOCK_KEY = int.from_bytes(hashlib.sha256(b"spine-auth migrations").digest()[:4], "big")


def alembic_config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    return config


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError("no migration scripts found")
    return head


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(database: Database, revision: str = "head") -> None:
    """Migrate the database to `revision` (default: the newest), one process at a time."""
    config = alembic_config(database)
    with _migration_lock(database), database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        config.attributes["connection"] = connection
        if _predates_migrations(connection):
            command.stamp(config, INITIAL_REVISION)
        command.upgrade(config, revision)


def _predates_migrations(connection: Connection) -> bool:
    names = set(inspect(connection).get_table_names())
    return "alembic_version" not in names and names >= INITIAL_TABLES


@contextlib.contextmanager
def _migration_lock(database: Database) -> Iterator[None]:
    """An exclusive lock file beside a SQLite database file (nothing for other databases or in-memory SQLite)."""
    url = database.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    lock_path = Path(url.database).with_name(Path(url.database).name + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)  # private, as the database beside it
    os.chmod(lock_path, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
