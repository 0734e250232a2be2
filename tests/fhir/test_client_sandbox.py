"""FhirClient against the real sandbox FHIR server (session fixture `fhir_server`): paging, open mode,
read-after-write, and the server's own error answers.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from smart_app.fhir.client import FhirClient
from smart_app.fhir.errors import FhirInvalid, FhirNotFound

pytestmark = pytest.mark.sandbox


def load(client: FhirClient, resources: list[dict[str, Any]]) -> list[str]:
    """POST resources in one transaction; returns `Type/id` of each, in order."""
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": r,
                "request": {"method": "POST", "url": r["resourceType"]},
            }
            for r in resources
        ],
    }
    answer = client.transaction(bundle, replay_safe=False)
    references = []
    for entry in answer["entry"]:
        location = entry["response"]["location"]
        parts = location.split("/_history")[0].split("/")
        references.append(f"{parts[-2]}/{parts[-1]}")
    return references


def new_patient(client: FhirClient) -> str:
    created = client.create({"resourceType": "Patient", "name": [{"family": "Paging"}], "gender": "male"})
    assert created.created and created.resource is not None
    return str(created.resource["id"])


def test_paging_across_pages_loses_and_repeats_nothing(empty_fhir_server: Any) -> None:
    client = FhirClient(empty_fhir_server.base_url)
    patient_id = new_patient(client)
    subject = {"reference": f"Patient/{patient_id}"}
    loaded = load(
        client, [{"resourceType": "Condition", "subject": subject, "code": {"text": f"c{i}"}} for i in range(23)]
    )

    result = client.search("Condition", {"patient": f"Patient/{patient_id}", "_count": 5})

    read = [f"Condition/{r['id']}" for r in result.resources]
    assert result.page_count == 5
    assert len(read) == len(set(read)) == 23
    assert set(read) == set(loaded)
    assert result.complete and result.warnings == []


def test_page_cap_against_the_server(empty_fhir_server: Any) -> None:
    client = FhirClient(empty_fhir_server.base_url, max_pages=2)
    patient_id = new_patient(client)
    subject = {"reference": f"Patient/{patient_id}"}
    load(client, [{"resourceType": "Condition", "subject": subject, "code": {"text": f"c{i}"}} for i in range(7)])

    result = client.search("Condition", {"patient": f"Patient/{patient_id}", "_count": 3})

    assert len(result.resources) == 6
    assert result.complete is False
    assert "the cap of 2 pages was reached" in result.warnings[0]


def test_open_mode_sends_no_authorization_header(empty_fhir_server: Any) -> None:
    open_client = FhirClient(empty_fhir_server.base_url, token_source=None)
    patient_id = new_patient(open_client)
    empty_fhir_server.reset_stats()

    open_client.read("Patient", patient_id)
    open_client.search("Condition", {"patient": f"Patient/{patient_id}"})
    open_client.capabilities()

    stats = empty_fhir_server.stats()
    assert stats["requests"] == 3
    assert stats["withAuthorization"] == 0

    # The counter does count the header when one is sent (the server has auth off, so it is ignored).
    FhirClient(empty_fhir_server.base_url, token_source=lambda: "any-token").capabilities()
    assert empty_fhir_server.stats()["withAuthorization"] == 1


def test_read_after_write_sees_the_new_resource(empty_fhir_server: Any) -> None:
    client = FhirClient(empty_fhir_server.base_url)
    patient_id = new_patient(client)
    identifier = f"urn:uuid:{uuid.uuid4()}"
    params = {"identifier": f"urn:ietf:rfc:3986|{identifier}"}
    assert client.search("ServiceRequest", params, no_cache=True).resources == []

    written = client.create(
        {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "proposal",
            "subject": {"reference": f"Patient/{patient_id}"},
            "identifier": [{"system": "urn:ietf:rfc:3986", "value": identifier}],
            "code": {"text": "lumbar medial branch block"},
        },
        if_none_exist=f"identifier=urn:ietf:rfc:3986|{identifier}",
    )

    found = client.search("ServiceRequest", params, no_cache=True)
    assert written.created and written.resource is not None
    assert [r["id"] for r in found.resources] == [written.resource["id"]]


def test_server_errors_arrive_typed_with_their_outcome(empty_fhir_server: Any) -> None:
    client = FhirClient(empty_fhir_server.base_url)

    with pytest.raises(FhirNotFound) as missing:
        client.read("Patient", "no-such-patient")
    assert missing.value.status == 404
    assert missing.value.outcome is not None

    with pytest.raises(FhirInvalid) as invalid:
        client.create({"resourceType": "Patient", "gender": "banana"})
    assert invalid.value.status in (400, 422)
    assert invalid.value.diagnostics
