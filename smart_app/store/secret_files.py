"""Files only this user may read: secrets generated once into the instance folder, the SQLite database and logs.

Everything is created mode 0600 in a folder of mode 0700, whatever the process umask, so other local users can read
neither keys nor tokens nor PHI. Secrets are written safely when two processes start together.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) mode 0700; an existing folder loses any group/other access."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR_MODE)
    return path


def create_private_file(path: Path) -> Path:
    """Make sure `path` exists with mode 0600 (created empty if missing, tightened if it was readable by others)."""
    if not path.parent.exists():
        make_private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    _tighten(path, PRIVATE_FILE_MODE)
    return path


def _tighten(path: Path, mode: int) -> None:
    """Drop group and other permission bits (the umask cannot be trusted to have done it)."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        path.chmod(current & mode)


def read_or_create_secret(path: Path, create: Callable[[], str]) -> str:
    """The file's content; when the file does not exist yet, `create()` is written to it first.

    The new file is written under a temporary name and hard-linked into place, so a concurrent reader never sees
    it half-written and exactly one creator wins.
    """
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        pass
    make_private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(create())
        with contextlib.suppress(FileExistsError):  # another process won the race: use its file
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8")
