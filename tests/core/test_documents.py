"""The draft order as FHIR, built from a hand-written check result (pure: no server)."""

from __future__ import annotations

import copy
from typing import Any

from smart_app.core import documents as docs
from tests.orders.samples import PRACTITIONER, RECORDED, rfa_check_result, rfa_record


def _context(**changes: Any) -> docs.OrderContext:
    values: dict[str, Any] = {"recorded": RECORDED, "resources": rfa_record(), "requester": PRACTITIONER}
    values.update(changes)
    return docs.OrderContext(**values)


def _draft(check: dict[str, Any] | None = None, **context: Any) -> docs.DraftOrder:
    return docs.build_draft_order(check or rfa_check_result(), _context(**context), report_pdf=b"%PDF-1.4 test")


def _as_existing(draft: docs.DraftOrder) -> dict[str, dict[str, Any]]:
    """What a server would hold after the draft's transaction: ids, versions, urn references resolved."""
    ids = {item.full_url: f"{item.resource_type}/id-{n}" for n, item in enumerate(draft.resources)}
    existing: dict[str, dict[str, Any]] = {}
    for item in draft.resources:
        if item.key == "provenance":
            continue
        resource = docs._resolve(copy.deepcopy(item.resource), ids)
        resource["id"] = ids[item.full_url].split("/")[1]
        resource.setdefault("meta", {})["versionId"] = "1"
        key = docs.existing_key(resource)
        assert key is not None
        existing[key] = resource
    return existing


def test_one_service_request_per_cpt_line_sharing_one_requisition() -> None:
    draft = _draft()
    lines = draft.of_type("ServiceRequest")
    assert [line.resource["code"]["coding"][0]["code"] for line in lines] == ["64635", "64636"]
    assert {line.resource["requisition"]["value"] for line in lines} == {draft.key}
    assert all(line.resource["status"] == "draft" and line.resource["intent"] == "proposal" for line in lines)
    assert [site["coding"][0]["code"] for site in lines[1].resource["bodySite"]] == ["L5-S1"]
    assert lines[0].resource["reasonReference"] == [{"reference": "Condition/62f054e6-182e-5b5d-ae4d-977c0e71ebad"}]
    assert lines[0].resource["insurance"] == [{"reference": "Coverage/449784e2-f788-5f8b-8f92-223c15f004ef"}]
    evidence = [item["reference"] for item in lines[0].resource["supportingInfo"]]
    assert "Procedure/ac2b610a-885c-5462-a8a9-3e27e2d2b23e" in evidence
    assert not any(reference.startswith("Patient/") for reference in evidence)


def test_transaction_uses_urn_uuid_references_and_conditional_creates() -> None:
    draft = _draft()
    bundle = draft.transaction()
    full_urls = {entry["fullUrl"] for entry in bundle["entry"]}
    assert all(url.startswith("urn:uuid:") for url in full_urls)
    assert all(entry["request"]["method"] == "POST" and entry["request"]["ifNoneExist"] for entry in bundle["entry"])
    report = draft.get("report")
    assert report is not None
    assert {item["reference"] for item in report.resource["context"]["related"]} <= full_urls
    provenance = draft.get("provenance")
    assert provenance is not None
    targets = {item["reference"] for item in provenance.resource["target"]}
    assert targets == {item.full_url for item in draft.resources if item.key not in ("device", "provenance")}
    agents = {agent["who"]["reference"] for agent in provenance.resource["agent"]}
    assert agents == {PRACTITIONER, draft.get("device").full_url}  # type: ignore[union-attr]


def test_identifiers_are_deterministic_and_keyed_by_patient_procedure_region_and_date() -> None:
    first, again = _draft(), _draft()
    assert first.transaction() == again.transaction()
    changed_levels = rfa_check_result()
    changed_levels["request"]["levels"] = ["L4-L5"]
    assert docs.order_key(changed_levels) == first.key
    other_day = rfa_check_result()
    other_day["as_of"] = "2026-11-16"
    assert docs.order_key(other_day) != first.key
    other_patient = rfa_check_result()
    other_patient["patient"]["reference"] = "Patient/someone-else"
    assert docs.order_key(other_patient) != first.key


def test_right_and_left_lines_of_one_code_get_their_own_identifier_and_side() -> None:
    check = rfa_check_result()
    line = check["coding"]["lines"][0]
    check["coding"]["lines"] = [{**line, "modifiers": ["RT"]}, {**line, "modifiers": ["LT"]}]
    lines = _draft(check).of_type("ServiceRequest")
    assert [item.key for item in lines] == ["line.64635.RT", "line.64635.LT"]
    sides = [item.resource["bodySite"][0]["text"] for item in lines]
    assert sides == ["L4-L5 facet joint, right", "L4-L5 facet joint, left"]


