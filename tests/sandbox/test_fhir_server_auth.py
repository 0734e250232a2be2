"""Bearer-token enforcement on the sandbox FHIR server, with tokens from the real sandbox authorization server:
401 without an active token, scopes per resource type and interaction (SMART v2 and v1), per-entry checks in
batches and transactions, the Patient-compartment restriction of `patient/` scopes, and expiry/revocation."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from smart_app.sandbox.auth import AuthServerHandle
from tests.sandbox.test_auth_server_support import SmartTestApp
from tests.sandbox.test_fhir_server_support import (
    TIMEOUT,
    Fhir,
    assert_outcome,
    new_id,
    observation,
    patient,
    post_entry,
    put_entry,
    transaction,
)


class Sandbox:
    """The FHIR server with auth on, two patients with one observation each, one practitioner."""

    def __init__(self, fhir_server: Any, auth_server: AuthServerHandle) -> None:
        self.fhir_server = fhir_server
        self.auth_server = auth_server
        self.base_url: str = fhir_server.base_url
        self.alice, self.bob = new_id(), new_id()
        self.alice_obs, self.bob_obs = new_id(), new_id()
        self.practitioner = new_id()
        open_client = Fhir(self.base_url)
        loaded = open_client.bundle(
            transaction(
                put_entry(patient(self.alice, "MRN-ALICE")),
                put_entry(patient(self.bob, "MRN-BOB")),
                put_entry({**observation(f"Patient/{self.alice}"), "id": self.alice_obs}),
                put_entry({**observation(f"Patient/{self.bob}"), "id": self.bob_obs}),
                put_entry({"resourceType": "Practitioner", "id": self.practitioner, "name": [{"family": "Doe"}]}),
            )
        )
        assert loaded.status_code == 200, loaded.text

    def client(self, scope: str, patient: str | None = None, lifetime: int | None = None) -> Fhir:
        return Fhir(self.base_url, self.auth_server.issue_token(scope, patient=patient, lifetime=lifetime))


@pytest.fixture
def sandbox(empty_fhir_server: Any, auth_server: AuthServerHandle) -> Sandbox:
    """Two patients with an Observation each and a Practitioner, on a server that requires a token."""
    loaded = Sandbox(empty_fhir_server, auth_server)
    empty_fhir_server.configure(require_auth=True)
    return loaded


def status_of(response: requests.Response) -> int:
    return response.status_code


def test_a_request_without_a_token_gets_401_with_a_bearer_challenge(sandbox: Sandbox) -> None:
    response = requests.get(f"{sandbox.base_url}/Patient", timeout=TIMEOUT)

    assert_outcome(response, 401, "login")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_token_gets_401_invalid_token(sandbox: Sandbox) -> None:
    response = Fhir(sandbox.base_url, token="not-a-real-token").get(f"Patient/{sandbox.alice}")

    assert_outcome(response, 401, "login")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_metadata_and_smart_configuration_stay_public(sandbox: Sandbox) -> None:
    metadata = requests.get(f"{sandbox.base_url}/metadata", timeout=TIMEOUT)
    smart = requests.get(f"{sandbox.base_url}/.well-known/smart-configuration", timeout=TIMEOUT)
    original = requests.get(f"{sandbox.auth_server.base_url}/.well-known/smart-configuration", timeout=TIMEOUT)

    assert metadata.status_code == 200
    assert smart.status_code == 200 and smart.json() == original.json()
    oauth = metadata.json()["rest"][0]["security"]["extension"][0]["extension"]
    assert {"url": "token", "valueUri": original.json()["token_endpoint"]} in oauth


@pytest.mark.parametrize(
    ("scope", "read", "search", "create"),
    [
        ("user/Observation.rs", 200, 200, 403),
        ("user/Observation.r", 200, 403, 403),
        ("user/Observation.s", 403, 200, 403),
        ("user/Observation.cruds", 200, 200, 201),
        ("user/Observation.read", 200, 200, 403),
        ("user/Observation.write", 403, 403, 201),
        ("user/*.*", 200, 200, 201),
        ("system/*.rs", 200, 200, 403),
        ("user/Patient.rs", 403, 403, 403),
        ("user/Observation.rs?category=vital-signs", 403, 403, 403),
        ("openid fhirUser launch", 403, 403, 403),
    ],
)
def test_scopes_decide_each_interaction_per_resource_type(
    sandbox: Sandbox, scope: str, read: int, search: int, create: int
) -> None:
    client = sandbox.client(scope)

    results = (
        client.get(f"Observation/{sandbox.alice_obs}"),
        client.get("Observation"),
        client.post("Observation", observation(f"Patient/{sandbox.alice}")),
    )

    assert tuple(map(status_of, results)) == (read, search, create)
    for response in results:
        if response.status_code == 403:
            assert_outcome(response, 403, "forbidden")


def test_update_and_delete_need_their_own_letters(sandbox: Sandbox) -> None:
    client = sandbox.client("user/Observation.cu")
    current = Fhir(sandbox.base_url, sandbox.auth_server.issue_token("user/*.rs")).get(
        f"Observation/{sandbox.alice_obs}"
    )
    changed = {**current.json(), "status": "amended"}

    assert client.put(f"Observation/{sandbox.alice_obs}", changed).status_code == 200
    assert_outcome(client.delete(f"Observation/{sandbox.alice_obs}"), 403, "forbidden")
    assert sandbox.client("user/Observation.d").delete(f"Observation/{sandbox.alice_obs}").status_code == 200


def test_batch_entries_are_authorized_one_by_one(sandbox: Sandbox) -> None:
    client = sandbox.client("user/Patient.rs")
    batch = transaction(
        {"request": {"method": "GET", "url": f"Patient?_id={sandbox.alice}"}},
        {"request": {"method": "GET", "url": f"Observation?patient={sandbox.alice}"}},
        post_entry(patient(None, "MRN-BATCH")),
        kind="batch",
    )

    response = client.bundle(batch)

    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert [entry["response"]["status"][:3] for entry in entries] == ["200", "403", "403"]
    assert entries[0]["resource"]["total"] == 1
    assert entries[1]["response"]["outcome"]["issue"][0]["code"] == "forbidden"


def test_a_transaction_with_one_forbidden_entry_is_refused_whole(sandbox: Sandbox) -> None:
    client = sandbox.client("user/Patient.cruds user/Observation.rs")
    new_patient = new_id()
    bundle = transaction(
        put_entry(patient(new_patient, "MRN-TX-AUTH")),
        post_entry(observation(f"Patient/{new_patient}")),
    )

    outcome = assert_outcome(client.bundle(bundle), 403, "forbidden")

    assert "Bundle.entry[1]" in str(outcome)
    assert sandbox.client("user/*.rs").get(f"Patient/{new_patient}").status_code == 404


def test_patient_scopes_confine_reads_and_searches_to_the_patient_compartment(sandbox: Sandbox) -> None:
    client = sandbox.client("patient/*.rs", patient=sandbox.alice)

    observations = client.get("Observation").json()
    patients = client.get("Patient").json()

    assert [entry["resource"]["id"] for entry in observations["entry"]] == [sandbox.alice_obs]
    assert [entry["resource"]["id"] for entry in patients["entry"]] == [sandbox.alice]
    assert client.get(f"Observation?patient={sandbox.bob}").json()["total"] == 0
    assert client.get(f"Observation/{sandbox.alice_obs}").status_code == 200
    assert_outcome(client.get(f"Observation/{sandbox.bob_obs}"), 403, "forbidden")
    assert_outcome(client.get(f"Patient/{sandbox.bob}"), 403, "forbidden")
    assert client.get(f"Practitioner/{sandbox.practitioner}").status_code == 200  # outside any compartment
    included = client.get(f"Observation?_id={sandbox.bob_obs},{sandbox.alice_obs}&_include=Observation:subject")
    assert {entry["resource"]["id"] for entry in included.json()["entry"]} == {sandbox.alice_obs, sandbox.alice}


def test_patient_scopes_without_a_patient_in_context_are_refused(sandbox: Sandbox) -> None:
    assert_outcome(sandbox.client("patient/*.read").get("Observation"), 403, "forbidden")


def test_a_user_scope_lifts_the_compartment_restriction(sandbox: Sandbox) -> None:
    client = sandbox.client("patient/Observation.rs user/Observation.rs", patient=sandbox.alice)

    assert client.get("Observation").json()["total"] == 2


def test_an_expired_token_stops_working_within_two_seconds(sandbox: Sandbox) -> None:
    client = sandbox.client("user/*.rs", lifetime=1)
    assert client.get(f"Patient/{sandbox.alice}").status_code == 200

    time.sleep(1.1)

    assert_outcome(client.get(f"Patient/{sandbox.alice}"), 401, "login")


def test_a_revoked_token_stops_working_within_two_seconds(sandbox: Sandbox, public_app: SmartTestApp) -> None:
    token = public_app.launch_and_token(sandbox.alice, "patient/Patient.rs")["access_token"]
    client = Fhir(sandbox.base_url, token)
    assert client.get(f"Patient/{sandbox.alice}").status_code == 200

    revoked = requests.post(
        f"{sandbox.auth_server.base_url}/revoke",
        data={"token": token, "client_id": public_app.client_id},
        timeout=TIMEOUT,
    )
    assert revoked.status_code == 200
    deadline = time.monotonic() + 2.0
    while client.get(f"Patient/{sandbox.alice}").status_code == 200:
        assert time.monotonic() < deadline, "the revoked token still works after 2 s"
        time.sleep(0.1)

    assert_outcome(client.get(f"Patient/{sandbox.alice}"), 401, "login")


def test_requests_are_counted_with_and_without_authorization(sandbox: Sandbox) -> None:
    sandbox.fhir_server.reset_stats()

    requests.get(f"{sandbox.base_url}/Patient", timeout=TIMEOUT)
    sandbox.client("user/*.rs").get("Patient")

    assert sandbox.fhir_server.stats() == {"requests": 2, "withAuthorization": 1}
