"""The block and ablation operators, side by side and level by level (issue 9, parts 1 and 2): a prior block counts
only for the sides and levels it tested, a bilateral request needs the requirement on each side, and the detail says
per side what was found; too few qualifying blocks in a complete record is not-met with a next step."""

from __future__ import annotations

from datetime import date
from typing import Any

from smart_app.core import episodes
from smart_app.core.episodes import decide_pathway, mixed_sides, workup_by_side
from smart_app.core.facts import PatientFacts, extract_facts
from smart_app.core.model import CheckRequest
from smart_app.core.operators import OPERATORS, Context, Outcome
from tests.core import test_facts_builders as fb

AS_OF = date(2026, 11, 15)
BOTH = "L4-L5 and L5-S1"
RFA_01 = {"kinds": ["mbb"], "count": 2, "min_relief": 80}
DX2_02 = {"kinds": ["mbb", "intra-articular", "facet-injection"], "count": 1, "min_relief": 80}


def rfa_request(side: str, levels: str = "L4-L5,L5-S1") -> CheckRequest:
    return CheckRequest.build(procedure="radiofrequency-ablation", levels=levels, side=side)


def mbb_request(side: str, intent: str = "diagnostic") -> CheckRequest:
    return CheckRequest.build(procedure="medial-branch-block", levels="L4-L5,L5-S1", side=side, intent=intent)


def facts_of(*resources: dict[str, Any]) -> PatientFacts:
    return extract_facts([fb.patient(), *resources], patient_id=fb.PATIENT_ID, as_of=AS_OF)


def run(operator: str, params: dict[str, Any], request: CheckRequest, *resources: dict[str, Any]) -> Outcome:
    return OPERATORS[operator].run(Context(request, facts_of(*resources), AS_OF), params)


def block(day: str, side: str = "Bilateral", levels: str = BOTH, after: float = 1) -> tuple[dict[str, Any], ...]:
    """A diagnostic MBB (side and levels in its text), baseline 8 and `after` within 12 h."""
    procedure = fb.mbb(f"{day}T08:00:00Z", levels=levels, side=side, category="diagnostic")
    return (procedure, fb.score(8, f"{day}T07:00:00Z"), fb.score(after, f"{day}T10:00:00Z"))


def ablation(day: str, side: str, levels: str = BOTH) -> dict[str, Any]:
    return fb.procedure("64635", f"{side} {levels} lumbar medial branch radiofrequency ablation, thermal", day)


def lasting(day: str, side: str) -> tuple[dict[str, Any], ...]:
    """An RFA with 75 % relief at 2, 5 and 7 months."""
    year, month = int(day[:4]), int(day[5:7])
    follow = [f"{year + (month + m - 1) // 12}-{(month + m - 1) % 12 + 1:02d}-01" for m in (2, 5, 7)]
    return (ablation(f"{day}T08:00:00Z", side), fb.score(8, day), *(fb.score(2, f) for f in follow))


RIGHT_TWICE = (*block("2026-09-01", "Right"), *block("2026-09-20", "Right", after=0))


# --- RFA-01, TX-01, DX2-02: prior_blocks_relief --------------------------------------------------------------


def test_two_right_blocks_meet_a_right_rfa_and_say_so_per_side() -> None:
    outcome = run("prior_blocks_relief", RFA_01, rfa_request("right"), *RIGHT_TWICE)
    assert outcome.status == "met"
    assert outcome.detail.startswith("right L4-L5, L5-S1: 2 blocks ≥ 80 %")
    assert outcome.next_step == ""


def test_a_left_rfa_after_two_right_blocks_is_not_met_and_names_a_first_left_block() -> None:
    outcome = run("prior_blocks_relief", RFA_01, rfa_request("left"), *RIGHT_TWICE)
    assert (outcome.status, outcome.shortfall) == ("not-met", True)
    assert outcome.detail.startswith("left: none")
    assert outcome.next_step == "a first diagnostic medial branch block at left L4-L5, L5-S1"


def test_a_bilateral_rfa_after_right_only_blocks_says_per_side_what_was_found() -> None:
    outcome = run("prior_blocks_relief", RFA_01, rfa_request("bilateral"), *RIGHT_TWICE)
    assert outcome.status == "not-met"
    assert outcome.detail.startswith("right L4-L5, L5-S1: 2 blocks ≥ 80 %; left: none")
    assert outcome.next_step == "a first diagnostic medial branch block at left L4-L5, L5-S1"


