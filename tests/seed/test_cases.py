"""Our acceptance cases (smart_app/sandbox/seed/cases.json) have the shape of ../shared/cases/cases.json,
point at real bundles, and are consistent with the check-result contract and with each other."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from smart_app.sandbox.seed import generate, seed_patients
from tests.seed.records import resources

CASES: list[dict[str, Any]] = json.loads(generate.CASES_FILE.read_text("utf-8"))
PATHWAYS = {
    "pars-injection",
    "facet-diagnostic-first",
    "facet-diagnostic-confirmatory",
    "facet-therapeutic",
    "rfa-initial",
    "rfa-repeat",
}
ARG_VALUES = {
    "procedure": {"pars-injection", "facet-injection", "medial-branch-block", "radiofrequency-ablation"},
    "side": {"left", "right", "bilateral"},
    "intent": {"diagnostic", "therapeutic"},
}
CRITERION_ID = re.compile(r"^(GEN|DX|DX2|TX|RFA|RFAR|SED|PARS)-\d{2}$")
STATUSES = {"met", "not-met", "unknown", "not-applicable"}
EXPECTED_KEYS = {"verdict", "pathway", "criteria", "coding", "diagnoses_include", "outlook_rate", "warnings_nonempty"}


def test_case_keys_match_the_shared_format(cases_dir: Path) -> None:
    shared = json.loads((cases_dir / "cases.json").read_text("utf-8"))
    shared_expected_keys = {key for case in shared for key in case["expected"]}
    for case in CASES:
        assert set(case) == set(shared[0])
        assert set(case["expected"]) <= EXPECTED_KEYS
    assert {key for case in CASES for key in case["expected"]} <= shared_expected_keys | EXPECTED_KEYS


def test_our_case_names_and_patients_differ_from_the_shared_cases(cases_dir: Path) -> None:
    shared = json.loads((cases_dir / "cases.json").read_text("utf-8"))
    assert not {c["name"] for c in CASES} & {c["name"] for c in shared}
    assert not {c["patient"] for c in CASES} & {c["patient"] for c in shared}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_points_at_its_bundle_and_patient(case: dict[str, Any]) -> None:
    bundle = json.loads((generate.SEED_DIR / case["bundle"]).read_text("utf-8"))
    (patient,) = resources(bundle, "Patient")
    assert case["patient"] == f"Patient/{patient['id']}"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_request_and_expectations_are_well_formed(case: dict[str, Any]) -> None:
    args = case["args"]
    assert args["as_of"] == "2026-11-15"
    for key, allowed in ARG_VALUES.items():
        if key in args:
            assert args[key] in allowed
    if args["procedure"] in ("facet-injection", "medial-branch-block"):
        assert "intent" in args
    expected = case["expected"]
    assert expected["verdict"] in ("ready", "needs-documentation", "not-eligible")
    assert expected["pathway"] in PATHWAYS
    statuses = expected.get("criteria", {})
    for criterion, status in statuses.items():
        assert CRITERION_ID.match(criterion) and status in STATUSES
    # The verdict follows from the criteria (../shared/contracts/CLI.md "What the verdict means").
    if "not-met" in statuses.values():
        assert expected["verdict"] == "not-eligible"
    elif "unknown" in statuses.values():
        assert expected["verdict"] == "needs-documentation"
    if expected["verdict"] == "ready":
        assert set(statuses.values()) <= {"met", "not-applicable"}
    else:
        assert set(statuses.values()) - {"met", "not-applicable"}, "a failing case names the criterion that fails"


def test_every_pathway_has_a_ready_case_and_failing_cases_exist() -> None:
    ready = {c["expected"]["pathway"] for c in CASES if c["expected"]["verdict"] == "ready"}
    assert ready == PATHWAYS
    verdicts = {c["expected"]["verdict"] for c in CASES}
    assert verdicts == {"ready", "needs-documentation", "not-eligible"}


def test_seed_patients_describe_the_same_requests_as_the_cases() -> None:
    by_name = {c["name"]: c for c in CASES}
    for patient in seed_patients():
        case = by_name[patient.name]
        assert case["patient"] == patient.reference
        assert dict(patient.request) == case["args"]
        assert patient.pathway == case["expected"]["pathway"]
        assert patient.expected_verdict == case["expected"]["verdict"]
        flags = dict(zip(patient.cli_args[::2], patient.cli_args[1::2], strict=True))
        assert flags["--levels"] == case["args"]["levels"] and flags["--as-of"] == "2026-11-15"
