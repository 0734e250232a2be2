"""Issue 14 item 9: the SQLite database (and its -wal/-shm files), generated keys and the sandbox server's log are
readable by this user only (0600) in a folder only this user can enter (0700), whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smart_app import create_app
from smart_app.store.audit import record_event


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the usual default, which makes new files 0644 and folders 0755
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write_something(instance: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(instance), "PUBLIC_URL": "https://spine-auth.example"})
    services = app.extensions["spine_auth"]
    with services.database.session() as db:
        record_event(db, "test.write", now=0.0, detail="file modes")
    with services.database.session() as db:  # a second connection keeps the WAL in use
        record_event(db, "test.write", now=1.0, detail="file modes")


@pytest.mark.usefixtures("loose_umask")
def test_a_new_instance_folder_and_database_are_private(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    _write_something(instance)
    assert _mode(instance) == 0o700
    files = sorted(path for path in instance.iterdir() if path.is_file())
    names = {path.name for path in files}
    assert {"spine-auth.sqlite", "secret.key", "token-encryption.key", "signing-keys.json"} <= names
    assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}


@pytest.mark.usefixtures("loose_umask")
def test_an_existing_world_readable_folder_and_database_are_tightened(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    instance.chmod(0o755)
    database = instance / "spine-auth.sqlite"
    database.touch()
    database.chmod(0o644)
    _write_something(instance)
    assert _mode(instance) == 0o700
    assert _mode(database) == 0o600
    wal = instance / "spine-auth.sqlite-wal"
    if wal.exists():
        assert _mode(wal) == 0o600


def test_the_sandbox_fhir_server_log_is_private(fhir_server: Any) -> None:
    assert fhir_server.log_path.stat().st_size > 0
    assert _mode(fhir_server.log_path) == 0o600
