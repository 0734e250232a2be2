"""The launch's clinician as the EHR names them (from the `fhirUser` Practitioner), read once per launch.

One row per launch: the display name and NPI the pages, attestations, report and Provenance show instead of a URL.
A launch whose user could not be read keeps a row with empty fields, so the EHR is not asked again on every page.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from smart_app.store.db import Base, Database


class ClinicianRow(Base):
    __tablename__ = "launch_clinicians"

    launch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reference: Mapped[str] = mapped_column(String(2048), default="")
    name: Mapped[str] = mapped_column(String(512), default="")
    npi: Mapped[str] = mapped_column(String(32), default="")


@dataclass(frozen=True)
class Clinician:
    """Who uses the app in a launch. `name` is empty when the EHR gave no readable Practitioner."""

    reference: str
    name: str
    npi: str

    @property
    def known(self) -> bool:
        return bool(self.name)

    @property
    def display(self) -> str:
        """'Jane Doe, MD (NPI 1234567890)': the text shown and written wherever the clinician is named."""
        if not self.name:
            return ""
        return f"{self.name} (NPI {self.npi})" if self.npi else self.name


class ClinicianStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def get(self, launch_id: str) -> Clinician | None:
        with self.database.session() as session:
            row = session.scalars(select(ClinicianRow).where(ClinicianRow.launch_id == launch_id)).first()
            return Clinician(row.reference, row.name, row.npi) if row else None

    def keep(self, launch_id: str, clinician: Clinician) -> None:
        """Keep the clinician of a launch (replaces an earlier row: two tabs racing store the same thing, so
        the loser of a race to insert the first row keeps the winner's)."""
        with contextlib.suppress(IntegrityError), self.database.session() as session:
            row = session.get(ClinicianRow, launch_id) or ClinicianRow(launch_id=launch_id)
            row.reference, row.name, row.npi = clinician.reference, clinician.name[:512], clinician.npi[:32]
            session.add(row)
