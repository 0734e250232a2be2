"""Rows that name a patient also name their EHR (issue 14 item 1): kept drafts and attestations of two EHRs with the
same patient id and order key stay apart, and a database of the first schema is upgraded (drafts moved under the
EHR they were kept for; attestations without an EHR never answer)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from smart_app.store.attestations import AttestationStore
from smart_app.store.db import Database
from smart_app.store.drafts import DraftStore
from smart_app.store.migrate import INITIAL_REVISION, upgrade

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EHR_A, EHR_B = "http://a.example/fhir", "http://b.example/fhir/"
BUNDLE = {"resourceType": "Bundle", "type": "transaction", "entry": []}


def test_two_ehrs_keep_drafts_under_the_same_order_key_apart(database: Database) -> None:
    store = DraftStore(database)
    store.keep(order_key="k", patient="Patient/1", fhir_base=EHR_A, bundle=BUNDLE, reason="A", now=NOW)
    store.keep(order_key="k", patient="Patient/1", fhir_base=EHR_B, bundle=BUNDLE, reason="B", now=NOW)
    kept_a, kept_b = store.get("k", ehr=EHR_A), store.get("k", ehr=EHR_B.rstrip("/"))
    assert kept_a is not None and kept_a.reason == "A"
    assert kept_b is not None and kept_b.reason == "B" and kept_b.fhir_base == "http://b.example/fhir"
    assert store.get("k", ehr="http://c.example/fhir") is None
    assert store.forget("k", ehr=EHR_B) is True
    assert store.get("k", ehr=EHR_A) is not None
    assert [item.reason for item in store.for_patient("Patient/1", ehr=EHR_A)] == ["A"]
    assert store.for_patient("Patient/1", ehr=EHR_B) == []


def _first_schema(path: Path) -> str:
    """A database as the first schema made it (revision 0001): kept_drafts keyed by order key, attestations
    without an EHR, with rows in both."""
    url = f"sqlite:///{path}"
    legacy = Database(url)
    upgrade(legacy, INITIAL_REVISION)
    with legacy.engine.begin() as connection:
        row = (
            "INSERT INTO kept_drafts (order_key, patient, fhir_base, reason, diagnostics, bundle, encrypted, kept_at)"
            " VALUES (:key, 'Patient/1', :base, 'refused', '', :bundle, 0, '2026-11-01')"
        )
        connection.execute(text(row), {"key": "k-old", "base": EHR_B, "bundle": json.dumps(BUNDLE)})
        connection.execute(text(row), {"key": "k-nobase", "base": "", "bundle": json.dumps(BUNDLE)})
        connection.execute(text(
            "INSERT INTO attestations (id, launch_id, request_key, criterion_id, status, note, encrypted, attested_by,"
            " attested_at) VALUES (1, 'L1', 'k', 'GEN-07', 'met', 'old', 0, NULL, '2026-11-01')"
        ))  # fmt: skip
    legacy.dispose()
    return url


def test_a_first_schema_database_is_upgraded_without_cross_ehr_matches(tmp_path: Path) -> None:
    database = Database(_first_schema(tmp_path / "old.sqlite"))
    try:
        database.create_all()
        drafts = DraftStore(database)
        moved = drafts.get("k-old", ehr=EHR_B)
        assert moved is not None and moved.reason == "refused"
        assert drafts.export("k-old", ehr=EHR_B) == BUNDLE
        assert drafts.get("k-old", ehr=EHR_A) is None
        assert drafts.get("k-nobase", ehr=EHR_A) is None and drafts.get("k-nobase", ehr="") is None
        with database.engine.connect() as connection:
            left = connection.execute(text("SELECT order_key FROM kept_drafts")).scalars().all()
        assert left == ["k-nobase"]  # kept, never served
        attestations = AttestationStore(database)
        assert attestations.for_request("L1", "k", ehr=EHR_A) == []
        attestations.attest(ehr=EHR_A, launch_id="L2", request_key="k", criterion_id="GEN-07", status="met",
                            note="new", attested_by=None, now=NOW)  # fmt: skip
        assert [item.note for item in attestations.for_request("L2", "k", ehr=EHR_A)] == ["new"]
        database.create_all()  # a second start changes nothing
        assert drafts.get("k-old", ehr=EHR_B) is not None
    finally:
        database.dispose()
