"""Facts from hand-built records: diagnoses, scores, procedures, care, imaging, devices, notes, Coverage."""

from __future__ import annotations

import base64
from datetime import date

import pytest

from smart_app.core.facts import PatientFacts, extract_facts
from smart_app.core.model import SYSTEM_ICD10, SYSTEM_SNOMED
from tests.core import test_facts_builders as fb

AS_OF = date(2026, 11, 15)


def facts_of(*resources: dict) -> PatientFacts:
    return extract_facts([fb.patient(), *resources], patient_id=fb.PATIENT_ID, as_of=AS_OF)


# --- diagnoses -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected_code", "category", "regions"),
    [
        ("M47.816", "M47.816", "axial", ("lumbar",)),
        ("M47816", "M47.816", "axial", ("lumbar",)),  # no dot
        ("m47.812", "M47.812", "axial", ("cervical",)),
        ("M47.815", "M47.815", "axial", ("lumbar", "thoracic")),  # thoracolumbar
        ("M54.50", "M54.50", "axial", ("lumbar",)),
        ("M54.16", "M54.16", "radicular", ("lumbar",)),
        ("M48.062", "M48.062", "claudication", ("lumbar",)),
        ("M43.06", "M43.06", "pars", ("lumbar",)),
        ("M53.2X6", "M53.2X6", "instability", ("lumbar",)),
        ("S32.001A", "S32.001A", "non-facet", ("lumbar",)),
        ("M79.7", "M79.7", "centralized", ()),
        ("M96.0", "M96.0", "not-rfa-candidate", ()),
        ("E11.9", "E11.9", "other", ()),
    ],
)
def test_icd10_codes_are_normalised_and_classified(
    code: str, expected_code: str, category: str, regions: tuple[str, ...]
) -> None:
    [diagnosis] = facts_of(fb.condition(code)).diagnoses
    assert (diagnosis.code, diagnosis.system) == (expected_code, SYSTEM_ICD10)
    assert diagnosis.category == category
    assert diagnosis.regions == regions
    assert diagnosis.references[0].startswith("Condition/c")


def test_icd10_under_its_oid_counts_too() -> None:
    [diagnosis] = facts_of(fb.condition("M47816", system="urn:oid:2.16.840.1.113883.6.90")).diagnoses
    assert (diagnosis.code, diagnosis.category) == ("M47.816", "axial")


@pytest.mark.parametrize(
    ("code", "category", "region"),
    [("278860009", "axial", "lumbar"), ("1121000119107", "axial", "cervical"), ("72274001", "radicular", None)],
)
def test_snomed_diagnoses(code: str, category: str, region: str | None) -> None:
    [diagnosis] = facts_of(fb.condition(code, system=SYSTEM_SNOMED)).diagnoses
    assert (diagnosis.category, diagnosis.region) == (category, region)


def test_refuted_and_entered_in_error_conditions_are_not_read() -> None:
    facts = facts_of(
        fb.condition("M54.16", verification="refuted"), fb.condition("M79.7", verification="entered-in-error")
    )
    assert facts.diagnoses == []


@pytest.mark.parametrize("clinical", ["resolved", "inactive", "remission"])
def test_resolved_conditions_are_inactive(clinical: str) -> None:
    [diagnosis] = facts_of(fb.condition("M54.16", clinical=clinical)).diagnoses
    assert diagnosis.active is False


def test_an_abatement_without_a_status_makes_a_condition_inactive() -> None:
    [diagnosis] = facts_of(fb.condition("M54.16", clinical=None, abatementDateTime="2026-05-01")).diagnoses
    assert diagnosis.active is False


@pytest.mark.parametrize("verification", ["provisional", "differential", "unconfirmed"])
def test_provisional_diagnoses_are_kept_unconfirmed(verification: str) -> None:
    [diagnosis] = facts_of(fb.condition("M54.16", verification=verification)).diagnoses
    assert diagnosis.active is True
    assert diagnosis.confirmed is False


def test_onset_from_a_partial_date_is_its_earliest_day() -> None:
    [diagnosis] = facts_of(fb.condition("M47.816", onset=None, onsetDateTime="2025-03")).diagnoses
    assert diagnosis.onset == "2025-03-01"


def test_onset_from_onset_age_and_birth_date() -> None:
    resource = fb.condition("M47.816", onset=None, onsetAge={"value": 50, "unit": "a", "code": "a"})
    [diagnosis] = facts_of(resource).diagnoses
    assert diagnosis.onset == "2018-04-12"  # born 1968-04-12


