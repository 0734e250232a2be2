"""A Bundle of any type → one patient's resources, urn:uuid references resolved."""

from __future__ import annotations

from typing import Any

import pytest

from smart_app.core.bundles import InvalidBundle, record_from_bundle


def entry(resource: dict[str, Any], full_url: str | None = None, method: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"resource": resource}
    if full_url:
        item["fullUrl"] = full_url
    if method:
        item["request"] = {"method": method, "url": resource["resourceType"]}
    return item


def test_transaction_urn_uuid_references_become_type_slash_id() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            entry({"resourceType": "Patient"}, "urn:uuid:11111111-1111-1111-1111-111111111111", "POST"),
            entry(
                {
                    "resourceType": "Observation",
                    "subject": {"reference": "urn:uuid:11111111-1111-1111-1111-111111111111"},
                    "partOf": [{"reference": "urn:uuid:22222222-2222-2222-2222-222222222222"}],
                },
                "urn:uuid:33333333-3333-3333-3333-333333333333",
                "POST",
            ),
            entry(
                {"resourceType": "Procedure", "id": "proc-1"}, "urn:uuid:22222222-2222-2222-2222-222222222222", "PUT"
            ),
        ],
    }
    record = record_from_bundle(bundle)
    assert record.patient_id == "11111111-1111-1111-1111-111111111111"
    observation = next(r for r in record.resources if r["resourceType"] == "Observation")
    assert observation["id"] == "33333333-3333-3333-3333-333333333333"
    assert observation["subject"]["reference"] == "Patient/11111111-1111-1111-1111-111111111111"
    assert observation["partOf"][0]["reference"] == "Procedure/proc-1"
    assert bundle["entry"][1]["resource"]["subject"]["reference"].startswith("urn:uuid:")  # input left alone


def test_searchset_with_nested_batch_response_and_outcomes() -> None:
    inner = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [entry({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/a"}})],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "batch-response",
        "entry": [
            entry({"resourceType": "Patient", "id": "a"}),
            entry(inner),
            entry({"resourceType": "OperationOutcome", "id": "oo"}),
            {"request": {"method": "DELETE", "url": "Condition/x"}},
        ],
    }
    record = record_from_bundle(bundle)
    assert sorted(r["resourceType"] for r in record.resources) == ["Condition", "Patient"]


def test_several_patients_need_a_choice_and_others_are_dropped() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            entry({"resourceType": "Patient", "id": "a"}),
            entry({"resourceType": "Patient", "id": "b"}),
            entry({"resourceType": "Condition", "id": "ca", "subject": {"reference": "Patient/a"}}),
            entry({"resourceType": "Condition", "id": "cb", "subject": {"reference": "Patient/b"}}),
            entry({"resourceType": "Organization", "id": "org"}),
        ],
    }
    with pytest.raises(InvalidBundle, match="2 patients"):
        record_from_bundle(bundle)
    record = record_from_bundle(bundle, "b")
    assert sorted(r["id"] for r in record.resources) == ["b", "cb", "org"]


@pytest.mark.parametrize(
    ("bundle", "message"),
    [
        ([], "expected a FHIR Bundle, got list"),
        ({"resourceType": "Patient"}, "expected a FHIR Bundle, got Patient"),
        ({"resourceType": "Bundle", "entry": {}}, "not a list"),
        ({"resourceType": "Bundle", "entry": []}, "no Patient"),
    ],
)
def test_unusable_bundles(bundle: Any, message: str) -> None:
    with pytest.raises(InvalidBundle, match=message):
        record_from_bundle(bundle)


def test_an_unknown_patient_id_is_refused() -> None:
    bundle = {"resourceType": "Bundle", "entry": [entry({"resourceType": "Patient", "id": "a"})]}
    with pytest.raises(InvalidBundle, match="no Patient with id 'z'"):
        record_from_bundle(bundle, "z")
