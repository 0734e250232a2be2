"""Audit log of launch events. Never PHI, never tokens: event names, launch ids, EHR names and short reasons."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String, select
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


def record_event(
    db: Session,
    event: str,
    *,
    now: float,
    launch_id: str | None = None,
    ehr_name: str | None = None,
    actor: str | None = None,
    detail: str = "",
) -> None:
    db.add(AuditEvent(at=now, event=event, launch_id=launch_id, ehr_name=ehr_name, actor=actor, detail=detail[:500]))


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
