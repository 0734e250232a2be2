"""Refresh tokens: issued only for offline_access/online_access, rotated on every use (the old one is refused),
narrowed scopes honoured, revocation (RFC 7009) honoured."""

from __future__ import annotations

import requests

from smart_app.sandbox.auth import AuthServerHandle
from tests.sandbox.test_auth_server_support import (
    TIMEOUT,
    SmartTestApp,
    introspect,
    register_app,
)

SCOPE = "patient/Patient.rs patient/Condition.rs offline_access"


def test_refresh_rotates_and_the_old_refresh_token_is_refused(public_app: SmartTestApp, patient_id: str) -> None:
    first = public_app.launch_and_token(patient_id, SCOPE)
    refreshed = public_app.refresh(first["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["patient"] == patient_id
    assert set(second["scope"].split()) == set(first["scope"].split())
    assert refreshed.headers["Cache-Control"] == "no-store"

    reused = public_app.refresh(first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert public_app.refresh(second["refresh_token"]).status_code == 200


def test_online_access_also_gets_a_refresh_token(public_app: SmartTestApp, patient_id: str) -> None:
    token = public_app.launch_and_token(patient_id, "patient/Patient.rs online_access")
    assert token["refresh_token"]
    assert public_app.refresh(token["refresh_token"]).status_code == 200


def test_no_refresh_token_without_offline_or_online_access(public_app: SmartTestApp, patient_id: str) -> None:
    token = public_app.launch_and_token(patient_id, "patient/Patient.rs")
    assert "refresh_token" not in token


def test_refresh_may_narrow_but_not_widen_the_scope(public_app: SmartTestApp, patient_id: str) -> None:
    token = public_app.launch_and_token(patient_id, SCOPE)
    narrowed = public_app.refresh(token["refresh_token"], scope="patient/Patient.rs offline_access")
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "patient/Patient.rs offline_access"
    widened = public_app.refresh(narrowed.json()["refresh_token"], scope="patient/*.cruds offline_access")
    assert widened.status_code == 400 and widened.json()["error"] == "invalid_scope"


def test_confidential_refresh_needs_the_client_secret(auth_server: AuthServerHandle, patient_id: str) -> None:
    app = register_app(auth_server, "client_secret_basic")
    token = app.launch_and_token(patient_id, SCOPE)
    anonymous = requests.post(
        app.token_url,
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"], "client_id": app.client_id},
        timeout=TIMEOUT,
    )
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    assert app.refresh(token["refresh_token"]).status_code == 200


def test_another_client_cannot_use_a_refresh_token(
    auth_server: AuthServerHandle, public_app: SmartTestApp, patient_id: str
) -> None:
    token = public_app.launch_and_token(patient_id, SCOPE)
    other = register_app(auth_server)
    response = other.refresh(token["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_revoking_a_refresh_token_ends_the_grant(public_app: SmartTestApp, patient_id: str) -> None:
    token = public_app.launch_and_token(patient_id, SCOPE)
    revoked = requests.post(
        f"{public_app.server.base_url}/revoke",
        data={"token": token["refresh_token"], "token_type_hint": "refresh_token", "client_id": public_app.client_id},
        timeout=TIMEOUT,
    )
    assert revoked.status_code == 200
    assert public_app.refresh(token["refresh_token"]).json()["error"] == "invalid_grant"
    assert introspect(public_app.server, token["access_token"]).json() == {"active": False}


def test_revoking_an_access_token_keeps_the_refresh_token(public_app: SmartTestApp, patient_id: str) -> None:
    token = public_app.launch_and_token(patient_id, SCOPE)
    revoked = requests.post(
        f"{public_app.server.base_url}/revoke",
        data={"token": token["access_token"], "client_id": public_app.client_id},
        timeout=TIMEOUT,
    )
    assert revoked.status_code == 200
    assert introspect(public_app.server, token["access_token"]).json() == {"active": False}
    assert public_app.refresh(token["refresh_token"]).status_code == 200
