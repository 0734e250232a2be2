"""Every store test runs twice: on a SQLite file and on PostgreSQL (a fresh database of the session's cluster)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smart_app.store.db import Database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.sqlite'}"
    postgres: Any = request.getfixturevalue("postgres")
    url: str = postgres.create_database(f"store_{secrets.token_hex(6)}")
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """The app's tables, migrated to the newest revision, on SQLite and on PostgreSQL."""
    db = Database(database_url)
    db.create_all()
    try:
        yield db
    finally:
        db.dispose()