def test_onset_falls_back_to_recorded_date() -> None:
    [diagnosis] = facts_of(fb.condition("M47.816", onset=None, recordedDate="2024-07-09T10:00:00Z")).diagnoses
    assert diagnosis.onset == "2024-07-09"


def test_pars_levels_and_region_come_from_body_site() -> None:
    resource = fb.condition("240221008", system=SYSTEM_SNOMED, body_site="L5 pars interarticularis, bilateral")
    [diagnosis] = facts_of(resource).diagnoses
    assert (diagnosis.category, diagnosis.levels, diagnosis.region) == ("pars", ("L5",), "lumbar")


def test_condition_text_flags_synovial_cyst_and_alif() -> None:
    cyst = fb.condition("M71.38")
    cyst["code"]["text"] = "Facet synovial cyst L4-L5"
    alif = fb.condition("Z98.1", clinical="resolved", note=[{"text": "s/p ALIF L5-S1 2019"}])
    facts = facts_of(cyst, alif)
    assert [e.reference for e in facts.condition_flags["synovial-cyst"]] == [f"Condition/{cyst['id']}"]
    assert [e.reference for e in facts.condition_flags["alif"]] == [f"Condition/{alif['id']}"]


def test_scoliosis_raises_a_deformity_warning_not_an_exclusion() -> None:
    facts = facts_of(fb.condition("M41.26"))
    assert facts.diagnoses[0].category == "other"
    assert [w.code for w in facts.warnings] == ["deformity-check"]


# --- scores --------------------------------------------------------------------------------------------------


def test_pain_and_disability_scores_by_code_and_text() -> None:
    facts = facts_of(
        fb.score(7, "2026-10-20"),
        fb.score(None, "2026-10-21", loinc="38208-5", valueInteger=6),
        fb.odi(40, "2026-10-20"),
        fb.score(36, "2026-10-22", loinc="", text="Neck Disability Index (NDI) score"),
    )
    assert [(s.value, s.kind) for s in facts.pain_scores] == [(7, "pain"), (6, "pain")]
    assert [(s.value, s.scale) for s in facts.disability_scores] == [
        (40, "Oswestry Disability Index"),
        (36, "Neck Disability Index"),
    ]


def test_numeric_strings_count_and_ranges_are_flagged() -> None:
    facts = facts_of(
        fb.score(None, "2026-10-20", valueString="7/10"),
        fb.score(None, "2026-10-21", valueString="2-8/10"),
        fb.score(12, "2026-10-22"),
        fb.score(None, "2026-10-23", valueRange={"low": {"value": 2}, "high": {"value": 8}}),
    )
    assert [s.value for s in facts.pain_scores] == [7]
    messages = [w.message for w in facts.warnings if w.code == "score-not-usable"]
    assert len(messages) == 3
    assert any("range" in m for m in messages) and any("outside 0-10" in m for m in messages)


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "preliminary"])
def test_scores_that_do_not_count(status: str) -> None:
    assert facts_of(fb.score(7, "2026-10-20", status=status)).pain_scores == []


def test_an_undated_score_is_flagged() -> None:
    resource = fb.score(7, "2026-10-20")
    del resource["effectiveDateTime"]
    facts = facts_of(resource)
    assert facts.pain_scores == []
    assert "no date" in facts.warnings[0].message


# --- procedures ----------------------------------------------------------------------------------------------


def test_medial_branch_block_kind_intent_levels_side() -> None:
    [block] = facts_of(fb.mbb("2026-10-27T08:00:00-05:00", category="diagnostic")).procedures
    assert (block.kind, block.intent, block.levels, block.side, block.region) == (
        "mbb",
        "diagnostic",
        ("L4-L5", "L5-S1"),
        "bilateral",
        "lumbar",
    )


@pytest.mark.parametrize(
    ("text", "kind", "intent"),
    [
        ("L5-S1 facet joint injection, right, triamcinolone", "intent-articular", "therapeutic"),
        ("Intra-articular L4-5 injection with lidocaine only", "intent-articular", "diagnostic"),
        ("Therapeutic L4-L5 medial branch block", "mbb", "therapeutic"),
        ("Facet block L4-L5", "facet-injection", None),
    ],
)
def test_block_kind_and_intent_from_text(text: str, kind: str, intent: str | None) -> None:
    [block] = facts_of(fb.procedure("64493", text, "2026-01-05")).procedures
    assert block.kind == kind.replace("intent-", "intra-")
    assert block.intent == intent


