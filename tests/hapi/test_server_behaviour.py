"""What the real HAPI JPA server does that the Node sandbox may do differently, pinned: If-Match conflicts, 400 with
an OperationOutcome, paging through `_getpages` (default 20, capped at 200, past the end), `$everything`,
`$validate` against an installed IG, Bulk Data `$export`, and bearer tokens and scopes checked in front of it."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from smart_app.fhir.client import FhirClient
from smart_app.fhir.errors import FhirConflict, FhirForbidden, FhirInvalid, FhirUnauthorized

pytestmark = pytest.mark.sandbox
FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


def patient(family: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": family, "given": ["Test"]}], "gender": "female"}


@pytest.fixture(scope="module")
def many_patients(hapi_server: Any) -> str:
    """45 patients sharing a family name, so a search pages (20 + 20 + 5)."""
    family = f"Pager{time.time_ns()}"
    entries = [{"resource": patient(family), "request": {"method": "POST", "url": "Patient"}} for _ in range(45)]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    answer = requests.post(hapi_server.base_url, json=bundle, headers=FHIR_JSON, timeout=120)
    assert answer.status_code == 200, answer.text[:300]
    return family


def test_a_stale_if_match_is_a_version_conflict(hapi_server: Any) -> None:
    client = FhirClient(hapi_server.base_url)
    created = client.create(patient("Stale"))
    current = client.read("Patient", created.resource["id"])
    client.update({**current, "gender": "male"}, if_match=current["meta"]["versionId"])
    with pytest.raises(FhirConflict) as raised:
        client.update({**current, "gender": "other"}, if_match=current["meta"]["versionId"])
    assert raised.value.status == 409  # HAPI answers 409 (HAPI-0989) where R4 says 412; the client takes both
    assert raised.value.diagnostics and "HAPI-" in raised.value.diagnostics
    raw = requests.put(
        f"{hapi_server.base_url}/Patient/{current['id']}",
        json={**current, "gender": "other"},
        headers={**FHIR_JSON, "If-Match": 'W/"1"'},
        timeout=30,
    )
    assert raw.status_code == 409
    assert raw.json()["resourceType"] == "OperationOutcome"


def test_an_invalid_resource_is_400_with_an_operation_outcome(hapi_server: Any) -> None:
    answer = requests.post(
        f"{hapi_server.base_url}/Patient",
        json={"resourceType": "Patient", "gender": "sometimes"},
        headers=FHIR_JSON,
        timeout=30,
    )
    assert answer.status_code == 400
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["severity"] == "error"
    with pytest.raises(FhirInvalid):
        FhirClient(hapi_server.base_url).create({"resourceType": "Patient", "birthDate": "not-a-date"})


def test_searches_page_through_getpages_20_at_a_time(hapi_server: Any, many_patients: str) -> None:
    first = requests.get(f"{hapi_server.base_url}/Patient", params={"family": many_patients}, timeout=60).json()
    assert len(first["entry"]) == 20
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    assert "_getpages=" in next_url
    client = FhirClient(hapi_server.base_url)
    everyone = client.search("Patient", {"family": many_patients})
    assert len(everyone.resources) == 45


def test_count_is_capped_at_200(hapi_server: Any, many_patients: str) -> None:
    answer = requests.get(f"{hapi_server.base_url}/Patient", params={"_count": "500"}, timeout=60).json()
    assert len(answer.get("entry", [])) <= 200
    assert len(answer["entry"]) == 200 or "next" not in {link["relation"] for link in answer["link"]}


def test_paging_past_the_end(hapi_server: Any, many_patients: str) -> None:
    first = requests.get(f"{hapi_server.base_url}/Patient", params={"family": many_patients}, timeout=60).json()
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    search_id = next_url.split("_getpages=")[1].split("&")[0]
    past = requests.get(
        hapi_server.base_url,
        params={"_getpages": search_id, "_getpagesoffset": "1000", "_count": "20", "_bundletype": "searchset"},
        timeout=60,
    )
    # Past the end: an empty page without a `next` link (measured), so a client's paging loop ends.
    assert past.status_code == 200
    assert past.json().get("entry", []) == []
    assert "next" not in {link["relation"] for link in past.json().get("link", [])}
    unknown = requests.get(hapi_server.base_url, params={"_getpages": "no-such-search"}, timeout=60)
    assert unknown.status_code == 410 and unknown.json()["resourceType"] == "OperationOutcome"


def test_patient_everything_with_a_type_filter(hapi_server: Any) -> None:
    client = FhirClient(hapi_server.base_url)
    someone = client.create(patient("Everything")).resource["id"]
    client.create(
        {"resourceType": "Condition", "subject": {"reference": f"Patient/{someone}"}, "code": {"text": "low back pain"}}
    )
    client.create(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "pain score"},
            "subject": {"reference": f"Patient/{someone}"},
        }
    )
    answer = requests.get(
        f"{hapi_server.base_url}/Patient/{someone}/$everything", params={"_type": "Patient,Condition"}, timeout=60
    )
    assert answer.status_code == 200
    types = sorted(entry["resource"]["resourceType"] for entry in answer.json()["entry"])
    assert types == ["Condition", "Patient"]


def test_validate_against_an_installed_guide(hapi_server: Any) -> None:
    profile = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
    bare = {"resourceType": "Patient", "meta": {"profile": [profile]}, "gender": "female"}
    answer = requests.post(f"{hapi_server.base_url}/Patient/$validate", json=bare, headers=FHIR_JSON, timeout=180)
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    errors = [issue for issue in outcome["issue"] if issue["severity"] in ("error", "fatal")]
    # US Core patients need an identifier and a name: the server knows the profile, so it says so.
    texts = " ".join(str(issue.get("diagnostics", "")) + str(issue.get("details", "")) for issue in errors)
    assert "identifier" in texts.lower() or "name" in texts.lower(), texts[:500]
    assert all("unknown profile" not in str(issue).lower() for issue in outcome["issue"])


def test_bulk_export_is_on(hapi_server: Any) -> None:
    kickoff = requests.get(
        f"{hapi_server.base_url}/$export",
        params={"_type": "Patient"},
        headers={"Accept": "application/fhir+json", "Prefer": "respond-async"},
        timeout=60,
    )
    assert kickoff.status_code == 202, kickoff.text[:300]
    assert "$export-poll-status" in kickoff.headers["Content-Location"]


def test_tokens_and_scopes_are_checked_in_front_of_hapi(hapi_server: Any, hapi_auth_server: Any) -> None:
    client = FhirClient(hapi_server.base_url)
    mine = client.create(patient("Mine")).resource["id"]
    other = client.create(patient("Other")).resource["id"]
    hapi_server.configure(require_auth=True)
    with pytest.raises(FhirUnauthorized):
        FhirClient(hapi_server.base_url).read("Patient", mine)
    with pytest.raises(FhirUnauthorized):
        FhirClient(hapi_server.base_url, token_source=lambda: "not-a-token").read("Patient", mine)
    token = hapi_auth_server.issue_token("patient/Patient.rs patient/Condition.rs", patient=mine, lifetime=300)
    scoped = FhirClient(hapi_server.base_url, token_source=lambda: token)
    assert scoped.read("Patient", mine)["id"] == mine
    with pytest.raises(FhirForbidden):
        scoped.read("Patient", other)
    with pytest.raises(FhirForbidden):
        scoped.create({"resourceType": "Condition", "subject": {"reference": f"Patient/{mine}"}})
    metadata = requests.get(f"{hapi_server.base_url}/metadata", timeout=60)
    assert metadata.status_code == 200
    smart = requests.get(f"{hapi_server.base_url}/.well-known/smart-configuration", timeout=30)
    assert smart.status_code == 200 and smart.json()["token_endpoint"].startswith(hapi_auth_server.base_url)
