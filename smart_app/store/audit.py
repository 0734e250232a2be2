"""Audit log: launch events, and every read of patient data, edit, attestation, export, submission and status change
(who, when, what, from where). Never tokens; `subject` names the record touched (a FHIR reference or a worklist
request id) and `detail` is a short reason, never clinical content.

Append-only: the ORM refuses to update or delete a row (`AppendOnlyError` at flush) and on SQLite and PostgreSQL
triggers refuse UPDATE and DELETE statements too, so no code path can rewrite history.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DDL, Connection, Float, Integer, String, Table, event, func, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from smart_app.store.db import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    event: Mapped[str] = mapped_column(String(64))
    launch_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    ehr_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(2048), nullable=True)  # fhirUser, when known
    detail: Mapped[str] = mapped_column(String(500), default="")
    subject: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)  # what was touched
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)  # from where (client address)


class AppendOnlyError(RuntimeError):
    """An attempt to change or delete an audit event."""


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, _context: Any, _instances: Any) -> None:
    for instance in (*session.dirty, *session.deleted):
        if isinstance(instance, AuditEvent):
            raise AppendOnlyError("the audit log is append-only: events cannot be changed or deleted")


_SQLITE_GUARDS = [
    DDL(  # type: ignore[no-untyped-call]
        f"CREATE TRIGGER IF NOT EXISTS audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
    )
    for verb in ("UPDATE", "DELETE")
]
_POSTGRES_GUARD = [
    DDL(  # type: ignore[no-untyped-call]
        "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$"
    ),
    DDL(  # type: ignore[no-untyped-call]
        "CREATE OR REPLACE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
    ),
]
for _guard in _SQLITE_GUARDS:
    event.listen(AuditEvent.__table__, "after_create", _guard.execute_if(dialect="sqlite"))
for _guard in _POSTGRES_GUARD:
    event.listen(AuditEvent.__table__, "after_create", _guard.execute_if(dialect="postgresql"))


def event_row(
    event: str,
    *,
    now: float,
    launch_id: str | None = None,
    ehr_name: str | None = None,
    actor: str | None = None,
    detail: str = "",
    subject: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """The columns of one audit row, cut to the columns' sizes (ORM and Core writers share it)."""
    return {
        "at": now,
        "event": event,
        "launch_id": launch_id,
        "ehr_name": ehr_name,
        "actor": actor,
        "detail": detail[:500],
        "subject": subject[:200] if subject else None,
        "source": source[:64] if source else None,
    }


def record_event(db: Session, event: str, *, now: float, **fields: Any) -> None:
    """Append one audit row in the caller's ORM session (fields as `event_row`)."""
    db.add(AuditEvent(**event_row(event, now=now, **fields)))


AUDIT_EVENTS: Table = AuditEvent.__table__  # type: ignore[assignment]
_INSERT_EVENT = insert(AUDIT_EVENTS)  # built once; values go as parameters (compiled form reused)


def append_event(db: Connection, event: str, *, now: float, **fields: Any) -> None:
    """`record_event` as one Core INSERT, inside the caller's transaction (the hot paths: launch, every read)."""
    db.execute(_INSERT_EVENT, event_row(event, now=now, **fields))


def events(
    db: Session, *, launch_id: str | None = None, event: str | None = None, ehr_name: str | None = None
) -> list[AuditEvent]:
    """Audit rows, oldest first, narrowed to a launch, an event name and/or an EHR (its registration name)."""
    query = select(AuditEvent).order_by(AuditEvent.id)
    if ehr_name is not None:
        query = query.where(AuditEvent.ehr_name == ehr_name)
    if launch_id is not None:
        query = query.where(AuditEvent.launch_id == launch_id)
    if event is not None:
        query = query.where(AuditEvent.event == event)
    return list(db.scalars(query))


def recent_events(
    db: Session,
    *,
    offset: int = 0,
    limit: int = 100,
    subject: str | None = None,
    event_prefix: str | None = None,
    ehr_name: str | None = None,
) -> tuple[list[AuditEvent], int]:
    """A page of the log, newest first, and how many events match (for the staff audit view)."""
    conditions = []
    if ehr_name:
        conditions.append(AuditEvent.ehr_name == ehr_name)
    if subject:
        conditions.append(AuditEvent.subject == subject)
    if event_prefix:
        conditions.append(AuditEvent.event.startswith(event_prefix))
    total = db.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
    query = select(AuditEvent).where(*conditions).order_by(AuditEvent.id.desc()).offset(offset).limit(limit)
    return list(db.scalars(query)), int(total)
