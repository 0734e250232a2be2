"""Tokens of a launch, encrypted at rest. Only `workflow.tokens` reads them back (to hand the FHIR client a valid
access token); they never leave the server."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, Float, ForeignKey, Integer, String, Table, Text, bindparam, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from smart_app.store.crypto import TokenCipher
from smart_app.store.db import Base


class LaunchTokens(Base):
    __tablename__ = "launch_tokens"

    launch_id: Mapped[str] = mapped_column(String(64), ForeignKey("launches.id", ondelete="CASCADE"), primary_key=True)
    access_token_enc: Mapped[str] = mapped_column(Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[float] = mapped_column(Float)
    refresh_count: Mapped[int] = mapped_column(Integer, default=0)


@dataclass(frozen=True)
class StoredTokens:
    """Decrypted tokens of one launch (kept out of reprs)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float | None
    scope: str
    refresh_count: int
    issued_at: float | None = None  # when these tokens were stored (issued or last refreshed)


def save_tokens(
    db: Session,
    cipher: TokenCipher,
    launch_id: str,
    *,
    access_token: str,
    refresh_token: str | None,
    expires_at: float | None,
    scope: str,
    now: float,
    refreshed: bool = False,
) -> None:
    """Store (or replace) the launch's tokens; after a refresh the old refresh token is overwritten (rotation)."""
    row = db.get(LaunchTokens, launch_id)
    if row is None:
        row = LaunchTokens(launch_id=launch_id, refresh_count=0)
        db.add(row)
    row.access_token_enc = cipher.encrypt(access_token)
    row.refresh_token_enc = cipher.encrypt(refresh_token) if refresh_token else None
    row.expires_at = expires_at
    row.scope = scope
    row.updated_at = now
    if refreshed:
        row.refresh_count = (row.refresh_count or 0) + 1


TOKENS: Table = LaunchTokens.__table__  # type: ignore[assignment]
_INSERT_TOKENS = insert(TOKENS)
_SELECT_TOKENS = select(*TOKENS.c).where(TOKENS.c.launch_id == bindparam("tokens_of"))


def insert_tokens(
    db: Connection,
    cipher: TokenCipher,
    launch_id: str,
    *,
    access_token: str,
    refresh_token: str | None,
    expires_at: float | None,
    scope: str,
    now: float,
) -> None:
    """The first tokens of a new launch, as one Core INSERT (a refresh replaces them with `save_tokens`)."""
    db.execute(
        _INSERT_TOKENS,
        {
            "launch_id": launch_id,
            "access_token_enc": cipher.encrypt(access_token),
            "refresh_token_enc": cipher.encrypt(refresh_token) if refresh_token else None,
            "expires_at": expires_at,
            "scope": scope,
            "updated_at": now,
            "refresh_count": 0,
        },
    )


def load_tokens(db: Session | Connection, cipher: TokenCipher, launch_id: str) -> StoredTokens | None:
    """The launch's tokens, decrypted (one Core SELECT; in a session it reads what the session already wrote)."""
    row = db.execute(_SELECT_TOKENS, {"tokens_of": launch_id}).first()
    if row is None:
        return None
    return StoredTokens(
        access_token=cipher.decrypt(row.access_token_enc),
        refresh_token=cipher.decrypt(row.refresh_token_enc) if row.refresh_token_enc else None,
        expires_at=row.expires_at,
        scope=row.scope,
        refresh_count=row.refresh_count or 0,
        issued_at=row.updated_at,
    )


def forget_refresh_token(db: Session, launch_id: str) -> None:
    """Drop a refresh token the EHR refused, so it is never sent again."""
    row = db.get(LaunchTokens, launch_id)
    if row is not None:
        row.refresh_token_enc = None
