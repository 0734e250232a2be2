"""The suggested next step (issue 9, part 3): from prior blocks, RFAs and their relief, the procedure, levels and
side the record supports, with thresholds from the payer's policy."""

from __future__ import annotations

from datetime import date
from typing import Any

from smart_app.core.facts import extract_facts
from smart_app.core.policy import Policy
from smart_app.core.suggestion import Suggestion, suggest_next_step
from smart_app.rules.loader import load_rules
from tests.core import test_facts_builders as fb
from tests.core.test_operators_blocks import ablation, block, lasting

AS_OF = date(2026, 11, 15)


def facet_policy(payer: str = "medicare") -> Policy:
    rules = load_rules()
    return rules.policy_for("medial-branch-block", rules.payer(payer))


def suggest(*resources: dict[str, Any], payer: str = "medicare") -> Suggestion | None:
    facts = extract_facts(fb.ready_lumbar_record(*resources), patient_id=fb.PATIENT_ID, as_of=AS_OF)
    return suggest_next_step(facts, AS_OF, facet_policy(payer))


def test_no_block_yet_suggests_a_first_diagnostic_block() -> None:
    suggestion = suggest()
    assert suggestion is not None
    assert (suggestion.step, suggestion.procedure, suggestion.intent) == (
        "first-diagnostic",
        "medial-branch-block",
        "diagnostic",
    )
    assert (suggestion.region, suggestion.levels, suggestion.side) == ("lumbar", ("L4-L5", "L5-S1"), "bilateral")
    assert [ref.split("/")[0] for ref in suggestion.evidence] == ["Condition", "DiagnosticReport"]  # levels: MRI


def test_one_good_block_suggests_the_confirmatory_block_on_that_side() -> None:
    suggestion = suggest(*block("2026-10-01", "Right"))
    assert suggestion is not None
    assert (suggestion.step, suggestion.side, suggestion.levels) == ("confirmatory", "right", ("L4-L5", "L5-S1"))
    assert suggestion.reason.startswith("right L4-L5, L5-S1: 1 block ≥ 80 % of 2 needed")


def test_two_good_blocks_suggest_rfa_and_the_json_keeps_the_field_names() -> None:
    suggestion = suggest(*block("2026-09-01"), *block("2026-09-20", after=0))
    assert suggestion is not None
    assert (suggestion.step, suggestion.procedure, suggestion.side) == (
        "rfa-initial",
        "radiofrequency-ablation",
        "bilateral",
    )
    assert suggestion.reason == "bilateral L4-L5, L5-S1: 2 blocks ≥ 80 %: RFA is next"
    assert set(suggestion.to_json()) == {
        "step",
        "procedure",
        "intent",
        "region",
        "levels",
        "side",
        "reason",
        "evidence",
    }
    assert len(suggestion.evidence) == 2


def test_the_threshold_comes_from_the_payer_policy() -> None:
    sixty_percent = (*block("2026-09-01", after=3), *block("2026-09-20", after=3))  # 62 % relief
    medicare = suggest(*sixty_percent)
    assert medicare is None  # below the LCD's 80 %: no further facet step
    bcbs = suggest(*sixty_percent, payer="bcbs-nd")  # 50 % relief counts there
    assert bcbs is not None and bcbs.step == "rfa-initial"


def test_a_documented_reason_against_rfa_suggests_a_therapeutic_injection() -> None:
    suggestion = suggest(*block("2026-09-01"), *block("2026-09-20"), fb.device("Implanted spinal cord stimulator"))
    assert suggestion is not None
    assert (suggestion.step, suggestion.procedure, suggestion.intent) == (
        "therapeutic",
        "facet-injection",
        "therapeutic",
    )


def test_after_a_lasting_rfa_a_repeat_rfa_and_after_a_failed_one_nothing() -> None:
    repeat = suggest(*lasting("2025-06-01", "Bilateral"))
    assert repeat is not None and (repeat.step, repeat.side) == ("rfa-repeat", "bilateral")
    failed = (ablation("2026-01-10T08:00:00Z", "Bilateral"), fb.score(8, "2026-01-09"), fb.score(7, "2026-03-01"))
    assert suggest(*failed) is None


def test_an_rfa_two_years_old_suggests_repeating_diagnostics() -> None:
    suggestion = suggest(*lasting("2024-01-01", "Right"))
    assert suggestion is not None and (suggestion.step, suggestion.side) == ("first-diagnostic", "right")
    assert "2+ years old" in suggestion.reason


def test_sides_at_different_steps_propose_the_side_furthest_along_and_say_where_the_other_is() -> None:
    records = (*block("2026-09-01", "Right"), *block("2026-09-20", "Right"), *block("2026-10-10", "Left"))
    suggestion = suggest(*records)
    assert suggestion is not None and (suggestion.step, suggestion.side) == ("rfa-initial", "right")
    assert "left L4-L5, L5-S1: 1 block ≥ 80 % of 2 needed" in suggestion.reason


def test_a_pars_defect_suggests_a_bilateral_pars_injection() -> None:
    record = [
        fb.patient(),
        fb.condition("M43.06"),
        fb.imaging_report("Bilateral L5 pars interarticularis defects (spondylolysis)."),
    ]
    facts = extract_facts(record, patient_id=fb.PATIENT_ID, as_of=AS_OF)
    suggestion = suggest_next_step(facts, AS_OF, facet_policy())
    assert suggestion is not None
    assert (suggestion.step, suggestion.procedure, suggestion.levels, suggestion.side) == (
        "pars",
        "pars-injection",
        ("L5",),
        "bilateral",
    )


def test_no_spine_diagnosis_no_suggestion() -> None:
    facts = extract_facts([fb.patient(), fb.condition("J01.90")], patient_id=fb.PATIENT_ID, as_of=AS_OF)
    assert suggest_next_step(facts, AS_OF, facet_policy()) is None
