"""Relief after a procedure, exactly as fhir-conventions "Scores" defines it."""

from __future__ import annotations

from datetime import date

from smart_app.core.facts import PatientFacts, extract_facts
from smart_app.core.procedures import SpineProcedure
from tests.core import test_facts_builders as fb

AS_OF = date(2027, 6, 1)
BLOCK_AT = "2026-10-27T08:00:00-05:00"


def facts_of(*resources: dict) -> PatientFacts:
    return extract_facts([fb.patient(), *resources], patient_id=fb.PATIENT_ID, as_of=AS_OF)


def only_procedure(*resources: dict) -> SpineProcedure:
    procedures = facts_of(*resources).procedures
    assert len(procedures) == 1
    return procedures[0]


def test_baseline_is_the_last_same_scale_score_in_the_30_days_before() -> None:
    block = fb.mbb(BLOCK_AT)
    relief = only_procedure(
        block,
        fb.score(9, "2026-09-20T09:00:00-05:00"),  # 37 days before: outside the window
        fb.score(8, "2026-10-20T09:00:00-05:00"),
        fb.score(6, "2026-10-27T07:30:00-05:00"),  # same day, earlier: the baseline
        fb.score(1, "2026-10-27T10:00:00-05:00"),
    ).pain_relief
    assert relief is not None
    assert relief.baseline.value == 6
    assert relief.immediate_percent is not None
    assert round(relief.immediate_percent, 1) == 83.3


def test_no_baseline_means_no_relief() -> None:
    block = fb.mbb(BLOCK_AT)
    procedure = only_procedure(block, fb.score(8, "2026-09-01"), fb.score(1, "2026-10-27T10:00:00-05:00"))
    assert procedure.pain_relief is None


def test_immediate_relief_is_the_largest_drop_within_12_hours() -> None:
    relief = only_procedure(
        fb.mbb(BLOCK_AT),
        fb.score(8, "2026-10-27T07:00:00-05:00"),
        fb.score(4, "2026-10-27T09:00:00-05:00"),
        fb.score(2, "2026-10-27T19:00:00-05:00"),  # 11 h after: counts
        fb.score(0, "2026-10-27T21:00:00-05:00"),  # 13 h after: does not
    ).pain_relief
    assert relief is not None and relief.immediate_percent == 75.0


def test_scores_part_of_another_procedure_are_not_used() -> None:
    block = fb.mbb(BLOCK_AT)
    other = "Procedure/elsewhere"
    relief = only_procedure(
        block,
        fb.score(8, "2026-10-27T07:00:00-05:00"),
        fb.score(0, "2026-10-27T09:00:00-05:00", part_of=other),
        fb.score(4, "2026-10-27T10:00:00-05:00", part_of=f"Procedure/{block['id']}"),
    ).pain_relief
    assert relief is not None and relief.immediate_percent == 50.0


def test_relief_only_between_scores_of_the_same_scale() -> None:
    relief = only_procedure(
        fb.mbb(BLOCK_AT),
        fb.score(8, "2026-10-27T07:00:00-05:00"),
        fb.score(1, "2026-10-27T09:00:00-05:00", loinc="38208-5"),  # another pain scale
    ).pain_relief
    assert relief is not None
    assert relief.points == () and relief.immediate_percent is None


def test_no_relief_from_a_baseline_of_zero() -> None:
    relief = only_procedure(
        fb.mbb(BLOCK_AT), fb.score(0, "2026-10-27T07:00:00-05:00"), fb.score(0, "2026-10-27T09:00:00-05:00")
    ).pain_relief
    assert relief is not None and relief.immediate_percent is None


def test_sustained_relief_is_the_unbroken_run_and_six_months_needs_a_score_there() -> None:
    ablation = fb.rfa("2025-12-01T08:00:00-05:00")
    procedure = only_procedure(
        ablation,
        fb.score(8, "2025-12-01T07:30:00-05:00", part_of=f"Procedure/{ablation['id']}"),
        fb.score(2, "2026-01-05"),
        fb.score(3, "2026-04-13"),
        fb.score(4, "2026-06-01"),  # exactly 6 months, 50 %: inside the run
        fb.score(6, "2026-08-17"),  # 25 %: breaks it
        fb.score(2, "2026-09-17"),  # after the break: does not extend the run
    )
    assert procedure.pain_relief is not None and procedure.time is not None
    run = procedure.pain_relief.sustained(50)
    assert run.last is not None and run.last.score.time.iso_day == "2026-06-01"
    assert run.broken_by is not None and run.broken_by.score.value == 6
    assert run.lasted_months(procedure.time, 6) is True
    assert run.lasted_months(procedure.time, 7) is False
    assert procedure.pain_relief.sustained(80).last is None  # 75 % at the first follow-up already falls short


def test_a_later_procedure_at_the_same_site_ends_the_series() -> None:
    first, second = fb.rfa("2025-06-01"), fb.rfa("2026-01-10")
    facts = facts_of(
        first,
        second,
        fb.score(8, "2025-05-30"),
        fb.score(2, "2025-09-01"),
        fb.score(8, "2026-01-05"),
        fb.score(1, "2026-03-01"),  # after the second RFA: measures it, not the first
    )
    by_id = {p.reference: p for p in facts.procedures}
    earlier = by_id[f"Procedure/{first['id']}"].pain_relief
    later = by_id[f"Procedure/{second['id']}"].pain_relief
    assert earlier is not None and [p.score.value for p in earlier.points] == [2, 8]
    assert later is not None and later.baseline.value == 8 and [p.score.value for p in later.points] == [1]


def test_a_date_only_procedure_starts_at_its_first_same_day_score() -> None:
    block = fb.mbb("2026-10-27")
    reference = f"Procedure/{block['id']}"
    relief = only_procedure(
        block,
        fb.score(7, "2026-10-27T07:30:00-05:00", part_of=reference),
        fb.score(1, "2026-10-27T10:00:00-05:00", part_of=reference),
    ).pain_relief
    assert relief is not None
    assert (relief.baseline.value, relief.immediate_percent) == (7, (7 - 1) / 7 * 100)


def test_function_relief_uses_the_disability_scale() -> None:
    ablation = fb.rfa("2026-01-10")
    procedure = only_procedure(ablation, fb.odi(50, "2026-01-02"), fb.odi(20, "2026-04-10"), fb.odi(24, "2026-08-10"))
    assert procedure.function_relief is not None
    assert [round(p.percent) for p in procedure.function_relief.points] == [60, 52]


def test_post_procedure_scores_are_marked_so_they_are_not_a_current_baseline() -> None:
    block = fb.mbb(BLOCK_AT)
    pre, post, later = (
        fb.score(7, "2026-10-27T07:30:00-05:00"),
        fb.score(1, "2026-10-27T10:00:00-05:00"),
        fb.score(6, "2026-11-10"),
    )
    facts = facts_of(block, pre, post, later)
    assert facts.post_procedure_scores == frozenset({f"Observation/{post['id']}"})