def test_side_from_snomed_qualifiers() -> None:
    sites = [{"coding": [{"system": SYSTEM_SNOMED, "code": "24028007"}], "text": "L4-L5 facet joint"}]
    [block] = facts_of(fb.procedure("64493", "medial branch block", "2026-01-05", body_site=sites)).procedures
    assert (block.side, block.levels) == ("right", ("L4-L5",))


@pytest.mark.parametrize(("words", "technique"), [("thermal", "thermal"), ("pulsed", "pulsed"), ("cooled", "cooled")])
def test_rfa_technique_and_intent(words: str, technique: str) -> None:
    [ablation] = facts_of(fb.rfa("2026-01-05", words=words)).procedures
    assert (ablation.kind, ablation.intent, ablation.technique) == ("rfa", "therapeutic", technique)


def test_pars_injections_by_64493_or_64999_with_pars_in_the_text() -> None:
    facts = facts_of(
        fb.procedure("64493", "Bilateral L5 pars injection", "2026-01-05"),
        fb.procedure("64999", "CT-guided L4 pars interarticularis injection", "2026-02-05"),
        fb.procedure("64999", "Unlisted nerve procedure", "2026-03-05"),
    )
    assert [(p.kind, p.levels) for p in facts.procedures] == [("pars", ("L5",)), ("pars", ("L4",))]


def test_a_facet_procedure_without_cpt_is_read_from_its_words() -> None:
    resource = fb.procedure(None, "Lumbar facet radiofrequency ablation L3-L4", "2026-01-05")
    [ablation] = facts_of(resource).procedures
    assert (ablation.kind, ablation.levels) == ("rfa", ("L3-L4",))


@pytest.mark.parametrize("status", ["in-progress", "not-done", "entered-in-error", "stopped"])
def test_only_completed_procedures_are_history(status: str) -> None:
    assert facts_of(fb.mbb("2026-01-05", status=status)).procedures == []


def test_fusions_alif_by_code_and_by_name() -> None:
    facts = facts_of(
        fb.procedure("22558", "Anterior interbody fusion L5-S1", "2019-01-01"),
        fb.procedure("22612", "Posterior lumbar fusion L4-L5", "2020-01-01"),
        fb.procedure(None, "ALIF L4-L5", "2021-01-01"),
    )
    assert [(f.alif, f.levels) for f in facts.fusions] == [(True, ("L5-S1",)), (False, ("L4-L5",)), (True, ("L4-L5",))]


# --- conservative care ---------------------------------------------------------------------------------------


def test_therapy_and_analgesics_with_dates() -> None:
    medication = {
        "resourceType": "Medication",
        "id": "med1",
        "code": {"text": "Naproxen sodium 220 MG Oral Tablet"},
    }
    by_reference = fb.medication("x", "2026-03-01")
    del by_reference["medicationCodeableConcept"]
    by_reference["medicationReference"] = {"reference": "Medication/med1"}
    facts = facts_of(
        fb.procedure("97110", "Therapeutic exercise", "2026-02-01"),
        fb.procedure("229065009", "Exercise therapy", "2026-02-08", system=SYSTEM_SNOMED),
        fb.medication("Ibuprofen 400 MG Oral Tablet", "2026-01-15"),
        fb.medication("anything", "2026-01-16", rxnorm="161"),
        medication,
        by_reference,
        fb.medication("Amoxicillin 500 MG", "2026-01-20"),
        fb.medication("ibuprofen", "2026-01-21", status="cancelled"),
    )
    assert [(e.kind, e.name, e.start.isoformat()) for e in facts.conservative_care] == [
        ("analgesic", "ibuprofen", "2026-01-15"),
        ("analgesic", "acetaminophen", "2026-01-16"),
        ("therapy", "physical therapy", "2026-02-01"),
        ("therapy", "exercise therapy", "2026-02-08"),
        ("analgesic", "naproxen", "2026-03-01"),
    ]


def test_an_active_medication_runs_until_the_check_date() -> None:
    [event] = facts_of(fb.medication("ibuprofen", "2026-01-15", status="active")).conservative_care
    assert (event.ongoing, event.end) == (True, AS_OF)


# --- imaging, devices, notes, coverage ------------------------------------------------------------------------


def test_imaging_findings_with_negation_levels_and_modality() -> None:
    report = fb.imaging_report(
        "Bilateral L5 spondylolysis with isthmic bone marrow edema on STIR. No spondylolisthesis."
    )
    facts = facts_of(report)
    found = {(f.finding, f.present, f.vertebrae, f.modalities) for f in facts.imaging_findings}
    assert found == {
        ("pars-defect", True, ("L5",), ("MR",)),
        ("isthmic-edema", True, ("L5",), ("MR",)),
        ("spondylolisthesis", False, (), ("MR",)),
    }
    assert facts.imaging_reports[0].reference == f"DiagnosticReport/{report['id']}"


