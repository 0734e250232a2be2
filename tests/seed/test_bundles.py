"""Every seed bundle is a valid R4 transaction of PUTs with the records the brief asks for."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from smart_app.sandbox.constants import SANDBOX_ORGANIZATION_ID, SANDBOX_PRACTITIONER_ID
from smart_app.sandbox.seed import scenario_names, seed_bundles
from tests.seed.records import ANCHOR, codes, references, resources, when

BUNDLES: dict[str, dict[str, Any]] = dict(seed_bundles())
PATIENT_BUNDLES = {name: bundle for name, bundle in BUNDLES.items() if name != "sandbox-user"}


@pytest.mark.parametrize("name", list(BUNDLES))
def test_bundle_validates_against_r4b_models(name: str) -> None:
    parsed = Bundle.model_validate(BUNDLES[name])
    assert parsed.type == "transaction"
    assert len(parsed.entry) == len(BUNDLES[name]["entry"])


def test_sandbox_user_bundle_comes_first_with_practitioner_and_organization() -> None:
    first_name, first = seed_bundles()[0]
    assert first_name == "sandbox-user"
    held = {(r["resourceType"], r["id"]) for r in resources(first)}
    assert ("Practitioner", SANDBOX_PRACTITIONER_ID) in held
    assert ("Organization", SANDBOX_ORGANIZATION_ID) in held
    assert not resources(first, "Patient")


def test_one_bundle_per_scenario_in_catalog_order() -> None:
    assert [name for name, _ in seed_bundles()][1:] == scenario_names()
    assert len(set(scenario_names())) == len(scenario_names())


@pytest.mark.parametrize("name", list(BUNDLES))
def test_entries_are_puts_at_their_own_ids(name: str) -> None:
    for entry in BUNDLES[name]["entry"]:
        resource = entry["resource"]
        assert entry["request"] == {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"


def test_ids_are_unique_across_the_whole_seed() -> None:
    keys = [(r["resourceType"], r["id"]) for bundle in BUNDLES.values() for r in resources(bundle)]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("name", list(PATIENT_BUNDLES))
def test_references_resolve_inside_the_bundle_or_to_the_sandbox_user(name: str) -> None:
    bundle = PATIENT_BUNDLES[name]
    known = {f"{r['resourceType']}/{r['id']}" for r in resources(bundle) + resources(BUNDLES["sandbox-user"])}
    dangling = {ref for r in resources(bundle) for ref in references(r)} - known
    assert not dangling


@pytest.mark.parametrize("name", list(PATIENT_BUNDLES))
def test_patient_record_has_every_kind_of_resource_the_brief_lists(name: str) -> None:
    bundle = PATIENT_BUNDLES[name]
    (patient,) = resources(bundle, "Patient")
    identifier_types = [i["type"]["coding"][0]["code"] for i in patient["identifier"]]
    assert identifier_types == ["MR", "MB"]
    (coverage,) = resources(bundle, "Coverage")
    assert coverage["payor"][0]["display"]
    assert coverage["beneficiary"]["reference"] == f"Patient/{patient['id']}"
    for resource_type in ("Condition", "Procedure", "Observation", "ImagingStudy", "DiagnosticReport"):
        assert resources(bundle, resource_type), resource_type
    assert resources(bundle, "MedicationRequest") or resources(bundle, "MedicationStatement")
    assert any(("http://loinc.org", "72514-3") in codes(o["code"]) for o in resources(bundle, "Observation"))
    notes = resources(bundle, "DocumentReference")
    assert notes
    for note in notes:
        attachment = note["content"][0]["attachment"]
        assert attachment["contentType"] == "text/plain"
        assert len(base64.b64decode(attachment["data"]).decode("utf-8")) > 40


def test_medicare_for_most_and_exactly_one_commercial_payer() -> None:
    payers = {name: resources(b, "Coverage")[0]["payor"][0]["display"] for name, b in PATIENT_BUNDLES.items()}
    commercial = [name for name, payer in payers.items() if "Medicare" not in payer]
    assert commercial == ["pars-adolescent-acute-defect-bracing"]


@pytest.mark.parametrize("name", list(PATIENT_BUNDLES))
def test_nothing_is_dated_after_the_anchor_date(name: str) -> None:
    date_keys = ("effectiveDateTime", "performedDateTime", "onsetDateTime", "authoredOn", "started", "date")
    for resource in resources(PATIENT_BUNDLES[name]):
        for key in date_keys:
            if key in resource:
                assert when(resource[key]) <= ANCHOR, (resource["resourceType"], key, resource[key])
