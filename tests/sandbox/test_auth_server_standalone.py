"""Standalone launch: `launch/patient` shows the sandbox EHR's patient picker; the chosen patient is the context."""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.sandbox.test_auth_server_support import (
    TIMEOUT,
    SmartTestApp,
    create_patient,
    location_params,
)

SCOPE = "launch/patient openid fhirUser patient/Patient.rs"


def open_picker(app: SmartTestApp) -> tuple[requests.Response, str]:
    page = app.authorize(app.authorize_params(SCOPE))
    assert page.status_code == 200, page.text[:300]
    match = re.search(r'name="pending" value="([^"]+)"', page.text)
    assert match is not None
    return page, match.group(1)


def pick(app: SmartTestApp, form: dict[str, str]) -> requests.Response:
    return requests.post(f"{app.server.base_url}/authorize/patient", data=form, allow_redirects=False, timeout=TIMEOUT)


def test_standalone_launch_with_the_patient_picker(public_app: SmartTestApp, fhir_server: Any) -> None:
    chosen = create_patient(fhir_server.base_url, family="Pickme", given="Rosa")
    page, pending = open_picker(public_app)
    assert "Rosa Pickme" in page.text and f'value="{chosen}"' in page.text
    params = location_params(pick(public_app, {"pending": pending, "patient": chosen}))
    assert params["state"] == public_app.last_state
    token = public_app.exchange(params["code"]).json()
    assert token["patient"] == chosen
    assert "launch/patient" in token["scope"].split()
    assert token["id_token"]


def test_picker_cancel_redirects_back_with_access_denied(public_app: SmartTestApp, fhir_server: Any) -> None:
    create_patient(fhir_server.base_url)
    _, pending = open_picker(public_app)
    params = location_params(pick(public_app, {"pending": pending, "cancel": "1"}))
    assert params == {"error": "access_denied", "state": public_app.last_state}


def test_picker_refuses_a_patient_that_is_not_on_the_server(public_app: SmartTestApp, fhir_server: Any) -> None:
    real = create_patient(fhir_server.base_url)
    _, pending = open_picker(public_app)
    refused = pick(public_app, {"pending": pending, "patient": "not-a-patient"})
    assert refused.status_code == 400 and "Choose one of the listed patients" in refused.text
    retry_pending = re.search(r'name="pending" value="([^"]+)"', refused.text)
    assert retry_pending is not None
    assert "code" in location_params(pick(public_app, {"pending": retry_pending.group(1), "patient": real}))


def test_a_picker_selection_is_used_once(public_app: SmartTestApp, fhir_server: Any) -> None:
    chosen = create_patient(fhir_server.base_url)
    _, pending = open_picker(public_app)
    assert "code" in location_params(pick(public_app, {"pending": pending, "patient": chosen}))
    again = pick(public_app, {"pending": pending, "patient": chosen})
    assert again.status_code == 400 and "Location" not in again.headers


def test_standalone_without_launch_patient_has_no_patient_context(public_app: SmartTestApp) -> None:
    code = public_app.authorize_code("openid fhirUser user/Practitioner.rs")
    token = public_app.exchange(code).json()
    assert "patient" not in token and token["id_token"]
