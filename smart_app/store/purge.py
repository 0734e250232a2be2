"""Expiry of app-side state: what a purge deletes and when.

Deleted: browser sessions past their expiry; authorize attempts (launch states) expired more than an hour ago (a
used state stays known that long, to name a replay); launches older than the launch lifetime or whose browser
session is gone, with their tokens; attestations of launches that are gone or older than their lifetime; drafts
kept locally older than their lifetime. The audit log is never purged here.

`purge(database, lifetimes, now=…)` runs it once (the `smart-app db purge` command, or the periodic run the web
app claims through `maintenance.claim_run`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from smart_app.store.attestations import AttestationRow
from smart_app.store.db import Database
from smart_app.store.drafts import KeptDraftRow
from smart_app.store.launches import Launch, PendingAuthorization
from smart_app.store.sessions import BrowserSession
from smart_app.store.tokens import LaunchTokens

USED_STATE_KEEP_SECONDS = 3600.0


@dataclass(frozen=True)
class Lifetimes:
    """How long each kind of state lives, in seconds (settings `*_TTL_SECONDS`)."""

    launch: float
    attestation: float
    kept_draft: float

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Lifetimes:
        """From the app settings `LAUNCH_TTL_SECONDS`, `ATTESTATION_TTL_SECONDS`, `KEPT_DRAFT_TTL_SECONDS`."""
        return cls(
            launch=float(settings["LAUNCH_TTL_SECONDS"]),
            attestation=float(settings["ATTESTATION_TTL_SECONDS"]),
            kept_draft=float(settings["KEPT_DRAFT_TTL_SECONDS"]),
        )


@dataclass(frozen=True)
class PurgeCounts:
    """How many rows of each kind one purge deleted."""

    sessions: int = 0
    launch_states: int = 0
    launches: int = 0
    attestations: int = 0
    kept_drafts: int = 0

    def total(self) -> int:
        return self.sessions + self.launch_states + self.launches + self.attestations + self.kept_drafts


def purge(database: Database, lifetimes: Lifetimes, *, now: float) -> PurgeCounts:
    """Delete everything past its lifetime (see the module docstring); one transaction per kind of row."""
    with database.session() as db:
        sessions = _count(db.execute(delete(BrowserSession).where(BrowserSession.expires_at <= now)))
    with database.session() as db:
        states = _count(
            db.execute(
                delete(PendingAuthorization).where(PendingAuthorization.expires_at < now - USED_STATE_KEEP_SECONDS)
            )
        )
    with database.session() as db:
        live_sessions = select(BrowserSession.id_hash)
        dead = select(Launch.id).where(
            (Launch.created_at < now - lifetimes.launch) | Launch.session_hash.not_in(live_sessions)
        )
        dead_ids = list(db.scalars(dead))
        launches = 0
        for chunk in _chunks(dead_ids, 500):
            db.execute(delete(LaunchTokens).where(LaunchTokens.launch_id.in_(chunk)))
            launches += _count(db.execute(delete(Launch).where(Launch.id.in_(chunk))))
    with database.session() as db:
        orphaned = AttestationRow.launch_id.not_in(select(Launch.id))
        attestations = _count(db.execute(delete(AttestationRow).where(orphaned)))
        old = [
            row_id
            for row_id, attested_at in db.execute(select(AttestationRow.id, AttestationRow.attested_at))
            if _epoch(attested_at) < now - lifetimes.attestation
        ]
        for chunk in _chunks(old, 500):
            attestations += _count(db.execute(delete(AttestationRow).where(AttestationRow.id.in_(chunk))))
    with database.session() as db:
        stale = [
            key
            for key, kept_at in db.execute(select(KeptDraftRow.order_key, KeptDraftRow.kept_at))
            if _epoch(kept_at) < now - lifetimes.kept_draft
        ]
        drafts = 0
        for chunk in _chunks(stale, 500):
            drafts += _count(db.execute(delete(KeptDraftRow).where(KeptDraftRow.order_key.in_(chunk))))
    return PurgeCounts(sessions, states, launches, attestations, drafts)


def _epoch(iso_timestamp: str) -> float:
    """Epoch seconds of a stored ISO timestamp (a timestamp without offset is UTC; an unreadable one is old)."""
    try:
        moment = datetime.fromisoformat(iso_timestamp)
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _chunks(items: list[str] | list[int], size: int) -> list[list[str] | list[int]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
