"""`/s/<launch_id>/api/check`: the check-result/v1 document (GET with the request in the query, POST with a JSON
body that may carry answers), and errors as OperationOutcome JSON with the right status."""

from __future__ import annotations

import re
from typing import Any

import pytest
import responses

from smart_app.sandbox.seed.catalog import SeedPatient
from tests.web.conftest import NEEDS_DOCUMENTATION, NOT_ELIGIBLE, READY, Browser, RunningApp
from tests.web.test_checklist_support import (
    expected_check,
    launch,
    request_of,
    validate_check_result,
)


def issues(response: Any) -> list[dict[str, Any]]:
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    found: list[dict[str, Any]] = body["issue"]
    return found


@pytest.mark.sandbox
@pytest.mark.parametrize("name", [READY, NOT_ELIGIBLE, NEEDS_DOCUMENTATION])
def test_get_returns_the_check_result_run_check_gives_and_it_validates(
    name: str,
    app_server: RunningApp,
    auth_server: Any,
    fhir_server: Any,
    seeded: dict[str, SeedPatient],
    browser: Browser,
) -> None:
    patient = seeded[name]
    launch_id = launch(browser, app_server, auth_server, patient)
    fields = request_of(patient)
    response = browser.get(f"{app_server.url}/s/{launch_id}/api/check", params=fields)
    assert response.status_code == 200, response.text
    document = response.json()
    validate_check_result(document)
    assert document == expected_check(fhir_server, patient, fields)
    assert document["verdict"] == patient.expected_verdict


@pytest.mark.sandbox
def test_post_takes_a_json_body_with_answers(
    app_server: RunningApp, auth_server: Any, fhir_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    patient = seeded[NEEDS_DOCUMENTATION]
    launch_id = launch(browser, app_server, auth_server, patient)
    fields = request_of(patient)
    before = expected_check(fhir_server, patient, fields)
    unknown = [c["id"] for c in before["criteria"] if c["status"] == "unknown"]
    answers = {criterion: {"status": "met", "note": "documented in the scanned intake form"} for criterion in unknown}
    body = {**fields, "levels": fields["levels"].split(","), "answers": answers}
    response = browser.post(f"{app_server.url}/s/{launch_id}/api/check", json=body)
    assert response.status_code == 200, response.text
    document = response.json()
    validate_check_result(document)
    assert document == expected_check(fhir_server, patient, fields, answers=answers)
    attested = [c for c in document["criteria"] if c["id"] in unknown]
    assert attested and all(c["origin"] == "attested" and c["status"] == "met" for c in attested)
    assert document["verdict"] == "ready"


@pytest.mark.sandbox
def test_bad_input_is_a_400_operation_outcome_naming_each_field(
    app_server: RunningApp, auth_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    patient = seeded[READY]
    launch_id = launch(browser, app_server, auth_server, patient)
    url = f"{app_server.url}/s/{launch_id}/api/check"
    bad = browser.get(url, params={**request_of(patient), "levels": "L4-L6", "intent": "", "side": "up"})
    assert bad.status_code == 400
    by_field = {issue["expression"][0]: issue["details"]["text"] for issue in issues(bad)}
    assert set(by_field) >= {"levels", "side"}
    assert "L6" in by_field["levels"]
    missing_intent = browser.get(url, params={**request_of(patient), "intent": ""})
    assert missing_intent.status_code == 400
    assert issues(missing_intent)[0]["expression"] == ["intent"]

    bad_answers = browser.post(url, json={**request_of(patient), "answers": {"GEN-07": {"status": "met"}}})
    assert bad_answers.status_code == 400
    assert "note" in issues(bad_answers)[0]["details"]["text"]
    not_an_object = browser.post(url, json={**request_of(patient), "answers": ["GEN-07"]})
    assert not_an_object.status_code == 400
    not_json = browser.post(url, data="procedure=pars-injection", headers={"Content-Type": "text/plain"})
    assert not_json.status_code == 415
    assert issues(not_json)[0]["code"] == "invalid"
    array_body = browser.post(url, json=["procedure"])
    assert array_body.status_code == 400


@pytest.mark.sandbox
def test_launch_errors_are_operation_outcomes(
    app_server: RunningApp, auth_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    patient = seeded[READY]
    launch_id = launch(browser, app_server, auth_server, patient)
    unknown = browser.get(f"{app_server.url}/s/not-a-launch/api/check", params=request_of(patient))
    assert unknown.status_code == 404
    assert issues(unknown)[0]["code"] == "not-found"
    with Browser() as stranger:  # another browser: no session cookie for this launch
        foreign = stranger.get(f"{app_server.url}/s/{launch_id}/api/check", params=request_of(patient))
    assert foreign.status_code == 403
    assert issues(foreign)[0]["code"] == "security"


@pytest.mark.sandbox
def test_an_ended_session_answers_401_relaunch(
    app_server: RunningApp, auth_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    patient = seeded[READY]
    launch_id = launch(browser, app_server, auth_server, patient)
    auth_server.set_switches(reject_refresh=True)
    app_server.clock_offset[0] = 3600  # the access token has expired and its refresh is refused
    try:
        response = browser.get(f"{app_server.url}/s/{launch_id}/api/check", params=request_of(patient))
        page = browser.get(f"{app_server.url}/s/{launch_id}/checklist", params={**request_of(patient), "run": "1"})
    finally:
        app_server.clock_offset[0] = 0
    assert response.status_code == 401
    assert issues(response)[0]["code"] == "login"
    assert "launch the app again" in issues(response)[0]["details"]["text"].lower()
    assert page.status_code == 401
    assert "Launch again from your EHR" in page.text


@pytest.mark.sandbox
def test_an_ehr_failure_is_a_502_with_the_servers_diagnostics(
    app_server: RunningApp, auth_server: Any, fhir_server: Any, seeded: dict[str, SeedPatient], browser: Browser
) -> None:
    patient = seeded[READY]
    launch_id = launch(browser, app_server, auth_server, patient)
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "fatal", "code": "exception", "diagnostics": "database connection pool exhausted"}],
    }
    # A real sandbox will not fail on demand: answer every FHIR call with a 500 and let everything else through.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(app_server.url)
        mock.add_passthru(auth_server.base_url)
        everything = re.compile(re.escape(fhir_server.base_url) + ".*")
        for method in (responses.GET, responses.POST):
            mock.add(method, everything, json=outcome, status=500, content_type="application/fhir+json")
        response = browser.get(f"{app_server.url}/s/{launch_id}/api/check", params=request_of(patient))
        page = browser.get(f"{app_server.url}/s/{launch_id}/checklist", params={**request_of(patient), "run": "1"})
    assert response.status_code == 502
    assert "database connection pool exhausted" in issues(response)[0]["details"]["text"]
    assert page.status_code == 502
    assert "database connection pool exhausted" in page.text
    assert "Traceback" not in page.text
