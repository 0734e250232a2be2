import os
import stat
import threading
from pathlib import Path

import pytest

from smart_app.store.crypto import TokenCipher, TokenDecryptError, generate_fernet_key
from smart_app.store.secret_files import read_or_create_secret


def test_round_trip_and_rotation() -> None:
    old, new = generate_fernet_key(), generate_fernet_key()
    stored = TokenCipher([old]).encrypt("access-token-1")
    assert "access-token-1" not in stored
    rotated = TokenCipher([new, old])
    assert rotated.decrypt(stored) == "access-token-1"
    with pytest.raises(TokenDecryptError):
        TokenCipher([new]).decrypt(stored)


def test_secret_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "instance" / "token.key"
    calls: list[int] = []

    def create() -> str:
        calls.append(1)
        return generate_fernet_key()

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(read_or_create_secret(path, create))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert read_or_create_secret(path, create) == results[0]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
