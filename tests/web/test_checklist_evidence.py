"""The evidence view's key fields, from the seed records' own resources and from hand-written edge cases. Pure."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from smart_app.sandbox.seed.catalog import seed_bundles
from smart_app.web.evidence import belongs_to_patient, describe, is_viewable, key_fields, title_of

PATIENT_ID = "p1"


def fields_of(resource: dict[str, Any]) -> dict[str, list[str]]:
    return {field.label: [item.text for item in field.items] for field in key_fields(resource)}


@pytest.fixture(scope="module")
def seed_resources() -> list[dict[str, Any]]:
    bundle = dict(seed_bundles(["pars-chronic-defect-edema-ready"]))["pars-chronic-defect-edema-ready"]
    return [entry["resource"] for entry in bundle["entry"]]


def first(resources: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(resource for resource in resources if resource["resourceType"] == kind)


def test_a_condition_shows_its_code_with_display_and_system_and_its_dates(seed_resources: list) -> None:
    condition = first(seed_resources, "Condition")
    shown = fields_of(condition)
    coding = condition["code"]["coding"][0]
    assert shown["Code"] == [f"{coding['code']} {coding['display']} (ICD-10-CM)"]
    assert shown["Onset"] == [condition["onsetDateTime"]]
    assert shown["Clinical status"][0].startswith("active")
    assert title_of(condition) == f"Condition: {shown['Code'][0]}"


def test_an_observation_shows_its_value_and_a_report_its_conclusion(seed_resources: list) -> None:
    observation = first(seed_resources, "Observation")
    value = observation["valueQuantity"]
    assert fields_of(observation)["Value"] == [f"{value['value']} {value.get('unit') or value['code']}"]
    report = first(seed_resources, "DiagnosticReport")
    assert fields_of(report)["Conclusion"][0].startswith(report["conclusion"][:60])


def test_inline_text_attachments_are_shown_as_text(seed_resources: list) -> None:
    document = first(seed_resources, "DocumentReference")
    attachment = document["content"][0]["attachment"]
    text = base64.b64decode(attachment["data"]).decode("utf-8")
    assert any(text in line for line in fields_of(document)["Report text"])
    broken = {"resourceType": "DiagnosticReport", "presentedForm": [{"contentType": "text/plain", "data": "%%%"}]}
    assert fields_of(broken)["Report text"] == ["text/plain (unreadable content)"]


def test_components_quantities_periods_and_references() -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "Blood pressure"},
        "effectivePeriod": {"start": "2026-10-01"},
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 120}},
            {"code": {"text": "note"}, "valueString": "seated"},
        ],
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "hasMember": [{"reference": "Observation/2"}],
        "derivedFrom": [{"reference": "Observation/3", "display": "earlier"}],
        "basedOn": [{"reference": "ServiceRequest/9"}],
        "performer": [{"reference": "Practitioner/7", "display": "Dr Who"}],
    }
    shown = fields_of(observation)
    assert shown["Components"] == ["8480-6 (LOINC): 120", "note: seated"]
    assert shown["Effective"] == ["2026-10-01 to ongoing"]
    assert shown["Performer"] == ["Dr Who (Practitioner/7)"]
    links = {item.reference for field in key_fields(observation) for item in field.items if item.reference}
    assert links == set()  # a Practitioner is not one of the record's types: shown, not linked
    order = {
        "resourceType": "ServiceRequest",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "supportingInfo": [{"reference": "Condition/c1"}, {"reference": "urn:uuid:0f0"}],
    }
    items = next(field for field in key_fields(order) if field.label == "Supporting information").items
    assert [item.reference for item in items] == ["Condition/c1", None]


def test_describe_handles_any_value() -> None:
    assert describe({"coding": [{"code": "M54.5"}], "text": "Low back pain"}) == "M54.5; Low back pain"
    assert describe([True, 3, None]) == "yes; 3"
    assert describe({"value": 5, "unit": "mg", "comparator": "<"}) == "<5 mg"


def test_only_this_patients_resources_and_the_orders_own_are_shown() -> None:
    mine = {"resourceType": "Condition", "subject": {"reference": f"Patient/{PATIENT_ID}"}}
    absolute = {"resourceType": "Coverage", "beneficiary": {"reference": f"http://ehr/fhir/Patient/{PATIENT_ID}"}}
    other = {"resourceType": "Condition", "subject": {"reference": "Patient/p2"}}
    unlinked_condition = {"resourceType": "Condition"}
    device = {"resourceType": "Device"}
    assert belongs_to_patient(mine, PATIENT_ID)
    assert belongs_to_patient(absolute, PATIENT_ID)
    assert not belongs_to_patient(other, PATIENT_ID)
    assert not belongs_to_patient(unlinked_condition, PATIENT_ID)
    assert belongs_to_patient(device, PATIENT_ID)
    assert belongs_to_patient({"resourceType": "Patient", "id": PATIENT_ID}, PATIENT_ID)
    assert not belongs_to_patient({"resourceType": "Patient", "id": "p2"}, PATIENT_ID)


@pytest.mark.parametrize(
    ("kind", "resource_id", "viewable"),
    [
        ("Condition", "abc-1.2", True),
        ("Provenance", "x", True),
        ("Practitioner", "x", False),
        ("Condition", "../x", False),
        ("condition", "x", False),
        ("Condition", "x" * 65, False),
    ],
)
def test_viewable_types_and_ids(kind: str, resource_id: str, viewable: bool) -> None:
    assert is_viewable(kind, resource_id) is viewable


def test_every_seed_resource_has_key_fields(seed_resources: list) -> None:
    for resource in seed_resources:
        shown = key_fields(resource)
        assert shown, resource["resourceType"]
        assert all(item.text for field in shown for item in field.items)
