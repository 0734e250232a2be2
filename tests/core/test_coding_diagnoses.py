"""Which ICD-10-CM diagnoses of the record support each CPT line, and the warnings when none or the wrong ones do."""

from __future__ import annotations

from typing import Any

from smart_app.core.coding import code_request
from smart_app.core.model import SYSTEM_ICD10, SYSTEM_SNOMED, CheckRequest, Diagnosis
from smart_app.rules.coding import load_coding_table

TABLE = load_coding_table()
LUMBAR_MBB = CheckRequest.build(
    procedure="medial-branch-block", intent="diagnostic", levels="L4-L5,L5-S1", side="bilateral"
)
PARS_L5 = CheckRequest.build(procedure="pars-injection", levels="L5", side="bilateral")


def icd(code: str, **kwargs: Any) -> Diagnosis:
    return Diagnosis(code, SYSTEM_ICD10, **kwargs)


def warning_codes(request: CheckRequest, diagnoses: list[Diagnosis]) -> dict[str, str]:
    return {warning.code: warning.message for warning in code_request(request, diagnoses, TABLE).warnings}


def line_diagnoses(request: CheckRequest, diagnoses: list[Diagnosis]) -> list[list[str]]:
    return [line["diagnoses"] for line in code_request(request, diagnoses, TABLE).lines]


def test_specific_codes_come_before_symptom_codes() -> None:
    diagnoses = [icd("M54.50"), icd("M47.816")]
    assert line_diagnoses(LUMBAR_MBB, diagnoses) == [["M47.816", "M54.50"], ["M47.816", "M54.50"]]


def test_a_code_naming_one_region_comes_before_one_spanning_two() -> None:
    diagnoses = [icd("M47.815"), icd("M47.816")]
    assert line_diagnoses(LUMBAR_MBB, diagnoses)[0] == ["M47.816", "M47.815"]


def test_inactive_and_non_icd10_diagnoses_never_support_a_line() -> None:
    diagnoses = [icd("M47.816", active=False), Diagnosis("279039007", SYSTEM_SNOMED, category="axial")]
    assert line_diagnoses(LUMBAR_MBB, diagnoses) == [[], []]
    assert "coding.no-supporting-diagnosis" in warning_codes(LUMBAR_MBB, diagnoses)


def test_exclusion_diagnoses_never_support_a_facet_line() -> None:
    diagnoses = [
        icd("M54.16", category="radicular", region="lumbar"),
        icd("M48.062", category="claudication", region="lumbar"),
        icd("M79.7", category="centralized"),
        icd("M47.816"),
    ]
    assert line_diagnoses(LUMBAR_MBB, diagnoses) == [["M47.816"], ["M47.816"]]


def test_no_supporting_diagnosis_is_warned_with_the_codes_concerned() -> None:
    warnings = warning_codes(LUMBAR_MBB, [])
    assert "64493, 64494" in warnings["coding.no-supporting-diagnosis"]
    assert "lumbar/sacral" in warnings["coding.no-supporting-diagnosis"]


def test_only_a_symptom_code_is_warned() -> None:
    warnings = warning_codes(LUMBAR_MBB, [icd("M54.50")])
    assert "M54.50" in warnings["coding.symptom-diagnosis-only"]
    assert "coding.no-supporting-diagnosis" not in warnings


def test_a_specific_code_silences_the_symptom_warning() -> None:
    warnings = warning_codes(LUMBAR_MBB, [icd("M54.50"), icd("M47.817")])
    assert "coding.symptom-diagnosis-only" not in warnings
    assert "coding.no-supporting-diagnosis" not in warnings


def test_a_lumbar_diagnosis_never_supports_a_cervical_line_and_is_warned() -> None:
    request = CheckRequest.build(procedure="radiofrequency-ablation", levels="C5-C6", side="right")
    diagnoses = [icd("M47.816"), icd("M47.812")]
    assert line_diagnoses(request, diagnoses) == [["M47.812"]]
    warnings = warning_codes(request, diagnoses)
    assert "M47.816 (lumbar)" in warnings["coding.diagnosis-region-mismatch"]
    assert "64633" in warnings["coding.diagnosis-region-mismatch"]


