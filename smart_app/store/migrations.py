"""Bring a database made by an earlier version up to the current tables, each time the tables are created.

`Base.metadata.create_all` creates missing tables but never changes existing ones; this runs right after it:
- `attestations.ehr` is added when missing (rows of the first schema keep NULL and never match a lookup);
- kept drafts of the first schema move under the EHR they were kept for (`drafts.migrate_legacy_drafts`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event, inspect, text

from smart_app.store.attestations import AttestationRow
from smart_app.store.db import Base
from smart_app.store.drafts import migrate_legacy_drafts


def add_missing_columns(connection: Connection) -> list[str]:
    """Add the EHR column to an attestations table made before it existed; returns the columns added."""
    table = AttestationRow.__tablename__
    present = {column["name"] for column in inspect(connection).get_columns(table)}
    added = []
    if "ehr" not in present:
        connection.execute(text(f"ALTER TABLE {table} ADD COLUMN ehr VARCHAR(500)"))
        added.append(f"{table}.ehr")
    return added


@event.listens_for(Base.metadata, "after_create")
def _upgrade(_target: Any, connection: Connection, **_kw: Any) -> None:
    add_missing_columns(connection)
    migrate_legacy_drafts(connection)