def test_one_left_block_where_two_are_needed_names_a_left_confirmatory_block() -> None:
    records = (*RIGHT_TWICE, *block("2026-10-01", "Left"))
    outcome = run("prior_blocks_relief", RFA_01, rfa_request("bilateral"), *records)
    assert outcome.status == "not-met"
    assert outcome.detail.startswith("right L4-L5, L5-S1: 2 blocks ≥ 80 %; left L4-L5, L5-S1: 1 block ≥ 80 %")
    assert outcome.next_step == "a confirmatory medial branch block at left L4-L5, L5-S1"


def test_blocks_count_only_at_the_levels_they_tested() -> None:
    records = (*block("2026-09-01", levels="L4-L5"), *block("2026-09-20", levels="L4-L5"))
    outcome = run("prior_blocks_relief", RFA_01, rfa_request("bilateral"), *records)
    assert outcome.status == "not-met"
    assert outcome.detail.startswith("right L4-L5: 2 blocks ≥ 80 %; right L5-S1: none; left L4-L5: 2 blocks")
    assert outcome.next_step == "a first diagnostic medial branch block at bilateral L5-S1"


def test_a_block_without_a_side_is_unknown_never_a_match() -> None:
    unsided = fb.procedure("64493", f"Diagnostic {BOTH} lumbar medial branch block", "2026-09-20T08:00:00Z")
    records = (*block("2026-09-01", "Right"), unsided, fb.score(8, "2026-09-20T07:00"), fb.score(0, "2026-09-20T10:00"))
    outcome = run("prior_blocks_relief", RFA_01, rfa_request("right"), *records)
    assert outcome.status == "unknown"
    assert "1 block ≥ 80 %, 1 block without a recorded side, level or relief" in outcome.detail


def test_a_failed_block_is_not_met_without_shortfall_and_says_to_reassess() -> None:
    records = (*block("2026-09-01", "Right"), *block("2026-09-20", "Right", after=5))
    outcome = run("prior_blocks_relief", RFA_01, rfa_request("right"), *records)
    assert (outcome.status, outcome.shortfall) == ("not-met", False)
    assert "1 block below 80 %" in outcome.detail
    assert outcome.next_step.startswith("reassess the pain source")


def test_intra_articular_blocks_do_not_count_where_mbbs_are_required() -> None:
    ia = fb.procedure("64493", f"Diagnostic bilateral intra-articular {BOTH} facet injection", "2026-09-01T08:00:00Z")
    outcome = run("prior_blocks_relief", RFA_01, rfa_request("bilateral"), ia)
    assert outcome.status == "not-met"
    assert "1 block of another kind, which do not count" in outcome.detail
    assert outcome.next_step == (
        "a diagnostic medial branch block (blocks of another kind do not count) at bilateral L4-L5, L5-S1"
    )


def test_dx2_02_checks_only_the_sides_that_had_a_block() -> None:
    params = {**DX2_02, "only_sides_with_blocks": True}
    outcome = run("prior_blocks_relief", params, mbb_request("bilateral"), *block("2026-10-01", "Right"))
    assert outcome.status == "met"
    assert "left: no earlier block, so this is the first block on the left" in outcome.detail


# --- DX2-03: same_levels_as_prior_block ----------------------------------------------------------------------


def test_same_levels_per_side() -> None:
    met = run("same_levels_as_prior_block", {}, mbb_request("right"), *block("2026-10-01", "Right"))
    assert met.status == "met" and met.detail.startswith("right: earlier block")
    partial = run("same_levels_as_prior_block", {}, mbb_request("right"), *block("2026-10-01", "Right", "L4-L5"))
    assert (partial.status, partial.shortfall) == ("not-met", True)
    assert "did not test L5-S1" in partial.detail
    assert partial.next_step == "a first diagnostic block at right L5-S1"
    other_side = run("same_levels_as_prior_block", {}, mbb_request("left"), *block("2026-10-01", "Right"))
    assert other_side.status == "unknown" and "no earlier diagnostic block" in other_side.detail


# --- TX-02, RFAR-01: prior_treatment_relief ------------------------------------------------------------------

RFAR_01 = {"kinds": ["rfa"], "min_relief": 50, "min_months": 6, "function_min_relief": 50, "when_absent": "unknown"}


