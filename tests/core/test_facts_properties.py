"""Property tests: random, mistyped or truncated resources never crash the extractor (or the checklist)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smart_app.core.bundles import InvalidBundle, record_from_bundle
from smart_app.core.checklist import evaluate
from smart_app.core.facts import extract_facts
from smart_app.core.model import CheckRequest
from smart_app.rules.loader import load_rules
from tests.conftest import CASES_DIR

AS_OF = date(2026, 11, 15)
TYPES = [
    "Patient",
    "Condition",
    "Observation",
    "Procedure",
    "MedicationRequest",
    "MedicationStatement",
    "DiagnosticReport",
    "ImagingStudy",
    "DocumentReference",
    "Device",
    "Coverage",
    "Organization",
    "Medication",
]
KEYS = [
    "id",
    "status",
    "code",
    "coding",
    "system",
    "display",
    "text",
    "clinicalStatus",
    "verificationStatus",
    "onsetDateTime",
    "onsetAge",
    "onsetPeriod",
    "recordedDate",
    "performedDateTime",
    "performedPeriod",
    "effectiveDateTime",
    "effectivePeriod",
    "issued",
    "valueQuantity",
    "valueInteger",
    "valueString",
    "valueRange",
    "value",
    "partOf",
    "reference",
    "bodySite",
    "category",
    "conclusion",
    "conclusionCode",
    "presentedForm",
    "imagingStudy",
    "modality",
    "description",
    "birthDate",
    "name",
    "given",
    "family",
    "payor",
    "class",
    "order",
    "deviceName",
    "type",
    "content",
    "attachment",
    "data",
    "contentType",
    "note",
    "authoredOn",
    "medicationCodeableConcept",
    "medicationReference",
    "dispenseRequest",
    "validityPeriod",
    "start",
    "end",
    "abatementDateTime",
    "subject",
    "usedCode",
    "unit",
]
TEXT = st.sampled_from(
    [
        "",
        "M47.816",
        "M4781",
        "72514-3",
        "97909-6",
        "64493",
        "64635",
        "22558",
        "L4-L5",
        "L5",
        "2025",
        "2025-13",
        "2026-10-27T08:00:00-05:00",
        "2026-02-30",
        "active",
        "completed",
        "final",
        "refuted",
        "Patient/p1",
        "http://hl7.org/fhir/sid/icd-10-cm",
        "http://snomed.info/sct",
        "http://loinc.org",
        "http://www.ama-assn.org/go/cpt",
        "No fracture. Bilateral L5 pars defects with marrow edema",
        "2-8/10",
        "7/10",
        "bm90IGJhc2U2NA==",
        "text/plain",
        "medial branch block L4-L5 pulsed radiofrequency",
    ]
) | st.text(max_size=30)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 200) | st.floats(allow_nan=True, allow_infinity=True) | TEXT,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)
RESOURCE = st.builds(
    lambda kind, fields: {"resourceType": kind, **fields},
    st.sampled_from(TYPES),
    st.dictionaries(st.sampled_from(KEYS), JSON, max_size=8),
)
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.lists(RESOURCE | JSON, max_size=12))
def test_random_resources_never_crash_the_extractor(resources: list[Any]) -> None:
    facts = extract_facts(resources, patient_id=None, as_of=AS_OF)
    assert sum(facts.read_counts.values()) + len(facts.skipped) == len(resources)


@FAST
@given(
    st.lists(RESOURCE, max_size=10),
    st.sampled_from(["medial-branch-block", "radiofrequency-ablation", "pars-injection"]),
)
def test_random_records_always_get_a_verdict(resources: list[dict[str, Any]], procedure: str) -> None:
    levels = "L5" if procedure == "pars-injection" else "L4-L5"
    request = CheckRequest.build(
        procedure=procedure,
        levels=levels,
        side="bilateral",
        intent="diagnostic" if procedure == "medial-branch-block" else None,
    )
    rules = load_rules()
    policy = rules.policy_for(procedure, rules.payer("medicare"))
    facts = extract_facts(resources, patient_id=None, as_of=AS_OF)
    result = evaluate(policy, request, facts, as_of=AS_OF)
    assert result.verdict in ("ready", "needs-documentation", "not-eligible")


def _case_resources() -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    paths = sorted(CASES_DIR.glob("*.bundle.json"))
    assert len(paths) >= 12, f"the public case bundles are missing from {CASES_DIR}"
    for path in paths:
        resources += record_from_bundle(json.loads(path.read_text())).resources
    return resources


CASE_RESOURCES = _case_resources()


def _truncate(value: Any, cut: int) -> Any:
    """Drop the last `cut` keys of every object and the last item of long lists, recursively."""
    if isinstance(value, dict):
        kept = list(value.items())[: max(len(value) - cut, 0)]
        return {key: _truncate(item, cut) for key, item in kept}
    if isinstance(value, list):
        return [_truncate(item, cut) for item in value[: max(len(value) - 1, 0)]]
    return value


@FAST
@given(st.sampled_from(CASE_RESOURCES), st.integers(0, 6), st.sampled_from(KEYS), JSON)
def test_truncated_or_mistyped_real_resources_never_crash(
    resource: dict[str, Any], cut: int, key: str, junk: Any
) -> None:
    damaged = _truncate(resource, cut)
    mistyped = {**resource, key: junk}
    facts = extract_facts([damaged, mistyped], patient_id=None, as_of=AS_OF)
    assert len(facts.skipped) + sum(facts.read_counts.values()) == 2


@FAST
@given(st.integers(0, 20), st.integers(0, 4))
def test_truncated_bundles_are_refused_or_read(keep: int, cut: int) -> None:
    bundle = json.loads((CASES_DIR / "lumbar-rfa-repeat-ready.bundle.json").read_text())
    bundle["entry"] = [_truncate(item, cut) for item in bundle["entry"][:keep]]
    try:
        record = record_from_bundle(bundle)
    except InvalidBundle as error:
        assert "Patient" in str(error)
        return
    facts = extract_facts(record.resources, patient_id=record.patient_id, as_of=AS_OF)
    assert facts.patient_reference == f"Patient/{record.patient_id}"
