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

from sqlalchemy import Boolean, Float, String, Text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from smart_app.store.db import Base

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


@dataclass(frozen=True)
class Claim:
    status: ClaimStatus
    pending: PendingAuthorization | None = None


def new_state() -> str:
    """An unpredictable state value: 256 bits (SMART asks for at least 122)."""
    return secrets.token_urlsafe(32)


def new_launch_id() -> str:
    """A launch id for the URL path: 128 random bits."""
    return secrets.token_urlsafe(LAUNCH_ID_BYTES)


def claim_pending(db: Session, state: str, *, now: float) -> Claim:
    """Mark the state used (atomically: one caller wins) and return it, or say why it cannot be used."""
    if not state or len(state) > 128:
        return Claim("unknown")
    result = db.execute(
        update(PendingAuthorization)
        .where(PendingAuthorization.state == state, PendingAuthorization.used_at.is_(None))
        .values(used_at=now)
    )
    pending = db.get(PendingAuthorization, state)
    if pending is None:
        return Claim("unknown")
    if getattr(result, "rowcount", 0) != 1:
        return Claim("used", pending)
    if pending.expires_at <= now:
        return Claim("expired", pending)
    return Claim("ok", pending)


def purge_expired_pending(db: Session, *, now: float, keep_seconds: float = 3600) -> None:
    """Forget authorize attempts that expired more than `keep_seconds` ago (a used state stays known until then)."""
    db.query(PendingAuthorization).filter(PendingAuthorization.expires_at < now - keep_seconds).delete()


def get_launch(db: Session, launch_id: str) -> Launch | None:
    if not launch_id or len(launch_id) > 64:
        return None
    return db.get(Launch, launch_id)
