"""Each operator of the closed set, on small hand-built records."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from smart_app.core.facts import extract_facts
from smart_app.core.model import SYSTEM_SNOMED, CheckRequest
from smart_app.core.operators import OPERATORS, Context, Outcome, describe_operators
from tests.core import test_facts_builders as fb

AS_OF = date(2026, 11, 15)
LUMBAR_MBB = CheckRequest.build(
    procedure="medial-branch-block", levels="L4-L5,L5-S1", side="bilateral", intent="diagnostic"
)
LUMBAR_RFA = CheckRequest.build(procedure="radiofrequency-ablation", levels="L4-L5,L5-S1", side="bilateral")
PARS_L5 = CheckRequest.build(procedure="pars-injection", levels="L5", side="bilateral")


def run(
    operator: str,
    params: dict[str, Any],
    *resources: dict[str, Any],
    request: CheckRequest = LUMBAR_MBB,
    birth_date: str = "1968-04-12",
) -> Outcome:
    facts = extract_facts([fb.patient(birth_date), *resources], patient_id=fb.PATIENT_ID, as_of=AS_OF)
    return OPERATORS[operator].run(Context(request, facts, AS_OF), params)


def test_the_operator_set_is_described_for_rule_editors() -> None:
    described = {item["name"]: item for item in describe_operators()}
    assert set(described) == set(OPERATORS)
    assert "categories" in described["diagnosis_present"]["params"]
    assert OPERATORS["no_active_findings"].required == {"label", "categories", "findings"}


# --- diagnoses and scores ------------------------------------------------------------------------------------


def test_diagnosis_present_needs_the_region_an_active_status_and_confirmation() -> None:
    params = {"categories": ["axial"]}
    assert run("diagnosis_present", params, fb.condition("M47.816")).status == "met"
    assert run("diagnosis_present", params, fb.condition("M47.812")).status == "unknown"  # cervical
    assert run("diagnosis_present", params, fb.condition("M47.816", clinical="resolved")).status == "unknown"
    assert run("diagnosis_present", params, fb.condition("M47.816", verification="provisional")).status == "unknown"
    outcome = run("diagnosis_present", params)
    assert (outcome.status, outcome.detail) == (
        "unknown",
        "no active axial diagnosis for the lumbar region in 0 Conditions",
    )


def test_score_at_least_uses_the_latest_score_that_is_not_a_post_procedure_score() -> None:
    params = {"kind": "pain", "min": 4, "max_age_months": 12}
    block = fb.mbb("2026-10-27T08:00:00Z")
    assert run("score_at_least", params, fb.score(7, "2026-10-01"), fb.score(3, "2026-10-20")).status == "not-met"
    outcome = run(
        "score_at_least", params, block, fb.score(7, "2026-10-27T07:00:00Z"), fb.score(1, "2026-10-27T09:00:00Z")
    )
    assert outcome.status == "met" and "7 on 2026-10-27" in outcome.detail
    assert run("score_at_least", params, fb.score(8, "2025-06-01")).status == "unknown"  # too old
    assert run("score_at_least", params).status == "unknown"


def test_onset_at_least_counts_calendar_months_from_the_earliest_onset() -> None:
    params = {"categories": ["axial"], "months": 3}
    assert run("onset_at_least", params, fb.condition("M47.816", onset="2026-08-15")).status == "met"
    outcome = run("onset_at_least", params, fb.condition("M47.816", onset="2026-08-16"))
    assert outcome.status == "not-met" and "reached on 2026-11-16" in outcome.detail
    both = run(
        "onset_at_least",
        params,
        fb.condition("M54.50", onset="2026-10-01"),
        fb.condition("M47.816", onset="2025-01-01"),
    )
    assert both.status == "met" and "2025-01-01" in both.detail
    assert run("onset_at_least", params, fb.condition("M47.816", onset=None)).status == "unknown"


def test_conservative_care_any_or_a_minimum_span() -> None:
    care = (fb.medication("ibuprofen", "2026-04-01"), fb.procedure("97110", "PT", "2026-04-29"))
    assert run("conservative_care", {"kinds": ["therapy", "analgesic"]}, *care).status == "met"
    short = run("conservative_care", {"kinds": ["therapy", "analgesic"], "min_days": 42}, *care)
    assert short.status == "unknown" and "28 days" in short.detail
    assert run("conservative_care", {"kinds": ["therapy", "analgesic"], "min_days": 28}, *care).status == "met"
    assert run("conservative_care", {"kinds": ["therapy"]}, care[0]).status == "unknown"


# --- exclusions ----------------------------------------------------------------------------------------------

RADICULAR = {
    "label": "radiculopathy",
    "categories": ["radicular", "claudication"],
    "findings": ["nerve-root-compression"],
    "lifted_by_synovial_cyst": ["radicular", "nerve-root-compression"],
}


def test_exclusion_met_by_absence_says_what_was_searched() -> None:
    outcome = run(
        "no_active_findings", RADICULAR, fb.condition("M47.816"), fb.imaging_report("No nerve root compression.")
    )
    assert (outcome.status, outcome.by_absence) == ("met", True)
    assert outcome.detail == "searched 1 Conditions and 1 imaging reports: no active radiculopathy"


def test_exclusion_not_met_by_a_diagnosis_or_an_imaging_finding_of_the_region() -> None:
    assert run("no_active_findings", RADICULAR, fb.condition("M54.16")).status == "not-met"
    assert run("no_active_findings", RADICULAR, fb.condition("M48.062")).status == "not-met"
    imaging = run("no_active_findings", RADICULAR, fb.imaging_report("Right L5 nerve root compression."))
    assert imaging.status == "not-met" and imaging.evidence[0].reference.startswith("DiagnosticReport/")
    assert run("no_active_findings", RADICULAR, fb.condition("M54.12")).status == "met"  # cervical: another region
    assert run("no_active_findings", RADICULAR, fb.condition("M54.16", clinical="resolved")).status == "met"


def test_a_provisional_exclusion_is_unknown() -> None:
    assert run("no_active_findings", RADICULAR, fb.condition("M54.16", verification="provisional")).status == "unknown"


def test_a_synovial_cyst_lifts_the_radiculopathy_but_not_claudication() -> None:
    cyst = fb.imaging_report("Left L4-L5 facet synovial cyst compressing the traversing L5 nerve root.")
    lifted = run("no_active_findings", RADICULAR, fb.condition("M54.16"), cyst)
    assert lifted.status == "met" and "synovial cyst" in lifted.detail
    assert run("no_active_findings", RADICULAR, fb.condition("M48.062"), cyst).status == "not-met"


def test_old_imaging_can_be_left_out() -> None:
    params = {"label": "fracture", "categories": [], "findings": ["fracture"], "imaging_within_months": 24}
    assert run("no_active_findings", params, fb.imaging_report("L3 fracture.", when="2023-01-01")).status == "met"
    assert run("no_active_findings", params, fb.imaging_report("L3 fracture.", when="2025-01-01")).status == "not-met"


def test_no_prior_fusion() -> None:
    params = {"alif_only": True, "regions": ["lumbar"]}
    alif = fb.procedure("22558", "ALIF L5-S1", "2019-01-01")
    assert run("no_prior_fusion", params, alif).status == "not-met"
    assert run("no_prior_fusion", params, fb.procedure("22612", "Posterior fusion L4-L5", "2019-01-01")).status == "met"
    cervical = CheckRequest.build(procedure="medial-branch-block", levels="C5-C6", side="right", intent="diagnostic")
    assert run("no_prior_fusion", params, alif, request=cervical).status == "met"
    assert (
        run(
            "no_prior_fusion", {"alif_only": False, "regions": ["lumbar"]}, fb.procedure("22612", "PLF", "2019-01-01")
        ).status
        == "not-met"
    )


def _successful_rfa(when: str) -> tuple[dict[str, Any], ...]:
    ablation = fb.rfa(when)
    day = date.fromisoformat(when[:10])
    follow = [
        date(day.year + (day.month + m - 1) // 12, (day.month + m - 1) % 12 + 1, 1).isoformat() for m in (2, 5, 7)
    ]
    return (ablation, fb.score(8, when[:10]), *(fb.score(2, f) for f in follow))


def test_no_successful_rfa_at_levels_and_the_two_year_exception() -> None:
    params = {"success_pct": 50, "success_months": 6, "exception_years": 2}
    assert run("no_successful_rfa_at_levels", params).status == "met"
    recent = run("no_successful_rfa_at_levels", params, *_successful_rfa("2025-06-01T08:00:00Z"))
    assert recent.status == "not-met"
    old = run("no_successful_rfa_at_levels", params, *_successful_rfa("2023-06-01T08:00:00Z"))
    assert old.status == "met" and [w.code for w in old.warnings] == ["human-review"]
    undocumented = run("no_successful_rfa_at_levels", params, fb.rfa("2025-06-01"))
    assert undocumented.status == "unknown"


# --- the request ---------------------------------------------------------------------------------------------


def test_request_in_and_request_count_at_most() -> None:
    guided = {"field": "guidance", "values": ["fluoroscopy", "ct"]}
    assert run("request_in", guided).status == "met"
    ultrasound = CheckRequest.build(
        procedure="medial-branch-block", levels="L4-L5", side="left", intent="diagnostic", guidance="ultrasound"
    )
    assert run("request_in", guided, request=ultrasound).status == "not-met"
    sedated = CheckRequest.build(
        procedure="medial-branch-block", levels="L4-L5", side="left", intent="diagnostic", sedation="mac"
    )
    soft = run(
        "request_in",
        {"field": "sedation", "values": ["none"], "otherwise": "unknown", "reason": "attest"},
        request=sedated,
    )
    assert (soft.status, soft.detail) == ("unknown", "requested sedation: mac; attest")
    assert run("request_count_at_most", {"what": "levels", "max": 1}).status == "not-met"
    assert run("request_count_at_most", {"what": "regions", "max": 1}).status == "met"


# --- history -------------------------------------------------------------------------------------------------

SESSIONS = {
    "kinds": ["mbb", "intra-articular", "facet-injection", "pars"],
    "intent": "diagnostic",
    "window_months": 12,
    "max": 4,
}


def test_session_caps_count_distinct_days_in_the_rolling_window_plus_this_one() -> None:
    three = [fb.mbb(day, category="diagnostic") for day in ("2026-01-05", "2026-03-05", "2026-05-05")]
    same_day_again = fb.mbb("2026-05-05", levels="L3-L4", category="diagnostic")
    outcome = run(
        "session_count_at_most", SESSIONS, *three, same_day_again, fb.mbb("2025-10-01", category="diagnostic")
    )
    assert outcome.status == "met" and "3 earlier diagnostic session(s)" in outcome.detail
    assert (
        run("session_count_at_most", SESSIONS, *three, fb.mbb("2026-07-05", category="diagnostic")).status == "not-met"
    )
    unknown_intent = fb.procedure("64493", "L4-L5 facet block", "2026-07-05")
    assert run("session_count_at_most", SESSIONS, *three, unknown_intent).status == "unknown"


def test_pars_injections_count_against_facet_caps_only_when_billed_64493() -> None:
    three = [fb.mbb(day, category="diagnostic") for day in ("2026-01-05", "2026-03-05", "2026-05-05")]
    billed = fb.procedure("64493", "Diagnostic L5 pars injection", "2026-07-05")
    unlisted = fb.procedure("64999", "Diagnostic L5 pars injection", "2026-07-05")
    assert run("session_count_at_most", SESSIONS, *three, billed).status == "not-met"
    assert run("session_count_at_most", SESSIONS, *three, unlisted).status == "met"


def test_minimum_months_between_rfa_sessions() -> None:
    params = {"kinds": ["rfa"], "intent": "any", "window_months": 12, "max": 2, "min_months_since_last": 6}
    assert run("session_count_at_most", params, fb.rfa("2026-07-01"), request=LUMBAR_RFA).status == "not-met"
    assert run("session_count_at_most", params, fb.rfa("2026-04-01"), request=LUMBAR_RFA).status == "met"


def _block(day: str, baseline: float, after: float, **extra: Any) -> tuple[dict[str, Any], ...]:
    block = fb.mbb(f"{day}T08:00:00Z", category="diagnostic", **extra)
    return (block, fb.score(baseline, f"{day}T07:00:00Z"), fb.score(after, f"{day}T10:00:00Z"))


def test_prior_blocks_relief() -> None:
    params = {"kinds": ["mbb"], "count": 2, "min_relief": 80}
    assert run("prior_blocks_relief", params, *_block("2026-09-01", 8, 1), *_block("2026-09-20", 8, 0)).status == "met"
    one = run("prior_blocks_relief", params, *_block("2026-09-01", 8, 1))
    assert one.status == "not-met" and one.shortfall
    assert one.detail.startswith("right L4-L5, L5-S1: 1 block ≥ 80 %; left L4-L5, L5-S1: 1 block ≥ 80 %")
    assert one.next_step == "a confirmatory medial branch block at bilateral L4-L5, L5-S1"
    failed = run("prior_blocks_relief", params, *_block("2026-09-01", 8, 1), *_block("2026-09-20", 8, 4))
    assert failed.status == "not-met"
    ia = fb.procedure("64493", "Diagnostic intra-articular L4-L5 and L5-S1 facet injection", "2026-09-01")
    intra_articular = run("prior_blocks_relief", params, ia)
    assert "1 block of another kind, which do not count" in intra_articular.detail
    assert intra_articular.status == "not-met" and "blocks of another kind do not count" in intra_articular.next_step
    elsewhere = run("prior_blocks_relief", params, *_block("2026-09-01", 8, 1, levels="L2-L3"))
    assert elsewhere.status == "not-met" and elsewhere.evidence == ()
    assert elsewhere.next_step == "a first diagnostic medial branch block at bilateral L4-L5, L5-S1"


def test_blocks_before_the_last_rfa_belong_to_the_last_work_up() -> None:
    params = {"kinds": ["mbb"], "count": 2, "min_relief": 80}
    old = (*_block("2025-01-01", 8, 1), *_block("2025-01-20", 8, 1))
    outcome = run("prior_blocks_relief", params, *old, fb.rfa("2025-03-01"))
    assert (outcome.status, outcome.shortfall) == ("not-met", True)
    assert outcome.detail.startswith("right: none; left: none")


def test_confirmatory_block_checks() -> None:
    block = _block("2026-11-01", 8, 1)
    assert run("same_levels_as_prior_block", {}, *block).status == "met"
    unlevelled = fb.procedure(
        "64493", "Diagnostic lumbar medial branch block", "2026-11-01T08:00:00Z", category="diagnostic"
    )
    assert run("same_levels_as_prior_block", {}, unlevelled).status == "unknown"
    assert run("days_since_prior_block_at_least", {"days": 14}, *block).status == "met"  # exactly 14 days
    soon = run("days_since_prior_block_at_least", {"days": 14}, *_block("2026-11-05", 8, 1))
    assert soon.status == "not-met" and "documented clinical reason" in soon.detail
    assert run("same_scale_around_blocks", {}, *block).status == "met"
    assert run("same_scale_around_blocks", {}, block[0]).status == "unknown"


def test_prior_treatment_relief_for_a_repeat_rfa() -> None:
    params = {"kinds": ["rfa"], "min_relief": 50, "min_months": 6, "function_min_relief": 50, "when_absent": "unknown"}
    assert run("prior_treatment_relief", params, request=LUMBAR_RFA).status == "unknown"
    lasting = run("prior_treatment_relief", params, *_successful_rfa("2025-06-01T08:00:00Z"), request=LUMBAR_RFA)
    assert lasting.status == "met" and "until 2026-01-01" in lasting.detail
    ablation = fb.rfa("2026-01-10")
    short = (ablation, fb.score(8, "2026-01-09"), fb.score(2, "2026-03-01"), fb.score(7, "2026-05-01"))
    outcome = run("prior_treatment_relief", params, *short, request=LUMBAR_RFA)
    assert outcome.status == "not-met" and "alternative cannot apply" in outcome.detail
    by_function = (*short, fb.odi(50, "2026-01-02"), fb.odi(20, "2026-04-10"), fb.odi(22, "2026-08-10"))
    assert run("prior_treatment_relief", params, *by_function, request=LUMBAR_RFA).status == "met"
    waiting = (*short, fb.odi(50, "2026-01-02"))
    assert run("prior_treatment_relief", params, *waiting, request=LUMBAR_RFA).status == "unknown"


def test_prior_treatment_relief_is_not_applicable_without_an_earlier_therapeutic_injection() -> None:
    params = {"kinds": ["mbb", "intra-articular", "facet-injection"], "min_relief": 50, "min_months": 3}
    assert run("prior_treatment_relief", params, *_block("2026-09-01", 8, 1)).status == "not-applicable"


def test_evidence_documented_from_diagnoses_devices_and_notes() -> None:
    params = {
        "label": "not an RFA candidate",
        "sources": ["diagnosis:not-rfa-candidate", "device:implanted-electrical", "note:not-rfa-candidate"],
    }
    assert run("evidence_documented", params, fb.condition("M96.0")).status == "met"
    assert run("evidence_documented", params, fb.device("Implantable cardiac pacemaker")).status == "met"
    assert run("evidence_documented", params, fb.note("RFA is contraindicated because of an ICD.")).status == "met"
    assert run("evidence_documented", params, fb.note("Discussed RFA.")).status == "unknown"


def test_rfa_recent() -> None:
    assert run("rfa_recent", {"years": 2}, fb.rfa("2025-01-01"), request=LUMBAR_RFA).status == "met"
    old = run("rfa_recent", {"years": 2}, fb.rfa("2024-11-15"), request=LUMBAR_RFA)
    assert old.status == "unknown" and "repeat diagnostic blocks" in old.detail


# --- pars ----------------------------------------------------------------------------------------------------

ACUTE = {"max_age": 21, "acute_findings": ["isthmic-edema", "incomplete-defect"], "assess_modalities": ["MR"]}


def test_no_acute_pars_defect() -> None:
    edema = fb.imaging_report("Bilateral L5 spondylolysis with marrow edema at the pars on STIR.")
    assert run("no_acute_pars_defect", ACUTE, edema, request=PARS_L5).status == "met"  # adult
    young = {"request": PARS_L5, "birth_date": "2010-03-01"}
    assert run("no_acute_pars_defect", ACUTE, edema, **young).status == "not-met"
    chronic = fb.imaging_report("Bilateral L5 spondylolysis with sclerotic margins. No marrow edema at the pars.")
    assert run("no_acute_pars_defect", ACUTE, chronic, **young).status == "met"
    ct_only = fb.imaging_report("Bilateral L5 pars defects.", title="CT lumbar spine")
    assert run("no_acute_pars_defect", ACUTE, ct_only, **young).status == "unknown"
    other_level = fb.imaging_report("Stress reaction of the L3 pars.")
    assert run("no_acute_pars_defect", ACUTE, other_level, **young).status == "met"


def test_imaging_shows_a_defect_at_the_requested_level() -> None:
    params = {"finding": "pars-defect", "level_from_categories": ["pars"]}
    assert (
        run("imaging_shows", params, fb.imaging_report("Bilateral L5 pars defects."), request=PARS_L5).status == "met"
    )
    elsewhere = run("imaging_shows", params, fb.imaging_report("L4 spondylolysis."), request=PARS_L5)
    assert elsewhere.status == "unknown" and "reported at L4" in elsewhere.detail
    assert run("imaging_shows", params, fb.imaging_report("No pars defect."), request=PARS_L5).status == "not-met"
    unlevelled = fb.imaging_report("Bilateral spondylolysis.")
    assert run("imaging_shows", params, unlevelled, request=PARS_L5).status == "unknown"
    placed = fb.condition("M43.06", body_site="L5 pars")
    assert run("imaging_shows", params, unlevelled, placed, request=PARS_L5).status == "met"


def test_advisory_operators() -> None:
    failed = (fb.rfa("2026-03-10T08:00:00Z"), fb.score(7, "2026-03-10T07:00:00Z"), fb.score(7, "2026-04-14"))
    outcome = run("no_failed_rfa", {"success_pct": 50}, *failed, request=PARS_L5)
    assert outcome.status == "not-met" and "no follow-up with ≥ 50% relief" in outcome.detail
    assert run("no_failed_rfa", {"success_pct": 50}, request=PARS_L5).status == "met"
    assert run("age_at_most", {"max_age": 60}, birth_date="1960-01-01").status == "not-met"
    assert run("age_at_most", {"max_age": 60}).status == "met"


@pytest.mark.parametrize(
    ("parts", "status"),
    [(["met", "met"], "met"), (["met", "unknown"], "unknown"), (["unknown", "not-met"], "not-met")],
)
def test_all_of_combines_statuses(parts: list[str], status: str) -> None:
    by_status = {
        "met": {"operator": "request_count_at_most", "params": {"what": "regions", "max": 1}},
        "not-met": {"operator": "request_count_at_most", "params": {"what": "levels", "max": 1}},
        "unknown": {"operator": "diagnosis_present", "params": {"categories": ["axial"]}},
    }
    assert run("all_of", {"parts": [by_status[p] for p in parts]}).status == status


def test_snomed_procedure_category_wins_over_words() -> None:
    block = fb.procedure("64493", "Therapeutic? bilateral medial branch block L4-L5 and L5-S1", "2026-09-01T08:00:00Z")
    block["category"] = {"coding": [{"system": SYSTEM_SNOMED, "code": "103693007"}]}
    params = {"kinds": ["mbb"], "count": 1, "min_relief": 80}
    outcome = run(
        "prior_blocks_relief", params, block, fb.score(8, "2026-09-01T07:00:00Z"), fb.score(1, "2026-09-01T09:00:00Z")
    )
    assert outcome.status == "met"
