"""The sandbox payer over HTTP, fed the packet's PAS request Bundles (tests/payer/packets.py): Backend Services
tokens, structural validation with an OperationOutcome, PAS response Bundles with reviewAction per item, a
resubmission answered without a second decision, pended claims decided later and notified by rest-hook, and
$inquire. Profile validation by HAPI FHIR's validator: test_payer_validation.py."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
import requests

from smart_app.fhir.client_assertion import build_client_assertion
from smart_app.sandbox.payer import PayerHandle
from smart_app.workflow.submission import review_actions
from tests.payer.conftest import CLIENT_ID, ClientHost
from tests.payer.packets import SECOND_PATIENT, packet_bundle, with_diagnoses, without_documentation

REVIEW = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewAction"


def token(payer: PayerHandle, client_host: ClientHost, **overrides: Any) -> requests.Response:
    assertion = build_client_assertion(
        client_host.key,
        client_id=overrides.pop("client_id", CLIENT_ID),
        token_endpoint=overrides.pop("aud", f"{payer.base_url}/auth/token"),
        now=int(time.time()),
    )
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
        **overrides,
    }
    return requests.post(f"{payer.base_url}/auth/token", data=form, timeout=10)


def bearer(payer: PayerHandle, client_host: ClientHost) -> dict[str, str]:
    response = token(payer, client_host)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def submit(payer: PayerHandle, headers: dict[str, str], bundle: Any) -> requests.Response:
    return requests.post(f"{payer.fhir_base}/Claim/$submit", json=bundle, headers=headers, timeout=60)


def codes(response_bundle: dict[str, Any]) -> list[str]:
    return [action["code"] for action in review_actions(response_bundle["entry"][0]["resource"])]


@pytest.mark.sandbox
def test_tokens_need_a_fresh_signed_assertion_for_our_token_url(payer: PayerHandle, client_host: ClientHost) -> None:
    assert token(payer, client_host).status_code == 200
    assert token(payer, client_host, aud="https://elsewhere.example/token").status_code == 401
    assert token(payer, client_host, client_id="someone-else").status_code == 401
    assertion = build_client_assertion(
        client_host.key, client_id=CLIENT_ID, token_endpoint=f"{payer.base_url}/auth/token", now=int(time.time())
    )
    form = {
        "grant_type": "client_credentials",
        "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    assert requests.post(f"{payer.base_url}/auth/token", data=form, timeout=10).status_code == 200
    replay = requests.post(f"{payer.base_url}/auth/token", data=form, timeout=10)
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"
    smart = requests.get(f"{payer.fhir_base}/.well-known/smart-configuration", timeout=10).json()
    assert smart["token_endpoint"] == f"{payer.base_url}/auth/token"
    assert submit(payer, {}, packet_bundle()).status_code == 401


@pytest.mark.sandbox
def test_bad_input_is_answered_with_an_operation_outcome_naming_the_element(
    payer: PayerHandle, client_host: ClientHost
) -> None:
    headers = bearer(payer, client_host)
    good = packet_bundle()
    broken = copy.deepcopy(good)
    broken["entry"][0]["resource"]["use"] = "claim"
    broken["entry"][0]["resource"]["insurer"] = {"reference": "urn:uuid:not-in-the-bundle"}
    del broken["timestamp"]
    response = submit(payer, headers, broken)
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    where = {issue["expression"][0] for issue in outcome["issue"]}
    assert {"Claim.use", "Bundle.timestamp", "Claim.insurer.reference"} <= where
    claim_last = copy.deepcopy(good)
    claim_last["entry"].reverse()
    assert "first entry" in submit(payer, headers, claim_last).json()["issue"][-1]["diagnostics"]
    assert submit(payer, headers, {"resourceType": "Patient"}).status_code == 400
    assert payer.stats()["decisions"] == 0


@pytest.mark.sandbox
def test_approve_and_deny_answer_pas_response_bundles(payer: PayerHandle, client_host: ClientHost) -> None:
    headers = bearer(payer, client_host)
    payer.set_switches(mode="approve")
    request = packet_bundle()
    approved = submit(payer, headers, request).json()
    claim_response = approved["entry"][0]["resource"]
    assert approved["type"] == "collection" and claim_response["resourceType"] == "ClaimResponse"
    assert claim_response["outcome"] == "complete" and claim_response["preAuthRef"].startswith("SBX-")
    assert claim_response["request"]["identifier"] == request["entry"][0]["resource"]["identifier"][0]
    assert claim_response["preAuthPeriod"]["end"] > claim_response["preAuthPeriod"]["start"]
    assert codes(approved) == ["A1", "A1"]
    payer.set_switches(mode="deny", deny_reason="no-diagnosis")
    denied = submit(payer, headers, packet_bundle(SECOND_PATIENT)).json()
    assert codes(denied) == ["A3", "A3"] and "preAuthRef" not in denied["entry"][0]["resource"]
    assert "Diagnosis does not support" in review_actions(denied["entry"][0]["resource"])[0]["reason"]
    assert "Diagnosis does not support" in denied["entry"][0]["resource"]["processNote"][0]["text"]


@pytest.mark.sandbox
def test_the_checklist_decides_from_the_submitted_data(payer: PayerHandle, client_host: ClientHost) -> None:
    headers = bearer(payer, client_host)
    documented = packet_bundle()  # the packet carries its PDF (DocumentReference) and the DTR answers
    assert codes(submit(payer, headers, documented).json()) == ["A1", "A1"]
    assert codes(submit(payer, headers, packet_bundle(SECOND_PATIENT)).json()) == ["A1", "A1"]
    no_diagnosis = with_diagnoses(packet_bundle(), "S32.009A")  # a fracture: no facet-pattern diagnosis
    assert codes(submit(payer, headers, no_diagnosis).json()) == ["A3", "A3"]
    undocumented = without_documentation(packet_bundle())  # pended for documentation
    assert codes(submit(payer, headers, undocumented).json()) == ["A4", "A4"]
    assert payer.stats()["decisions"] == 4


@pytest.mark.sandbox
def test_a_resubmission_gets_the_first_answer_and_no_second_decision(
    payer: PayerHandle, client_host: ClientHost
) -> None:
    headers = bearer(payer, client_host)
    payer.set_switches(mode="approve")
    bundle = packet_bundle()
    first = submit(payer, headers, bundle).json()
    payer.set_switches(mode="deny")
    second = submit(payer, headers, bundle).json()
    assert second == first
    stats = payer.stats()
    assert (stats["submits"], stats["decisions"]) == (2, 1)


@pytest.mark.sandbox
def test_a_pended_claim_is_decided_later_and_notified_by_rest_hook(payer: PayerHandle, client_host: ClientHost) -> None:
    headers = bearer(payer, client_host)
    subscription = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "tests",
        "criteria": "PASSubscriptionTopic",
        "channel": {
            "type": "rest-hook",
            "endpoint": f"{client_host.url}/notify",
            "payload": "application/fhir+json",
            "header": ["Authorization: Bearer notify-secret"],
        },
    }
    created = requests.post(f"{payer.fhir_base}/Subscription", json=subscription, headers=headers, timeout=10)
    assert created.status_code == 201 and "header" not in created.json()["channel"]
    payer.set_switches(mode="pend", pend_seconds=0.5, then="deny", deny_reason="units")
    bundle = packet_bundle()
    assert codes(submit(payer, headers, bundle).json()) == ["A4", "A4"]
    started = time.monotonic()
    [(authorization, notification)] = client_host.wait_for_notifications(1)
    assert time.monotonic() - started < 10
    assert authorization == "Bearer notify-secret"
    assert notification["type"] == "history"
    status = notification["entry"][0]["resource"]
    assert status["resourceType"] == "Parameters"
    assert {p["name"]: p.get("valueCode") for p in status["parameter"]}["type"] == "event-notification"
    decided = notification["entry"][1]["resource"]
    assert codes(decided) == ["A3", "A3"]
    inquiry = {"resourceType": "Bundle", "type": "collection", "entry": [bundle["entry"][0]]}
    answered = requests.post(f"{payer.fhir_base}/Claim/$inquire", json=inquiry, headers=headers, timeout=10)
    assert answered.status_code == 200 and codes(answered.json()) == ["A3", "A3"]
    unknown = copy.deepcopy(inquiry)
    unknown["entry"][0]["resource"]["identifier"] = [{"value": "never-submitted"}]
    assert (
        requests.post(f"{payer.fhir_base}/Claim/$inquire", json=unknown, headers=headers, timeout=10).status_code == 404
    )


@pytest.mark.sandbox
def test_the_error_switch_answers_a_bare_server_error(payer: PayerHandle, client_host: ClientHost) -> None:
    payer.set_switches(mode="error")
    response = submit(payer, bearer(payer, client_host), packet_bundle())
    assert response.status_code == 500 and not response.content
    assert payer.stats()["decisions"] == 0
