"""Secrets generated once into the instance folder (file mode 0600), safe when two processes start together."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def read_or_create_secret(path: Path, create: Callable[[], str]) -> str:
    """The file's content; when the file does not exist yet, `create()` is written to it first.

    The new file is written under a temporary name and hard-linked into place, so a concurrent reader never sees
    it half-written and exactly one creator wins.
    """
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(create())
        with contextlib.suppress(FileExistsError):  # another process won the race: use its file
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8")
