"""What the app offers follows the scopes granted, not the scopes requested."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import Browser, RunningApp, sent_to
from tests.web.flows import as_json, ehr_launch, load_summary


def test_without_write_scopes_the_app_is_read_only_and_says_so_up_front(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    auth_server.set_switches(drop_scopes=["patient/ServiceRequest.*", "patient/DocumentReference.*"])
    page = ehr_launch(browser, app_server, auth_server, patients[0])
    assert page.status_code == 200, page.text
    fragment = load_summary(browser, page).text
    assert 'data-write-mode="export-only"' in fragment
    assert "Read-only: the draft order cannot be written to the EHR." in fragment
    assert "patient/ServiceRequest.cu" in fragment
    summary = as_json(browser, page.url).json()
    assert summary["writeMode"] == "export-only"
    assert summary["missingWriteScopes"] == ["patient/ServiceRequest.cu", "patient/DocumentReference.cu"]
    assert not any("ServiceRequest" in scope for scope in summary["scopesGranted"])


def test_types_without_a_read_scope_are_not_fetched_and_the_page_says_why(
    app_server: RunningApp,
    auth_server: Any,
    fhir_server: Any,
    patients: list[str],
    browser: Browser,
    outbound: list[Any],
) -> None:
    auth_server.set_switches(drop_scopes=["patient/Observation.*", "patient/Coverage.*"])
    page = ehr_launch(browser, app_server, auth_server, patients[0])
    assert page.status_code == 200, page.text
    summary = as_json(browser, page.url).json()
    assert set(summary["unreadable"]) >= {"Observation", "Coverage"}
    assert "not granted" in summary["unreadable"]["Observation"]
    assert summary["counts"]["Observation"] == 0
    assert summary["counts"]["Condition"] > 0
    fragment = load_summary(browser, page).text
    assert 'data-type="Observation"' in fragment and "not read:" in fragment
    assert summary["writeMode"] == "write"
    for request in sent_to(outbound, fhir_server.base_url):
        assert "Observation?" not in (request.url or "")
        body = request.body if isinstance(request.body, bytes) else b""
        assert b"Observation?" not in body


def test_patient_banner_only_when_the_ehr_asks_for_it(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    shown = ehr_launch(browser, app_server, auth_server, patients[0])
    assert 'class="patient-banner"' in shown.text
    auth_server.set_switches(need_patient_banner=False)
    hidden = ehr_launch(browser, app_server, auth_server, patients[0])
    assert hidden.status_code == 200
    assert 'class="patient-banner"' not in hidden.text
    assert as_json(browser, hidden.url).json()["needPatientBanner"] is False
