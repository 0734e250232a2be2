"""Our profiles, ValueSets and examples: current, self-consistent, and what the app writes conforms to them and to
base R4 (fhir.resources R4B models, and the sandbox server, which validates every write)."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from typing import Any

import pytest
import yaml
from fhir.resources.R4B import get_fhir_model_class

from smart_app.core import documents as docs
from smart_app.fhir.client import FhirClient
from smart_app.workflow.order import render_report
from tests.orders.samples import PRACTITIONER, RECORDED, rfa_check_result, rfa_record
from tests.profiles.checker import PROFILES_DIR, check, check_against_own_profile, load_definitions

PROJECT = PROFILES_DIR.parent


def _example(name: str) -> dict[str, Any]:
    return json.loads((PROFILES_DIR / "examples" / f"{name}.json").read_text())


def _generated() -> docs.DraftOrder:
    context = docs.OrderContext(recorded=RECORDED, resources=rfa_record(), requester=PRACTITIONER)
    check_result = rfa_check_result()
    return docs.build_draft_order(check_result, context, report_pdf=render_report(check_result, context))


def _valid_r4(resource: dict[str, Any]) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_committed_files_are_what_build_generates() -> None:
    result = subprocess.run(
        [sys.executable, str(PROFILES_DIR / "build.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["ServiceRequest-example", "DocumentReference-example"])
def test_examples_conform_to_our_profiles_and_base_r4(name: str) -> None:
    example = _example(name)
    report = check_against_own_profile(example)
    assert report.errors == [] and report.warnings == []
    _valid_r4(example)


def test_everything_generated_for_the_public_case_conforms() -> None:
    draft = _generated()
    for item in draft.resources:
        _valid_r4(item.resource)
        if item.resource.get("meta", {}).get("profile"):
            report = check_against_own_profile(item.resource)
            assert report.errors == [] and report.warnings == [], (item.key, report)
    _valid_r4(draft.transaction())


def test_a_revoked_draft_still_conforms() -> None:
    line = {**_generated().of_type("ServiceRequest")[0].resource, "status": "revoked"}
    assert check_against_own_profile(line).errors == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r.update(intent="order"), "ServiceRequest.intent: must be 'proposal'"),
        (lambda r: r.update(status="active"), "ServiceRequest.status"),
        (lambda r: r["code"]["coding"][0].update(code="99213"), "ServiceRequest.code"),
        (lambda r: r.pop("requester"), "ServiceRequest.requester: at least 1"),
        (lambda r: r.update(requester={"reference": "Patient/x"}), "is not a Device | Practitioner"),
        (lambda r: r["orderDetail"].pop(0), "sa-sr-1"),
        (lambda r: r["bodySite"][0].pop("extension"), "extension:laterality: at least 1"),
        (lambda r: r.update(quantityRange={"low": {"value": 1}}) or r.pop("quantityQuantity"), "quantityRange"),
        (lambda r: r["requisition"].update(system="urn:other"), "ServiceRequest.requisition"),
    ],
)
def test_the_checker_catches_what_the_profile_forbids(change: Any, expected: str) -> None:
    line = json.loads(json.dumps(_generated().of_type("ServiceRequest")[0].resource))
    change(line)
    errors = check_against_own_profile(line).errors
    assert any(expected in error for error in errors), errors


def test_an_icd10_code_outside_our_valueset_is_a_warning_not_an_error() -> None:
    line = json.loads(json.dumps(_generated().of_type("ServiceRequest")[0].resource))
    line["reasonCode"] = [{"coding": [{"system": docs.SYSTEM_ICD10, "code": "J45.909"}]}]
    report = check_against_own_profile(line)
    assert report.errors == [] and any("J45.909" in warning for warning in report.warnings)


def test_document_reference_checks() -> None:
    report_doc = json.loads(json.dumps(_generated().get("report").resource))  # type: ignore[union-attr]
    report_doc["content"][0]["attachment"].pop("data")
    report_doc["status"] = "superseded"
    errors = check_against_own_profile(report_doc).errors
    assert any("sa-dr-2" in error for error in errors) and any("must be 'current'" in error for error in errors)


def test_valuesets_follow_the_coding_table() -> None:
    _, valuesets = load_definitions()
    cpt_table = yaml.safe_load((PROJECT / "smart_app/rules/coding/cpt.yaml").read_text())["codes"]
    cpt = {code for system, code in valuesets[f"{docs.CANONICAL_BASE}/ValueSet/cpt"]}
    assert cpt == set(cpt_table)
    groups = yaml.safe_load((PROJECT / "smart_app/rules/coding/icd10.yaml").read_text())["diagnosis_groups"]
    patterns = [re.compile(group["pattern"]) for group in groups]
    icd = {code for system, code in valuesets[f"{docs.CANONICAL_BASE}/ValueSet/icd10"]}
    assert all(any(pattern.fullmatch(code) for pattern in patterns) for code in icd)
    assert all(any(pattern.fullmatch(code) for code in icd) for pattern in patterns)


def test_every_code_the_builder_uses_is_in_a_valueset() -> None:
    _, valuesets = load_definitions()
    details = valuesets[f"{docs.CANONICAL_BASE}/ValueSet/order-detail"]
    assert {(docs.CS_ORDER_DETAIL, code) for code in docs.ORDER_DETAIL_CODES} <= details
    assert {(docs.SYSTEM_SNOMED, code) for code, _ in docs.LATERALITY.values()} <= details
    modifiers = importlib.import_module("smart_app.rules.coding").load_coding_table()
    side_modifiers = set(modifiers["unilateral"]["modifiers"].values()) | {"50", "KX"}
    assert {(docs.modifier_system(code), code) for code in side_modifiers} <= details


@pytest.mark.sandbox
def test_examples_and_generated_resources_round_trip_through_the_sandbox(empty_fhir_server: Any) -> None:
    _round_trip(FhirClient(empty_fhir_server.base_url))


def _round_trip(client: FhirClient) -> None:
    client.transaction({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": resource, "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}}
        for resource in rfa_record()
    ]})  # fmt: skip
    response = client.transaction(_generated().transaction())
    assert [entry["response"]["status"][:3] for entry in response["entry"]] == ["201"] * 6
    for entry in response["entry"]:
        stored = client.read(*docs.reference_from_location(entry["response"]["location"]).split("/"))
        _valid_r4(stored)
        if stored.get("meta", {}).get("profile"):
            assert check_against_own_profile(stored).errors == []
    for name in ("ServiceRequest-example", "DocumentReference-example"):
        example = _example(name)
        example.pop("id")
        created = client.create(example)
        assert created.status == 201
    profiles, valuesets = load_definitions()
    assert (
        len(profiles) == 2
        and check(_example("ServiceRequest-example"), profiles[docs.PROFILE_SERVICE_REQUEST], valuesets).errors == []
    )


def _cases() -> list[dict[str, Any]]:
    from tests.conftest import CASES_DIR

    return list(json.loads((CASES_DIR / "cases.json").read_text()))


@pytest.mark.parametrize("case", _cases(), ids=lambda case: case["name"])
def test_the_real_check_of_every_public_case_makes_conforming_resources(case: dict[str, Any]) -> None:
    from datetime import date

    from smart_app.core.model import CheckRequest
    from smart_app.workflow.check import check_bundle
    from tests.conftest import CASES_DIR

    args = dict(case["args"])
    as_of = date.fromisoformat(args.pop("as_of"))
    bundle = json.loads((CASES_DIR / case["bundle"]).read_text())
    check_result = check_bundle(bundle, CheckRequest.build(**args), as_of=as_of, payer_from_record=True)
    resources = [entry["resource"] for entry in bundle["entry"]]
    context = docs.OrderContext(recorded=RECORDED, resources=resources, requester=PRACTITIONER)
    if not check_result["coding"]["lines"]:
        with pytest.raises(docs.OrderInputError):
            docs.build_draft_order(check_result, context, report_pdf=b"")
        return
    draft = docs.build_draft_order(check_result, context, report_pdf=render_report(check_result, context))
    for item in draft.resources:
        _valid_r4(item.resource)
        if item.resource.get("meta", {}).get("profile"):
            report = check_against_own_profile(item.resource)
            assert report.errors == [], (item.key, report.errors)
            assert report.warnings == [] or check_result["verdict"] != "ready", report.warnings
