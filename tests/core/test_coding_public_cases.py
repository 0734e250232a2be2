"""The public cases' coding expectations, from the cases' requests and the diagnoses their bundles hold.

The diagnoses are written out by hand here (what each bundle's Conditions say), so the coder is checked without the
fact extractor; tests/cases/test_case_coding.py runs the same expectations through `smart-app check`
and imports `assert_coding_matches` from here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from smart_app.core.coding import code_request
from smart_app.core.model import SYSTEM_ICD10, CheckRequest, Diagnosis
from smart_app.rules.coding import load_coding_table
from tests.conftest import CASES_DIR

TABLE = load_coding_table()
SPONDYLOSIS_LUMBAR = [Diagnosis("M47.816", SYSTEM_ICD10, category="axial", region="lumbar")]
LOW_BACK_PAIN = Diagnosis("M54.50", SYSTEM_ICD10, category="axial", region="lumbar")
RECORD_DIAGNOSES = {
    "cervical-mbb-right-ready": [Diagnosis("M47.812", SYSTEM_ICD10, category="axial", region="cervical")],
    "lumbar-facet-radiculopathy": [
        *SPONDYLOSIS_LUMBAR,
        Diagnosis("M54.16", SYSTEM_ICD10, category="radicular", region="lumbar"),
    ],
    "pars-injection-after-failed-rfa": [
        Diagnosis("M43.16", SYSTEM_ICD10, category="pars", region="lumbar", levels=("L5",)),
        LOW_BACK_PAIN,
    ],
    "pars-injection-bme-ready": [
        Diagnosis("M43.06", SYSTEM_ICD10, category="pars", region="lumbar", levels=("L5",)),
        LOW_BACK_PAIN,
    ],
}
CASES = json.loads((CASES_DIR / "cases.json").read_text(encoding="utf-8"))


def assert_coding_matches(expected: dict[str, Any], coding: dict[str, Any]) -> None:
    """Check a result's `coding` object against a case's expectations: `coding` (the lines in order: code, exact
    `modifiers` or `modifiers_include`, units), `coding_codes_include`, `diagnoses_include` (on at least one line)."""
    lines = coding["lines"]
    if "coding" in expected:
        got = [(line["code"], line["modifiers"], line["units"]) for line in lines]
        assert len(lines) == len(expected["coding"]), got
        for line, want in zip(lines, expected["coding"], strict=True):
            assert line["code"] == want["code"], got
            assert line["units"] == want["units"], got
            if "modifiers" in want:
                assert line["modifiers"] == want["modifiers"], got
            assert set(want.get("modifiers_include", [])) <= set(line["modifiers"]), got
    codes = {line["code"] for line in lines}
    assert set(expected.get("coding_codes_include", [])) <= codes
    diagnoses = {code for line in lines for code in line["diagnoses"]}
    assert set(expected.get("diagnoses_include", [])) <= diagnoses, diagnoses


def request_of(args: dict[str, str]) -> CheckRequest:
    return CheckRequest.build(**{key: value for key, value in args.items() if key != "as_of"})


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_public_case_coding(case: dict[str, Any]) -> None:
    diagnoses = RECORD_DIAGNOSES.get(case["name"], SPONDYLOSIS_LUMBAR)
    result = code_request(request_of(case["args"]), diagnoses, TABLE)
    assert_coding_matches(case["expected"], result.to_json())
    if case["expected"].get("warnings_nonempty"):
        assert result.warnings
    # every line is supported by a diagnosis that is not a radiculopathy
    assert all(line["diagnoses"] and "M54.16" not in line["diagnoses"] for line in result.lines)
