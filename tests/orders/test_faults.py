"""When the EHR refuses or its answer is lost: nothing is duplicated and nothing is lost.

The lost answer is made with `responses`: the transaction is forwarded to the real sandbox (so it commits) and the
answer is then dropped, a fault the server does not produce on demand. The 405 is `responses` too (the sandbox
supports every interaction). 403 comes from the real sandbox enforcing the scopes of a real token.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import requests
import responses

from smart_app.core.documents import OrderContext
from smart_app.fhir.client import FhirClient
from smart_app.fhir.scopes import capabilities_from_grant
from smart_app.store.drafts import DraftStore
from smart_app.workflow.order import save_draft_order
from tests.orders.samples import RFA_PATIENT, rfa_check_result
from tests.orders.test_save import ORDER_TYPES, inventory

pytestmark = pytest.mark.sandbox


def _forward_then_drop(times: int) -> Any:
    """A `responses` callback: forward the POST to the real server (urllib is not intercepted), then lose the
    answer `times` times; later calls are answered normally."""
    calls = {"n": 0}

    def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        forwarded = urllib.request.Request(str(request.url), data=request.body, method="POST",  # type: ignore[arg-type]
                                           headers={"Content-Type": "application/fhir+json"})  # fmt: skip
        with urllib.request.urlopen(forwarded, timeout=30) as answer:
            body = answer.read().decode("utf-8")
            status = answer.status
        calls["n"] += 1
        if calls["n"] <= times:
            raise requests.exceptions.ConnectionError("connection reset after the server committed")
        return status, {"Content-Type": "application/fhir+json"}, body

    callback.calls = calls  # type: ignore[attr-defined]
    return callback


# With retries the client sends the (replay-safe) transaction again; without, the workflow reads by identifier,
# finds what the lost attempt made and sends nothing more.
@pytest.mark.parametrize(("retries", "posts"), [(3, 2), (0, 1)], ids=["client-retries", "workflow-rechecks"])
def test_a_lost_answer_after_the_commit_does_not_duplicate(
    ehr: FhirClient, context: OrderContext, retries: int, posts: int
) -> None:
    client = FhirClient(ehr.base_url, retries=retries, sleep=lambda _seconds: None)
    callback = _forward_then_drop(times=1)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(ehr.base_url + "/")
        mock.add_callback(responses.POST, ehr.base_url, callback=callback)
        outcome = save_draft_order(client, rfa_check_result(), context, None)
    assert callback.calls["n"] == posts
    assert not outcome.kept_locally
    assert inventory(ehr) == {"ServiceRequest": 2, "DocumentReference": 2, "Device": 1, "Provenance": 1}
    assert [item["action"] for item in outcome.written[:5]] == ["created"] * 5
    assert outcome.written[-1]["reference"].startswith("Provenance/")


def test_when_the_ehr_never_answers_the_draft_is_kept(
    ehr: FhirClient, context: OrderContext, store: DraftStore
) -> None:
    client = FhirClient(ehr.base_url, retries=0, sleep=lambda _seconds: None)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(ehr.base_url + "/")
        mock.add(responses.POST, ehr.base_url, body=requests.exceptions.ReadTimeout("no answer"))
        outcome = save_draft_order(client, rfa_check_result(), context, store)
    assert outcome.kept_locally
    assert outcome.reason is not None and "unknown" in outcome.reason
    assert store.export(outcome.order_key, ehr=ehr.base_url) is not None
    assert inventory(ehr) == dict.fromkeys(ORDER_TYPES, 0)


def test_no_write_scope_keeps_the_draft_without_sending_it(
    ehr: FhirClient, context: OrderContext, store: DraftStore, fhir_server: Any
) -> None:
    fhir_server.reset_stats()
    grant = capabilities_from_grant("launch openid fhirUser patient/*.rs")
    outcome = save_draft_order(ehr, rfa_check_result(), context, store, capabilities=grant)
    assert outcome.kept_locally and outcome.export_available
    assert outcome.reason is not None and "patient/ServiceRequest.cu" in outcome.reason
    assert fhir_server.request_count() == 0
    kept = store.export(outcome.order_key, ehr=ehr.base_url)
    assert (
        kept is not None
        and [entry["resource"]["resourceType"] for entry in kept["entry"]][:2] == ["ServiceRequest"] * 2
    )
    assert [item.order_key for item in store.for_patient(RFA_PATIENT, ehr=ehr.base_url)] == [outcome.order_key]


def test_a_403_keeps_the_draft_with_the_servers_diagnostics(
    ehr: FhirClient, context: OrderContext, store: DraftStore, fhir_server: Any, auth_server: Any
) -> None:
    token = auth_server.issue_token("patient/*.rs", patient=RFA_PATIENT.split("/")[1])
    fhir_server.configure(require_auth=True)
    try:
        client = FhirClient(ehr.base_url, token_source=lambda: token)
        outcome = save_draft_order(client, rfa_check_result(), context, store)
    finally:
        fhir_server.configure()
    assert outcome.kept_locally
    assert outcome.reason is not None and outcome.reason.startswith("The EHR refused to save the order")
    assert outcome.diagnostics
    assert store.get(outcome.order_key, ehr=ehr.base_url) is not None
    assert inventory(ehr) == dict.fromkeys(ORDER_TYPES, 0)


def test_a_405_says_the_ehr_does_not_take_orders(ehr: FhirClient, context: OrderContext, store: DraftStore) -> None:
    issue = {"severity": "error", "code": "not-supported", "diagnostics": "transactions are disabled"}
    outcome_body = {"resourceType": "OperationOutcome", "issue": [issue]}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(ehr.base_url + "/")
        mock.add(responses.POST, ehr.base_url, status=405, body=json.dumps(outcome_body),
                 content_type="application/fhir+json")  # fmt: skip
        outcome = save_draft_order(ehr, rfa_check_result(), context, store)
    assert outcome.kept_locally
    assert outcome.reason is not None and "does not let apps save the order" in outcome.reason
    assert "transactions are disabled" in outcome.diagnostics


def _forward_then_truncate(times: int) -> Any:
    """A `responses` callback: forward the POST to the real server (it commits), then answer 200 with the first
    half of its transaction-response `times` times (a reply cut off in transit); later calls are answered whole."""
    calls = {"n": 0}

    def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        forwarded = urllib.request.Request(str(request.url), data=request.body, method="POST",  # type: ignore[arg-type]
                                           headers={"Content-Type": "application/fhir+json"})  # fmt: skip
        with urllib.request.urlopen(forwarded, timeout=30) as answer:
            body = answer.read().decode("utf-8")
        calls["n"] += 1
        if calls["n"] <= times:
            body = body[: len(body) // 2]
        return 200, {"Content-Type": "application/fhir+json"}, body

    callback.calls = calls  # type: ignore[attr-defined]
    return callback


# Issue 14 item 6. Before: the unreadable 200 was taken for a refusal, "kept locally" although the EHR held the order.
def test_a_truncated_success_reply_is_a_lost_answer_not_a_refusal(
    ehr: FhirClient, context: OrderContext, store: DraftStore
) -> None:
    client = FhirClient(ehr.base_url, retries=0, sleep=lambda _seconds: None)
    callback = _forward_then_truncate(times=1)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(ehr.base_url + "/")
        mock.add_callback(responses.POST, ehr.base_url, callback=callback)
        outcome = save_draft_order(client, rfa_check_result(), context, store)
    assert callback.calls["n"] == 1  # the re-read found everything: nothing sent again
    assert not outcome.kept_locally and outcome.reason is None
    assert store.get(outcome.order_key, ehr=ehr.base_url) is None
    assert inventory(ehr) == {"ServiceRequest": 2, "DocumentReference": 2, "Device": 1, "Provenance": 1}
    assert [item["action"] for item in outcome.written[:5]] == ["created"] * 5
    assert outcome.written[-1]["reference"].startswith("Provenance/")
