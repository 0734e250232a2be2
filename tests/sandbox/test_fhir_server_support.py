"""Helpers for the sandbox FHIR server tests: a small JSON client and builders for patients, observations and
Bundles. No tests here."""

from __future__ import annotations

import uuid
from typing import Any

import requests

TIMEOUT = 30
FHIR_JSON = "application/fhir+json"
MRN_SYSTEM = "urn:example:sandbox-test-mrn"


class Fhir:
    """A thin requests wrapper for one FHIR base; every call returns the raw response."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers.update({"Accept": FHIR_JSON})
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}/{path}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url(path), timeout=TIMEOUT, **kwargs)

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
        return self.session.post(self.url(path), json=body, headers=_json_headers(headers), timeout=TIMEOUT)

    def put(self, path: str, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
        return self.session.put(self.url(path), json=body, headers=_json_headers(headers), timeout=TIMEOUT)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.url(path), timeout=TIMEOUT)

    def bundle(self, bundle: dict[str, Any]) -> requests.Response:
        return self.post(self.base_url, bundle)

    def search_all(self, path: str) -> tuple[list[str], int]:
        """Follow `next` links from `path`; return every matched id (in order) and the number of pages."""
        ids: list[str] = []
        pages = 0
        url: str | None = self.url(path)
        while url:
            response = self.get(url)
            assert response.status_code == 200, response.text
            page = response.json()
            pages += 1
            ids += [entry["resource"]["id"] for entry in page.get("entry", []) if entry["search"]["mode"] == "match"]
            url = link(page, "next")
        return ids, pages


def _json_headers(headers: dict[str, str] | None) -> dict[str, str]:
    return {"Content-Type": FHIR_JSON, **(headers or {})}


def link(bundle: dict[str, Any], relation: str) -> str | None:
    for item in bundle.get("link", []):
        if item["relation"] == relation:
            return str(item["url"])
    return None


def new_id() -> str:
    return str(uuid.uuid4())


def patient(patient_id: str | None = None, mrn: str | None = None, **fields: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "gender": "female", "birthDate": "1962-05-01", **fields}
    if patient_id:
        resource["id"] = patient_id
    if mrn:
        resource["identifier"] = [{"system": MRN_SYSTEM, "value": mrn}]
    return resource


def observation(patient_ref: str, when: str = "2024-03-01", status: str = "final", **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": status,
        "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3", "display": "Pain severity"}]},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": when,
        "valueInteger": 5,
        **fields,
    }


def put_entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{resource['id']}",
        "resource": resource,
        "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
    }


def post_entry(resource: dict[str, Any], full_url: str | None = None, **request: str) -> dict[str, Any]:
    return {
        "fullUrl": full_url or f"urn:uuid:{new_id()}",
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }


def transaction(*entries: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def load_patient_with_observations(fhir: Fhir, count: int, dates: list[str] | None = None) -> str:
    """One transaction: a patient and `count` observations (PUT with client ids). Returns the patient id."""
    patient_id = new_id()
    entries = [put_entry(patient(patient_id))]
    for i in range(count):
        when = dates[i % len(dates)] if dates else f"20{10 + i % 15}-01-{1 + i % 28:02d}"
        entries.append(put_entry({**observation(f"Patient/{patient_id}", when), "id": new_id()}))
    response = fhir.bundle(transaction(*entries))
    assert response.status_code == 200, response.text[:500]
    return patient_id


def assert_outcome(response: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"], body
    if code is not None:
        assert code in [issue["code"] for issue in body["issue"]], body
    return body
