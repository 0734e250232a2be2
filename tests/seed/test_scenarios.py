"""The records hold what each scenario claims, measured with the thresholds of
../shared/domain/policy-rules.md (section A and E) and the conventions in fhir-conventions.md."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from smart_app.sandbox.seed import acceptance_cases, seed_bundles
from smart_app.sandbox.seed.timeline import ANCHOR_DATE
from tests.seed.records import (
    DIAGNOSTIC,
    ODI,
    THERAPEUTIC,
    codes,
    earliest_onset,
    facet_procedures,
    immediate_relief,
    is_ablation,
    levels_in,
    numeric_scores,
    resources,
    sustained_relief_days,
    when,
)

BUNDLES: dict[str, dict[str, Any]] = dict(seed_bundles())
CASES = {case["name"]: case for case in acceptance_cases()}


def _criterion(name: str, criterion: str) -> str | None:
    return CASES[name]["expected"].get("criteria", {}).get(criterion)


def _names_where(criterion: str, status: str) -> list[str]:
    return [name for name in CASES if _criterion(name, criterion) == status]


def _diagnostic_blocks(name: str) -> list[dict[str, Any]]:
    return [p for p in facet_procedures(BUNDLES[name], DIAGNOSTIC) if not is_ablation(p)]


def _ablations(name: str) -> list[dict[str, Any]]:
    return [p for p in facet_procedures(BUNDLES[name], THERAPEUTIC) if is_ablation(p)]


def _requested_levels(name: str) -> set[str]:
    return set(CASES[name]["args"]["levels"].split(","))


def _conclusions(name: str) -> list[str]:
    texts = []
    for report in resources(BUNDLES[name], "DiagnosticReport"):
        if report["status"] == "final":
            texts.append(report.get("conclusion") or "")
            for form in report.get("presentedForm", []):
                texts.append(base64.b64decode(form["data"]).decode("utf-8"))
    return texts


def _on_side(text: str, side: str) -> bool:
    """A block counts for the requested side when it treated it (bilateral covers both; issue 9, part 1)."""
    words = text.lower()
    return "bilateral" in words or side == "bilateral" or side in words


@pytest.mark.parametrize("name", list(CASES))
def test_pathway_matches_the_prior_procedures_in_the_record(name: str) -> None:
    pathway = CASES[name]["expected"]["pathway"]
    requested = _requested_levels(name)
    side = CASES[name]["args"]["side"]
    same_level_blocks = [
        p
        for p in _diagnostic_blocks(name)
        if levels_in(p["code"]["text"]) == requested and _on_side(p["code"]["text"], side)
    ]
    if pathway == "facet-diagnostic-first":
        assert not same_level_blocks
    elif pathway == "facet-diagnostic-confirmatory":
        assert len(same_level_blocks) == 1
    elif pathway == "rfa-repeat":
        assert any(levels_in(p["code"]["text"]) & requested for p in _ablations(name))
    elif pathway == "rfa-initial":
        assert not _ablations(name)


@pytest.mark.parametrize("name", _names_where("DX2-02", "met") + _names_where("RFA-01", "met"))
def test_every_diagnostic_block_gave_at_least_80_percent_relief(name: str) -> None:
    blocks = _diagnostic_blocks(name)
    assert blocks
    for block in blocks:
        assert immediate_relief(BUNDLES[name], block) >= 80


@pytest.mark.parametrize("name", _names_where("TX-01", "met") + _names_where("RFA-01", "met"))
def test_two_qualifying_diagnostic_blocks_at_the_requested_levels(name: str) -> None:
    blocks = [b for b in _diagnostic_blocks(name) if levels_in(b["code"]["text"]) == _requested_levels(name)]
    assert len(blocks) == 2
    assert all(immediate_relief(BUNDLES[name], block) >= 80 for block in blocks)
    first, second = (when(b["performedDateTime"]) for b in blocks)
    assert second - first >= timedelta(days=14)


@pytest.mark.parametrize("name", _names_where("DX2-02", "not-met"))
def test_first_block_relief_is_below_80_percent(name: str) -> None:
    (block,) = _diagnostic_blocks(name)
    assert 50 <= immediate_relief(BUNDLES[name], block) < 80


@pytest.mark.parametrize("name", _names_where("DX2-04", "met"))
def test_confirmatory_request_is_at_least_two_weeks_after_the_first_block(name: str) -> None:
    (block,) = _diagnostic_blocks(name)
    assert ANCHOR_DATE - when(block["performedDateTime"]).date() >= timedelta(days=14)


@pytest.mark.parametrize(
    ("name", "at_least_six_months"),
    [(n, True) for n in _names_where("RFAR-01", "met")] + [(n, False) for n in _names_where("RFAR-01", "not-met")],
)
def test_relief_after_the_last_ablation(name: str, at_least_six_months: bool) -> None:
    last = _ablations(name)[-1]
    days = sustained_relief_days(BUNDLES[name], last)
    assert (days >= 183) is at_least_six_months
    assert days >= 30, "some relief was documented either way"


@pytest.mark.parametrize("name", _names_where("RFAR-02", "met") + _names_where("RFA-02", "met"))
def test_at_most_one_earlier_ablation_in_the_last_12_months(name: str) -> None:
    recent = [a for a in _ablations(name) if ANCHOR_DATE - when(a["performedDateTime"]).date() < timedelta(days=365)]
    assert len(recent) <= 1


@pytest.mark.parametrize("name", list(CASES))
def test_pain_duration_matches_gen_02(name: str) -> None:
    months_of_pain = (ANCHOR_DATE - earliest_onset(BUNDLES[name])).days / 30.44
    if _criterion(name, "GEN-02") == "not-met":
        assert months_of_pain < 3
    else:
        assert months_of_pain >= 3


@pytest.mark.parametrize("name", list(CASES))
def test_disability_score_matches_gen_07(name: str) -> None:
    bundle = BUNDLES[name]
    disability = numeric_scores(bundle, ODI) + [
        (when(o["effectiveDateTime"]), 0.0)
        for o in resources(bundle, "Observation")
        if "Neck Disability Index" in o["code"].get("text", "")
    ]
    if _criterion(name, "GEN-07") == "unknown":
        assert not disability
        assert not any("disability" in o["code"].get("text", "").lower() for o in resources(bundle, "Observation"))
    else:
        assert disability
        blocks = _diagnostic_blocks(name)
        if blocks:
            assert min(moment for moment, _ in disability) < when(blocks[0]["performedDateTime"])


def _active_codes(name: str) -> set[str]:
    found = set()
    for condition in resources(BUNDLES[name], "Condition"):
        if condition["verificationStatus"]["coding"][0]["code"] in ("confirmed", "provisional", "unconfirmed"):
            found |= {code for _, code in codes(condition["code"])}
    return found


def test_exclusion_cases_carry_exactly_their_exclusion() -> None:
    assert "M51.17" in _active_codes("lumbar-mbb-disc-radiculopathy")
    assert "M79.7" in _active_codes("lumbar-mbb-fibromyalgia")
    alif = resources(BUNDLES["lumbar-mbb-after-alif"], "Procedure")
    assert any(("http://www.ama-assn.org/go/cpt", "22558") in codes(p["code"]) for p in alif)
    cyst = BUNDLES["lumbar-mbb-synovial-cyst-radiculopathy-ready"]
    assert "M54.16" in _active_codes("lumbar-mbb-synovial-cyst-radiculopathy-ready")
    assert any("synovial cyst" in text for text in _conclusions("lumbar-mbb-synovial-cyst-radiculopathy-ready"))
    assert resources(cyst, "DiagnosticReport")
    exclusion_codes = {"M51.17", "M54.16", "M79.7", "G89.4", "M54.17"}
    for name in CASES:
        if name not in ("lumbar-mbb-disc-radiculopathy", "lumbar-mbb-fibromyalgia") and "cyst" not in name:
            assert not _active_codes(name) & exclusion_codes, name


def test_therapeutic_cases_document_why_rfa_is_not_possible() -> None:
    stimulator = resources(BUNDLES["lumbar-facet-therapeutic-stimulator-ready"], "Device")
    assert stimulator[0]["status"] == "active" and "spinal cord stimulator" in stimulator[0]["type"]["text"].lower()
    assert "M96.0" in _active_codes("lumbar-facet-therapeutic-pseudarthrosis-ready")
    fusion_codes = {
        p["code"]["coding"][0]["code"]
        for p in resources(BUNDLES["lumbar-facet-therapeutic-pseudarthrosis-ready"], "Procedure")
    }
    assert "22612" in fusion_codes and "22558" not in fusion_codes


def test_pars_imaging_findings() -> None:
    edema = " ".join(_conclusions("pars-chronic-defect-edema-ready"))
    assert "isthmic bone marrow edema" in edema and "sclerotic" in edema
    no_edema = " ".join(_conclusions("pars-chronic-defect-no-edema-ready"))
    assert "No bone marrow edema" in no_edema and "sclerotic" in no_edema
    adolescent = " ".join(_conclusions("pars-adolescent-acute-defect-bracing"))
    assert "edema" in adolescent and "without sclerotic margins" in adolescent and "incomplete" in adolescent.lower()
    unstable = resources(BUNDLES["pars-dynamic-instability"], "DiagnosticReport")
    assert any(
        ("http://snomed.info/sct", "240220009") in codes(c) for r in unstable for c in r.get("conclusionCode", [])
    )
    for name in ("pars-chronic-defect-edema-ready", "pars-chronic-defect-no-edema-ready"):
        assert any("without instability" in t or "No dynamic instability" in t for t in _conclusions(name))


def test_adolescent_is_a_teenager_and_adults_are_adults() -> None:
    for name, bundle in BUNDLES.items():
        if name == "sandbox-user":
            continue
        (patient,) = resources(bundle, "Patient")
        age = (ANCHOR_DATE - when(patient["birthDate"]).date()).days // 365
        assert (age < 18) is (name == "pars-adolescent-acute-defect-bracing"), name


def test_messy_record_has_every_oddity_and_the_errors_to_ignore() -> None:
    bundle = BUNDLES["lumbar-mbb-messy-record-ready"]
    conditions = resources(bundle, "Condition")
    all_codes = {pair for c in conditions for pair in codes(c["code"])}
    assert ("http://hl7.org/fhir/sid/icd-10-cm", "M47816") in all_codes
    assert any({system for system, _ in codes(c["code"])} == {"http://snomed.info/sct"} for c in conditions)
    assert any(c.get("onsetDateTime") == "2025-03" for c in conditions)
    statuses = {c["verificationStatus"]["coding"][0]["code"] for c in conditions}
    assert {"entered-in-error", "refuted"} <= statuses
    procedures = resources(bundle, "Procedure")
    assert any(p["code"]["coding"][0]["system"] == "urn:oid:2.16.840.1.113883.6.12" for p in procedures)
    assert any(p["status"] == "entered-in-error" and "medial branch" in p["code"]["text"] for p in procedures)
    observations = resources(bundle, "Observation")
    assert any(o.get("valueString") == "2-8/10" for o in observations)
    assert any(o["status"] == "entered-in-error" for o in observations)
    assert any("valueInteger" in o for o in observations)
    medications = resources(bundle, "MedicationRequest") + resources(bundle, "MedicationStatement")
    assert any("coding" not in m["medicationCodeableConcept"] for m in medications)
    reports = resources(bundle, "DiagnosticReport")
    assert any(r["status"] == "entered-in-error" for r in reports)
    assert any("presentedForm" in r and "conclusion" not in r for r in reports)
