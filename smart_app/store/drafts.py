"""Draft orders the EHR did not take, kept so nothing is lost: the transaction Bundle, the reason and the server's
diagnostics, one row per order key (saving the same order again replaces the row). The Bundle holds PHI, so it is
encrypted at rest when the store is given a cipher (the app always gives one; tests may not).

`export()` gives the Bundle back for the packet export or a later retry; `forget()` drops the row once the
EHR has the order, since nothing clinical is kept longer than the workflow needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from smart_app.store.crypto import TokenCipher, seal, unseal
from smart_app.store.db import Base, Database


class KeptDraftRow(Base):
    __tablename__ = "kept_drafts"

    order_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient: Mapped[str] = mapped_column(String(80), index=True)
    fhir_base: Mapped[str] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(Text)
    diagnostics: Mapped[str] = mapped_column(Text, default="")
    bundle: Mapped[str] = mapped_column(Text)
    encrypted: Mapped[bool] = mapped_column(default=False)
    kept_at: Mapped[str] = mapped_column(String(40))


@dataclass(frozen=True)
class KeptDraft:
    """One draft order kept locally, with why the EHR did not take it."""

    order_key: str
    patient: str
    fhir_base: str
    reason: str
    diagnostics: str
    kept_at: str


class DraftStore:
    """Drafts the EHR refused, in the app's database."""

    def __init__(self, database: Database, cipher: TokenCipher | None = None) -> None:
        self.database = database
        self.cipher = cipher

    def keep(
        self,
        *,
        order_key: str,
        patient: str,
        fhir_base: str,
        bundle: dict[str, Any],
        reason: str,
        diagnostics: str = "",
        now: datetime,
    ) -> KeptDraft:
        """Keep (or replace) the draft of one order."""
        with self.database.session() as session:
            row = session.get(KeptDraftRow, order_key) or KeptDraftRow(order_key=order_key)
            row.patient = patient
            row.fhir_base = fhir_base
            row.reason = reason
            row.diagnostics = diagnostics
            row.bundle, row.encrypted = seal(self.cipher, json.dumps(bundle, sort_keys=True))
            row.kept_at = now.isoformat(timespec="seconds")
            session.add(row)
            return _kept(row)

    def get(self, order_key: str) -> KeptDraft | None:
        with self.database.session() as session:
            row = session.get(KeptDraftRow, order_key)
            return _kept(row) if row else None

    def for_patient(self, patient: str) -> list[KeptDraft]:
        with self.database.session() as session:
            rows = session.scalars(select(KeptDraftRow).where(KeptDraftRow.patient == patient))
            return [_kept(row) for row in rows]

    def export(self, order_key: str) -> dict[str, Any] | None:
        """The kept transaction Bundle, decrypted; None when no draft is kept under that key."""
        with self.database.session() as session:
            row = session.get(KeptDraftRow, order_key)
            if row is None:
                return None
            return dict(json.loads(unseal(self.cipher, row.bundle, row.encrypted, "draft")))

    def forget(self, order_key: str) -> bool:
        """Drop a kept draft (the EHR has the order now, or it was withdrawn); True when there was one."""
        with self.database.session() as session:
            row = session.get(KeptDraftRow, order_key)
            if row is None:
                return False
            session.delete(row)
            return True


def _kept(row: KeptDraftRow) -> KeptDraft:
    return KeptDraft(
        order_key=row.order_key,
        patient=row.patient,
        fhir_base=row.fhir_base,
        reason=row.reason,
        diagnostics=row.diagnostics,
        kept_at=row.kept_at,
    )