def test_repeat_rfa_relief_is_judged_per_side() -> None:
    right = run("prior_treatment_relief", RFAR_01, rfa_request("right"), *lasting("2025-06-01", "Right"))
    assert right.status == "met" and right.detail.startswith("right: therapeutic radiofrequency ablation right")
    left = run("prior_treatment_relief", RFAR_01, rfa_request("left"), *lasting("2025-06-01", "Right"))
    assert left.status == "unknown" and left.detail == "left: no earlier treatment of this kind at these levels"
    unsided = run("prior_treatment_relief", RFAR_01, rfa_request("right"), *lasting("2025-06-01", ""))
    assert unsided.status == "unknown" and "its side is not recorded" in unsided.detail


def test_a_repeat_therapeutic_injection_is_not_applicable_on_a_side_never_injected() -> None:
    params = {"kinds": ["mbb", "intra-articular", "facet-injection"], "min_relief": 50, "min_months": 3}
    injection = fb.procedure(
        "64493", f"Therapeutic right intra-articular {BOTH} facet injection", "2026-05-01T08:00:00Z"
    )
    outcome = run("prior_treatment_relief", params, mbb_request("left", "therapeutic"), injection)
    assert outcome.status == "not-applicable" and outcome.detail.startswith("left: no earlier treatment")


# --- DX-04 and RFAR-03 ---------------------------------------------------------------------------------------

DX_04 = {"success_pct": 50, "success_months": 6, "exception_years": 2}


def test_a_successful_rfa_bars_diagnostics_on_its_own_side_only() -> None:
    right_rfa = lasting("2025-06-01", "Right")
    assert run("no_successful_rfa_at_levels", DX_04, mbb_request("right"), *right_rfa).status == "not-met"
    left = run("no_successful_rfa_at_levels", DX_04, mbb_request("left"), *right_rfa)
    assert (left.status, left.by_absence) == ("met", True)
    unsided = run("no_successful_rfa_at_levels", DX_04, mbb_request("left"), *lasting("2025-06-01", ""))
    assert unsided.status == "unknown" and "does not record its side" in unsided.detail


def test_rfa_recent_looks_at_the_requested_side() -> None:
    right_rfa = lasting("2025-06-01", "Right")
    assert run("rfa_recent", {"years": 2}, rfa_request("right"), *right_rfa).status == "met"
    left = run("rfa_recent", {"years": 2}, rfa_request("left"), *right_rfa)
    assert left.status == "unknown" and "no dated earlier RFA" in left.detail


# --- the pathway ---------------------------------------------------------------------------------------------


def test_a_left_block_after_a_right_block_is_a_first_block() -> None:
    facts = facts_of(*block("2026-10-01", "Right"))
    assert decide_pathway(mbb_request("left"), facts) == "facet-diagnostic-first"
    assert decide_pathway(mbb_request("right"), facts) == "facet-diagnostic-confirmatory"
    assert decide_pathway(mbb_request("bilateral"), facts) == "facet-diagnostic-confirmatory"
    assert set(mixed_sides(mbb_request("bilateral"), facts)) == {"right", "left"}
    assert workup_by_side(facts, mbb_request("bilateral"))["left"] == []


def test_rfa_is_a_repeat_only_on_sides_that_had_one() -> None:
    facts = facts_of(*lasting("2025-06-01", "Right"))
    assert decide_pathway(rfa_request("right"), facts) == "rfa-repeat"
    assert decide_pathway(rfa_request("left"), facts) == "rfa-initial"
    assert decide_pathway(rfa_request("bilateral"), facts) == "rfa-initial"  # sides at different steps: stricter
    assert mixed_sides(rfa_request("bilateral"), facts)["left"] == []
    both = facts_of(*lasting("2025-06-01", "Bilateral"))
    assert decide_pathway(rfa_request("bilateral"), both) == "rfa-repeat" and not mixed_sides(
        rfa_request("bilateral"), both
    )


def test_tested_combines_side_and_level() -> None:
    (procedure,) = facts_of(*block("2026-10-01", "Right", "L4-L5")[:1]).procedures
    assert episodes.tested(procedure, "right", "L4-L5") is True
    assert episodes.tested(procedure, "right", "L5-S1") is False
    assert episodes.tested(procedure, "left", "L4-L5") is False
