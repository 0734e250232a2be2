"""FhirClient against faults a real server will not produce on demand (`responses`): 429, 5xx, timeouts,
malformed bodies, foreign `next` links. Behaviour against the real sandbox server is in test_client_sandbox.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import responses

from smart_app.fhir.client import FhirClient
from smart_app.fhir.errors import (
    FhirConflict,
    FhirError,
    FhirForbidden,
    FhirHttpError,
    FhirInvalid,
    FhirMalformedResponse,
    FhirNotFound,
    FhirRateLimited,
    FhirServerError,
    FhirTimeout,
    FhirTransportError,
    FhirUnauthorized,
)
from smart_app.fhir.retry import parse_retry_after

BASE = "https://ehr.example/fhir"
TOKEN = "secret-access-token-123"


def searchset(resources: list[Any], *, next_url: str | None = None, total: int | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    if total is not None:
        bundle["total"] = total
    return bundle


def condition(cid: str, patient: str = "p1") -> dict[str, Any]:
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": f"Patient/{patient}"}}


def outcome(diagnostics: str, *, severity: str = "error", code: str = "exception") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


class SleepRecorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def make_client(sleeps: SleepRecorder, **kwargs: Any) -> FhirClient:
    kwargs.setdefault("token_source", lambda: TOKEN)
    return FhirClient(BASE, sleep=sleeps, **kwargs)


# --- retries -------------------------------------------------------------------------------------------------


def test_429_then_200_is_retried_honouring_retry_after(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    url = f"{BASE}/Condition"
    mock.get(url, status=429, headers={"Retry-After": "2"}, json=outcome("slow down"))
    mock.get(url, json=searchset([condition("c1")]))
    client = make_client(sleeps)

    result = client.search("Condition", {"patient": "Patient/p1"})

    assert [r["id"] for r in result.resources] == ["c1"]
    assert sleeps.waits == [2.0]
    assert client.request_count == 2


def test_retry_after_as_http_date_is_honoured(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    url = f"{BASE}/Patient/p1"
    mock.get(url, status=503, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
    client = make_client(sleeps)
    # 2099 is far beyond the cap: the client gives up at once rather than block for decades.
    with pytest.raises(FhirServerError) as caught:
        client.read("Patient", "p1")
    assert caught.value.status == 503
    assert sleeps.waits == []
    now = datetime(2099, 10, 21, 7, 27, 57, tzinfo=UTC)
    assert parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT", now=now) == pytest.approx(3.0)
    assert parse_retry_after("not a date") is None


def test_retry_after_beyond_the_cap_fails_fast_with_the_delay(
    mock: responses.RequestsMock, sleeps: SleepRecorder
) -> None:
    mock.get(f"{BASE}/Condition", status=429, headers={"Retry-After": "120"})
    client = make_client(sleeps)

    with pytest.raises(FhirRateLimited) as caught:
        client.search("Condition", {"patient": "Patient/p1"})

    assert caught.value.retry_after == 120.0
    assert client.request_count == 1
    assert sleeps.waits == []


def test_backoff_is_exponential_without_retry_after(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    url = f"{BASE}/Patient/p1"
    mock.get(url, status=503)
    mock.get(url, status=502)
    mock.get(url, status=504)
    mock.get(url, json={"resourceType": "Patient", "id": "p1"})
    client = make_client(sleeps)

    assert client.read("Patient", "p1")["id"] == "p1"
    assert sleeps.waits == [0.5, 1.0, 2.0]


def test_500_on_every_try_gives_a_typed_error_with_hapi_diagnostics(
    mock: responses.RequestsMock, sleeps: SleepRecorder
) -> None:
    url = f"{BASE}/Condition"
    mock.get(url, status=503, json=outcome("HAPI-2223: Timer already cancelled"))
    client = make_client(sleeps, retries=2)

    with pytest.raises(FhirServerError) as caught:
        client.search("Condition", {"patient": "Patient/p1"})

    error = caught.value
    assert error.status == 503
    assert error.method == "GET"
    assert error.url.startswith(f"{BASE}/Condition?patient=Patient/p1")
    assert error.diagnostics == "error exception: HAPI-2223: Timer already cancelled"
    assert error.outcome is not None and error.outcome["resourceType"] == "OperationOutcome"
    assert "HAPI-2223" in str(error) and "503" in str(error)
    assert client.request_count == 3  # the first try and two retries


def test_plain_500_is_not_retried(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    mock.get(f"{BASE}/Patient/p1", status=500, json=outcome("HAPI-0389: boom"))
    client = make_client(sleeps)

    with pytest.raises(FhirServerError, match="HAPI-0389"):
        client.read("Patient", "p1")
    assert client.request_count == 1


def test_a_plain_create_is_not_replayed_after_a_gateway_error(
    mock: responses.RequestsMock, sleeps: SleepRecorder
) -> None:
    mock.post(f"{BASE}/ServiceRequest", status=503)
    client = make_client(sleeps)

    with pytest.raises(FhirServerError):
        client.create({"resourceType": "ServiceRequest", "status": "draft"})
    assert client.request_count == 1


def test_a_conditional_create_is_replayed_and_reports_the_match(
    mock: responses.RequestsMock, sleeps: SleepRecorder
) -> None:
    url = f"{BASE}/ServiceRequest"
    mock.post(url, status=504)
    mock.post(
        url,
        status=200,
        json={"resourceType": "ServiceRequest", "id": "sr1"},
        headers={"Location": f"{BASE}/ServiceRequest/sr1/_history/1", "ETag": 'W/"1"'},
    )
    client = make_client(sleeps)

    written = client.create({"resourceType": "ServiceRequest"}, if_none_exist="identifier=urn:x|1")

    assert written.created is False
    assert written.etag == 'W/"1"'
    assert written.resource is not None and written.resource["id"] == "sr1"
    assert mock.calls[1].request.headers["If-None-Exist"] == "identifier=urn:x|1"
    assert client.request_count == 2


@pytest.mark.parametrize(
    ("entry_request", "replayed"),
    [
        ({"method": "POST", "url": "ServiceRequest"}, False),
        ({"method": "POST", "url": "ServiceRequest", "ifNoneExist": "identifier=urn:x|1"}, True),
        ({"method": "PUT", "url": "ServiceRequest/sr1"}, True),
    ],
)
def test_transaction_is_replayed_only_when_safe(
    mock: responses.RequestsMock, sleeps: SleepRecorder, entry_request: dict[str, str], replayed: bool
) -> None:
    mock.post(BASE, status=503)
    mock.post(BASE, json={"resourceType": "Bundle", "type": "transaction-response", "entry": [{}]})
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": {"resourceType": "ServiceRequest"}, "request": entry_request}],
    }
    client = make_client(sleeps)

    if replayed:
        assert client.transaction(bundle)["type"] == "transaction-response"
        assert client.request_count == 2
    else:
        with pytest.raises(FhirServerError):
            client.transaction(bundle)
        assert client.request_count == 1


def test_429_is_retried_even_for_a_plain_create(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    url = f"{BASE}/ServiceRequest"
    mock.post(url, status=429, headers={"Retry-After": "1"})
    mock.post(url, status=201, json={"resourceType": "ServiceRequest", "id": "sr2"})
    client = make_client(sleeps)

    assert client.create({"resourceType": "ServiceRequest"}).created is True
    assert sleeps.waits == [1.0]


# --- transport faults and malformed bodies ---------------------------------------------------------------------


def test_read_timeout_on_every_try_is_a_typed_timeout(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    mock.get(f"{BASE}/Patient/p1", body=requests.exceptions.ReadTimeout("read timed out"))
    client = make_client(sleeps, retries=2)

    with pytest.raises(FhirTimeout) as caught:
        client.read("Patient", "p1")

    assert isinstance(caught.value, FhirTransportError)
    assert caught.value.status is None
    assert "timed out after 3 attempt(s)" in str(caught.value)
    assert client.request_count == 3


def test_read_timeout_on_a_plain_post_is_not_replayed(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    mock.post(f"{BASE}/ServiceRequest", body=requests.exceptions.ReadTimeout("lost after commit?"))
    client = make_client(sleeps)

    with pytest.raises(FhirTimeout):
        client.create({"resourceType": "ServiceRequest"})
    assert client.request_count == 1


def test_connect_timeout_is_retried_even_for_a_plain_post(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    url = f"{BASE}/ServiceRequest"
    mock.post(url, body=requests.exceptions.ConnectTimeout("never connected"))
    mock.post(url, status=201, json={"resourceType": "ServiceRequest", "id": "sr3"})
    client = make_client(sleeps)

    assert client.create({"resourceType": "ServiceRequest"}).status == 201
    assert client.request_count == 2


def test_malformed_json_is_a_typed_error(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    mock.get(f"{BASE}/Condition", body='{"resourceType": "Bundle", "entry": [', content_type="application/fhir+json")
    client = make_client(sleeps)

    with pytest.raises(FhirMalformedResponse, match="not JSON") as caught:
        client.search("Condition", {"patient": "Patient/p1"})
    assert caught.value.status == 200


def test_json_that_is_not_the_expected_resource_is_malformed(
    mock: responses.RequestsMock, sleeps: SleepRecorder
) -> None:
    mock.get(f"{BASE}/Patient/p1", json={"resourceType": "Observation", "id": "o1"})
    mock.get(f"{BASE}/Condition", json=[1, 2, 3])
    client = make_client(sleeps)

    with pytest.raises(FhirMalformedResponse, match="expected a Patient, got 'Observation'"):
        client.read("Patient", "p1")
    with pytest.raises(FhirMalformedResponse, match="expected a Bundle"):
        client.search("Condition")


def test_a_non_fhir_error_body_is_described_not_quoted(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    mock.get(f"{BASE}/Patient/p1", status=404, body="<html>Jane Doe not here</html>", content_type="text/html")
    client = make_client(sleeps)

    with pytest.raises(FhirNotFound) as caught:
        client.read("Patient", "p1")
    assert caught.value.outcome is None
    assert caught.value.diagnostics == "non-FHIR error body (text/html, 30 bytes)"
    assert "Jane" not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, FhirInvalid),
        (401, FhirUnauthorized),
        (403, FhirForbidden),
        (404, FhirNotFound),
        (409, FhirConflict),
        (410, FhirNotFound),
        (412, FhirConflict),
        (422, FhirInvalid),
        (302, FhirHttpError),
    ],
)
def test_status_codes_map_to_typed_errors(
    mock: responses.RequestsMock, sleeps: SleepRecorder, status: int, error_class: type[FhirError]
) -> None:
    mock.put(f"{BASE}/ServiceRequest/sr1", status=status, json=outcome("HAPI-0989: version conflict"))
    client = make_client(sleeps)

    with pytest.raises(error_class) as caught:
        client.update({"resourceType": "ServiceRequest", "id": "sr1"}, if_match="3")
    assert type(caught.value) is error_class
    assert caught.value.status == status
    assert caught.value.diagnostics.endswith("HAPI-0989: version conflict")
    assert mock.calls[0].request.headers["If-Match"] == 'W/"3"'


def test_the_token_never_appears_in_an_error(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    mock.get(f"{BASE}/Patient/p1", status=401, json=outcome("token expired"))
    client = make_client(sleeps)

    with pytest.raises(FhirUnauthorized) as caught:
        client.read("Patient", "p1")
    error = caught.value
    assert mock.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in f"{error} {error!r} {error.url} {error.diagnostics}"


# --- headers -------------------------------------------------------------------------------------------------


def test_token_source_is_asked_for_every_request(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    url = f"{BASE}/Patient/p1"
    mock.get(url, status=503)
    mock.get(url, json={"resourceType": "Patient", "id": "p1"})
    tokens = iter(["first-token", "refreshed-token"])
    client = make_client(sleeps, token_source=lambda: next(tokens))

    client.read("Patient", "p1")

    sent = [call.request.headers["Authorization"] for call in mock.calls]
    assert sent == ["Bearer first-token", "Bearer refreshed-token"]


def test_open_server_gets_no_authorization_even_from_session_defaults(
    mock: responses.RequestsMock, sleeps: SleepRecorder
) -> None:
    mock.get(f"{BASE}/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    session = requests.Session()
    session.headers["Authorization"] = "Bearer leaked-from-elsewhere"
    client = FhirClient(BASE, token_source=None, session=session, sleep=sleeps)

    client.read("Patient", "p1")

    headers = mock.calls[0].request.headers
    assert "Authorization" not in headers
    assert headers["Accept"] == "application/fhir+json"


def test_writes_send_fhir_json(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    mock.post(f"{BASE}/ServiceRequest", status=201, body="")
    client = make_client(sleeps)

    written = client.create({"resourceType": "ServiceRequest", "note": [{"text": "é"}]})

    request = mock.calls[0].request
    assert request.headers["Content-Type"] == "application/fhir+json"
    assert json.loads(request.body or b"")["note"][0]["text"] == "é"
    assert written.created and written.resource is None


def test_no_cache_search_sends_cache_control_on_every_page(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    mock.get(f"{BASE}/ServiceRequest", json=searchset([], next_url=f"{BASE}?_getpages=abc&_getpagesoffset=1"))
    mock.get(BASE, json=searchset([]))
    client = make_client(sleeps)

    client.search("ServiceRequest", {"identifier": "urn:x|1"}, no_cache=True)

    assert [call.request.headers.get("Cache-Control") for call in mock.calls] == ["no-cache", "no-cache"]


# --- paging --------------------------------------------------------------------------------------------------


def test_next_link_to_another_host_is_not_followed_and_gets_no_token(
    mock: responses.RequestsMock, sleeps: SleepRecorder
) -> None:
    mock.get(f"{BASE}/Condition", json=searchset([condition("c1")], next_url="https://evil.example/fhir?page=2"))
    evil = mock.get("https://evil.example/fhir", json=searchset([condition("c2")]))
    client = make_client(sleeps)

    result = client.search("Condition", {"patient": "Patient/p1"})

    assert [r["id"] for r in result.resources] == ["c1"]
    assert result.complete is False
    assert evil.call_count == 0
    assert len(mock.calls) == 1
    assert any("another origin" in w and "evil.example" in w for w in result.warnings)


@pytest.mark.parametrize(
    "next_url",
    [
        "http://ehr.example/fhir?page=2",  # another scheme
        "https://ehr.example:8443/fhir?page=2",  # another port
        "https://ehr.example.evil.example/fhir?page=2",  # a look-alike host
    ],
)
def test_same_origin_means_scheme_host_and_port(
    mock: responses.RequestsMock, sleeps: SleepRecorder, next_url: str
) -> None:
    mock.get(f"{BASE}/Condition", json=searchset([condition("c1")], next_url=next_url))
    client = make_client(sleeps)

    result = client.search("Condition")

    assert result.complete is False
    assert len(mock.calls) == 1


def test_next_links_are_followed_verbatim_and_relative_ones_resolved(
    mock: responses.RequestsMock, sleeps: SleepRecorder
) -> None:
    hapi_next = f"{BASE}?_getpages=8f2a&_getpagesoffset=1&_count=1&_bundletype=searchset"
    mock.get(f"{BASE}/Condition", json=searchset([condition("c1")], next_url=hapi_next))
    mock.get(BASE, json=searchset([condition("c2")], next_url="Condition?_offset=2&_count=1"))
    mock.get(f"{BASE}/Condition", json=searchset([condition("c3")]))
    client = make_client(sleeps)

    result = client.search("Condition", {"_count": 1})

    assert [r["id"] for r in result.resources] == ["c1", "c2", "c3"]
    assert mock.calls[1].request.url == hapi_next
    assert mock.calls[2].request.url == f"{BASE}/Condition?_offset=2&_count=1"
    assert result.page_count == 3 and result.complete


def test_page_cap_stops_with_a_warning(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    for page in range(5):
        mock.get(f"{BASE}/Condition", json=searchset([condition(f"c{page}")], next_url=f"{BASE}/Condition?p={page}"))
    client = make_client(sleeps, max_pages=3)

    result = client.search("Condition")

    assert [r["id"] for r in result.resources] == ["c0", "c1", "c2"]
    assert result.page_count == 3 and result.complete is False
    assert any("cap of 3 pages" in w for w in result.warnings)


def test_outcome_entries_in_a_searchset_become_warnings(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    page = searchset([condition("c1")])
    page["entry"].append(
        {
            "resource": outcome("HAPI-1234: unknown code system", severity="warning", code="processing"),
            "search": {"mode": "outcome"},
        }
    )
    mock.get(f"{BASE}/Condition", json=page)
    client = make_client(sleeps)

    result = client.search("Condition")

    assert [r["id"] for r in result.resources] == ["c1"]
    assert result.outcomes[0]["resourceType"] == "OperationOutcome"
    assert result.warnings == ["Condition: the server reported warning processing: HAPI-1234: unknown code system"]


def test_a_failing_later_page_keeps_what_was_read_when_asked(
    mock: responses.RequestsMock, sleeps: SleepRecorder
) -> None:
    first = searchset([condition("c1")], next_url=f"{BASE}/Condition?page=2")
    mock.get(f"{BASE}/Condition", status=500, json=outcome("HAPI-0001: gone"))
    client = make_client(sleeps)

    result = client.collect_pages(first, label="Condition", keep_partial=True)
    assert [r["id"] for r in result.resources] == ["c1"]
    assert result.complete is False and isinstance(result.error, FhirServerError)
    assert "page 2 failed: HTTP 500" in result.warnings[-1]
    with pytest.raises(FhirServerError):
        client.collect_pages(first, label="Condition")


def test_bad_arguments_are_refused_before_any_request(mock: responses.RequestsMock, sleeps: SleepRecorder) -> None:
    client = make_client(sleeps)
    with pytest.raises(ValueError, match="resource type"):
        client.search("condition; drop")
    with pytest.raises(ValueError, match="FHIR id"):
        client.read("Patient", "../metadata")
    with pytest.raises(ValueError, match="absolute"):
        FhirClient("ehr.example/fhir")
    with pytest.raises(FhirError, match="outside the FHIR server's origin"):
        client.get_bundle("https://evil.example/fhir/Condition")
    assert len(mock.calls) == 0


def test_a_counting_view_shares_the_session_but_not_the_count(
    mock: responses.RequestsMock, sleeps: SleepRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    mock.get(f"{BASE}/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    closed: list[requests.Session] = []
    monkeypatch.setattr(requests.Session, "close", lambda session: closed.append(session))

    with make_client(sleeps) as client:
        view = client.counting()
        view.read("Patient", "p1")
        view.close()
        assert closed == []  # the view must not close the pool it shares
        client.read("Patient", "p1")
        assert (view.request_count, client.request_count) == (1, 1)
    assert len(closed) == 1
    assert len(mock.calls) == 2


def test_an_unreachable_server_is_named_with_a_plain_reason() -> None:
    """A real refused connection (a free loopback port nobody listens on), not a fake."""
    from tests.conftest import free_port

    base = f"http://127.0.0.1:{free_port()}/fhir"
    with pytest.raises(FhirTransportError) as caught:
        FhirClient(base, retries=0).read("Patient", "p1")
    brief = caught.value.brief()
    assert brief.startswith(f"could not reach the server at http://127.0.0.1:{base.split(':')[2].split('/')[0]}")
    assert brief.endswith("connection refused (nothing listens there)")
    assert "Patient/p1" not in brief  # the URL path can name a patient: never in the brief
