"""Builders of small FHIR R4 resources for the core tests (this module holds no tests).

Each builder returns plain JSON with an id, so a test states only what it is about.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

from smart_app.core.model import SYSTEM_CPT, SYSTEM_ICD10, SYSTEM_LOINC, SYSTEM_RXNORM, SYSTEM_SNOMED

PATIENT_ID = "p1"
_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


def patient(birth_date: str = "1968-04-12", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": birth_date, **extra}


def condition(
    code: str,
    system: str = SYSTEM_ICD10,
    *,
    onset: str | None = "2026-01-01",
    clinical: str | None = "active",
    verification: str | None = "confirmed",
    body_site: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": _id("c"),
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }
    if clinical:
        resource["clinicalStatus"] = {"coding": [{"code": clinical}]}
    if verification:
        resource["verificationStatus"] = {"coding": [{"code": verification}]}
    if onset:
        resource["onsetDateTime"] = onset
    if body_site:
        resource["bodySite"] = [{"text": body_site}]
    return {**resource, **extra}


def score(
    value: Any,
    when: str,
    *,
    loinc: str = "72514-3",
    text: str | None = None,
    part_of: str | None = None,
    status: str = "final",
    **extra: Any,
) -> dict[str, Any]:
    code: dict[str, Any] = {"coding": [{"system": SYSTEM_LOINC, "code": loinc}]} if loinc else {}
    if text:
        code["text"] = text
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": _id("o"),
        "status": status,
        "code": code,
        "effectiveDateTime": when,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }
    if value is not None:
        resource["valueQuantity"] = {"value": value}
    if part_of:
        resource["partOf"] = [{"reference": part_of}]
    return {**resource, **extra}


def odi(value: float, when: str) -> dict[str, Any]:
    return score(value, when, loinc="97909-6")


def procedure(
    cpt: str | None,
    text: str,
    when: str,
    *,
    category: str | None = None,
    status: str = "completed",
    body_site: list[dict[str, Any]] | None = None,
    system: str = SYSTEM_CPT,
    **extra: Any,
) -> dict[str, Any]:
    code: dict[str, Any] = {"text": text}
    if cpt:
        code["coding"] = [{"system": system, "code": cpt}]
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": _id("pr"),
        "status": status,
        "code": code,
        "performedDateTime": when,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }
    if category:
        code_of = {"diagnostic": "103693007", "therapeutic": "277132007"}[category]
        resource["category"] = {"coding": [{"system": SYSTEM_SNOMED, "code": code_of}]}
    if body_site is not None:
        resource["bodySite"] = body_site
    return {**resource, **extra}


def mbb(when: str, levels: str = "L4-L5 and L5-S1", side: str = "Bilateral", **extra: Any) -> dict[str, Any]:
    return procedure("64493", f"Diagnostic {side} {levels} lumbar medial branch block", when, **extra)


def rfa(when: str, levels: str = "L4-L5 and L5-S1", words: str = "thermal", **extra: Any) -> dict[str, Any]:
    return procedure("64635", f"Bilateral {levels} medial branch radiofrequency ablation, {words}", when, **extra)


def medication(name: str, when: str, *, rxnorm: str | None = None, status: str = "completed") -> dict[str, Any]:
    concept: dict[str, Any] = {"text": name}
    if rxnorm:
        concept["coding"] = [{"system": SYSTEM_RXNORM, "code": rxnorm}]
    return {
        "resourceType": "MedicationRequest",
        "id": _id("m"),
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": concept,
        "authoredOn": when,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }


def imaging_report(conclusion: str, when: str = "2026-06-20", title: str = "MRI lumbar spine") -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport",
        "id": _id("dr"),
        "status": "final",
        "category": [{"coding": [{"system": SYSTEM_LOINC, "code": "LP29684-5"}]}],
        "code": {"text": title},
        "effectiveDateTime": when,
        "conclusion": conclusion,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }


def note(text: str, when: str = "2026-06-01") -> dict[str, Any]:
    data = base64.b64encode(text.encode()).decode()
    return {
        "resourceType": "DocumentReference",
        "id": _id("d"),
        "status": "current",
        "date": when,
        "content": [{"attachment": {"contentType": "text/plain", "data": data}}],
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }


def device(name: str, status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "Device",
        "id": _id("dev"),
        "status": status,
        "type": {"text": name},
        "patient": {"reference": f"Patient/{PATIENT_ID}"},
    }


def coverage(payor: str, status: str = "active", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Coverage",
        "id": _id("cov"),
        "status": status,
        "payor": [{"display": payor}],
        "beneficiary": {"reference": f"Patient/{PATIENT_ID}"},
        **extra,
    }


def ready_lumbar_record(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    """A record that makes a first lumbar L4-L5/L5-S1 medial branch block `ready` under Medicare."""
    return [
        patient(),
        coverage("Medicare Part B"),
        condition("M47.816", onset="2026-03-01"),
        medication("ibuprofen", "2026-04-02", rxnorm="5640"),
        procedure("97110", "Physical therapy", "2026-05-04"),
        imaging_report("Moderate facet arthropathy at L4-L5 and L5-S1. No fracture."),
        score(7, "2026-10-20T09:00:00-05:00"),
        odi(42, "2026-10-20T09:05:00-05:00"),
        *extra,
    ]
