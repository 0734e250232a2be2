"""Drafts kept locally: one per order key, encrypted at rest when a cipher is given, exported back intact."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from smart_app.store.crypto import TokenCipher
from smart_app.store.db import Database
from smart_app.store.drafts import DraftStore
from tests.orders.samples import RECORDED, RFA_PATIENT

EHR = "http://ehr/fhir"
BUNDLE = {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": {"resourceType": "Patient",
          "name": [{"family": "Lopez"}]}, "request": {"method": "POST", "url": "Patient"}}]}  # fmt: skip


def test_a_kept_draft_is_encrypted_at_rest_and_exported_intact(database: Database, cipher: TokenCipher) -> None:
    store = DraftStore(database, cipher)
    store.keep(order_key="k1", patient=RFA_PATIENT, fhir_base=EHR, bundle=BUNDLE,
               reason="refused", diagnostics="error forbidden", now=RECORDED)  # fmt: skip
    with database.engine.connect() as connection:
        raw = connection.execute(text("SELECT bundle FROM kept_order_drafts")).scalar_one()
    assert "Lopez" not in raw
    assert store.export("k1", ehr=EHR) == BUNDLE
    kept = store.get("k1", ehr=EHR)
    assert kept is not None and kept.reason == "refused" and kept.diagnostics == "error forbidden"
    with pytest.raises(ValueError, match="this draft is encrypted and the store has no cipher"):
        DraftStore(database).export("k1", ehr=EHR)


def test_saving_the_same_order_again_replaces_its_draft_and_forget_drops_it(database: Database) -> None:
    store = DraftStore(database)
    for reason in ("first", "second"):
        store.keep(order_key="k1", patient=RFA_PATIENT, fhir_base=EHR, bundle=BUNDLE, reason=reason,
                   now=RECORDED)  # fmt: skip
    assert [draft.reason for draft in store.for_patient(RFA_PATIENT, ehr=EHR)] == ["second"]
    assert store.forget("k1", ehr=EHR) is True
    assert store.export("k1", ehr=EHR) is None and store.forget("k1", ehr=EHR) is False
