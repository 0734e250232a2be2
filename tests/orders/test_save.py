"""Saving a draft order to the sandbox EHR: what is written, exactly once, updates, conflicts, withdrawal."""

from __future__ import annotations

from typing import Any

import pytest

from smart_app.core import documents as docs
from smart_app.core.documents import OrderContext
from smart_app.fhir.client import FhirClient
from smart_app.fhir.errors import FhirConflict, FhirInvalid
from smart_app.store.drafts import DraftStore
from smart_app.workflow.order import read_existing, render_report, save_draft_order, withdraw_draft_order
from tests.orders.samples import RFA_PATIENT, rfa_check_result
from tests.profiles.checker import check_against_own_profile

pytestmark = pytest.mark.sandbox
ORDER_TYPES = ("ServiceRequest", "DocumentReference", "Device", "Provenance")


def inventory(client: FhirClient) -> dict[str, int]:
    return {t: len(client.search(t, {"_count": "200"}, no_cache=True).resources) for t in ORDER_TYPES}


def actions(outcome: Any) -> list[tuple[str, str]]:
    return [(item["reference"].split("/")[0], item["action"]) for item in outcome.written]


def test_save_writes_the_expected_resources_and_they_conform(ehr: FhirClient, context: OrderContext) -> None:
    outcome = save_draft_order(ehr, rfa_check_result(), context, None)
    assert not outcome.kept_locally and outcome.reason is None
    assert actions(outcome) == [
        ("ServiceRequest", "created"), ("ServiceRequest", "created"), ("DocumentReference", "created"),
        ("DocumentReference", "created"), ("Device", "created"), ("Provenance", "created"),
    ]  # fmt: skip
    assert inventory(ehr) == {"ServiceRequest": 2, "DocumentReference": 2, "Device": 1, "Provenance": 1}
    for item in outcome.written:
        stored = ehr.read(*item["reference"].split("/"))
        if stored.get("meta", {}).get("profile"):
            assert check_against_own_profile(stored).errors == []
        if stored["resourceType"] == "ServiceRequest":
            assert stored["subject"] == {"reference": RFA_PATIENT}
            assert stored["requisition"]["value"] == outcome.order_key
    provenance = ehr.read(*outcome.written[-1]["reference"].split("/"))
    targets = {target["reference"] for target in provenance["target"]}
    assert targets == {item["reference"] for item in outcome.written[:4]}


def test_saving_again_writes_nothing_new(ehr: FhirClient, context: OrderContext, fhir_server: Any) -> None:
    first = save_draft_order(ehr, rfa_check_result(), context, None)
    before = inventory(ehr)
    again = save_draft_order(ehr, rfa_check_result(), context, None)
    assert inventory(ehr) == before
    assert {item["action"] for item in again.written} == {"unchanged"}
    assert [item["reference"] for item in again.written] == [item["reference"] for item in first.written[:5]]


def test_a_change_updates_the_same_order_with_if_match(ehr: FhirClient, context: OrderContext) -> None:
    first = save_draft_order(ehr, rfa_check_result(), context, None)
    changed = rfa_check_result()
    changed["coding"]["lines"][0]["diagnoses"] = ["M47.816", "M54.50"]
    outcome = save_draft_order(ehr, changed, context, None)
    assert actions(outcome)[:5] == [
        ("ServiceRequest", "updated"), ("ServiceRequest", "unchanged"), ("DocumentReference", "updated"),
        ("DocumentReference", "updated"), ("Device", "unchanged"),
    ]  # fmt: skip
    assert outcome.written[0]["reference"] == first.written[0]["reference"]
    assert inventory(ehr) == {"ServiceRequest": 2, "DocumentReference": 2, "Device": 1, "Provenance": 2}
    line = ehr.read(*outcome.written[0]["reference"].split("/"))
    assert line["meta"]["versionId"] != "1"
    assert [code["coding"][0]["code"] for code in line["reasonCode"]] == ["M47.816", "M54.50"]


def test_dropping_a_level_revokes_its_line(ehr: FhirClient, context: OrderContext) -> None:
    first = save_draft_order(ehr, rfa_check_result(), context, None)
    one_level = rfa_check_result()
    one_level["request"]["levels"] = ["L4-L5"]
    one_level["coding"]["lines"] = one_level["coding"]["lines"][:1]
    save_draft_order(ehr, one_level, context, None)
    dropped = ehr.read(*first.written[1]["reference"].split("/"))
    assert dropped["status"] == "revoked"
    assert check_against_own_profile(dropped).errors == []
    assert ehr.read(*first.written[0]["reference"].split("/"))["status"] == "draft"


