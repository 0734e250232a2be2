"""Launches that must fail: readable page for browsers, OperationOutcome for API callers, nothing sent where it
should not be."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest

from smart_app.store.audit import events
from tests.web.conftest import Browser, RunningApp, sent_elsewhere
from tests.web.flows import ehr_launch, start_launch


def _error_code(html: str) -> str:
    marker = 'data-error-code="'
    assert marker in html, html[:500]
    return html.split(marker, 1)[1].split('"', 1)[0]


@pytest.mark.parametrize(
    "iss",
    ["https://attacker.example/fhir", "http://127.0.0.1:9/fhir", "https://hapi.fhir.org/baseR4/../evil"],
)
def test_unregistered_iss_is_refused_before_any_network_call(
    app_server: RunningApp, browser: Browser, outbound: list[Any], iss: str
) -> None:
    page = browser.get(f"{app_server.url}/launch?" + urlencode({"iss": iss, "launch": "xyz"}), allow_redirects=False)
    assert page.status_code == 403
    assert _error_code(page.text) == "unknown-iss"
    assert "not registered" in page.text
    assert sent_elsewhere(outbound, app_server) == []  # no discovery, no redirect, nothing
    assert "Location" not in page.headers
    api = browser.get(f"{app_server.url}/launch?" + urlencode({"iss": iss}), headers={"Accept": "application/json"})
    outcome = api.json()
    assert api.status_code == 403
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "unknown-iss"
    assert api.headers["Content-Type"].startswith("application/fhir+json")


def test_missing_iss_is_a_clear_400(app_server: RunningApp, browser: Browser) -> None:
    page = browser.get(f"{app_server.url}/launch?launch=abc")
    assert page.status_code == 400
    assert _error_code(page.text) == "missing-iss"


def test_denied_consent_page_and_operation_outcome(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    auth_server.set_switches(authorize_error="access_denied")
    page = ehr_launch(browser, app_server, auth_server, patients[0])
    assert page.status_code == 403
    assert _error_code(page.text) == "access-denied"
    assert "Launch again from your EHR" in page.text
    api = ehr_launch(Browser(), app_server, auth_server, patients[0], headers={"Accept": "application/json"})
    assert api.status_code == 403
    assert api.json()["issue"][0]["code"] == "forbidden"
    with app_server.services.database.session() as db:
        assert any(e.event == "launch.denied" for e in events(db))


def test_expired_state_is_refused(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    authorize_url = start_launch(browser, app_server, auth_server, patients[0])
    app_server.clock_offset[0] = 3600.0  # the user came back an hour later
    try:
        page = browser.follow(authorize_url)
    finally:
        app_server.clock_offset[0] = 0.0
    assert page.status_code == 400
    assert _error_code(page.text) == "state-expired"
    assert "expired" in page.text


def test_state_is_single_use_and_unknown_state_is_refused(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    authorize_url = start_launch(browser, app_server, auth_server, patients[0])
    callback = browser.get(authorize_url, allow_redirects=False).headers["Location"]
    assert browser.follow(callback).status_code == 200
    replay = browser.follow(callback)
    assert replay.status_code == 400
    assert _error_code(replay.text) == "state-used"
    forged = browser.get(f"{app_server.url}/callback?code=abc&state=never-issued")
    assert _error_code(forged.text) == "unknown-state"
    assert browser.get(f"{app_server.url}/callback").status_code == 400


def test_invalid_grant_at_code_exchange(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    authorize_url = start_launch(browser, app_server, auth_server, patients[0])
    callback = urlsplit(browser.get(authorize_url, allow_redirects=False).headers["Location"])
    query = {k: v[0] for k, v in parse_qs(callback.query).items()}
    query["code"] = "not-a-code-the-server-issued"
    page = browser.follow(urlunsplit(callback._replace(query=urlencode(query))))
    assert page.status_code == 400
    assert _error_code(page.text) == "invalid-grant"
    assert "launch the app again from your EHR" in page.text


def test_launch_pages_need_the_session_that_made_them(
    app_server: RunningApp, auth_server: Any, patients: list[str], browser: Browser
) -> None:
    page = ehr_launch(browser, app_server, auth_server, patients[0])
    assert page.status_code == 200
    stranger = Browser()
    foreign = stranger.get(page.url)
    assert foreign.status_code == 403
    assert _error_code(foreign.text) == "launch-not-yours"
    assert patients[0] not in foreign.text
    unknown = browser.get(f"{app_server.url}/s/no-such-launch/", headers={"Accept": "application/json"})
    assert unknown.status_code == 404
    assert unknown.json()["issue"][0]["code"] == "not-found"
