"""The reference check before a transaction is sent (pure), and the refusal when a reference dangles (sandbox)."""

from __future__ import annotations

from typing import Any

import pytest

from smart_app.core.documents import OrderContext
from smart_app.fhir.client import FhirClient
from smart_app.store.drafts import DraftStore
from smart_app.workflow.order import save_draft_order, withdraw_draft_order
from smart_app.workflow.references import relative_reference, unresolved_references
from tests.orders.samples import RECORDED, rfa_check_result, rfa_record
from tests.orders.test_save import ORDER_TYPES, inventory

BASE = "http://ehr.example/fhir"


def _bundle(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def _post(full_url: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": full_url, "resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}


def test_references_to_entries_and_to_existing_resources_resolve() -> None:
    device = _post("urn:uuid:1", {"resourceType": "Device"})
    line = _post("urn:uuid:2", {"resourceType": "ServiceRequest", "requester": {"reference": "urn:uuid:1"},
                                "subject": {"reference": f"{BASE}/Patient/p1"},
                                "insurance": [{"reference": "Coverage/c1/_history/3"}]})  # fmt: skip
    update = {"fullUrl": "urn:uuid:3", "resource": {"resourceType": "Provenance", "target": [{"reference": "Task/9"}]},
              "request": {"method": "PUT", "url": "Task/9"}}  # fmt: skip
    bundle = _bundle(device, line, update)
    assert unresolved_references(bundle, existing={"Patient/p1", "Coverage/c1"}, base_url=BASE) == []


def test_each_dangling_reference_is_listed_with_where_it_is() -> None:
    line = _post("urn:uuid:2", {"resourceType": "ServiceRequest", "requester": {"reference": "urn:uuid:gone"},
                                "subject": {"reference": "Patient/p1"},
                                "performer": [{"reference": "https://other.example/fhir/Practitioner/1"}],
                                "reasonReference": [{"reference": "#missing"}]})  # fmt: skip
    found = unresolved_references(_bundle(line), existing={"Patient/p2"}, base_url=BASE)
    assert [(item.entry, item.path, item.reference) for item in found] == [
        ("urn:uuid:2", "ServiceRequest.requester", "urn:uuid:gone"),
        ("urn:uuid:2", "ServiceRequest.subject", "Patient/p1"),
        ("urn:uuid:2", "ServiceRequest.performer", "https://other.example/fhir/Practitioner/1"),
        ("urn:uuid:2", "ServiceRequest.reasonReference", "#missing"),
    ]
    assert found[0].describe() == "ServiceRequest.requester → urn:uuid:gone"


def test_relative_reference_forms() -> None:
    assert relative_reference("Patient/1/_history/2") == "Patient/1"
    assert relative_reference(f"{BASE}/Patient/1", BASE) == "Patient/1"
    assert relative_reference(f"{BASE}/Patient/1") is None
    assert relative_reference("Patient?identifier=x|1") is None


@pytest.mark.sandbox
def test_a_requester_the_ehr_does_not_hold_stops_the_transaction(
    ehr: FhirClient, store: DraftStore, fhir_server: Any
) -> None:
    context = OrderContext(recorded=RECORDED, resources=rfa_record(), requester="Practitioner/nobody-here")
    outcome = save_draft_order(ehr, rfa_check_result(), context, store)
    assert outcome.kept_locally
    assert outcome.reason is not None and "ServiceRequest.requester → Practitioner/nobody-here" in outcome.reason
    assert inventory(ehr) == dict.fromkeys(ORDER_TYPES, 0)
    assert store.export(outcome.order_key, ehr=ehr.base_url) is not None


@pytest.mark.parametrize("with_provenance", [True, False])
def test_a_second_order_names_the_existing_device_by_its_id(with_provenance: bool) -> None:
    from smart_app.core.documents import build_draft_order, plan_writes

    context = OrderContext(recorded=RECORDED, resources=rfa_record(), requester=None)
    draft = build_draft_order(rfa_check_result(), context, report_pdf=b"%PDF")
    existing = {"device": {"resourceType": "Device", "id": "d1"}} if with_provenance else {}
    plan = plan_writes(draft, existing, context, with_provenance=with_provenance)
    assert plan.bundle is not None
    known = {f"{item['resourceType']}/{item['id']}" for item in rfa_record()} | {"Device/d1"}
    assert unresolved_references(plan.bundle, existing=known) == []
    lines = [
        entry["resource"] for entry in plan.bundle["entry"] if entry["resource"]["resourceType"] == "ServiceRequest"
    ]
    if with_provenance:
        assert {line["requester"]["reference"] for line in lines} == {"Device/d1"}
    else:
        assert all("requester" not in line for line in lines)  # no Device written, none to name


@pytest.mark.sandbox
def test_a_withdrawal_naming_a_requester_the_ehr_does_not_hold_is_not_sent(
    ehr: FhirClient, context: OrderContext
) -> None:
    saved = save_draft_order(ehr, rfa_check_result(), context, None)
    stranger = OrderContext(recorded=RECORDED, resources=rfa_record(), requester="Practitioner/nobody-here")
    outcome = withdraw_draft_order(ehr, saved.order_key, stranger, None)
    assert outcome.written == []
    assert outcome.reason is not None and outcome.reason.startswith("The withdrawal was not sent to the EHR")
    lines = ehr.search("ServiceRequest", {"_count": "50"}, no_cache=True).resources
    assert {line["status"] for line in lines} == {"draft"}
