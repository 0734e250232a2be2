"""What the sandbox authorization server refuses: PKCE faults, bad `aud`/`launch`/redirect_uri, replayed codes,
and every private_key_jwt fault SMART names (replayed jti, exp too far ahead, wrong aud, no kid, wrong alg)."""

from __future__ import annotations

import uuid

import pytest
import requests

from smart_app.sandbox.auth import AuthServerHandle
from tests.sandbox.test_auth_server_support import (
    REDIRECT_URI,
    TIMEOUT,
    SmartTestApp,
    client_assertion,
    ec_client_key,
    introspect,
    location_params,
    register_app,
    rsa_client_key,
)

SCOPE = "launch patient/Patient.rs"


def launch_params(app: SmartTestApp, patient: str, **overrides: str | None) -> dict[str, str]:
    launch = app.ehr_launch(patient)["launch"]
    return app.authorize_params(SCOPE, launch=launch, **overrides)


# PKCE


def test_authorize_without_a_code_challenge_is_refused(public_app: SmartTestApp, patient_id: str) -> None:
    params = launch_params(public_app, patient_id, code_challenge=None, code_challenge_method=None)
    error = location_params(public_app.authorize(params))
    assert error["error"] == "invalid_request" and error["state"] == public_app.last_state
    assert "code" not in error


def test_authorize_with_plain_pkce_is_refused(public_app: SmartTestApp, patient_id: str) -> None:
    verifier = "v" * 50
    params = launch_params(public_app, patient_id, code_challenge=verifier, code_challenge_method="plain")
    error = location_params(public_app.authorize(params))
    assert error["error"] == "invalid_request" and "code" not in error


def test_authorize_with_a_challenge_but_no_method_is_refused(public_app: SmartTestApp, patient_id: str) -> None:
    error = location_params(public_app.authorize(launch_params(public_app, patient_id, code_challenge_method=None)))
    assert error["error"] == "invalid_request"


def test_token_without_a_code_verifier_is_invalid_grant(public_app: SmartTestApp, patient_id: str) -> None:
    code = location_params(public_app.authorize(launch_params(public_app, patient_id)))["code"]
    response = public_app.exchange(code, verifier="")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_token_with_a_wrong_verifier_is_invalid_grant_and_burns_the_code(
    public_app: SmartTestApp, patient_id: str
) -> None:
    code = location_params(public_app.authorize(launch_params(public_app, patient_id)))["code"]
    right_verifier = public_app.verifier
    wrong = public_app.exchange(code, verifier="w" * 60)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    retry = public_app.exchange(code, verifier=right_verifier)
    assert retry.status_code == 400 and retry.json()["error"] == "invalid_grant"


def test_a_code_used_twice_is_refused_and_revokes_the_first_token(public_app: SmartTestApp, patient_id: str) -> None:
    code = location_params(public_app.authorize(launch_params(public_app, patient_id)))["code"]
    first = public_app.exchange(code)
    assert first.status_code == 200
    assert introspect(public_app.server, first.json()["access_token"]).json()["active"] is True
    second = public_app.exchange(code)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    assert introspect(public_app.server, first.json()["access_token"]).json() == {"active": False}


# aud, launch, redirect_uri, client


@pytest.mark.parametrize("aud", [None, "http://127.0.0.1:9/other-fhir"], ids=["missing", "other-server"])
def test_aud_must_be_the_fhir_base(public_app: SmartTestApp, patient_id: str, aud: str | None) -> None:
    error = location_params(public_app.authorize(launch_params(public_app, patient_id, aud=aud)))
    assert error["error"] == "invalid_request" and "aud" in error["error_description"]
    assert error["state"] == public_app.last_state


def test_unknown_launch_is_refused(public_app: SmartTestApp) -> None:
    params = public_app.authorize_params(SCOPE, launch=uuid.uuid4().hex)
    error = location_params(public_app.authorize(params))
    assert error["error"] == "invalid_request" and "launch" in error["error_description"]


def test_a_launch_is_used_once(public_app: SmartTestApp, patient_id: str) -> None:
    launch = public_app.ehr_launch(patient_id)["launch"]
    assert "code" in location_params(public_app.authorize(public_app.authorize_params(SCOPE, launch=launch)))
    again = location_params(public_app.authorize(public_app.authorize_params(SCOPE, launch=launch)))
    assert again["error"] == "invalid_request" and "code" not in again


def test_a_launch_belongs_to_the_app_it_was_made_for(
    auth_server: AuthServerHandle, public_app: SmartTestApp, patient_id: str
) -> None:
    other_app = register_app(auth_server)
    launch = public_app.ehr_launch(patient_id)["launch"]
    error = location_params(other_app.authorize(other_app.authorize_params(SCOPE, launch=launch)))
    assert error["error"] == "invalid_request"


def test_launch_scope_without_a_launch_parameter_is_refused(public_app: SmartTestApp) -> None:
    error = location_params(public_app.authorize(public_app.authorize_params(SCOPE)))
    assert error["error"] == "invalid_request" and "launch" in error["error_description"]


def test_launch_parameter_without_the_launch_scope_is_refused(public_app: SmartTestApp, patient_id: str) -> None:
    launch = public_app.ehr_launch(patient_id)["launch"]
    error = location_params(public_app.authorize(public_app.authorize_params("patient/Patient.rs", launch=launch)))
    assert error["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "redirect_uri",
    [REDIRECT_URI + "/extra", REDIRECT_URI.replace("127.0.0.1", "localhost"), "http://evil.example/callback"],
    ids=["longer-path", "other-host", "foreign"],
)
def test_an_unregistered_redirect_uri_is_refused_without_redirecting(
    public_app: SmartTestApp, patient_id: str, redirect_uri: str
) -> None:
    response = public_app.authorize(launch_params(public_app, patient_id, redirect_uri=redirect_uri))
    assert response.status_code == 400 and "Location" not in response.headers
    assert response.json()["error"] == "invalid_request"


