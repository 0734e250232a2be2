"""Every misbehaviour switch, set through the handle and through `/admin/switches`."""

from __future__ import annotations

import time

import pytest
import requests

from smart_app.sandbox.auth import AuthServerHandle, SwitchError
from tests.sandbox.test_auth_server_support import (
    TIMEOUT,
    SmartTestApp,
    introspect,
    location_params,
)

pytestmark = pytest.mark.usefixtures("switches_restored")


def test_drop_scopes_removes_service_request_in_v1_and_v2_syntax(
    auth_server: AuthServerHandle, public_app: SmartTestApp, patient_id: str
) -> None:
    auth_server.set_switches(drop_scopes=["patient/ServiceRequest.*"])
    asked = "patient/Patient.rs patient/ServiceRequest.cu patient/ServiceRequest.write patient/Condition.read"
    token = public_app.launch_and_token(patient_id, asked)
    assert set(token["scope"].split()) == {"launch", "patient/Patient.rs", "patient/Condition.read"}
    assert "ServiceRequest" not in introspect(auth_server, token["access_token"]).json()["scope"]


def test_drop_scopes_can_remove_one_permission(
    auth_server: AuthServerHandle, public_app: SmartTestApp, patient_id: str
) -> None:
    auth_server.set_switches(drop_scopes=["patient/DocumentReference.c", "offline_access"])
    token = public_app.launch_and_token(patient_id, "patient/DocumentReference.cru offline_access")
    assert token["scope"].split() == ["launch", "patient/DocumentReference.ru"]
    assert "refresh_token" not in token


def test_access_token_lifetime_makes_tokens_expire_in_seconds(
    auth_server: AuthServerHandle, public_app: SmartTestApp, patient_id: str
) -> None:
    auth_server.set_switches(access_token_lifetime=1)
    token = public_app.launch_and_token(patient_id, "patient/Patient.rs offline_access")
    assert token["expires_in"] == 1
    assert introspect(auth_server, token["access_token"]).json()["active"] is True
    time.sleep(1.1)
    assert introspect(auth_server, token["access_token"]).json() == {"active": False}
    refreshed = public_app.refresh(token["refresh_token"])
    assert refreshed.status_code == 200 and refreshed.json()["expires_in"] == 1


def test_reject_refresh_revokes_every_refresh_token(
    auth_server: AuthServerHandle, public_app: SmartTestApp, patient_id: str
) -> None:
    before = public_app.launch_and_token(patient_id, "patient/Patient.rs offline_access")
    auth_server.set_switches(reject_refresh=True)
    during = public_app.launch_and_token(patient_id, "patient/Patient.rs offline_access")
    for token in (before, during):
        response = public_app.refresh(token["refresh_token"])
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    auth_server.reset_switches()
    assert public_app.refresh(before["refresh_token"]).json()["error"] == "invalid_grant"  # revoked, not paused
    after = public_app.launch_and_token(patient_id, "patient/Patient.rs offline_access")
    assert public_app.refresh(after["refresh_token"]).status_code == 200


def test_authorize_error_redirects_back_with_the_error_and_state(
    auth_server: AuthServerHandle, public_app: SmartTestApp, patient_id: str
) -> None:
    auth_server.set_switches(authorize_error="access_denied")
    launch = public_app.ehr_launch(patient_id)["launch"]
    params = location_params(
        public_app.authorize(public_app.authorize_params("launch patient/Patient.rs", launch=launch))
    )
    assert params == {"error": "access_denied", "state": public_app.last_state}


def test_authorize_error_never_redirects_to_an_unregistered_uri(
    auth_server: AuthServerHandle, public_app: SmartTestApp
) -> None:
    auth_server.set_switches(authorize_error="temporarily_unavailable")
    params = public_app.authorize_params("patient/Patient.rs", redirect_uri="http://evil.example/cb")
    response = public_app.authorize(params)
    assert response.status_code == 400 and "Location" not in response.headers


def test_need_patient_banner_switch(auth_server: AuthServerHandle, public_app: SmartTestApp, patient_id: str) -> None:
    auth_server.set_switches(need_patient_banner=False)
    assert public_app.launch_and_token(patient_id, "patient/Patient.rs")["need_patient_banner"] is False


def test_omit_id_token_switch(auth_server: AuthServerHandle, public_app: SmartTestApp, patient_id: str) -> None:
    scope = "openid fhirUser patient/Patient.rs"
    assert "id_token" in public_app.launch_and_token(patient_id, scope)
    auth_server.set_switches(omit_id_token=True)
    token = public_app.launch_and_token(patient_id, scope)
    assert "id_token" not in token
    assert "openid" in token["scope"].split() and token["access_token"]


def test_admin_switches_json_round_trip(auth_server: AuthServerHandle) -> None:
    url = f"{auth_server.base_url}/admin/switches"
    defaults = requests.get(url, timeout=TIMEOUT).json()
    assert defaults == {
        "drop_scopes": [],
        "access_token_lifetime": None,
        "reject_refresh": False,
        "authorize_error": None,
        "need_patient_banner": True,
        "omit_id_token": False,
    }
    changed = requests.post(
        url, json={"drop_scopes": ["patient/Coverage.*"], "access_token_lifetime": 30}, timeout=TIMEOUT
    )
    assert changed.status_code == 200 and changed.json()["access_token_lifetime"] == 30
    assert auth_server.switches.drop_scopes == ("patient/Coverage.*",)
    restored = requests.post(url, json={"access_token_lifetime": None}, timeout=TIMEOUT).json()
    assert restored["access_token_lifetime"] is None and restored["drop_scopes"] == ["patient/Coverage.*"]
    reset = requests.post(f"{url}/reset", timeout=TIMEOUT).json()
    assert reset == defaults


@pytest.mark.parametrize(
    "body",
    [
        {"access_token_lifetime": 0},
        {"access_token_lifetime": "60"},
        {"reject_refresh": "yes"},
        {"drop_scopes": "patient/Coverage.*"},
        {"drop_scopes": ["patient Coverage"]},
        {"authorize_error": "Access Denied!"},
        {"no_such_switch": True},
        {"need_patient_banner": False, "access_token_lifetime": -5},
    ],
)
def test_admin_switches_refuse_bad_input_and_change_nothing(auth_server: AuthServerHandle, body: dict) -> None:
    url = f"{auth_server.base_url}/admin/switches"
    response = requests.post(url, json=body, timeout=TIMEOUT)
    assert response.status_code == 400 and response.json()["error_description"]
    assert requests.get(url, timeout=TIMEOUT).json()["need_patient_banner"] is True
    assert auth_server.switches.access_token_lifetime is None


def test_admin_switches_refuse_a_non_object_body(auth_server: AuthServerHandle) -> None:
    response = requests.post(f"{auth_server.base_url}/admin/switches", data="[1]", timeout=TIMEOUT)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_handle_set_switches_refuses_bad_values(auth_server: AuthServerHandle) -> None:
    with pytest.raises(SwitchError, match="access_token_lifetime"):
        auth_server.set_switches(access_token_lifetime=-1)
    with pytest.raises(SwitchError, match="unknown"):
        auth_server.set_switches(expire_everything=True)
    assert auth_server.switches.access_token_lifetime is None