def test_a_transaction_whose_second_entry_is_invalid_leaves_nothing_behind(
    ehr: FhirClient, context: OrderContext
) -> None:
    check = rfa_check_result()
    bundle = docs.build_draft_order(check, context, report_pdf=render_report(check, context)).transaction()
    bundle["entry"][1]["resource"]["status"] = "banana"
    with pytest.raises(FhirInvalid) as refused:
        ehr.transaction(bundle)
    assert "status" in refused.value.diagnostics.lower() or refused.value.diagnostics
    assert inventory(ehr) == dict.fromkeys(ORDER_TYPES, 0)


def test_an_order_the_ehr_rejects_is_kept_locally_with_the_diagnostics(
    ehr: FhirClient, context: OrderContext, store: DraftStore
) -> None:
    check = rfa_check_result()
    check["as_of"] = "15/11/2026"  # not a FHIR date: the server refuses the occurrence date
    outcome = save_draft_order(ehr, check, context, store)
    assert outcome.kept_locally and outcome.export_available
    assert outcome.reason is not None and "rejected the order as invalid" in outcome.reason
    assert outcome.diagnostics
    kept = store.export(outcome.order_key, ehr=ehr.base_url)
    assert kept is not None and kept["type"] == "transaction" and len(kept["entry"]) == 6
    assert inventory(ehr) == dict.fromkeys(ORDER_TYPES, 0)


def test_an_update_with_a_stale_etag_is_refused(ehr: FhirClient, context: OrderContext) -> None:
    first = save_draft_order(ehr, rfa_check_result(), context, None)
    line = ehr.read(*first.written[0]["reference"].split("/"))
    ehr.update({**line, "note": [{"text": "edited in the EHR"}]}, if_match=line["meta"]["versionId"])
    with pytest.raises(FhirConflict):
        ehr.update({**line, "note": [{"text": "our stale copy"}]}, if_match=line["meta"]["versionId"])


class EditingEhr(FhirClient):
    """A client that lets another user edit the first line just before each of our transactions."""

    def __init__(self, base_url: str, line: str, edits: int) -> None:
        super().__init__(base_url)
        self.line, self.edits = line, edits

    def transaction(self, bundle: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if self.edits > 0:
            self.edits -= 1
            current = self.read(*self.line.split("/"))
            self.update({**current, "note": [{"text": f"edit {self.edits}"}]}, if_match=current["meta"]["versionId"])
        return super().transaction(bundle, **kwargs)


def test_a_conflict_is_read_again_and_retried_once(ehr: FhirClient, context: OrderContext) -> None:
    first = save_draft_order(ehr, rfa_check_result(), context, None)
    changed = rfa_check_result()
    changed["coding"]["lines"][0]["diagnoses"] = ["M47.816", "M54.50"]
    editing = EditingEhr(ehr.base_url, first.written[0]["reference"], edits=1)
    outcome = save_draft_order(editing, changed, context, None)
    assert not outcome.kept_locally
    assert outcome.written[0]["action"] == "updated"


def test_a_conflict_on_the_retry_too_is_reported_and_kept(
    ehr: FhirClient, context: OrderContext, store: DraftStore
) -> None:
    first = save_draft_order(ehr, rfa_check_result(), context, None)
    changed = rfa_check_result()
    changed["coding"]["lines"][0]["diagnoses"] = ["M47.816", "M54.50"]
    editing = EditingEhr(ehr.base_url, first.written[0]["reference"], edits=2)
    outcome = save_draft_order(editing, changed, context, store)
    assert outcome.kept_locally
    assert outcome.reason is not None and "changed in the EHR" in outcome.reason
    assert store.get(outcome.order_key, ehr=ehr.base_url) is not None


def test_withdrawing_revokes_every_line(ehr: FhirClient, context: OrderContext) -> None:
    first = save_draft_order(ehr, rfa_check_result(), context, None)
    outcome = withdraw_draft_order(ehr, first.order_key, context)
    assert actions(outcome) == [("ServiceRequest", "updated"), ("ServiceRequest", "updated"), ("Provenance", "created")]
    for item in first.written[:2]:
        line = ehr.read(*item["reference"].split("/"))
        assert line["status"] == "revoked" and check_against_own_profile(line).errors == []
    again = withdraw_draft_order(ehr, first.order_key, context)
    assert {item["action"] for item in again.written} == {"unchanged"}
    saved_again = save_draft_order(ehr, rfa_check_result(), context, None)
    assert actions(saved_again)[:2] == [("ServiceRequest", "updated")] * 2
    assert {line["status"] for line in read_existing(ehr, first.order_key).values() if "status" in line} >= {"draft"}
