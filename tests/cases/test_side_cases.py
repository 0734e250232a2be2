"""The issue 9 "Done when" cases, our own seed cases run through `smart-app check`: what the clinician reads per
side, the next step, the suggestion, and twice in a row on a second patient after the first (same answer)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from smart_app.core.facts import extract_facts
from smart_app.workflow.check import suggestion_for
from tests.cases.support import CASES_DIR, SEED_DIR, assert_matches_expected, case_flags, load_cases, run_check
from tests.core import test_facts_builders as fb
from tests.core.test_operators_blocks import block

SEED = {case["name"]: case for case in load_cases(SEED_DIR / "cases.json")}

# case → (criterion, how its detail starts, its next step)
EXPECTED_DETAIL = {
    "lumbar-rfa-left-after-right-blocks": (
        "RFA-01",
        "left: none",
        "a first diagnostic medial branch block at left L4-L5, L5-S1",
    ),
    "lumbar-rfa-bilateral-after-right-blocks": (
        "RFA-01",
        "right L4-L5, L5-S1: 2 blocks ≥ 80 %; left: none",
        "a first diagnostic medial branch block at left L4-L5, L5-S1",
    ),
    "lumbar-rfa-untested-level": (
        "RFA-01",
        "right L4-L5: 2 blocks ≥ 80 %; right L5-S1: none; left L4-L5: 2 blocks ≥ 80 %; left L5-S1: none",
        "a first diagnostic medial branch block at bilateral L5-S1",
    ),
    "lumbar-rfa-after-one-block": (
        "RFA-01",
        "right L4-L5, L5-S1: 1 block ≥ 80 %; left L4-L5, L5-S1: 1 block ≥ 80 %",
        "a confirmatory medial branch block at bilateral L4-L5, L5-S1",
    ),
}


def check(name: str) -> dict[str, Any]:
    run = run_check(*case_flags(SEED[name], SEED_DIR))
    assert (run.exit_code, run.stderr) == (0, "")
    result: dict[str, Any] = run.json()
    assert_matches_expected(result, SEED[name])
    return result


@pytest.mark.parametrize("name", sorted(EXPECTED_DETAIL))
def test_a_request_the_blocks_do_not_support_on_its_side_or_level_is_not_met_with_the_next_step(name: str) -> None:
    criterion_id, detail, next_step = EXPECTED_DETAIL[name]
    result = check(name)
    assert result["verdict"] == "not-eligible"
    (criterion,) = [c for c in result["criteria"] if c["id"] == criterion_id]
    assert criterion["status"] == "not-met"
    assert criterion["detail"].startswith(detail)
    assert criterion["next_step"] == next_step
    assert criterion["citation"].startswith("LCD L38773") and criterion["authority"] == "payer"
    assert [c["id"] for c in result["criteria"] if c["status"] == "not-met"] == [criterion_id]


def test_a_left_block_after_one_right_block_is_a_first_block_and_ready() -> None:
    result = check("lumbar-mbb-left-after-right-block-ready")
    assert (result["pathway"], result["verdict"]) == ("facet-diagnostic-first", "ready")
    assert not {"DX2-02", "DX2-03", "DX2-04"} & {c["id"] for c in result["criteria"]}
    assert result["suggestion"]["step"] == "confirmatory" and result["suggestion"]["side"] == "right"


def test_the_suggestion_follows_the_record_not_the_request() -> None:
    left_after_right = check("lumbar-rfa-left-after-right-blocks")["suggestion"]
    assert (left_after_right["step"], left_after_right["side"]) == ("rfa-initial", "right")
    one_block = check("lumbar-rfa-after-one-block")["suggestion"]
    assert (one_block["step"], one_block["side"], one_block["levels"]) == (
        "confirmatory",
        "bilateral",
        ["L4-L5", "L5-S1"],
    )


def test_two_patients_one_after_the_other_twice_give_the_same_answers() -> None:
    names = ["lumbar-rfa-bilateral-after-right-blocks", "lumbar-mbb-left-after-right-block-ready"]
    first = [check(name) for name in names]
    again = [check(name) for name in names]
    assert [r["verdict"] for r in first] == ["not-eligible", "ready"]
    assert first == again


def test_suggestion_for_uses_the_payer_of_the_record_or_the_one_named() -> None:
    as_of = date(2026, 11, 15)
    sixty_two_percent = (*block("2026-09-01", after=3), *block("2026-09-20", after=3))
    facts = extract_facts(fb.ready_lumbar_record(*sixty_two_percent), patient_id=fb.PATIENT_ID, as_of=as_of)
    assert suggestion_for(facts, as_of=as_of) is None  # Medicare Part B from the Coverage: 80 % needed
    bcbs = suggestion_for(facts, as_of=as_of, payer_id="bcbs-nd")  # 50 % is enough there
    assert bcbs is not None and (bcbs.step, bcbs.side) == ("rfa-initial", "bilateral")


# Ready cases whose request is not what the record suggests next, and why.
REQUEST_DIFFERS = {
    # the record's most advanced side is the right one (one block: a confirmatory right block); the left block
    # requested is a first block, which is also ready
    "lumbar-mbb-left-after-right-block-ready",
}


READY = [
    (folder, case)
    for folder, cases in ((CASES_DIR, load_cases(CASES_DIR / "cases.json")), (SEED_DIR, list(SEED.values())))
    for case in cases
    if case["expected"]["verdict"] == "ready"
]


@pytest.mark.parametrize(("folder", "case"), READY, ids=[case["name"] for _, case in READY])
def test_for_a_ready_case_the_suggestion_is_the_request(folder: Path, case: dict[str, Any]) -> None:
    result = run_check(*case_flags(case, folder)).json()
    suggestion, request = result["suggestion"], result["request"]
    same = all(suggestion[key] == request[key] for key in ("procedure", "levels", "side", "region"))
    assert same != (case["name"] in REQUEST_DIFFERS), (suggestion, request)


def test_there_are_ready_cases_of_every_step() -> None:
    steps = {run_check(*case_flags(case, folder)).json()["suggestion"]["step"] for folder, case in READY}
    assert steps == {"first-diagnostic", "confirmatory", "rfa-initial", "rfa-repeat", "therapeutic", "pars"}
