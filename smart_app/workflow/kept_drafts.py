"""A kept draft for a launch: found by the launch's EHR and order key, checked against the launch, exported from
what was kept (the EHR may be down at exactly the moment the export is needed).

The order key of a request needs no EHR read: it is derived from the patient, the procedure, the region and the
planned date (`core.documents.order_key`), all known from the launch and the request.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import date
from typing import Any

from smart_app.core.documents import IDENTIFIER_SYSTEM, order_key
from smart_app.core.model import CheckRequest
from smart_app.store.drafts import DraftStore, KeptDraft
from smart_app.store.ehr_scope import ehr_key


class KeptDraftMismatch(Exception):
    """A kept draft found under this launch's key does not belong to its EHR and patient (never served)."""


def request_order_key(patient_id: str, request: CheckRequest, as_of: date) -> str:
    """The order key a check of `request` for this patient on `as_of` has, without reading the record."""
    return order_key(
        {"patient": {"reference": f"Patient/{patient_id}"}, "request": request.to_json(), "as_of": as_of.isoformat()}
    )


def kept_for_launch(store: DraftStore, key: str, *, fhir_base: str, patient_id: str) -> KeptDraft | None:
    """The draft kept for this order of this launch's EHR, or None.

    Raises:
        KeptDraftMismatch: the row names another EHR or patient than the launch (checked on every read).
    """
    kept = store.get(key, ehr=fhir_base)
    if kept is None:
        return None
    if kept.fhir_base != ehr_key(fhir_base) or kept.patient != f"Patient/{patient_id}":
        raise KeptDraftMismatch(f"kept draft {key} does not belong to this launch's EHR and patient")
    return kept


def kept_report_pdf(bundle: Mapping[str, Any], key: str) -> bytes | None:
    """The checklist report PDF inside a kept draft's transaction (its report DocumentReference)."""
    wanted = f"{key}.report"
    for entry in bundle.get("entry", []):
        resource = entry.get("resource") or {}
        values = {
            item.get("value") for item in resource.get("identifier", []) if item.get("system") == IDENTIFIER_SYSTEM
        }
        if resource.get("resourceType") != "DocumentReference" or wanted not in values:
            continue
        for content in resource.get("content", []):
            attachment = content.get("attachment") or {}
            if attachment.get("contentType") == "application/pdf" and attachment.get("data"):
                try:
                    return base64.b64decode(attachment["data"], validate=True)
                except (binascii.Error, ValueError):
                    return None
    return None
