"""fetch_patient_record against the real sandbox FHIR server: the batch fetch returns exactly what was loaded."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from smart_app.fhir.client import FhirClient
from smart_app.fhir.record import RECORD_INCLUDED_TYPES, RECORD_SEARCHES, RECORD_TYPES, fetch_patient_record

pytestmark = pytest.mark.sandbox


MEDICATION_URL = "urn:uuid:medication"  # replaced per load: fullUrls of the resources read by `_include`
PAYOR_URL = "urn:uuid:payor"


def clinical_resources(patient: str, *, many: int) -> list[dict[str, Any]]:
    """One or more resources of every record type, referring to `patient` (a urn:uuid or Patient/id), plus the
    Medication and Organization the record's MedicationRequest and Coverage point to."""
    subject = {"reference": patient}
    text = {"text": "lumbar facet pain"}
    made: list[dict[str, Any]] = [
        {"resourceType": "Medication", "code": {"text": "meloxicam 15 mg tablet"}},
        {"resourceType": "Organization", "name": "Medicare Part B"},
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "subject": subject,
            "medicationReference": {"reference": MEDICATION_URL},
        },
        {"resourceType": "Device", "status": "active", "patient": subject, "type": {"text": "spinal cord stimulator"}},
        {"resourceType": "Condition", "subject": subject, "code": text, "recordedDate": "2024-01-05"},
        {"resourceType": "Procedure", "status": "completed", "subject": subject, "code": text},
        {"resourceType": "ImagingStudy", "status": "available", "subject": subject},
        {"resourceType": "DiagnosticReport", "status": "final", "subject": subject, "code": text},
        {
            "resourceType": "DocumentReference",
            "status": "current",
            "subject": subject,
            "content": [{"attachment": {"contentType": "text/plain", "title": "PT note"}}],
        },
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "subject": subject,
            "medicationCodeableConcept": {"text": "naproxen"},
        },
        {
            "resourceType": "MedicationStatement",
            "status": "active",
            "subject": subject,
            "medicationCodeableConcept": {"text": "ibuprofen"},
        },
        {"resourceType": "Coverage", "status": "active", "beneficiary": subject, "payor": [{"reference": PAYOR_URL}]},
        {"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal", "subject": subject, "code": text},
    ]
    made += [
        {"resourceType": "Observation", "status": "final", "subject": subject, "code": text, "valueInteger": i % 11}
        for i in range(many)
    ]
    return made


def load_patient(client: FhirClient, *, many: int) -> tuple[str, set[str]]:
    """One transaction: a Patient and its resources by urn:uuid; returns the patient id and every `Type/id`."""
    patient_url = f"urn:uuid:{uuid.uuid4()}"
    resources = [
        {"resourceType": "Patient", "name": [{"family": "Record"}]},
        *clinical_resources(patient_url, many=many),
    ]
    full_urls = {
        "Patient": patient_url,
        "Medication": f"urn:uuid:{uuid.uuid4()}",
        "Organization": f"urn:uuid:{uuid.uuid4()}",
    }
    text = json.dumps(resources)
    text = text.replace(MEDICATION_URL, full_urls["Medication"]).replace(PAYOR_URL, full_urls["Organization"])
    entries = [
        {
            "fullUrl": full_urls.get(r["resourceType"], f"urn:uuid:{uuid.uuid4()}"),
            "resource": r,
            "request": {"method": "POST", "url": r["resourceType"]},
        }
        for r in json.loads(text)
    ]
    answer = client.transaction({"resourceType": "Bundle", "type": "transaction", "entry": entries}, replay_safe=False)
    references = set()
    for entry in answer["entry"]:
        parts = entry["response"]["location"].split("/_history")[0].split("/")
        references.add(f"{parts[-2]}/{parts[-1]}")
    patient_id = next(r.split("/")[1] for r in references if r.startswith("Patient/"))
    return patient_id, references


def test_batch_fetch_returns_exactly_the_resources_loaded(empty_fhir_server: Any) -> None:
    client = FhirClient(empty_fhir_server.base_url)
    patient_id, loaded = load_patient(client, many=17)
    load_patient(client, many=3)  # another patient, never to be seen

    record = fetch_patient_record(client, patient_id, page_size=5)

    fetched = [f"{r['resourceType']}/{r['id']}" for r in record.resources]
    assert len(fetched) == len(set(fetched))
    assert set(fetched) == loaded
    assert record.used_batch is True
    assert record.patient is not None and record.patient["id"] == patient_id
    assert record.unreadable == {} and record.skipped == [] and record.warnings == []
    assert all(record.counts()[t] >= 1 for t in (*RECORD_TYPES, *RECORD_INCLUDED_TYPES))
    # 1 batch + Observation pages 2..4 (17 at 5 per page); page count: one first page per search + 3 more.
    assert record.request_count == 1 + 3
    assert record.page_count == len(RECORD_SEARCHES) + 3


def test_request_count_agrees_with_the_server(empty_fhir_server: Any) -> None:
    client = FhirClient(empty_fhir_server.base_url)
    patient_id, _ = load_patient(client, many=9)
    empty_fhir_server.reset_stats()

    record = fetch_patient_record(client, patient_id, page_size=4)

    assert empty_fhir_server.request_count() == record.request_count == 1 + 2


def test_readable_types_are_honoured_against_the_server(empty_fhir_server: Any) -> None:
    client = FhirClient(empty_fhir_server.base_url)
    patient_id, loaded = load_patient(client, many=2)

    record = fetch_patient_record(client, patient_id, readable_types={"Patient", "Condition", "Coverage"})

    assert {r["resourceType"] for r in record.resources} == {"Patient", "Condition", "Coverage"}
    assert {f"{r['resourceType']}/{r['id']}" for r in record.resources} < loaded
    assert set(record.unreadable) == set(RECORD_TYPES) - {"Patient", "Condition", "Coverage"}
