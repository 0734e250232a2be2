"""Token introspection (RFC 7662) for resource servers, and the handle's `issue_token` helper."""

from __future__ import annotations

import time

import pytest
import requests

from smart_app.sandbox.auth import AuthServerHandle
from tests.sandbox.test_auth_server_support import (
    TIMEOUT,
    SmartTestApp,
    introspect,
    register_app,
)


def test_introspection_reports_active_then_inactive_after_expiry(auth_server: AuthServerHandle) -> None:
    token = auth_server.issue_token("patient/*.rs", patient="p-42", lifetime=1)
    active = introspect(auth_server, token)
    assert active.status_code == 200 and active.headers["Cache-Control"] == "no-store"
    body = active.json()
    assert body["active"] is True
    assert body["scope"] == "patient/*.rs"
    assert body["client_id"] == "sandbox-tests"
    assert body["patient"] == "p-42"
    assert body["token_type"] == "Bearer"
    assert body["iss"] == auth_server.base_url
    assert body["fhirUser"] == f"{auth_server.fhir_base}/Practitioner/{body['sub']}"
    assert 0 < body["exp"] - time.time() <= 1.5
    time.sleep(1.1)
    assert introspect(auth_server, token).json() == {"active": False}


def test_issue_token_defaults(auth_server: AuthServerHandle) -> None:
    token = auth_server.issue_token("user/*.rs", client_id="another-test-client")
    body = introspect(auth_server, token).json()
    assert body["active"] is True and body["client_id"] == "another-test-client"
    assert "patient" not in body
    assert 3500 < body["exp"] - time.time() <= 3600


def test_unknown_tokens_are_inactive(auth_server: AuthServerHandle) -> None:
    assert introspect(auth_server, "not-a-token").json() == {"active": False}


def test_refresh_tokens_are_not_introspected_as_access_tokens(public_app: SmartTestApp, patient_id: str) -> None:
    token = public_app.launch_and_token(patient_id, "patient/Patient.rs offline_access")
    assert introspect(public_app.server, token["refresh_token"]).json() == {"active": False}


@pytest.mark.parametrize(
    "credentials",
    [("sandbox-fhir", "wrong-secret"), ("nobody", "x"), None],
    ids=["wrong-secret", "unknown-server", "no-credentials"],
)
def test_introspection_requires_resource_server_credentials(
    auth_server: AuthServerHandle, credentials: tuple[str, str] | None
) -> None:
    token = auth_server.issue_token("patient/*.rs")
    response = requests.post(
        f"{auth_server.base_url}/introspect", data={"token": token}, auth=credentials, timeout=TIMEOUT
    )
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"


def test_apps_cannot_introspect(auth_server: AuthServerHandle, patient_id: str) -> None:
    app = register_app(auth_server, "client_secret_basic")
    token = app.launch_and_token(patient_id, "patient/Patient.rs")
    response = introspect(auth_server, token["access_token"], auth=(app.client_id, str(app.registration.client_secret)))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
