"""The benchmark record: about n valid R4 resources of the listed types, deterministic, self-contained."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from fhir.resources.R4B.bundle import Bundle

from smart_app.sandbox.seed import build_large_record
from smart_app.sandbox.seed.large import MIX
from tests.seed.records import references, resources

LISTED_TYPES = {kind for kind, _ in MIX}


def test_default_record_has_2000_resources_over_every_listed_type() -> None:
    bundle = build_large_record()
    kinds = Counter(r["resourceType"] for r in resources(bundle))
    assert sum(kinds.values()) == 2000
    assert kinds["Patient"] == 1
    assert set(kinds) == LISTED_TYPES | {"Patient"}
    for kind, weight in MIX:
        assert abs(kinds[kind] - 2000 * weight / 100) <= 30, kind


def test_record_validates_against_r4b_models() -> None:
    bundle = build_large_record(600)
    assert len(Bundle.model_validate(bundle).entry) == 600


def test_record_is_deterministic_and_keyed_by_patient_id() -> None:
    assert json.dumps(build_large_record(300)) == json.dumps(build_large_record(300))
    other = build_large_record(300, patient_id="bench-patient-2")
    assert resources(other, "Patient")[0]["id"] == "bench-patient-2"
    assert {r["id"] for r in resources(other)}.isdisjoint(r["id"] for r in resources(build_large_record(300)))


def test_every_reference_stays_inside_the_record() -> None:
    bundle = build_large_record(500, patient_id="bench-patient-3")
    known = {f"{r['resourceType']}/{r['id']}" for r in resources(bundle)}
    found = {ref for r in resources(bundle) for ref in references(r)}
    assert found and found <= known
    assert all(
        r.get("subject", r.get("beneficiary", {"reference": "Patient/bench-patient-3"}))["reference"]
        == "Patient/bench-patient-3"
        for r in resources(bundle)
        if r["resourceType"] != "Patient"
    )


def test_small_records_still_hold_every_type_and_tiny_ones_are_refused() -> None:
    bundle = build_large_record(len(MIX) + 1)
    assert {r["resourceType"] for r in resources(bundle)} == LISTED_TYPES | {"Patient"}
    with pytest.raises(ValueError):
        build_large_record(5)
