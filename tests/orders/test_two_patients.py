"""Issue 9 item 7: two different patients ordered one after the other on a fresh server, each twice; every
reference of every written resource is read back from the server and resolves.

Runs once per FHIR server in `writeback_fhir_base` (tests/orders/conftest.py): the Node sandbox today.
Before the fix, the second patient's order named the app's Device (created by the first order) by a `urn:uuid`
that was not in its transaction: the sandbox refused it and the order was only kept in the app.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from smart_app.core.documents import OrderContext
from smart_app.core.model import CheckRequest
from smart_app.fhir.client import FhirClient
from smart_app.fhir.errors import FhirNotFound
from smart_app.sandbox.constants import SANDBOX_PRACTITIONER_ID
from smart_app.sandbox.seed import acceptance_cases, seed_server
from smart_app.workflow.check import fetch_record, run_check
from smart_app.workflow.order import save_draft_order
from smart_app.workflow.references import references_in, relative_reference

pytestmark = pytest.mark.sandbox
PATIENTS = ("lumbar-mbb-first-left-ready", "lumbar-rfa-initial-right-ready")


def _check(fhir_base: str, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    case = next(item for item in acceptance_cases() if item["name"] == name)
    args = dict(case["args"])
    request = CheckRequest.build(
        procedure=args["procedure"], levels=args["levels"], side=args["side"], intent=args.get("intent")
    )
    record = fetch_record(fhir_base, case["patient"].split("/", 1)[1])
    result = run_check(
        record.resources,
        request,
        as_of=date.fromisoformat(args["as_of"]),
        skipped=record.skipped,
        unreadable=record.unreadable,
        payer_from_record=True,
        patient_id=record.patient_id,
    )
    return result, record.resources


def _assert_every_reference_resolves(client: FhirClient, written: list[dict[str, str]]) -> int:
    """Read back each written resource and every resource it references; returns how many references."""
    count = 0
    for item in written:
        stored = client.read(*item["reference"].split("/", 1))
        for path, reference in references_in(stored):
            target = relative_reference(reference, client.base_url)
            assert target is not None, f"{item['reference']} {path} → {reference}: not a reference to a resource"
            try:
                client.read(*target.split("/", 1))
            except FhirNotFound:
                pytest.fail(f"{item['reference']} {path} → {reference} does not resolve")
            count += 1
    return count


@pytest.mark.parametrize("requester", [None, f"Practitioner/{SANDBOX_PRACTITIONER_ID}"], ids=["no-user", "user"])
def test_two_patients_each_ordered_twice_write_only_resolving_references(
    writeback_fhir_base: str, requester: str | None
) -> None:
    seed_server(writeback_fhir_base, only=PATIENTS)
    client = FhirClient(writeback_fhir_base)
    checked = 0
    for name in PATIENTS:
        result, resources = _check(writeback_fhir_base, name)
        context = OrderContext(recorded=datetime.now(UTC), resources=resources, requester=requester)
        first = save_draft_order(client, result, context, None)
        assert not first.kept_locally, first.reason
        assert {item["action"] for item in first.written} <= {"created", "unchanged"}
        assert sum(item["reference"].startswith("ServiceRequest/") for item in first.written) >= 1
        checked += _assert_every_reference_resolves(client, first.written)
        again = save_draft_order(client, result, context, None)
        assert not again.kept_locally, again.reason
        assert {item["action"] for item in again.written} == {"unchanged"}
        assert [item["reference"] for item in again.written] == [
            item["reference"] for item in first.written if not item["reference"].startswith("Provenance/")
        ]
        checked += _assert_every_reference_resolves(client, again.written)
    devices = client.search("Device", {"_count": "50"}, no_cache=True).resources
    assert len(devices) == 1  # the app's Device is shared by both orders
    assert checked > 20
