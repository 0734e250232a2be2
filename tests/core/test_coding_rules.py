"""One row per coding rule: each row fails if its rule breaks (lines, modifiers, units, levels and warnings are exact).

Diagnoses are chosen to support every line, so the only warnings are the rule's own; diagnosis matching has its own
tests in test_coding_diagnoses.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from smart_app.core.coding import code_request
from smart_app.core.model import SYSTEM_ICD10, CheckRequest, Diagnosis
from smart_app.rules.coding import load_coding_table

TABLE = load_coding_table()
SUPPORTING = [
    Diagnosis("M47.812", SYSTEM_ICD10, category="axial", region="cervical"),
    Diagnosis("M47.814", SYSTEM_ICD10, category="axial", region="thoracic"),
    Diagnosis("M47.816", SYSTEM_ICD10, category="axial", region="lumbar"),
    Diagnosis("M43.06", SYSTEM_ICD10, category="pars", region="lumbar"),
    Diagnosis("M43.02", SYSTEM_ICD10, category="pars", region="cervical"),
]
DIAGNOSIS_WARNINGS = {
    "coding.no-supporting-diagnosis",
    "coding.symptom-diagnosis-only",
    "coding.diagnosis-region-mismatch",
}
COMMERCIAL = {"bilateral": "rt-lt-lines", "kx_on_diagnostic": False, "medicare_lcd": False}

Line = tuple[str, list[str], int, list[str]]  # code, modifiers, units, levels


@dataclass(frozen=True)
class Row:
    rule: str
    request: dict[str, Any]
    lines: list[Line]
    warnings: set[str] = field(default_factory=set)
    conventions: dict[str, Any] | None = None
    alternatives: list[str] = field(default_factory=list)


MBB = {"procedure": "medial-branch-block", "intent": "diagnostic"}
RFA = {"procedure": "radiofrequency-ablation"}
PARS = {"procedure": "pars-injection"}

ROWS = [
    Row(
        "CR-01 a level is one joint: an L4-L5 block (two medial branches) is one level, one unit",
        {**MBB, "levels": "L4-L5", "side": "left"},
        [("64493", ["KX", "LT"], 1, ["L4-L5"])],
    ),
    Row(
        "CR-01 one joint spelled twice is still one level",
        {**MBB, "levels": "L4-5,L4-L5", "side": "left"},
        [("64493", ["KX", "LT"], 1, ["L4-L5"])],
    ),
    Row(
        "CR-03 lumbar: 64493 first level, +64494 second",
        {**MBB, "levels": "L4-L5,L5-S1", "side": "bilateral"},
        [("64493", ["50", "KX"], 1, ["L4-L5"]), ("64494", ["50", "KX"], 1, ["L5-S1"])],
    ),
    Row(
        "CR-03 cervical/thoracic: 64490, +64491, +64492",
        {**MBB, "levels": "C4-C5,C5-C6,C6-C7", "side": "right"},
        [
            ("64490", ["KX", "RT"], 1, ["C4-C5"]),
            ("64491", ["KX", "RT"], 1, ["C5-C6"]),
            ("64492", ["KX", "RT"], 1, ["C6-C7"]),
        ],
        {"coding.three-or-more-levels"},
    ),
    Row(
        "CR-05 three levels: +64495 for the third, coded but warned as non-covered under Medicare",
        {**MBB, "levels": "L3-L4,L4-L5,L5-S1", "side": "bilateral"},
        [
            ("64493", ["50", "KX"], 1, ["L3-L4"]),
            ("64494", ["50", "KX"], 1, ["L4-L5"]),
            ("64495", ["50", "KX"], 1, ["L5-S1"]),
        ],
        {"coding.three-or-more-levels"},
    ),
    Row(
        "CR-05 four levels: +64495 once, 1 unit, for every level from the third",
        {**MBB, "levels": "L2-L3,L3-L4,L4-L5,L5-S1", "side": "right"},
        [
            ("64493", ["KX", "RT"], 1, ["L2-L3"]),
            ("64494", ["KX", "RT"], 1, ["L3-L4"]),
            ("64495", ["KX", "RT"], 1, ["L4-L5", "L5-S1"]),
        ],
        {"coding.three-or-more-levels"},
    ),
    Row(
        "CR-05 three levels for a payer without the Medicare LCD: coded, no coverage warning",
        {**MBB, "levels": "L3-L4,L4-L5,L5-S1", "side": "left"},
        [("64493", ["LT"], 1, ["L3-L4"]), ("64494", ["LT"], 1, ["L4-L5"]), ("64495", ["LT"], 1, ["L5-S1"])],
        conventions=COMMERCIAL,
    ),
    Row(
        "CR-06 T12-L1 + L1-L2 bilateral: 64490-50 + 64494-50",
        {**MBB, "levels": "T12-L1,L1-L2", "side": "bilateral"},
        [("64490", ["50", "KX"], 1, ["T12-L1"]), ("64494", ["50", "KX"], 1, ["L1-L2"])],
    ),
    Row(
        "CR-06 T12-L1 alone takes the cervical/thoracic code",
        {**MBB, "levels": "T12-L1", "side": "left"},
        [("64490", ["KX", "LT"], 1, ["T12-L1"])],
    ),
    Row(
        "CR-06 RFA T12-L1 + L1-L2: 64633 + 64636",
        {**RFA, "levels": "T12-L1,L1-L2", "side": "right"},
        [("64633", ["RT"], 1, ["T12-L1"]), ("64636", ["RT"], 1, ["L1-L2"])],
    ),
    Row(
        "CR-07 bilateral on a physician claim: one line, modifier 50, 1 unit",
        {"procedure": "facet-injection", "intent": "therapeutic", "levels": "L5-S1", "side": "bilateral"},
        [("64493", ["50"], 1, ["L5-S1"])],
    ),
    Row(
        "CR-08 ASC bilateral: two lines RT and LT, 1 unit each",
        {**MBB, "levels": "L4-L5,L5-S1", "side": "bilateral", "setting": "asc"},
        [
            ("64493", ["KX", "RT"], 1, ["L4-L5"]),
            ("64493", ["KX", "LT"], 1, ["L4-L5"]),
            ("64494", ["KX", "RT"], 1, ["L5-S1"]),
            ("64494", ["KX", "LT"], 1, ["L5-S1"]),
        ],
        {"coding.asc-bilateral"},
    ),
    Row(
        "CR-08 an ASC splits bilateral into RT and LT even for a modifier-50 payer",
        {**RFA, "levels": "L5-S1", "side": "bilateral", "setting": "asc"},
        [("64635", ["RT"], 1, ["L5-S1"]), ("64635", ["LT"], 1, ["L5-S1"])],
        {"coding.asc-bilateral"},
        conventions={"bilateral": "modifier-50"},
    ),
    Row(
        "CR-09 payer convention rt-lt-lines on a physician claim",
        {**RFA, "levels": "L4-L5,L5-S1", "side": "bilateral"},
        [
            ("64635", ["RT"], 1, ["L4-L5"]),
            ("64635", ["LT"], 1, ["L4-L5"]),
            ("64636", ["RT"], 1, ["L5-S1"]),
            ("64636", ["LT"], 1, ["L5-S1"]),
        ],
        conventions=COMMERCIAL,
    ),
    Row(
        "cervical right: 64490 with KX and RT",
        {**MBB, "levels": "C5-C6", "side": "right"},
        [("64490", ["KX", "RT"], 1, ["C5-C6"])],
    ),
    Row(
        "CR-10 KX on every line of a diagnostic intra-articular injection",
        {"procedure": "facet-injection", "intent": "diagnostic", "levels": "L4-L5,L5-S1", "side": "left"},
        [("64493", ["KX", "LT"], 1, ["L4-L5"]), ("64494", ["KX", "LT"], 1, ["L5-S1"])],
    ),
    Row(
        "CR-10 no KX on a therapeutic block",
        {"procedure": "medial-branch-block", "intent": "therapeutic", "levels": "L4-L5", "side": "right"},
        [("64493", ["RT"], 1, ["L4-L5"])],
    ),
    Row(
        "CR-10 no KX when the payer does not want it",
        {**MBB, "levels": "L4-L5", "side": "right"},
        [("64493", ["RT"], 1, ["L4-L5"])],
        conventions={"kx_on_diagnostic": False},
    ),
    Row(
        "CR-12 ultrasound guidance: 0216T/+0217T, no KX, warned (GEN-11)",
        {**MBB, "levels": "L4-L5,L5-S1", "side": "bilateral", "guidance": "ultrasound"},
        [("0216T", ["50"], 1, ["L4-L5"]), ("0217T", ["50"], 1, ["L5-S1"])],
        {"coding.ultrasound-injection"},
    ),
    Row(
        "CR-12 ultrasound, cervical, three levels: 0213T, +0214T, +0215T",
        {
            "procedure": "facet-injection",
            "intent": "therapeutic",
            "levels": "C3-C4,C4-C5,C5-C6",
            "side": "left",
            "guidance": "ultrasound",
        },
        [("0213T", ["LT"], 1, ["C3-C4"]), ("0214T", ["LT"], 1, ["C4-C5"]), ("0215T", ["LT"], 1, ["C5-C6"])],
        {"coding.ultrasound-injection", "coding.three-or-more-levels"},
    ),
    Row(
        "CR-13 no guidance: coded, warned that CPT points to 20552/20553 and Medicare does not cover it",
        {**MBB, "levels": "L4-L5", "side": "left", "guidance": "none"},
        [("64493", ["KX", "LT"], 1, ["L4-L5"])],
        {"coding.no-guidance-injection"},
        alternatives=["20552", "20553"],
    ),
    Row(
        "CR-13 RFA without guidance is warned (GEN-11)",
        {**RFA, "levels": "L4-L5", "side": "left", "guidance": "none"},
        [("64635", ["LT"], 1, ["L4-L5"])],
        {"coding.no-guidance-rfa"},
    ),
    Row(
        "CR-14 RFA bilateral, two joints: 64635-50 + 64636-50, 1 unit each",
        {**RFA, "levels": "L4-L5,L5-S1", "side": "bilateral"},
        [("64635", ["50"], 1, ["L4-L5"]), ("64636", ["50"], 1, ["L5-S1"])],
    ),
    Row(
        "CR-14 RFA three joints: +64636 with units = number of further joints",
        {**RFA, "levels": "L3-L4,L4-L5,L5-S1", "side": "bilateral"},
        [("64635", ["50"], 1, ["L3-L4"]), ("64636", ["50"], 2, ["L4-L5", "L5-S1"])],
        {"coding.three-or-more-joints"},
    ),
    Row(
        "CR-14 RFA cervical: 64633 + 64634",
        {**RFA, "levels": "C5-C6,C6-C7", "side": "left"},
        [("64633", ["LT"], 1, ["C5-C6"]), ("64634", ["LT"], 1, ["C6-C7"])],
    ),
    Row(
        "CR-14 RFA under ultrasound keeps the ablation codes and is warned",
        {**RFA, "levels": "L5-S1", "side": "right", "guidance": "ultrasound"},
        [("64635", ["RT"], 1, ["L5-S1"])],
        {"coding.ultrasound-rfa"},
    ),
    Row(
        "CR-16 two regions: the larger region is coded, the other is named in a warning",
        {**MBB, "levels": "C5-C6,L4-L5,L5-S1", "side": "right"},
        [("64493", ["KX", "RT"], 1, ["L4-L5"]), ("64494", ["KX", "RT"], 1, ["L5-S1"])],
        {"coding.more-than-one-region"},
    ),
    Row(
        "CR-16 two regions, one level each: the upper region is coded",
        {**MBB, "levels": "C5-C6,L4-L5", "side": "right"},
        [("64490", ["KX", "RT"], 1, ["C5-C6"])],
        {"coding.more-than-one-region"},
    ),
    Row(
        "CR-16 cervical and thoracic joints are one cervical/thoracic session",
        {**MBB, "levels": "C7-T1,T1-T2", "side": "left"},
        [("64490", ["KX", "LT"], 1, ["C7-T1"]), ("64491", ["KX", "LT"], 1, ["T1-T2"])],
    ),
    Row(
        "RFA-03 pulsed radiofrequency: same codes, warned as non-covered",
        {**RFA, "levels": "L4-L5", "side": "right", "technique": "pulsed"},
        [("64635", ["RT"], 1, ["L4-L5"])],
        {"coding.non-thermal-rfa"},
    ),
    Row(
        "S13 pars bilateral: 64493-50, 1 unit, no KX; 64999 offered",
        {**PARS, "levels": "L5", "side": "bilateral"},
        [("64493", ["50"], 1, ["L5"])],
        {"coding.pars-cpt-assistant", "coding.pars-not-addressed", "coding.pars-kx-not-added"},
        alternatives=["64999"],
    ),
    Row(
        "S13 pars one side: 64493 with LT",
        {**PARS, "levels": "L5", "side": "left"},
        [("64493", ["LT"], 1, ["L5"])],
        {"coding.pars-cpt-assistant", "coding.pars-not-addressed"},
        conventions={"kx_on_diagnostic": False},
        alternatives=["64999"],
    ),
    Row(
        "S13 pars at two vertebrae: 64493 + 64494",
        {**PARS, "levels": "L4,L5", "side": "bilateral", "intent": "therapeutic"},
        [("64493", ["50"], 1, ["L4"]), ("64494", ["50"], 1, ["L5"])],
        {"coding.pars-cpt-assistant", "coding.pars-not-addressed"},
        alternatives=["64999"],
    ),
    Row(
        "S13 pars outside the lumbar spine: 64490 by analogy, warned",
        {**PARS, "levels": "C2", "side": "right", "intent": "therapeutic"},
        [("64490", ["RT"], 1, ["C2"])],
        {"coding.pars-cpt-assistant", "coding.pars-not-addressed", "coding.pars-outside-lumbar"},
        alternatives=["64999"],
    ),
    Row(
        "S13 pars without guidance: warned, no trigger-point alternative",
        {**PARS, "levels": "L5", "side": "right", "guidance": "none", "intent": "therapeutic"},
        [("64493", ["RT"], 1, ["L5"])],
        {"coding.pars-cpt-assistant", "coding.pars-not-addressed", "coding.no-guidance-pars"},
        alternatives=["64999"],
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.rule for row in ROWS])
def test_coding_rule(row: Row) -> None:
    result = code_request(CheckRequest.build(**row.request), SUPPORTING, TABLE, row.conventions)

    lines = [(line["code"], line["modifiers"], line["units"], line["levels"]) for line in result.lines]
    assert lines == row.lines
    rule_warnings = {warning.code for warning in result.warnings} - DIAGNOSIS_WARNINGS
    assert rule_warnings == row.warnings
    assert [alternative["code"] for alternative in result.alternatives] == row.alternatives


def test_add_on_flag_follows_the_code() -> None:
    request = CheckRequest.build(**MBB, levels="T12-L1,L1-L2,L2-L3", side="left")
    lines = code_request(request, SUPPORTING, TABLE).lines
    assert [(line["code"], line["add_on"]) for line in lines] == [
        ("64490", False),
        ("64494", True),
        ("64495", True),
    ]


def test_pars_line_and_warning_cite_the_cpt_assistant_answer() -> None:
    result = code_request(CheckRequest.build(**PARS, levels="L5", side="bilateral"), SUPPORTING, TABLE)
    assert "S13" in result.lines[0]["source"]
    cited = {warning.code: warning for warning in result.warnings}["coding.pars-cpt-assistant"]
    assert "S13" in cited.source
    assert "CPT Assistant" in cited.message
    not_addressed = {warning.code: warning for warning in result.warnings}["coding.pars-not-addressed"]
    assert "M43.06" in not_addressed.message
    assert "does not address pars" in not_addressed.message


def test_pars_alternative_says_what_64999_needs() -> None:
    result = code_request(CheckRequest.build(**PARS, levels="L5", side="bilateral"), SUPPORTING, TABLE)
    (unlisted,) = result.alternatives
    assert unlisted["comparison_code"] == "64493"
    needs = " ".join(unlisted["needs"])
    assert "description" in needs
    assert "64493" in needs
    assert "77003" in needs and "separately" in needs


def test_region_warning_says_what_was_chosen_and_left_off() -> None:
    request = CheckRequest.build(**MBB, levels="C5-C6,L4-L5,L5-S1", side="right")
    coded = code_request(request, SUPPORTING, TABLE)
    (warning,) = [warning for warning in coded.warnings if warning.code == "coding.more-than-one-region"]
    assert "lumbar/sacral levels L4-L5, L5-S1" in warning.message
    assert "left off C5-C6" in warning.message
    assert warning.source.startswith("CR-16")
    assert coded.left_out_levels == ("C5-C6",) and coded.to_json()["left_out_levels"] == ["C5-C6"]
    one_region = code_request(CheckRequest.build(**MBB, levels="L4-L5,L5-S1", side="right"), SUPPORTING, TABLE)
    assert one_region.left_out_levels == () and "left_out_levels" not in one_region.to_json()


def test_every_warning_cites_a_source() -> None:
    request = CheckRequest.build(
        procedure="radiofrequency-ablation",
        levels="C5-C6,L3-L4,L4-L5,L5-S1",
        side="bilateral",
        technique="cryo",
        guidance="ultrasound",
        setting="asc",
    )
    warnings = code_request(request, [], TABLE).warnings
    assert len(warnings) >= 5
    assert all(warning.source and warning.code.startswith("coding.") for warning in warnings)