def test_conclusion_codes_are_findings() -> None:
    report = fb.imaging_report("See images.", title="Lumbar radiographs flexion extension")
    report["conclusionCode"] = [{"coding": [{"system": SYSTEM_SNOMED, "code": "240220009"}]}]
    [finding] = facts_of(report).imaging_findings
    assert (finding.finding, finding.present, finding.modalities) == ("instability", True, ("DX",))


def test_non_imaging_reports_are_not_read_for_findings() -> None:
    lab = fb.imaging_report("Urine culture positive: infection.", title="Urine culture")
    lab["category"] = [{"coding": [{"code": "LAB"}]}]
    facts = facts_of(lab)
    assert facts.imaging_findings == [] and facts.imaging_reports == []


def test_implanted_electrical_devices_but_not_external_ones() -> None:
    facts = facts_of(
        fb.device("Spinal cord stimulator"),
        fb.device("Cardiac pacemaker", status="inactive"),
        fb.device("TENS unit (transcutaneous electrical nerve stimulator)"),
        fb.device("Blood glucose meter"),
    )
    assert [e.summary for e in facts.implanted_devices] == ["implanted device: Spinal cord stimulator"]


def test_note_topics_from_document_text_with_negation() -> None:
    facts = facts_of(
        fb.note("Assessment: patient is not a candidate for radiofrequency ablation because of a pacemaker."),
        fb.note("Medial branch block is not possible due to posterior hardware."),
        fb.note("No synovial cyst."),
    )
    assert set(facts.notes) == {"not-rfa-candidate", "anatomic-restriction"}


def test_coverage_names_include_the_payor_organisation() -> None:
    organisation = {"resourceType": "Organization", "id": "org1", "name": "Aetna Life Insurance"}
    plan = fb.coverage("", order=2)
    plan["payor"] = [{"reference": "Organization/org1"}]
    facts = facts_of(organisation, plan, fb.coverage("Old plan", status="cancelled"))
    assert [(c.names, c.active, c.order) for c in facts.coverages] == [
        (("Aetna Life Insurance",), True, 2),
        (("Old plan",), False, None),
    ]


# --- the record as a whole -----------------------------------------------------------------------------------


def test_items_dated_after_the_check_date_are_left_out() -> None:
    facts = facts_of(
        fb.condition("M54.16", onset="2026-12-01"),
        fb.score(7, "2026-12-01"),
        fb.mbb("2026-12-02"),
        fb.medication("ibuprofen", "2026-12-03"),
        fb.imaging_report("L3 fracture", when="2026-12-04"),
    )
    assert (facts.diagnoses, facts.pain_scores, facts.procedures, facts.conservative_care) == ([], [], [], [])
    assert facts.imaging_findings == []


def test_patient_age_name_and_counts() -> None:
    record = [fb.patient(name=[{"given": ["Maria"], "family": "Lopez"}]), fb.condition("M47.816"), "junk", {"x": 1}]
    facts = extract_facts(record, patient_id=None, as_of=AS_OF)
    assert (facts.patient_reference, facts.patient_display, facts.age_on(AS_OF)) == ("Patient/p1", "Maria Lopez", 58)
    assert facts.read_counts == {"Patient": 1, "Condition": 1}
    assert [item["reference"] for item in facts.skipped] == ["record item 2", "record item 3"]


def test_resources_without_an_id_still_count_with_a_positional_reference() -> None:
    resource = fb.condition("M54.16")
    del resource["id"]
    [diagnosis] = facts_of(resource).diagnoses
    assert diagnosis.references == ("Condition/item-1",)


def test_report_text_in_presented_form_is_read() -> None:
    report = fb.imaging_report("")
    del report["conclusion"]
    text = "IMPRESSION: Left L4-L5 facet synovial cyst. No fracture."
    report["presentedForm"] = [{"contentType": "text/plain", "data": base64.b64encode(text.encode()).decode()}]
    found = {(f.finding, f.present, f.joints) for f in facts_of(report).imaging_findings}
    assert found == {("synovial-cyst", True, ("L4-L5",)), ("fracture", False, ())}


def test_notes_entered_in_error_do_not_count() -> None:
    retracted = fb.note("Not a candidate for RFA.")
    retracted["status"] = "entered-in-error"
    assert facts_of(retracted).notes == {}
