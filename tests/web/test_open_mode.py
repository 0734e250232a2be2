"""An open FHIR server (like the HAPI public sandbox): no OAuth, no Authorization header, patient chosen in the
app."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from tests.web.conftest import Browser, RunningApp, hidden_inputs, sent_to
from tests.web.flows import as_json


def test_open_server_patient_chosen_in_the_app_and_no_authorization_header(
    open_app_server: RunningApp, fhir_server: Any, patients: list[str], browser: Browser, outbound: list[Any]
) -> None:
    home = browser.get(open_app_server.url + "/")
    assert "/open/sandbox-open" in home.text
    launch = browser.follow(f"{open_app_server.url}/launch?" + urlencode({"iss": fhir_server.base_url}))
    assert launch.url == f"{open_app_server.url}/open/sandbox-open"  # an open iss goes to the picker, not OAuth
    form = hidden_inputs(launch.text)
    page = browser.post_form(
        f"{open_app_server.url}/open/sandbox-open/select", {"csrf_token": form["csrf_token"], "patient_id": patients[0]}
    )
    assert page.status_code == 200, page.text
    assert 'class="patient-banner"' in page.text
    summary = as_json(browser, page.url).json()
    assert summary["mode"] == "open"
    assert summary["patient"] == patients[0]
    assert summary["counts"]["Condition"] > 0
    fhir_calls = sent_to(outbound, fhir_server.base_url)
    assert len(fhir_calls) >= 2
    assert all("Authorization" not in request.headers for request in fhir_calls)


def test_search_by_name_lists_matching_patients(
    open_app_server: RunningApp, fhir_server: Any, patients: list[str], browser: Browser
) -> None:
    patient = browser.get(f"{fhir_server.base_url}/Patient/{patients[1]}").json()
    family = patient["name"][0]["family"]
    results = browser.get(f"{open_app_server.url}/open/sandbox-open?" + urlencode({"name": family}))
    assert results.status_code == 200
    assert patients[1] in results.text
    assert results.headers["Cache-Control"] == "no-store"  # names are PHI


def test_selection_needs_the_form_token_and_a_real_patient(open_app_server: RunningApp, browser: Browser) -> None:
    forged = browser.post(f"{open_app_server.url}/open/sandbox-open/select", data={"patient_id": "x"})
    assert forged.status_code == 403
    token = hidden_inputs(browser.get(f"{open_app_server.url}/open/sandbox-open").text)["csrf_token"]
    missing = browser.post_form(
        f"{open_app_server.url}/open/sandbox-open/select", {"csrf_token": token, "patient_id": "does-not-exist"}
    )
    assert missing.status_code == 404
    bad = browser.post_form(
        f"{open_app_server.url}/open/sandbox-open/select", {"csrf_token": token, "patient_id": "../../etc"}
    )
    assert bad.status_code == 400
