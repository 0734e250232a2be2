"""Alembic migrations on SQLite and PostgreSQL: the newest revision is exactly the models, the initial one exactly
the tables the store had before migrations, upgrades run once however many processes start together, and a
database made before migrations is adopted without recreating anything."""

from __future__ import annotations

import threading

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from smart_app.store import tables  # noqa: F401  (every model on Base)
from smart_app.store.db import Base, Database
from smart_app.store.migrate import INITIAL_REVISION, INITIAL_TABLES, current_revision, head_revision, upgrade


def test_newest_revision_equals_the_models(database: Database) -> None:
    assert current_revision(database) == head_revision()
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_initial_revision_holds_the_tables_the_store_had_before_migrations(database_url: str) -> None:
    database = Database(database_url)
    try:
        upgrade(database, INITIAL_REVISION)
        names = set(inspect(database.engine).get_table_names()) - {"alembic_version"}
        assert names == INITIAL_TABLES
        upgrade(database)
        assert current_revision(database) == head_revision()
        assert {"maintenance_runs", "deployment_secrets"} <= set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()


def test_a_database_made_before_migrations_is_adopted(database_url: str) -> None:
    database = Database(database_url)
    try:
        initial = [table for name, table in Base.metadata.tables.items() if name in INITIAL_TABLES]
        Base.metadata.create_all(database.engine, tables=initial)  # what create_all made before Alembic
        upgrade(database)
        assert current_revision(database) == head_revision()
    finally:
        database.dispose()


def test_processes_starting_together_migrate_once(database_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        database = Database(database_url)
        try:
            barrier.wait()
            database.create_all()
        except BaseException as error:
            errors.append(error)
        finally:
            database.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    database = Database(database_url)
    try:
        assert current_revision(database) == head_revision()
    finally:
        database.dispose()
