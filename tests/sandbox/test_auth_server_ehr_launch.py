"""EHR launch end to end against the running sandbox: the EHR page, the launch redirect, authorize, the token
response (context, id_token), for a public client, a client_secret_basic client and private_key_jwt clients."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest
import requests
from joserfc import jwt

from smart_app.sandbox.auth import AuthServerHandle
from tests.sandbox.test_auth_server_support import (
    LAUNCH_URI,
    TIMEOUT,
    JwksServer,
    SmartTestApp,
    create_patient,
    ec_client_key,
    introspect,
    register_app,
    rsa_client_key,
    server_keys,
)

SCOPE = "openid fhirUser patient/Patient.rs patient/Condition.read offline_access"


def assert_smart_token_response(response_json: dict[str, Any], app: SmartTestApp, patient: str) -> None:
    assert response_json["token_type"] == "Bearer"
    assert len(response_json["access_token"]) >= 32
    assert response_json["expires_in"] == 3600
    assert response_json["patient"] == patient
    assert response_json["need_patient_banner"] is True
    assert set(response_json["scope"].split()) == {"launch", *SCOPE.split()}
    assert response_json["refresh_token"]
    style = requests.get(response_json["smart_style_url"], timeout=TIMEOUT)
    assert style.status_code == 200 and "color_background" in style.json()


def assert_valid_id_token(id_token: str, app: SmartTestApp) -> dict[str, Any]:
    decoded = jwt.decode(id_token, server_keys(app.server), algorithms=["RS256"])
    claims: dict[str, Any] = dict(decoded.claims)
    assert decoded.header["alg"] == "RS256" and decoded.header["kid"]
    assert claims["iss"] == app.server.base_url
    assert claims["aud"] == app.client_id
    assert claims["nonce"] == app.nonce
    assert claims["exp"] > claims["iat"]
    assert claims["sub"]
    assert claims["fhirUser"].startswith(app.server.fhir_base + "/Practitioner/")
    return claims


def test_ehr_page_lists_patients_with_a_launch_button_per_app(
    auth_server: AuthServerHandle, fhir_server: Any, public_app: SmartTestApp
) -> None:
    patient = create_patient(fhir_server.base_url, family="Listedfamily", given="Grace", birth_date="1950-02-03")
    page = requests.get(f"{auth_server.base_url}/ehr", timeout=TIMEOUT)
    assert page.status_code == 200
    assert "Grace Listedfamily" in page.text and "1950-02-03" in page.text and patient in page.text
    assert f"/ehr/launch?patient={patient}&amp;client_id={public_app.client_id}" in page.text
    assert f"client_id={public_app.client_id}&amp;frame=1" in page.text


def test_ehr_page_works_when_the_fhir_server_requires_a_token(
    auth_server: AuthServerHandle, fhir_server: Any, patient_id: str
) -> None:
    fhir_server.configure(require_auth=True)
    try:
        assert requests.get(f"{fhir_server.base_url}/Patient", timeout=TIMEOUT).status_code == 401
        page = requests.get(f"{auth_server.base_url}/ehr", timeout=TIMEOUT)
    finally:
        fhir_server.configure(require_auth=False)
    assert page.status_code == 200 and patient_id in page.text


def test_ehr_page_shows_seed_scenario_labels_and_tolerates_their_absence(
    auth_server: AuthServerHandle, patient_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    described = types.SimpleNamespace(id=patient_id, scenario="Lumbar facet: first block", expected_verdict="ready")
    seed = types.ModuleType("smart_app.sandbox.seed")
    seed.seed_patients = lambda: [described]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "smart_app.sandbox.seed", seed)
    labelled = requests.get(f"{auth_server.base_url}/ehr", timeout=TIMEOUT)
    assert "Lumbar facet: first block (expected: ready)" in labelled.text

    monkeypatch.setitem(sys.modules, "smart_app.sandbox.seed", types.ModuleType("smart_app.sandbox.seed"))
    unlabelled = requests.get(f"{auth_server.base_url}/ehr", timeout=TIMEOUT)
    assert unlabelled.status_code == 200 and patient_id in unlabelled.text
    assert "Lumbar facet: first block" not in unlabelled.text


def test_launch_redirects_to_the_app_with_iss_and_an_opaque_launch(public_app: SmartTestApp, patient_id: str) -> None:
    first = public_app.ehr_launch(patient_id)
    second = public_app.ehr_launch(patient_id)
    assert first["iss"] == public_app.server.fhir_base
    assert len(first["launch"]) >= 32 and first["launch"] != second["launch"]
    assert patient_id not in first["launch"]


def test_launch_in_an_ehr_frame_embeds_the_app_launch_url(public_app: SmartTestApp, patient_id: str) -> None:
    page = requests.get(
        f"{public_app.server.base_url}/ehr/launch",
        params={"patient": patient_id, "client_id": public_app.client_id, "frame": "1"},
        timeout=TIMEOUT,
    )
    assert page.status_code == 200
    assert '<iframe id="app-frame"' in page.text and f'src="{LAUNCH_URI}?iss=' in page.text


@pytest.mark.parametrize(
    ("field", "value"), [("client_id", "no-such-app"), ("patient", "no-such-patient")], ids=["app", "patient"]
)
def test_launch_of_an_unknown_app_or_patient_is_refused(
    public_app: SmartTestApp, patient_id: str, field: str, value: str
) -> None:
    params = {"patient": patient_id, "client_id": public_app.client_id, field: value}
    response = requests.get(
        f"{public_app.server.base_url}/ehr/launch", params=params, allow_redirects=False, timeout=TIMEOUT
    )
    assert response.status_code == 400 and "Location" not in response.headers


def test_public_client_ehr_launch_end_to_end(public_app: SmartTestApp, patient_id: str) -> None:
    token = public_app.launch_and_token(patient_id, SCOPE)
    assert_smart_token_response(token, public_app, patient_id)
    claims = assert_valid_id_token(token["id_token"], public_app)
    active = introspect(public_app.server, token["access_token"]).json()
    assert active["active"] is True
    assert active["patient"] == patient_id
    assert active["client_id"] == public_app.client_id
    assert active["fhirUser"] == claims["fhirUser"] and active["sub"] == claims["sub"]


def test_token_response_is_never_cached(public_app: SmartTestApp, patient_id: str) -> None:
    launch = public_app.ehr_launch(patient_id)
    response = public_app.exchange(public_app.authorize_code("launch patient/Patient.rs", launch=launch["launch"]))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    assert "id_token" not in response.json()  # no openid asked
    assert "refresh_token" not in response.json()  # neither offline_access nor online_access asked


def test_authorize_by_post_and_encounter_context(public_app: SmartTestApp, patient_id: str) -> None:
    launch = public_app.ehr_launch(patient_id, encounter="enc-123")
    code = public_app.authorize_code("launch patient/Encounter.rs", launch=launch["launch"], method="POST")
    token = public_app.exchange(code).json()
    assert token["patient"] == patient_id and token["encounter"] == "enc-123"


def test_client_secret_basic_ehr_launch_end_to_end(auth_server: AuthServerHandle, patient_id: str) -> None:
    app = register_app(auth_server, "client_secret_basic")
    token = app.launch_and_token(patient_id, SCOPE)
    assert_smart_token_response(token, app, patient_id)
    assert_valid_id_token(token["id_token"], app)

    launch = app.ehr_launch(patient_id)
    code = app.authorize_code("launch patient/Patient.rs", launch=launch["launch"])
    wrong = requests.post(
        app.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": app.registration.redirect_uris[0],
            "code_verifier": app.verifier,
        },
        auth=(app.client_id, "not-the-secret"),
        timeout=TIMEOUT,
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    without_auth = requests.post(
        app.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": app.registration.redirect_uris[0],
            "code_verifier": app.verifier,
            "client_id": app.client_id,
        },
        timeout=TIMEOUT,
    )
    assert without_auth.status_code == 401 and without_auth.json()["error"] == "invalid_client"


def test_private_key_jwt_rs384_with_jwks_uri_end_to_end(auth_server: AuthServerHandle, patient_id: str) -> None:
    key = rsa_client_key()
    jwks = JwksServer(key.public_jwks())
    try:
        app = register_app(auth_server, "private_key_jwt", key=key, jwks_uri=jwks.url)
        token = app.launch_and_token(patient_id, SCOPE)
    finally:
        jwks.close()
    assert jwks.requests >= 1
    assert_smart_token_response(token, app, patient_id)
    assert_valid_id_token(token["id_token"], app)


def test_private_key_jwt_es384_with_inline_jwks_end_to_end(auth_server: AuthServerHandle, patient_id: str) -> None:
    app = register_app(auth_server, "private_key_jwt", key=ec_client_key())
    token = app.launch_and_token(patient_id, SCOPE)
    assert_smart_token_response(token, app, patient_id)
    assert_valid_id_token(token["id_token"], app)
