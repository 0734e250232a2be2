"""fetch_patient_record against what the sandbox server will not produce on demand (`responses`): malformed
resources, a 403 on one type, a refused batch, a failing later page, concurrency of the page chains.
The real fetch against the sandbox is in test_record_sandbox.py.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from smart_app.fhir.client import FhirClient
from smart_app.fhir.errors import FhirNotFound, FhirUnauthorized
from smart_app.fhir.record import RECORD_SEARCHES, RECORD_TYPES, fetch_patient_record
from tests.fhir.test_client_faults import BASE, condition, outcome

PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"}


class FakeRecordServer:
    """Answers the batch and per-type searches from pages per type; statuses can be forced per type or page."""

    def __init__(self, pages: dict[str, list[list[Any]]] | None = None) -> None:
        self.pages = pages or {}
        self.type_status: dict[str, int] = {}
        self.page_status: dict[tuple[str, int], int] = {}
        self.batch_status = 200
        self.batch_body: Any = None
        self.raw_pages: dict[tuple[str, int], dict[str, Any]] = {}
        self.batch_requests: list[dict[str, Any]] = []
        self.get_urls: list[str] = []
        self.delay = 0.0
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def install(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(responses.POST, BASE, callback=self.on_batch)
        mock.add_callback(responses.GET, re.compile(rf"{BASE}/\w+.*"), callback=self.on_get)

    def searchset(self, resource_type: str, page: int) -> dict[str, Any]:
        if (resource_type, page) in self.raw_pages:
            return self.raw_pages[(resource_type, page)]
        pages = self.pages.get(resource_type, [[]])
        entries = [{"resource": r, "search": {"mode": "match"}} for r in pages[page - 1]]
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
        bundle["total"] = sum(len(p) for p in pages)
        if page < len(pages):
            bundle["link"] = [{"relation": "next", "url": f"{BASE}/{resource_type}?page={page + 1}"}]
        return bundle

    def answer(self, resource_type: str, page: int) -> tuple[int, dict[str, Any]]:
        status = self.page_status.get((resource_type, page)) or self.type_status.get(resource_type, 200)
        if status != 200:
            return status, outcome(f"HAPI-0333: forced {status}")
        if resource_type == "Patient":
            return 200, PATIENT
        return 200, self.searchset(resource_type, page)

    def on_batch(self, request: Any) -> tuple[int, dict[str, str], str]:
        bundle = json.loads(request.body)
        self.batch_requests.append(bundle)
        if self.batch_status != 200:
            return self.batch_status, {}, json.dumps(outcome("HAPI-0000: batch not supported"))
        if self.batch_body is not None:
            return 200, {}, json.dumps(self.batch_body)
        entries = []
        for entry in bundle["entry"]:
            resource_type = entry["request"]["url"].split("?")[0].split("/")[0]
            status, body = self.answer(resource_type, 1)
            if status == 200:
                entries.append({"resource": body, "response": {"status": "200 OK"}})
            else:
                entries.append({"response": {"status": f"{status} Error", "outcome": body}})
        return 200, {}, json.dumps({"resourceType": "Bundle", "type": "batch-response", "entry": entries})

    def on_get(self, request: Any) -> tuple[int, dict[str, str], str]:
        with self._lock:
            self.get_urls.append(request.url)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            parts = urlsplit(request.url)
            resource_type = parts.path.rsplit("/fhir/", 1)[1].split("/")[0]
            page = int(parse_qs(parts.query).get("page", ["1"])[0])
            status, body = self.answer(resource_type, page)
            return status, {}, json.dumps(body)
        finally:
            with self._lock:
                self.in_flight -= 1


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def client() -> FhirClient:
    return FhirClient(BASE, token_source=lambda: "tok", sleep=lambda _s: None, retries=1)


def test_a_record_with_malformed_resources_still_loads_the_rest(mock: responses.RequestsMock) -> None:
    server = FakeRecordServer(
        {
            "Condition": [
                [
                    condition("c-good"),
                    "Condition/c-string",
                    {"id": "c-no-type"},
                    {"resourceType": "Condition", "subject": {"reference": "Patient/p1"}},
                    condition("c-other", patient="p2"),
                ]
            ],
            "Observation": [
                [
                    {
                        "resourceType": "Observation",
                        "id": "o-naive-time",
                        "status": "final",
                        "code": {"text": "pain"},
                        "subject": {"reference": "Patient/p1"},
                        "effectiveDateTime": "2024-03-01T10:00:00",
                    },
                    {
                        "resourceType": "Observation",
                        "id": "o-ext",
                        "status": "final",
                        "code": {"text": "pain"},
                        "subject": {"reference": "Patient/p1"},
                        "extension": [{"valueString": "no url"}],
                    },
                ]
            ],
        }
    )
    server.install(mock)

    record = fetch_patient_record(client(), "p1")

    assert sorted(f"{r['resourceType']}/{r['id']}" for r in record.resources) == [
        "Condition/c-good",
        "Observation/o-ext",
        "Observation/o-naive-time",
        "Patient/p1",
    ]
    assert record.patient == PATIENT
    assert {(s["reference"], s["reason"]) for s in record.skipped} == {
        ("Condition page 1 entry 1", "resource is not a JSON object"),
        ("?/c-no-type", "no resourceType"),
        ("Condition/?", "no id"),
        ("Condition/c-other", "belongs to another patient (Patient/p2)"),
    }
    naive = [w for w in record.warnings if w.startswith("Observation/o-naive-time kept as raw JSON")]
    assert naive and "effectiveDateTime" in naive[0]
    assert any(w.startswith("Observation/o-ext kept as raw JSON") and "extension.0.url" in w for w in record.warnings)
    assert record.unreadable == {}
    assert record.used_batch is True
    assert record.request_count == 1


def test_entries_without_a_resource_are_skipped_with_their_place(mock: responses.RequestsMock) -> None:
    server = FakeRecordServer()
    server.install(mock)
    server.raw_pages[("Procedure", 1)] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"fullUrl": "urn:x"}, {"resource": [1]}],
    }

    record = fetch_patient_record(client(), "p1")

    assert {"reference": "Procedure page 1 entry 0", "reason": "has no resource"} in record.skipped
    assert {"reference": "Procedure page 1 entry 1", "reason": "resource is not a JSON object"} in record.skipped


def test_403_on_one_type_in_the_batch_makes_it_unreadable(mock: responses.RequestsMock) -> None:
    server = FakeRecordServer({"Condition": [[condition("c1")]]})
    server.type_status["Observation"] = 403
    server.install(mock)

    record = fetch_patient_record(client(), "p1")

    assert record.unreadable == {
        "Observation": "refused by the server: HTTP 403: error exception: HAPI-0333: forced 403"
    }
    assert [r["id"] for r in record.resources] == ["p1", "c1"]
    assert server.get_urls == []


def test_a_refused_batch_falls_back_to_parallel_searches_and_403_stays_local(mock: responses.RequestsMock) -> None:
    server = FakeRecordServer({"Condition": [[condition("c1")], [condition("c2")]]})
    server.batch_status = 405
    server.type_status["Observation"] = 403
    server.install(mock)

    record = fetch_patient_record(client(), "p1")

    assert record.used_batch is False
    assert any(w.startswith("batch refused (HTTP 405") for w in record.warnings)
    assert sorted(r["id"] for r in record.resources) == ["c1", "c2", "p1"]
    assert list(record.unreadable) == ["Observation"]
    assert record.unreadable["Observation"].startswith("refused by the server: HTTP 403")
    # The refused batch, the Patient read, one first page per searched type, and Condition's page 2.
    assert record.request_count == 1 + 1 + len(RECORD_SEARCHES) + 1
    coverage = "/Coverage?beneficiary=Patient/p1&_include=Coverage:payor&_count=200"
    assert any(coverage in url for url in server.get_urls)


def test_an_unusable_batch_answer_falls_back(mock: responses.RequestsMock) -> None:
    server = FakeRecordServer({"Procedure": [[{"resourceType": "Procedure", "id": "pr1", "subject": None}]]})
    server.batch_body = {"resourceType": "Bundle", "type": "batch-response", "entry": []}
    server.install(mock)

    record = fetch_patient_record(client(), "p1")

    assert record.used_batch is False
    assert "batch answer unusable" in record.warnings[0]
    assert sorted(r["id"] for r in record.resources) == ["p1", "pr1"]


def test_one_unusable_batch_entry_is_searched_alone(mock: responses.RequestsMock) -> None:
    server = FakeRecordServer(
        {"ImagingStudy": [[{"resourceType": "ImagingStudy", "id": "img1", "status": "available"}]]}
    )
    server.install(mock)
    real_answer = server.answer

    def flaky(resource_type: str, page: int) -> tuple[int, dict[str, Any]]:
        if resource_type == "ImagingStudy" and not server.get_urls:
            return 500, outcome("HAPI-9999: transient")
        return real_answer(resource_type, page)

    server.answer = flaky  # type: ignore[method-assign]

    record = fetch_patient_record(client(), "p1")

    assert "ImagingStudy: batch entry unusable (status 500); searched alone" in record.warnings
    assert [r["id"] for r in record.resources if r["resourceType"] == "ImagingStudy"] == ["img1"]
    assert len(server.get_urls) == 1


def test_a_failing_later_page_keeps_the_first_and_marks_the_type_incomplete(mock: responses.RequestsMock) -> None:
    server = FakeRecordServer({"Observation": [[observation_at("o1")], [observation_at("o2")], [observation_at("o3")]]})
    server.page_status[("Observation", 2)] = 500
    server.install(mock)

    record = fetch_patient_record(client(), "p1")

    assert [r["id"] for r in record.resources if r["resourceType"] == "Observation"] == ["o1"]
    reason = record.unreadable["Observation"]
    assert reason.startswith("incomplete: Observation: paging stopped after 1 page(s): page 2 failed: HTTP 500")


def test_readable_types_limit_what_is_requested(mock: responses.RequestsMock) -> None:
    server = FakeRecordServer({"Condition": [[condition("c1")]]})
    server.install(mock)

    reader = client()
    record = fetch_patient_record(reader, "p1", readable_types={"Patient", "Condition"})

    urls = [entry["request"]["url"] for entry in server.batch_requests[0]["entry"]]
    assert urls == ["Patient/p1", "Condition?patient=Patient/p1&_count=200"]
    assert reader.page_size == 100 and reader.request_count == 0  # the fetch used its own view of the client
    assert set(record.unreadable) == set(RECORD_TYPES) - {"Patient", "Condition"}
    assert record.unreadable["Observation"] == "not granted: patient/Observation.rs"
    assert record.counts()["Condition"] == 1 and record.counts()["Observation"] == 0


def test_without_patient_read_scope_the_rest_still_loads(mock: responses.RequestsMock) -> None:
    server = FakeRecordServer({"Condition": [[condition("c1")]]})
    server.install(mock)

    record = fetch_patient_record(client(), "p1", readable_types={"Condition"})

    assert record.patient is None
    assert [r["id"] for r in record.resources] == ["c1"]


def test_pages_of_different_types_are_read_concurrently(mock: responses.RequestsMock) -> None:
    server = FakeRecordServer(
        {
            "Condition": [[condition(f"c{i}")] for i in range(4)],
            "Observation": [[observation_at(f"o{i}")] for i in range(4)],
            "Procedure": [[{"resourceType": "Procedure", "id": f"pr{i}"}] for i in range(4)],
        }
    )
    server.delay = 0.05
    server.install(mock)

    record = fetch_patient_record(client(), "p1")

    assert server.max_in_flight >= 2
    others = len(RECORD_SEARCHES) - 3
    assert record.page_count == 3 * 4 + others  # 12 pages of the three types, 1 each for the other searches
    assert record.request_count == 1 + 3 * 3
    assert len(record.resources) == 1 + 12


def test_duplicates_across_pages_are_kept_once(mock: responses.RequestsMock) -> None:
    server = FakeRecordServer({"Condition": [[condition("c1")], [condition("c1"), condition("c2")]]})
    server.install(mock)

    record = fetch_patient_record(client(), "p1")

    assert [r["id"] for r in record.resources if r["resourceType"] == "Condition"] == ["c1", "c2"]
    assert "1 duplicate resource(s) (same type and id) read more than once; kept one" in record.warnings


def test_a_401_anywhere_stops_the_fetch(mock: responses.RequestsMock) -> None:
    server = FakeRecordServer()
    server.type_status["Condition"] = 401
    server.install(mock)
    with pytest.raises(FhirUnauthorized):
        fetch_patient_record(client(), "p1")

    server.batch_status = 401
    with pytest.raises(FhirUnauthorized):
        fetch_patient_record(client(), "p1")


def test_a_missing_patient_is_not_found(mock: responses.RequestsMock) -> None:
    server = FakeRecordServer()
    server.type_status["Patient"] = 404
    server.install(mock)
    with pytest.raises(FhirNotFound):
        fetch_patient_record(client(), "p1")


def test_a_bad_patient_id_is_refused_before_any_request(mock: responses.RequestsMock) -> None:
    with pytest.raises(ValueError, match="not a FHIR patient id"):
        fetch_patient_record(client(), "p1&_include=*")
    assert len(mock.calls) == 0


def observation_at(oid: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"text": "pain"},
        "subject": {"reference": "Patient/p1"},
    }
