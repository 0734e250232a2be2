"""The launch's clinician as the EHR names them (from the `fhirUser` Practitioner), read once per launch.

One row per launch: the display name and NPI the pages, attestations, report and Provenance show instead of a URL.
A launch whose user could not be read keeps a row with empty fields, so the EHR is not asked again on every page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, Table, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from smart_app.store.db import Base, Database


class ClinicianRow(Base):
    __tablename__ = "launch_clinicians"

    launch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reference: Mapped[str] = mapped_column(String(2048), default="")
    name: Mapped[str] = mapped_column(String(512), default="")
    npi: Mapped[str] = mapped_column(String(32), default="")


CLINICIANS: Table = ClinicianRow.__table__  # type: ignore[assignment]


def _upsert(insert: Any) -> Any:
    statement = insert(CLINICIANS)
    kept = {name: statement.excluded[name] for name in ("reference", "name", "npi")}
    return statement.on_conflict_do_update(index_elements=["launch_id"], set_=kept)


_UPSERTS = {"sqlite": _upsert(sqlite_insert), "postgresql": _upsert(postgresql_insert)}


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
        with self.database.transaction() as db:
            row = db.execute(
                select(CLINICIANS.c.reference, CLINICIANS.c.name, CLINICIANS.c.npi).where(
                    CLINICIANS.c.launch_id == launch_id
                )
            ).first()
            return Clinician(row.reference, row.name, row.npi) if row else None

    def keep(self, launch_id: str, clinician: Clinician) -> None:
        """Keep the clinician of a launch (replaces an earlier row: two tabs racing store the same thing), as one
        INSERT … ON CONFLICT DO UPDATE where the database has it."""
        values = {"reference": clinician.reference, "name": clinician.name[:512], "npi": clinician.npi[:32]}
        with self.database.transaction() as db:
            upsert = _UPSERTS.get(db.dialect.name)
            if upsert is not None:
                db.execute(upsert, {"launch_id": launch_id, **values})
                return
        with self.database.session() as session:
            row = session.get(ClinicianRow, launch_id) or ClinicianRow(launch_id=launch_id)
            row.reference, row.name, row.npi = values["reference"], values["name"], values["npi"]
            session.add(row)
