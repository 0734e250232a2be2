"""Clinician attestations of checklist criteria the record cannot prove, kept server-side per launch and request.

One row per (EHR, launch, request key, criterion): attesting again replaces the answer, withdrawing deletes it. The
note is free text a clinician wrote about the patient, so it is encrypted at rest when the store has a cipher
(the app always gives one). The rows live no longer than the launch they belong to (`forget_launch`).

Every lookup names the EHR (its FHIR base) as well as the launch, and a row answers only when both match: an
answer given in one EHR never settles a criterion in another. Rows of the first schema (no EHR) never match.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from smart_app.store.crypto import TokenCipher, seal, unseal
from smart_app.store.db import Base, Database
from smart_app.store.ehr_scope import ehr_key

ATTESTABLE_STATUSES: tuple[str, ...] = ("met", "not-met")


class AttestationRow(Base):
    __tablename__ = "attestations"
    __table_args__ = (UniqueConstraint("launch_id", "request_key", "criterion_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    launch_id: Mapped[str] = mapped_column(String(64), index=True)
    ehr: Mapped[str | None] = mapped_column(String(500), nullable=True)  # the FHIR base; None: first schema
    request_key: Mapped[str] = mapped_column(String(64))
    criterion_id: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    encrypted: Mapped[bool] = mapped_column(default=False)
    attested_by: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    attested_at: Mapped[str] = mapped_column(String(40))


@dataclass(frozen=True)
class Attestation:
    """One clinician answer: `status` met or not-met, the note saying where it is documented, who and when."""

    criterion_id: str
    status: str
    note: str
    attested_by: str | None
    attested_at: str

    def to_answer(self) -> dict[str, str]:
        """The answer as `run_check` takes it; the note names who attested and when, so the check result (and the
        report and draft order built from it) carries that too."""
        who = self.attested_by or "an unidentified user"
        return {"status": self.status, "note": f"{self.note} (attested by {who}, {self.attested_at})"}


class AttestationStore:
    """Attestations in the app's database."""

    def __init__(self, database: Database, cipher: TokenCipher | None = None) -> None:
        self.database = database
        self.cipher = cipher

    def attest(
        self,
        *,
        ehr: str,
        launch_id: str,
        request_key: str,
        criterion_id: str,
        status: str,
        note: str,
        attested_by: str | None,
        now: datetime,
    ) -> Attestation:
        """Keep (or replace) the answer for one criterion.

        Raises:
            ValueError: a status other than met / not-met, or an empty note.
        """
        if status not in ATTESTABLE_STATUSES:
            raise ValueError(f"an attestation is met or not-met; got {status!r}")
        if not note.strip():
            raise ValueError("an attestation needs a note")
        with self.database.session() as session:
            row = session.scalars(
                select(AttestationRow).where(
                    AttestationRow.launch_id == launch_id,
                    AttestationRow.request_key == request_key,
                    AttestationRow.criterion_id == criterion_id,
                )
            ).first() or AttestationRow(launch_id=launch_id, request_key=request_key, criterion_id=criterion_id)
            if row.ehr is not None and row.ehr != ehr_key(ehr):
                raise ValueError("this launch's answers belong to another EHR")
            row.ehr = ehr_key(ehr)
            row.status = status
            row.note, row.encrypted = seal(self.cipher, note.strip())
            row.attested_by = attested_by
            row.attested_at = now.isoformat(timespec="seconds")
            session.add(row)
            return self._attestation(row)

    def for_request(self, launch_id: str, request_key: str, *, ehr: str) -> list[Attestation]:
        """The answers kept for one request of one launch of this EHR, by criterion id."""
        with self.database.session() as session:
            rows = session.scalars(
                select(AttestationRow)
                .where(
                    AttestationRow.ehr == ehr_key(ehr),
                    AttestationRow.launch_id == launch_id,
                    AttestationRow.request_key == request_key,
                )
                .order_by(AttestationRow.criterion_id)
            )
            return [self._attestation(row) for row in rows]

    def for_request_any_launch(self, request_key: str, *, ehr: str) -> list[Attestation]:
        """The newest answer per criterion for one request of this EHR, whichever launch gave it: staff build the
        packet in their own launch from what the clinician attested in theirs."""
        with self.database.session() as session:
            rows = session.scalars(
                select(AttestationRow)
                .where(AttestationRow.ehr == ehr_key(ehr), AttestationRow.request_key == request_key)
                .order_by(AttestationRow.attested_at, AttestationRow.id)
            )
            newest = {row.criterion_id: row for row in rows}
            return [self._attestation(newest[key]) for key in sorted(newest)]

    def withdraw(self, launch_id: str, request_key: str, criterion_id: str, *, ehr: str) -> bool:
        """Drop one answer of this EHR's launch; True when there was one."""
        with self.database.session() as session:
            result = session.execute(
                delete(AttestationRow).where(
                    AttestationRow.ehr == ehr_key(ehr),
                    AttestationRow.launch_id == launch_id,
                    AttestationRow.request_key == request_key,
                    AttestationRow.criterion_id == criterion_id,
                )
            )
            return bool(getattr(result, "rowcount", 0))

    def forget_launch(self, launch_id: str) -> int:
        """Drop every answer of a launch (the launch is over); returns how many."""
        with self.database.session() as session:
            result = session.execute(delete(AttestationRow).where(AttestationRow.launch_id == launch_id))
            return int(getattr(result, "rowcount", 0))

    def _attestation(self, row: AttestationRow) -> Attestation:
        note = unseal(self.cipher, row.note, row.encrypted, "attestation")
        return Attestation(row.criterion_id, row.status, note, row.attested_by, row.attested_at)


def answers_of(attestations: list[Attestation]) -> dict[str, dict[str, str]]:
    """`{criterion_id: {"status", "note"}}` for `run_check(answers=…)`."""
    return {item.criterion_id: item.to_answer() for item in attestations}
