"""Lenient screening of EHR resources: what is kept, what is skipped, and what the warnings say."""

from __future__ import annotations

from typing import Any

import pytest

from smart_app.fhir.lenient import owning_patient, r4b_problem, screen_resource


def observation(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-03-01T10:00:00+00:00",
        "valueInteger": 7,
    }
    resource.update(changes)
    return resource


def test_a_valid_resource_is_kept_without_warning() -> None:
    screening = screen_resource(observation(), patient_id="p1")
    assert screening.kept == observation()
    assert screening.warning is None and screening.skip_reason is None


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"effectiveDateTime": "2024-03-01T10:00:00"}, "effectiveDateTime: DateTime value string does not match"),
        ({"painLocation": "low back"}, "painLocation: Extra inputs are not permitted"),
        ({"extension": [{"valueString": "x"}]}, "extension.0.url: Value for the field 'url' is required"),
    ],
)
def test_what_r4b_rejects_is_kept_as_raw_json_with_a_warning(changes: dict[str, Any], problem: str) -> None:
    raw = observation(**changes)
    screening = screen_resource(raw, patient_id="p1")

    assert screening.kept is raw
    assert screening.warning is not None
    assert screening.warning.startswith("Observation/o1 kept as raw JSON: R4B rejects it: ")
    assert problem in screening.warning


def test_warnings_name_paths_not_values() -> None:
    screening = screen_resource(observation(valueInteger="Jane Doe, 555-0100"), patient_id="p1")
    assert screening.warning is not None
    assert "valueInteger" in screening.warning
    assert "Jane" not in screening.warning


def test_many_problems_are_summarised() -> None:
    raw = observation(a=1, b=2, c=3, d=4, e=5)
    problem = r4b_problem(raw)
    assert problem is not None and problem.endswith("(+2 more)")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("Observation/o1", "not a JSON object"),
        ([observation()], "not a JSON object"),
        ({"id": "o1", "status": "final"}, "no resourceType"),
        ({"resourceType": "Observation", "status": "final"}, "no id"),
        (observation(subject={"reference": "Patient/p2"}), "belongs to another patient (Patient/p2)"),
        ({"resourceType": "Patient", "id": "p2"}, "belongs to another patient (Patient/p2)"),
        (
            {"resourceType": "Coverage", "id": "cov", "beneficiary": {"reference": "https://x/fhir/Patient/p9"}},
            "belongs to another patient (Patient/p9)",
        ),
    ],
)
def test_unusable_resources_are_skipped_with_the_reason(raw: Any, reason: str) -> None:
    screening = screen_resource(raw, patient_id="p1")
    assert screening.kept is None
    assert screening.skip_reason == reason


def test_an_unknown_resource_type_is_kept_with_a_warning() -> None:
    screening = screen_resource({"resourceType": "SpineThing", "id": "x"}, patient_id="p1")
    assert screening.kept is not None
    assert screening.warning == "SpineThing/x kept as raw JSON: R4B rejects it: SpineThing is not an R4B resource type"


@pytest.mark.parametrize(
    ("resource", "owner"),
    [
        ({"resourceType": "Condition", "subject": {"reference": "Patient/p1"}}, "p1"),
        ({"resourceType": "Condition", "subject": {"reference": "Patient/p1/_history/3"}}, "p1"),
        ({"resourceType": "Coverage", "beneficiary": {"reference": "http://h/fhir/Patient/p1"}}, "p1"),
        ({"resourceType": "Condition", "subject": {"reference": "Group/g1"}}, None),
        ({"resourceType": "Condition", "subject": {"reference": "urn:uuid:0b6c"}}, None),
        ({"resourceType": "Condition"}, None),
        ({"resourceType": "Patient", "id": "p1"}, "p1"),
    ],
)
def test_owning_patient_reads_the_usual_references(resource: dict[str, Any], owner: str | None) -> None:
    assert owning_patient(resource) == owner


def test_the_same_content_is_validated_once_and_a_change_is_validated_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from smart_app.fhir import lenient

    monkeypatch.setattr(lenient, "VERDICTS", lenient.VerdictCache(100))
    validated: list[str] = []
    real_validate = lenient._validate

    def counting(resource: dict[str, Any]) -> str | None:
        validated.append(resource["id"])
        return real_validate(resource)

    monkeypatch.setattr(lenient, "_validate", counting)
    good = observation(id="cache-1")
    reordered = dict(reversed(list(good.items())))
    assert r4b_problem(good) is None
    assert r4b_problem(reordered) is None  # same content, keys in another order: the kept verdict
    assert validated == ["cache-1"]

    changed = observation(id="cache-1", effectiveDateTime="2024-03-01T10:00:00")
    problem = r4b_problem(changed)
    assert problem is not None and "effectiveDateTime" in problem
    assert r4b_problem(changed) == problem
    assert validated == ["cache-1", "cache-1"]


def test_the_verdict_cache_is_bounded_and_size_zero_keeps_nothing() -> None:
    from smart_app.fhir.lenient import VerdictCache, content_digest

    cache = VerdictCache(2)
    digests = [content_digest(observation(id=f"o{i}")) for i in range(3)]
    for digest in digests:
        cache.put(digest, None)
    assert len(cache) == 2
    assert cache.get(digests[0]) == (False, None)  # the oldest went first
    assert cache.get(digests[2]) == (True, None)

    empty = VerdictCache(0)
    empty.put(digests[0], "x: bad")
    assert empty.get(digests[0]) == (False, None) and len(empty) == 0
