"""Launch state kept server-side.

`PendingAuthorization`: one authorize round trip, keyed by its `state` (≥ 256 bits), holding the PKCE verifier
(encrypted), nonce, issuer and expiry, so the callback works even when an EHR iframe dropped our cookie. A state is
claimed exactly once.

`Launch`: one launched app context (one patient, one EHR), addressed by an unguessable id in the URL path
(`/s/<launch_id>/…`) and bound to the browser session that completed it. Two tabs are two launches.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Boolean, Connection, Float, String, Table, Text, bindparam, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from smart_app.store.clinicians import Clinician, ClinicianRow
from smart_app.store.db import Base
from smart_app.store.sessions import BrowserSession

LAUNCH_ID_BYTES = 16
ClaimStatus = Literal["ok", "unknown", "used", "expired"]


class PendingAuthorization(Base):
    __tablename__ = "pending_authorizations"

    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    ehr_name: Mapped[str] = mapped_column(String(64))
    iss: Mapped[str] = mapped_column(String(2048))
    launch_kind: Mapped[str] = mapped_column(String(16))
    code_verifier_enc: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    requested_scope: Mapped[str] = mapped_column(Text)
    session_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Launch(Base):
    __tablename__ = "launches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), index=True)
    ehr_name: Mapped[str] = mapped_column(String(64))
    iss: Mapped[str] = mapped_column(String(2048))
    mode: Mapped[str] = mapped_column(String(16))  # "smart" or "open"
    patient_id: Mapped[str] = mapped_column(String(64))
    encounter_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fhir_user: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    need_patient_banner: Mapped[bool] = mapped_column(Boolean, default=True)
    granted_scope: Mapped[str] = mapped_column(Text, default="")
    token_endpoint: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    context_json: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[float] = mapped_column(Float)

    @property
    def context(self) -> dict[str, Any]:
        """The launch context from the token response (fhirContext, intent, tenant, …), without tokens."""
        value = json.loads(self.context_json or "{}")
        return value if isinstance(value, dict) else {}


PENDING: Table = PendingAuthorization.__table__  # type: ignore[assignment]
LAUNCHES: Table = Launch.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class PendingState:
    """A claimed authorize round trip, as the callback reads it (a plain row, no ORM identity)."""

    state: str
    ehr_name: str
    iss: str
    launch_kind: str
    code_verifier_enc: str
    nonce: str
    redirect_uri: str
    requested_scope: str
    session_hash: str | None
    created_at: float
    expires_at: float
    used_at: float | None


@dataclass(frozen=True)
class Claim:
    status: ClaimStatus
    pending: PendingState | None = None


@dataclass(frozen=True)
class LaunchRecord:
    """A launch row with what every page of the launch needs next to it: whether the browser session it is bound
    to is still live, and the clinician when already read (one query: `find_launch`)."""

    id: str
    session_hash: str
    session_expires_at: float | None
    ehr_name: str
    iss: str
    mode: str
    patient_id: str
    encounter_id: str | None
    fhir_user: str | None
    need_patient_banner: bool
    granted_scope: str
    context_json: str
    clinician: Clinician | None

    @property
    def context(self) -> dict[str, Any]:
        value = json.loads(self.context_json or "{}")
        return value if isinstance(value, dict) else {}


def new_state() -> str:
    """An unpredictable state value: 256 bits (SMART asks for at least 122)."""
    return secrets.token_urlsafe(32)


def new_launch_id() -> str:
    """A launch id for the URL path: 128 random bits."""
    return secrets.token_urlsafe(LAUNCH_ID_BYTES)


# The hot statements are built once and given their values as parameters: SQLAlchemy then reuses their compiled
# form without walking the values for a cache key on every call.
_INSERT_PENDING = insert(PENDING)
_CLAIM = (
    update(PENDING)
    .where(PENDING.c.state == bindparam("claimed_state"), PENDING.c.used_at.is_(None))
    .values(used_at=bindparam("claimed_at"))
)
_CLAIM_RETURNING = _CLAIM.returning(*PENDING.c)
_SELECT_PENDING = select(*PENDING.c).where(PENDING.c.state == bindparam("claimed_state"))
_INSERT_LAUNCH = insert(LAUNCHES)


def insert_pending(db: Connection, **values: Any) -> None:
    """Store one authorize round trip (the columns of `PendingAuthorization`)."""
    db.execute(_INSERT_PENDING, values)


def claim_pending(db: Session | Connection, state: str, *, now: float) -> Claim:
    """Mark the state used and return it, or say why it cannot be used.

    One `UPDATE … WHERE used_at IS NULL RETURNING …`: of two callbacks racing for one state, exactly one gets the
    row; the other finds it used. (A database without UPDATE … RETURNING reads the row after the update.)
    """
    if not state or len(state) > 128:
        return Claim("unknown")
    params = {"claimed_state": state, "claimed_at": now}
    returning = (db.get_bind() if isinstance(db, Session) else db).dialect.update_returning
    if returning:
        row = db.execute(_CLAIM_RETURNING, params).first()
        claimed = row is not None
    else:
        claimed = getattr(db.execute(_CLAIM, params), "rowcount", 0) == 1
        row = None
    if row is None:
        row = db.execute(_SELECT_PENDING, params).first()
    if row is None:
        return Claim("unknown")
    pending = PendingState(**row._asdict())
    if not claimed:
        return Claim("used", pending)
    if pending.expires_at <= now:
        return Claim("expired", pending)
    return Claim("ok", pending)


def pending_state(db: Connection, state: str) -> PendingState | None:
    """The round trip of `state`, claimed or not (None when unknown)."""
    if not state or len(state) > 128:
        return None
    row = db.execute(_SELECT_PENDING, {"claimed_state": state}).first()
    return PendingState(**row._asdict()) if row is not None else None


def insert_launch(db: Connection, **values: Any) -> None:
    """Store a launch (the columns of `Launch`)."""
    db.execute(_INSERT_LAUNCH, values)


_SESSIONS: Table = BrowserSession.__table__  # type: ignore[assignment]
_CLINICIANS: Table = ClinicianRow.__table__  # type: ignore[assignment]
_FIND_LAUNCH = (
    select(
        *LAUNCHES.c,
        _SESSIONS.c.expires_at.label("session_expires_at"),
        _CLINICIANS.c.launch_id.label("clinician_launch_id"),
        _CLINICIANS.c.reference.label("clinician_reference"),
        _CLINICIANS.c.name.label("clinician_name"),
        _CLINICIANS.c.npi.label("clinician_npi"),
    )
    .select_from(
        LAUNCHES.outerjoin(_SESSIONS, _SESSIONS.c.id_hash == LAUNCHES.c.session_hash).outerjoin(
            _CLINICIANS, _CLINICIANS.c.launch_id == LAUNCHES.c.id
        )
    )
    .where(LAUNCHES.c.id == bindparam("launch_id"))
)


def find_launch(db: Connection, launch_id: str) -> LaunchRecord | None:
    """The launch with its session's expiry and its clinician (when kept), in one query."""
    if not launch_id or len(launch_id) > 64:
        return None
    row = db.execute(_FIND_LAUNCH, {"launch_id": launch_id}).first()
    if row is None:
        return None
    values = row._mapping
    clinician = (
        Clinician(values["clinician_reference"], values["clinician_name"], values["clinician_npi"])
        if values["clinician_launch_id"] is not None
        else None
    )
    return LaunchRecord(
        id=values["id"],
        session_hash=values["session_hash"],
        session_expires_at=values["session_expires_at"],
        ehr_name=values["ehr_name"],
        iss=values["iss"],
        mode=values["mode"],
        patient_id=values["patient_id"],
        encounter_id=values["encounter_id"],
        fhir_user=values["fhir_user"],
        need_patient_banner=bool(values["need_patient_banner"]),
        granted_scope=values["granted_scope"] or "",
        context_json=values["context_json"] or "{}",
        clinician=clinician,
    )


def purge_expired_pending(db: Session, *, now: float, keep_seconds: float = 3600) -> None:
    """Forget authorize attempts that expired more than `keep_seconds` ago (a used state stays known until then)."""
    db.query(PendingAuthorization).filter(PendingAuthorization.expires_at < now - keep_seconds).delete()


def get_launch(db: Session, launch_id: str) -> Launch | None:
    if not launch_id or len(launch_id) > 64:
        return None
    return db.get(Launch, launch_id)
