"""Submission from the app's side against the sandbox payer: what is sent is the kept packet's PAS Bundle (with
the request's claim identifier, no draft tag, the chosen priority; HAPI's validator accepts it as sent), the answer
sets the status and is kept, a pended request is decided by the payer's notification (no polling), failures are
retried with the same identifier and never decided twice, and two senders never both send."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import requests

from smart_app.core.packet.pas_resources import DRAFT_TAG
from smart_app.payer_registry import PayerRegistration, parse_payer
from smart_app.sandbox.payer import PayerHandle
from smart_app.store.db import Database
from smart_app.store.prior_auth_packets import KeptPacket, keep_packet
from smart_app.store.prior_auth_requests import PriorAuthStore, RequestEntry
from smart_app.workflow.packet import PacketFiles
from smart_app.workflow.submission import NotifyChannel, SubmissionError, apply_notification, submit_request
from tests.packet.validation import unexpected_errors, validate
from tests.payer.conftest import CLIENT_ID, ClientHost
from tests.worklist.packets import ELIGIBLE_MBB, ELIGIBLE_RFA, case_files, kept
from tests.worklist.support import entry

SECRET_HEADER = "Authorization: Bearer notify-secret"


def registration(payer: PayerHandle) -> PayerRegistration:
    return parse_payer(
        {
            "name": "sandbox-payer",
            "fhir_base": payer.fhir_base,
            "payer_ids": ["medicare", "aetna", "bcbs-nd"],
            "client_id": CLIENT_ID,
        }
    )


FILES: dict[str, PacketFiles] = {}


def files_of(case: str) -> PacketFiles:
    if case not in FILES:
        FILES[case] = case_files(case)
    return FILES[case]


def ready_request(
    store: PriorAuthStore, source: RequestEntry, case: str = ELIGIBLE_MBB, packet: KeptPacket | None = None
) -> str:
    """A worklist request with the packet of public case `case` kept, moved to ready."""
    item, _ = store.enter(source, actor="Practitioner/dr1", now=time.time())
    keep_packet(store.database, item.id, packet or kept(files_of(case), built_at=time.time()))
    store.transition(item.id, "ready", actor_kind="staff", actor="Practitioner/staff", now=time.time())
    return item.id


def sent_bundle(payer: PayerHandle, claim_identifier: str) -> dict[str, Any]:
    """The request Bundle as the sandbox payer received it."""
    return payer.state.claims[claim_identifier].request_bundle


def send(store: PriorAuthStore, request_id: str, payer: PayerHandle, client_host: ClientHost, **kwargs: Any) -> Any:
    return submit_request(
        store,
        request_id,
        registration(payer),
        [client_host.key],
        actor="Practitioner/staff",
        clock=time.time,
        http=kwargs.pop("http", requests.Session()),
        notify=NotifyChannel(f"{client_host.url}/notify", SECRET_HEADER),
        sleep=lambda _seconds: None,
        **kwargs,
    )


@pytest.mark.sandbox
def test_pended_then_approved_by_notification_with_an_authorization_number(
    database: Database, payer: PayerHandle, client_host: ClientHost
) -> None:
    store = PriorAuthStore(database)
    client_host.handlers.append(lambda body: apply_notification(store, body, now=time.time()))
    payer.set_switches(mode="pend", pend_seconds=0.5, then="approve")
    request_id = ready_request(store, entry(11))
    result = send(store, request_id, payer, client_host)
    assert result.request.status == "pended" and result.request.due_at is not None
    client_host.wait_for_notifications(1)
    final = store.get(request_id, now=time.time())
    assert final.status == "approved" and final.auth_number.startswith("SBX-")
    assert final.auth_start and final.auth_end and final.auth_end > final.auth_start
    assert [r["via"] for r in store.claim_responses(request_id)] == ["submit", "notification"]
    assert payer.stats()["submits"] == 1  # no polling, no resubmission while waiting
    moves = [(e.from_status, e.to_status, e.actor) for e in store.history(request_id) if e.to_status][-3:]
    assert moves == [
        ("ready", "submitted", "Practitioner/staff"),
        ("submitted", "pended", "payer (submit)"),
        ("pended", "approved", "payer (notification)"),
    ]


@pytest.mark.sandbox
def test_a_denial_records_its_reason(database: Database, payer: PayerHandle, client_host: ClientHost) -> None:
    store = PriorAuthStore(database)
    payer.set_switches(mode="deny", deny_reason="no-documentation")
    result = send(store, ready_request(store, entry(12)), payer, client_host)
    assert result.request.status == "denied"
    assert "Clinical documentation needed" in result.request.denial_reason
    assert result.request.auth_number == ""


@pytest.mark.sandbox
def test_server_errors_are_retried_then_the_request_stays_ready_and_a_later_send_is_decided_once(
    database: Database, payer: PayerHandle, client_host: ClientHost
) -> None:
    store = PriorAuthStore(database)
    request_id = ready_request(store, entry(13))
    payer.set_switches(mode="error")
    with pytest.raises(SubmissionError, match="3 times; sending again is safe"):
        send(store, request_id, payer, client_host)
    assert store.get(request_id, now=time.time()).status == "ready"
    assert "sending again is safe" in store.history(request_id)[-1].note
    payer.set_switches(mode="approve")
    assert send(store, request_id, payer, client_host).request.status == "approved"
    assert payer.stats()["decisions"] == 1


class LosesFirstAnswer(requests.Session):
    """The payer receives the first $submit and decides, but its answer never arrives (a dropped connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = False

    def post(self, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().post(url, *args, **kwargs)
        if str(url).endswith("/Claim/$submit") and not self.lost:
            self.lost = True
            raise requests.ConnectionError("connection reset before the answer was read")
        return response


@pytest.mark.sandbox
def test_a_lost_answer_is_retried_with_the_same_identifier_and_decided_once(
    database: Database, payer: PayerHandle, client_host: ClientHost
) -> None:
    store = PriorAuthStore(database)
    payer.set_switches(mode="approve")
    result = send(store, ready_request(store, entry(14)), payer, client_host, http=LosesFirstAnswer())
    assert result.attempts == 2 and result.request.status == "approved"
    assert (payer.stats()["submits"], payer.stats()["decisions"], payer.stats()["claims"]) == (2, 1, 1)


@pytest.mark.sandbox
def test_two_senders_never_both_send(database: Database, payer: PayerHandle, client_host: ClientHost) -> None:
    store = PriorAuthStore(database)
    payer.set_switches(mode="approve")
    request_id = ready_request(store, entry(15))
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def sender() -> None:
        barrier.wait()
        try:
            outcomes.append(send(store, request_id, payer, client_host).request.status)
        except SubmissionError as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "approved" in outcomes and len(outcomes) == 2
    assert payer.stats()["submits"] == 1


@pytest.mark.sandbox
def test_a_refusal_keeps_the_request_ready_with_the_payers_words(
    database: Database, payer: PayerHandle, client_host: ClientHost
) -> None:
    store = PriorAuthStore(database)
    broken = kept(files_of(ELIGIBLE_MBB), built_at=time.time())
    broken.pas_bundle["entry"][0]["resource"]["item"] = []
    request_id = ready_request(store, entry(16), packet=broken)
    with pytest.raises(SubmissionError, match=r"Claim\.item"):
        send(store, request_id, payer, client_host)
    assert store.get(request_id, now=time.time()).status == "ready"
    assert "at least one item is required" in store.history(request_id)[-1].note


@pytest.mark.sandbox
def test_the_kept_packets_bundle_is_sent_with_the_claim_identifier_no_draft_tag_and_the_priority(
    database: Database, payer: PayerHandle, client_host: ClientHost, tmp_path: Any
) -> None:
    store = PriorAuthStore(database)
    payer.set_switches(mode="approve")
    request_id = ready_request(store, entry(17), ELIGIBLE_RFA)
    result = send(store, request_id, payer, client_host, priority="expedited")
    assert result.request.status == "approved"
    identifier = result.request.claim_identifier
    bundle = sent_bundle(payer, identifier)
    packet = files_of(ELIGIBLE_RFA).pas_bundle
    claim = bundle["entry"][0]["resource"]
    assert bundle["identifier"]["value"] == identifier and claim["identifier"][0]["value"] == identifier
    assert claim["priority"]["coding"][0]["code"] == "stat"
    assert claim["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "U"
    assert "Draft: not submitted" not in json_text(bundle)  # the draft tag is gone from every resource
    # nothing else changed: the same entries, resources and full URLs as the kept packet
    assert [e["fullUrl"] for e in bundle["entry"]] == [e["fullUrl"] for e in packet["entry"]]
    assert bundle["entry"][1:] == [strip_draft(e) for e in packet["entry"][1:]]
    assert packet["meta"]["tag"] == [DRAFT_TAG]  # the kept packet itself is left as built
    # HAPI's validator accepts the Bundle as sent (the known gaps aside)
    path = tmp_path / "sent-bundle.json"
    path.write_text(json_text(bundle))
    outcome = validate([path])
    assert unexpected_errors(next(iter(outcome.values()))) == []


@pytest.mark.sandbox
def test_the_payer_decides_packets_from_their_checklist(
    database: Database, payer: PayerHandle, client_host: ClientHost
) -> None:
    """No test switch: an eligible RFA is approved, a packet whose checklist has criteria not met is denied with
    the reason, and one with criteria the record does not show is pended, then decided by notification."""
    store = PriorAuthStore(database)
    client_host.handlers.append(lambda body: apply_notification(store, body, now=time.time()))
    approved = send(store, ready_request(store, entry(18), ELIGIBLE_RFA), payer, client_host).request
    assert approved.status == "approved" and approved.auth_number.startswith("SBX-")
    denied = send(store, ready_request(store, entry(19), "lumbar-facet-radiculopathy"), payer, client_host).request
    assert denied.status == "denied" and "coverage criteria not met" in denied.denial_reason
    pended_id = ready_request(store, entry(20), "lumbar-facet-no-disability-score")
    payer.set_switches(pend_seconds=0.3)
    assert send(store, pended_id, payer, client_host).request.status == "pended"
    client_host.wait_for_notifications(1)
    assert store.get(pended_id, now=time.time()).status == "approved"


@pytest.mark.sandbox
def test_a_request_without_a_kept_packet_is_not_sent(
    database: Database, payer: PayerHandle, client_host: ClientHost
) -> None:
    store = PriorAuthStore(database)
    item, _ = store.enter(entry(21), actor="Practitioner/dr1", now=time.time())
    store.transition(item.id, "ready", actor_kind="staff", actor="Practitioner/staff", now=time.time())
    with pytest.raises(SubmissionError, match="build the packet first"):
        send(store, item.id, payer, client_host)
    assert store.get(item.id, now=time.time()).status == "ready" and payer.stats()["submits"] == 0


def json_text(value: Any) -> str:
    return json.dumps(value, indent=1)


def strip_draft(entry_: dict[str, Any]) -> dict[str, Any]:
    resource = {**entry_["resource"]}
    meta = {**resource.get("meta", {})}
    meta["tag"] = [tag for tag in meta.get("tag", []) if tag != DRAFT_TAG]
    if not meta["tag"]:
        del meta["tag"]
    if meta:
        resource["meta"] = meta
    else:
        resource.pop("meta", None)
    return {**entry_, "resource": resource}
