"""Draft orders the EHR did not take, kept so nothing is lost: the transaction Bundle, the reason and the server's
diagnostics, one row per EHR and order key (saving the same order again replaces the row). The Bundle holds PHI
(and the report PDF, so the export needs no EHR), so it is encrypted at rest when the store is given a cipher (the
app always gives one; tests may not).

Rows are keyed by the EHR (its FHIR base, `ehr_key`) *and* the order key: the order key is derived from the
patient id, and two EHRs may hold patients of the same id. Every lookup names the EHR; there is no lookup by
order key alone. Rows of the first schema (`kept_drafts`, keyed by order key only) are moved under the FHIR base
they were written for when the tables are created (`migrate_legacy_drafts`); a legacy row without one stays
where it is and is never served.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, Text, insert, inspect, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from smart_app.store.crypto import TokenCipher, seal, unseal
from smart_app.store.db import Base, Database
from smart_app.store.ehr_scope import ehr_key

logger = logging.getLogger(__name__)
LEGACY_TABLE = "kept_drafts"


class KeptOrderDraftRow(Base):
    __tablename__ = "kept_order_drafts"

    fhir_base: Mapped[str] = mapped_column(String(500), primary_key=True)
    order_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient: Mapped[str] = mapped_column(String(80), index=True)
    reason: Mapped[str] = mapped_column(Text)
    diagnostics: Mapped[str] = mapped_column(Text, default="")
    bundle: Mapped[str] = mapped_column(Text)
    encrypted: Mapped[bool] = mapped_column(default=False)
    kept_at: Mapped[str] = mapped_column(String(40))


class LegacyKeptDraftRow(Base):
    """The first schema's table (revision 0001). Its rows moved under their EHR; what is left had no FHIR base and
    is kept, never served."""

    __tablename__ = LEGACY_TABLE

    order_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient: Mapped[str] = mapped_column(String(80), index=True)
    fhir_base: Mapped[str] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(Text)
    diagnostics: Mapped[str] = mapped_column(Text)
    bundle: Mapped[str] = mapped_column(Text)
    encrypted: Mapped[bool] = mapped_column()
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
    """Drafts the EHR refused, in the app's database, per EHR."""

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
        """Keep (or replace) the draft of one order of one EHR."""
        with self.database.session() as session:
            row = _row(session, order_key, fhir_base) or KeptOrderDraftRow(
                fhir_base=ehr_key(fhir_base), order_key=order_key
            )
            row.patient = patient
            row.reason = reason
            row.diagnostics = diagnostics
            row.bundle, row.encrypted = seal(self.cipher, json.dumps(bundle, sort_keys=True))
            row.kept_at = now.isoformat(timespec="seconds")
            session.add(row)
            return _kept(row)

    def get(self, order_key: str, *, ehr: str) -> KeptDraft | None:
        """The draft kept for this order of this EHR (`ehr`: its FHIR base)."""
        with self.database.session() as session:
            row = _row(session, order_key, ehr)
            return _kept(row) if row else None

    def for_patient(self, patient: str, *, ehr: str) -> list[KeptDraft]:
        with self.database.session() as session:
            rows = session.scalars(
                select(KeptOrderDraftRow).where(
                    KeptOrderDraftRow.patient == patient, KeptOrderDraftRow.fhir_base == ehr_key(ehr)
                )
            )
            return [_kept(row) for row in rows]

    def export(self, order_key: str, *, ehr: str) -> dict[str, Any] | None:
        """The kept transaction Bundle, decrypted; None when this EHR has no draft kept under that key."""
        with self.database.session() as session:
            row = _row(session, order_key, ehr)
            if row is None:
                return None
            return dict(json.loads(unseal(self.cipher, row.bundle, row.encrypted, "draft")))

    def forget(self, order_key: str, *, ehr: str) -> bool:
        """Drop a kept draft (the EHR has the order now, or it was withdrawn); True when there was one."""
        with self.database.session() as session:
            row = _row(session, order_key, ehr)
            if row is None:
                return False
            session.delete(row)
            return True


def migrate_legacy_drafts(connection: Connection) -> int:
    """Move rows of the first schema (`kept_drafts`, keyed by order key alone) under the FHIR base each was kept
    for; rows without one stay in the old table, unserved. Returns how many moved."""
    if LEGACY_TABLE not in inspect(connection).get_table_names():
        return 0
    columns = "order_key, patient, fhir_base, reason, diagnostics, bundle, encrypted, kept_at"
    rows = connection.execute(text(f"SELECT {columns} FROM {LEGACY_TABLE} WHERE fhir_base <> ''")).mappings().all()
    moved = 0
    for row in rows:
        values = {**row, "fhir_base": ehr_key(str(row["fhir_base"]))}
        exists = connection.execute(
            select(KeptOrderDraftRow.order_key).where(
                KeptOrderDraftRow.fhir_base == values["fhir_base"], KeptOrderDraftRow.order_key == row["order_key"]
            )
        ).first()
        if exists is None:
            connection.execute(insert(KeptOrderDraftRow).values(**values))
        connection.execute(text(f"DELETE FROM {LEGACY_TABLE} WHERE order_key = :key"), {"key": row["order_key"]})
        moved += 1
    if moved:
        logger.info("moved %d kept draft(s) of the first schema under their EHR", moved)
    return moved


def _row(session: Session, order_key: str, ehr: str) -> KeptOrderDraftRow | None:
    return session.get(KeptOrderDraftRow, (ehr_key(ehr), order_key))


def _kept(row: KeptOrderDraftRow) -> KeptDraft:
    return KeptDraft(
        order_key=row.order_key,
        patient=row.patient,
        fhir_base=row.fhir_base,
        reason=row.reason,
        diagnostics=row.diagnostics,
        kept_at=row.kept_at,
    )