def test_an_unknown_client_is_refused_without_redirecting(public_app: SmartTestApp, patient_id: str) -> None:
    response = public_app.authorize(launch_params(public_app, patient_id, client_id="nobody"))
    assert response.status_code == 400 and "Location" not in response.headers
    assert response.json()["error"] == "invalid_client"


def test_a_code_is_bound_to_the_redirect_uri(public_app: SmartTestApp, patient_id: str) -> None:
    code = location_params(public_app.authorize(launch_params(public_app, patient_id)))["code"]
    response = public_app.token_request(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI + "?x=1",
            "code_verifier": public_app.verifier,
        }
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_code_is_bound_to_its_client(
    auth_server: AuthServerHandle, public_app: SmartTestApp, patient_id: str
) -> None:
    code = location_params(public_app.authorize(launch_params(public_app, patient_id)))["code"]
    thief = register_app(auth_server)
    response = thief.exchange(code, verifier=public_app.verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


# private_key_jwt


@pytest.fixture
def jwt_app(auth_server: AuthServerHandle) -> SmartTestApp:
    return register_app(auth_server, "private_key_jwt", key=ec_client_key())


def jwt_code(app: SmartTestApp, patient: str) -> str:
    return location_params(app.authorize(launch_params(app, patient)))["code"]


def test_a_replayed_client_assertion_is_refused(jwt_app: SmartTestApp, patient_id: str) -> None:
    assert jwt_app.key is not None
    assertion = client_assertion(jwt_app.key, jwt_app.client_id, jwt_app.token_url, jti="the-same-jti")
    first = jwt_app.exchange(jwt_code(jwt_app, patient_id), assertion=assertion)
    assert first.status_code == 200, first.text
    replay = jwt_app.exchange(jwt_code(jwt_app, patient_id), assertion=assertion)
    assert replay.status_code in (400, 401) and replay.json()["error"] == "invalid_client"
    fresh_jti = client_assertion(jwt_app.key, jwt_app.client_id, jwt_app.token_url, jti="the-same-jti-2")
    assert jwt_app.exchange(jwt_code(jwt_app, patient_id), assertion=fresh_jti).status_code == 200


def test_an_assertion_expiring_more_than_five_minutes_ahead_is_refused(jwt_app: SmartTestApp, patient_id: str) -> None:
    assert jwt_app.key is not None
    assertion = client_assertion(jwt_app.key, jwt_app.client_id, jwt_app.token_url, exp_in=600)
    response = jwt_app.exchange(jwt_code(jwt_app, patient_id), assertion=assertion)
    assert response.json()["error"] == "invalid_client" and "5 minutes" in response.json()["error_description"]


def test_an_expired_assertion_is_refused(jwt_app: SmartTestApp, patient_id: str) -> None:
    assert jwt_app.key is not None
    assertion = client_assertion(jwt_app.key, jwt_app.client_id, jwt_app.token_url, exp_in=-120)
    assert jwt_app.exchange(jwt_code(jwt_app, patient_id), assertion=assertion).json()["error"] == "invalid_client"


@pytest.mark.parametrize("aud_suffix", ["", "/authorize", "/token/"], ids=["issuer", "authorize", "slash"])
def test_an_assertion_for_another_audience_is_refused(jwt_app: SmartTestApp, patient_id: str, aud_suffix: str) -> None:
    assert jwt_app.key is not None
    assertion = client_assertion(jwt_app.key, jwt_app.client_id, jwt_app.server.base_url + aud_suffix)
    assert jwt_app.exchange(jwt_code(jwt_app, patient_id), assertion=assertion).json()["error"] == "invalid_client"


def test_an_assertion_without_kid_is_refused(jwt_app: SmartTestApp, patient_id: str) -> None:
    assert jwt_app.key is not None
    assertion = client_assertion(jwt_app.key, jwt_app.client_id, jwt_app.token_url, header={"alg": "ES384"})
    response = jwt_app.exchange(jwt_code(jwt_app, patient_id), assertion=assertion)
    assert response.json()["error"] == "invalid_client" and "kid" in response.json()["error_description"]


def test_an_assertion_with_another_algorithm_is_refused(auth_server: AuthServerHandle, patient_id: str) -> None:
    key = rsa_client_key()
    app = register_app(auth_server, "private_key_jwt", key=key)
    assertion = client_assertion(key, app.client_id, app.token_url, header={"alg": "RS256", "kid": key.kid})
    response = app.exchange(jwt_code(app, patient_id), assertion=assertion)
    assert response.json()["error"] == "invalid_client" and "RS384" in response.json()["error_description"]


def test_an_assertion_signed_by_an_unregistered_key_is_refused(jwt_app: SmartTestApp, patient_id: str) -> None:
    stranger = ec_client_key()
    assertion = client_assertion(stranger, jwt_app.client_id, jwt_app.token_url)
    assert jwt_app.exchange(jwt_code(jwt_app, patient_id), assertion=assertion).json()["error"] == "invalid_client"


def test_a_secret_cannot_stand_in_for_an_assertion(jwt_app: SmartTestApp, patient_id: str) -> None:
    code = jwt_code(jwt_app, patient_id)
    response = requests.post(
        jwt_app.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": jwt_app.verifier,
            "client_id": jwt_app.client_id,
        },
        timeout=TIMEOUT,
    )
    assert response.json()["error"] == "invalid_client"
