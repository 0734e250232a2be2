"""Row locks that hold across processes and machines, for work that must happen once per row (a token refresh).

`locked_launch_tokens` opens a transaction that owns the launch's `launch_tokens` row until it ends:
`SELECT … FOR UPDATE` on PostgreSQL (other transactions wait for that row only); on SQLite, a no-op UPDATE of the
row, which takes the database's write lock (other writers wait up to the busy timeout; readers go on, WAL).
Whoever gets the lock second re-reads the row and sees what the first one committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from smart_app.store.db import Database
from smart_app.store.tokens import LaunchTokens


@contextmanager
def locked_launch_tokens(database: Database, launch_id: str) -> Iterator[Session]:
    """A session whose transaction holds the lock on the launch's tokens; commits when the block ends normally."""
    with database.session() as db:
        if database.engine.dialect.name == "sqlite":
            db.execute(
                update(LaunchTokens)
                .where(LaunchTokens.launch_id == launch_id)
                .values(updated_at=LaunchTokens.updated_at)
            )
        else:
            db.execute(select(LaunchTokens.launch_id).where(LaunchTokens.launch_id == launch_id).with_for_update())
        yield db
