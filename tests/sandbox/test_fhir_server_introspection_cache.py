"""The FHIR server's cache of introspection answers, against the real authorization server: a burst of requests
with one token costs one introspection, yet a revocation (of the access token, of its refresh token, or by a code
replayed) takes effect at once, and expiry is still honoured. Also the EHR's patient check at /ehr/launch, which
remembers known patients without forgetting that new ones can appear."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from smart_app.sandbox.auth import AuthServerHandle
from tests.sandbox.test_auth_server_support import (
    LAUNCH_URI,
    TIMEOUT,
    SmartTestApp,
    create_patient,
    location_params,
)
from tests.sandbox.test_fhir_server_support import Fhir, assert_outcome, new_id, patient

SCOPE = "patient/Patient.rs offline_access"


@pytest.fixture
def secured(empty_fhir_server: Any) -> Iterator[Any]:
    """The emptied FHIR server, requiring tokens (put back open by `empty_fhir_server`)."""
    empty_fhir_server.configure(require_auth=True)
    yield empty_fhir_server


@pytest.fixture
def alice(empty_fhir_server: Any) -> str:
    return create_patient(empty_fhir_server.base_url)


def cache_stats(fhir_server: Any) -> dict[str, int]:
    response = requests.get(f"{fhir_server.admin_url}/introspection", timeout=TIMEOUT)
    assert response.status_code == 200
    return {key: int(value) for key, value in response.json().items()}


def revoke(app: SmartTestApp, token: str) -> None:
    response = requests.post(
        f"{app.server.base_url}/revoke", data={"token": token, "client_id": app.client_id}, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text


def test_a_burst_with_one_token_costs_one_introspection(
    alice: str, secured: Any, auth_server: AuthServerHandle
) -> None:
    client = Fhir(secured.base_url, auth_server.issue_token("user/*.rs"))
    before = auth_server.introspections

    with ThreadPoolExecutor(max_workers=8) as pool:  # concurrent first uses share one in-flight introspection
        statuses = list(pool.map(lambda _: client.get(f"Patient/{alice}").status_code, range(8)))
    statuses += [client.get(f"Patient/{alice}").status_code for _ in range(4)]

    assert statuses == [200] * 12
    assert auth_server.introspections - before == 1
    assert cache_stats(secured)["cacheHits"] >= 11


def test_another_token_is_introspected_on_its_own(alice: str, secured: Any, auth_server: AuthServerHandle) -> None:
    first = Fhir(secured.base_url, auth_server.issue_token("user/*.rs"))
    narrow = Fhir(secured.base_url, auth_server.issue_token("user/Observation.rs"))
    before = auth_server.introspections

    assert first.get(f"Patient/{alice}").status_code == 200
    assert_outcome(narrow.get(f"Patient/{alice}"), 403, "forbidden")  # its own scopes, not the cached token's

    assert auth_server.introspections - before == 2


def test_a_revoked_access_token_is_refused_at_once(alice: str, secured: Any, public_app: SmartTestApp) -> None:
    token = public_app.launch_and_token(alice, SCOPE)["access_token"]
    client = Fhir(secured.base_url, token)
    assert client.get(f"Patient/{alice}").status_code == 200  # cached as active now

    revoke(public_app, token)

    response = client.get(f"Patient/{alice}")  # no waiting: the revocation notice arrived before /revoke answered
    assert_outcome(response, 401, "login")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert cache_stats(secured)["revocations"] >= 1


def test_revoking_the_refresh_token_refuses_its_access_token_at_once(
    alice: str, secured: Any, public_app: SmartTestApp
) -> None:
    tokens = public_app.launch_and_token(alice, SCOPE)
    client = Fhir(secured.base_url, tokens["access_token"])
    assert client.get(f"Patient/{alice}").status_code == 200

    revoke(public_app, tokens["refresh_token"])

    assert_outcome(client.get(f"Patient/{alice}"), 401, "login")


def test_a_replayed_code_refuses_the_token_it_bought_at_once(
    alice: str, secured: Any, public_app: SmartTestApp
) -> None:
    launch = public_app.ehr_launch(alice)["launch"]
    code = public_app.authorize_code(f"launch {SCOPE}", launch=launch)
    first = public_app.exchange(code)
    assert first.status_code == 200
    client = Fhir(secured.base_url, first.json()["access_token"])
    assert client.get(f"Patient/{alice}").status_code == 200

    assert public_app.exchange(code).status_code == 400

    assert_outcome(client.get(f"Patient/{alice}"), 401, "login")


def test_revoking_one_token_leaves_other_cached_tokens_working(
    alice: str, secured: Any, public_app: SmartTestApp, auth_server: AuthServerHandle
) -> None:
    kept = Fhir(secured.base_url, public_app.launch_and_token(alice, SCOPE)["access_token"])
    revoked_token = public_app.launch_and_token(alice, SCOPE)["access_token"]
    assert kept.get(f"Patient/{alice}").status_code == 200
    before = auth_server.introspections

    revoke(public_app, revoked_token)

    assert kept.get(f"Patient/{alice}").status_code == 200
    assert auth_server.introspections == before  # still answered from the cache


def test_a_cached_token_stops_at_its_expiry(alice: str, secured: Any, auth_server: AuthServerHandle) -> None:
    client = Fhir(secured.base_url, auth_server.issue_token("user/*.rs", lifetime=1))
    assert client.get(f"Patient/{alice}").status_code == 200
    before = auth_server.introspections

    time.sleep(1.1)

    assert_outcome(client.get(f"Patient/{alice}"), 401, "login")
    assert auth_server.introspections - before <= 1


def test_revocation_notices_need_well_formed_hashes(secured: Any) -> None:
    url = f"{secured.admin_url}/introspection/revoke"
    good = hashlib.sha256(b"some token").hexdigest()

    assert requests.post(url, json={"tokenHashes": [good]}, timeout=TIMEOUT).json() == {"revoked": 1}
    for bad in ({"tokenHashes": ["not-a-hash"]}, {"tokenHashes": good}, {}):
        response = requests.post(url, json=bad, timeout=TIMEOUT)
        assert response.status_code == 400 and "tokenHashes" in response.json()["error"]


# The EHR's patient check at /ehr/launch


def launch_status(app: SmartTestApp, patient_id: str) -> int:
    response = requests.get(
        f"{app.server.base_url}/ehr/launch",
        params={"patient": patient_id, "client_id": app.client_id},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    if response.status_code == 302:
        assert response.headers["Location"].startswith(LAUNCH_URI)
    return response.status_code


def test_a_known_patient_launches_again_without_a_fhir_read(alice: str, secured: Any, public_app: SmartTestApp) -> None:
    assert launch_status(public_app, alice) == 302
    secured.reset_stats()

    assert [launch_status(public_app, alice) for _ in range(3)] == [302, 302, 302]

    assert secured.stats()["requests"] == 0


def test_a_patient_created_after_a_refused_launch_launches_at_once(
    secured: Any, public_app: SmartTestApp, auth_server: AuthServerHandle
) -> None:
    later = new_id()
    assert launch_status(public_app, later) == 400  # not on the server yet

    admin = Fhir(secured.base_url, auth_server.issue_token("user/*.cruds"))
    assert admin.put(f"Patient/{later}", patient(later)).status_code == 201

    assert launch_status(public_app, later) == 302
    assert location_params(
        public_app.authorize(
            public_app.authorize_params(f"launch {SCOPE}", launch=public_app.ehr_launch(later)["launch"])
        )
    )["code"]


def test_revoke_still_answers_when_the_fhir_server_cannot_take_the_notice(caplog: pytest.LogCaptureFixture) -> None:
    from smart_app.sandbox.auth import start_auth_server
    from tests.sandbox.test_auth_server_support import introspect, register_app

    auth = start_auth_server(fhir_base="http://127.0.0.1:9/fhir")  # nothing listens on port 9
    try:
        app = register_app(auth)
        token = auth.issue_token("user/*.rs", client_id=app.client_id)

        revoke(app, token)

        assert introspect(auth, token).json() == {"active": False}
        assert "Revocation notice to the FHIR server failed" in caplog.text
        assert token not in caplog.text
    finally:
        auth.stop()
