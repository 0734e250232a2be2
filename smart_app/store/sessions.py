"""Browser sessions: the cookie carries a random token; only its SHA-256 is stored, so a database leak yields no
usable cookie."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Connection, Float, String, Table, bindparam, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from smart_app.store.db import Base

SESSION_TOKEN_BYTES = 32


class BrowserSession(Base):
    __tablename__ = "browser_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_browser_session(db: Session, *, now: float, ttl_seconds: float) -> str:
    """A new session; returns the raw token for the cookie (never stored)."""
    token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    db.add(BrowserSession(id_hash=hash_token(token), created_at=now, expires_at=now + ttl_seconds))
    return token


def find_browser_session(db: Session, token: str, *, now: float) -> BrowserSession | None:
    """The live session for a cookie token, or None (unknown or expired)."""
    if not token or len(token) > 128:
        return None
    session = db.get(BrowserSession, hash_token(token))
    if session is None or session.expires_at <= now:
        return None
    return session


SESSIONS: Table = BrowserSession.__table__  # type: ignore[assignment]
_INSERT_SESSION = insert(SESSIONS)
_LIVE_SESSION = select(SESSIONS.c.id_hash).where(
    SESSIONS.c.id_hash == bindparam("session_hash"), SESSIONS.c.expires_at > bindparam("now")
)


def insert_browser_session(db: Connection, *, now: float, ttl_seconds: float) -> str:
    """`create_browser_session` as one Core INSERT (the launch's hot path)."""
    token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    db.execute(_INSERT_SESSION, {"id_hash": hash_token(token), "created_at": now, "expires_at": now + ttl_seconds})
    return token


def live_session_hash(db: Connection, token: str, *, now: float) -> str | None:
    """The stored hash of a cookie token's live session, or None (unknown or expired); one indexed SELECT."""
    if not token or len(token) > 128:
        return None
    id_hash = hash_token(token)
    found = db.execute(_LIVE_SESSION, {"session_hash": id_hash, "now": now}).first()
    return id_hash if found is not None else None