def test_region_mismatch_alone_means_no_support() -> None:
    request = CheckRequest.build(procedure="medial-branch-block", intent="diagnostic", levels="C5-C6", side="right")
    warnings = warning_codes(request, [icd("M47.816")])
    assert {"coding.diagnosis-region-mismatch", "coding.no-supporting-diagnosis"} <= set(warnings)


def test_t12_l1_line_accepts_thoracic_thoracolumbar_and_lumbar_codes() -> None:
    request = CheckRequest.build(
        procedure="medial-branch-block", intent="diagnostic", levels="T12-L1,L1-L2", side="bilateral"
    )
    diagnoses = [icd("M47.814"), icd("M47.815"), icd("M47.816")]
    first, second = line_diagnoses(request, diagnoses)
    assert first == ["M47.814", "M47.816", "M47.815"]
    assert second == ["M47.816", "M47.815"]
    assert "coding.diagnosis-region-mismatch" not in warning_codes(request, diagnoses)


def test_unspecified_site_codes_match_no_line_and_raise_no_mismatch() -> None:
    warnings = warning_codes(LUMBAR_MBB, [icd("M47.819")])
    assert "coding.no-supporting-diagnosis" in warnings
    assert "coding.diagnosis-region-mismatch" not in warnings


def test_pars_lines_take_pars_codes_not_spondylosis() -> None:
    diagnoses = [icd("M47.816"), icd("M54.50"), icd("M43.06"), icd("M43.17")]
    assert line_diagnoses(PARS_L5, diagnoses) == [["M43.06", "M43.17", "M54.50"]]


def test_a_regionless_code_takes_the_region_read_from_the_record() -> None:
    assert line_diagnoses(PARS_L5, [icd("Q76.2", region="lumbar")]) == [["Q76.2"]]
    assert line_diagnoses(PARS_L5, [icd("Q76.2")]) == [[]]


def test_unknown_codes_fall_back_on_the_fact_category() -> None:
    diagnoses = [icd("M54.89", category="axial", region="lumbar"), icd("M99.03", category="other", region="lumbar")]
    assert line_diagnoses(LUMBAR_MBB, diagnoses)[0] == ["M54.89"]
    assert "coding.symptom-diagnosis-only" in warning_codes(LUMBAR_MBB, diagnoses)


def test_codes_without_the_dot_are_normalised_and_listed_once() -> None:
    diagnoses = [icd("m47816"), icd("M47.816"), icd("M5450")]
    assert line_diagnoses(LUMBAR_MBB, diagnoses)[0] == ["M47.816", "M54.50"]


def test_provisional_diagnoses_never_support_a_line() -> None:
    diagnoses = [icd("M47.816", confirmed=False), icd("M54.50")]
    assert line_diagnoses(LUMBAR_MBB, diagnoses) == [["M54.50"], ["M54.50"]]
    assert "coding.symptom-diagnosis-only" in warning_codes(LUMBAR_MBB, diagnoses)


def test_every_region_the_record_names_counts_for_a_regionless_code() -> None:
    diagnoses = [icd("Q76.2", region="thoracic", regions=("thoracic", "lumbar"))]
    assert line_diagnoses(PARS_L5, diagnoses) == [["Q76.2"]]


def test_a_line_points_to_at_most_four_diagnoses() -> None:
    diagnoses = [icd(code) for code in ("M47.816", "M47.817", "M47.896", "M48.16", "M53.86", "M54.50")]
    (first, _) = line_diagnoses(LUMBAR_MBB, diagnoses)
    assert len(first) == TABLE["max_diagnoses_per_line"] == 4
    assert "M54.50" not in first