def test_without_a_clinician_the_apps_device_proposes_and_authors() -> None:
    draft = _draft(requester=None)
    device = draft.get("device")
    assert device is not None
    line = draft.of_type("ServiceRequest")[0]
    assert line.resource["requester"] == {"reference": device.full_url}
    provenance = draft.get("provenance")
    assert provenance is not None
    assert [agent["type"]["coding"][0]["code"] for agent in provenance.resource["agent"]] == ["author"]


def test_plan_against_an_identical_ehr_writes_nothing() -> None:
    draft = _draft()
    plan = docs.plan_writes(draft, _as_existing(draft), _context(recorded=RECORDED.replace(hour=18)))
    assert plan.bundle is None
    assert {write.action for write in plan.writes} == {"unchanged"}


def test_plan_after_a_change_updates_with_if_match_and_records_provenance() -> None:
    existing = _as_existing(_draft())
    changed = rfa_check_result()
    changed["coding"]["lines"][0]["diagnoses"] = ["M47.816", "M54.50"]
    plan = docs.plan_writes(_draft(changed), existing, _context())
    assert plan.bundle is not None
    methods = [(entry["request"]["method"], entry["request"].get("ifMatch")) for entry in plan.bundle["entry"]]
    assert methods[:-1] == [("PUT", 'W/"1"')] * 2  # the first line and the check-result JSON (the PDF is fixed here)
    assert methods[-1] == ("POST", None)
    updated = {write.key: write.action for write in plan.writes}
    assert updated["line.64635"] == "updated" and updated["line.64636"] == "unchanged"
    line = plan.bundle["entry"][0]["resource"]
    assert line["authoredOn"] == existing[f"{_draft().key}.line.64635"]["authoredOn"]


def test_plan_revokes_a_line_the_order_no_longer_has_and_leaves_signed_lines_alone() -> None:
    existing = _as_existing(_draft())
    one_level = rfa_check_result()
    one_level["request"]["levels"] = ["L4-L5"]
    one_level["coding"]["lines"] = one_level["coding"]["lines"][:1]
    plan = docs.plan_writes(_draft(one_level), existing, _context())
    assert plan.bundle is not None
    revoked = [entry["resource"] for entry in plan.bundle["entry"] if entry["resource"].get("status") == "revoked"]
    assert [item["code"]["coding"][0]["code"] for item in revoked] == ["64636"]

    key = _draft().key
    existing[f"{key}.line.64635"]["status"] = "active"
    existing[f"{key}.line.64635"]["note"] = [{"text": "signed"}]
    plan = docs.plan_writes(_draft(one_level), existing, _context())
    assert any("no longer a draft" in note for note in plan.notes)
    assert plan.bundle is not None
    assert all(
        entry["request"]["url"] != f"ServiceRequest/{existing[f'{key}.line.64635']['id']}"
        for entry in plan.bundle["entry"]
    )


def test_withdrawal_revokes_drafts_only() -> None:
    existing = _as_existing(_draft())
    lines = [item for item in existing.values() if item["resourceType"] == "ServiceRequest"]
    lines[1]["status"] = "revoked"
    plan = docs.plan_withdrawal(_draft().key, lines, _context(), device=existing["device"])
    assert plan.bundle is not None
    puts = [entry for entry in plan.bundle["entry"] if entry["request"]["method"] == "PUT"]
    assert len(puts) == 1 and puts[0]["resource"]["status"] == "revoked"
    assert [write.action for write in plan.writes] == ["updated", "unchanged", "created"]


def test_patient_identity_prefers_the_member_id_then_the_mrn() -> None:
    record = rfa_record()
    identity = docs.patient_identity(record, "Patient/7523bfbd-ad0d-521f-9da7-0932001cdefb")
    assert identity.first_identifier == "Maria Lopez · DOB 1968-04-12"
    assert identity.second_identifier == "Maria Lopez · MRN MRN-RFA-INITIAL-READY"
    for resource in record:
        if resource["resourceType"] == "Coverage":
            resource["subscriberId"] = "1EG4-TE5-MK72"
    identity = docs.patient_identity(record, "Patient/7523bfbd-ad0d-521f-9da7-0932001cdefb")
    assert identity.second_identifier == "Maria Lopez · Member ID 1EG4-TE5-MK72"


def test_a_check_without_cpt_lines_cannot_make_an_order() -> None:
    check = rfa_check_result()
    check["coding"]["lines"] = []
    try:
        _draft(check)
    except docs.OrderInputError as error:
        assert "no CPT line" in str(error)
    else:
        raise AssertionError("expected OrderInputError")


def test_reference_from_location() -> None:
    assert docs.reference_from_location("http://h/fhir/ServiceRequest/1/_history/2") == "ServiceRequest/1"
    assert docs.reference_from_location("ServiceRequest/abc") == "ServiceRequest/abc"
