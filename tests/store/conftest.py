from collections.abc import Iterator
from pathlib import Path

import pytest

from smart_app.store.crypto import TokenCipher, generate_fernet_key
from smart_app.store.db import Database


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'app.sqlite'}")
    db.create_all()
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher([generate_fernet_key()])
