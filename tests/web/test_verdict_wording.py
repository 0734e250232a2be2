"""The verdict banner's words and the clinical summary's parts, as pure functions (no server): each case is one a
clinician could misread (issue 9, parts 4 and 5)."""

from __future__ import annotations

from datetime import date, datetime

from smart_app.core.care import CareEvent
from smart_app.core.suggestion import Suggestion
from smart_app.web.clinical_summary import checklist_prefill, conservative_care
from smart_app.web.verdict import authority_of, clause_label, public_source, verdict_view

PAYER_POLICY = {"id": "medicare-facet-l38773", "authority": "payer"}
OUR_POLICY = {"id": "spine-auth-pars"}  # no authority field: the id says it is ours


def result(verdict: str, criteria: list[dict], warnings: list[dict] | None = None, policy: dict | None = None) -> dict:
    return {"verdict": verdict, "criteria": criteria, "warnings": warnings or [], "policy": policy or PAYER_POLICY}


def test_not_eligible_names_the_failed_then_the_unknown_criteria() -> None:
    view = verdict_view(
        result(
            "not-eligible",
            [
                {"id": "GEN-01", "status": "met", "text": "pain"},
                {"id": "RFA-01", "status": "unknown", "text": "two blocks"},
                {"id": "DX-04", "status": "not-met", "text": "confirmatory", "next_step": "a left L4-L5 block"},
            ],
        )
    )
    assert [c["id"] for c in view["failed"]] == ["DX-04"] and view["failed"][0]["next_step"] == "a left L4-L5 block"
    assert [c["id"] for c in view["unknown"]] == ["RFA-01"]
    assert view["meaning"].startswith("The payer's policy does not cover")


def test_a_failure_of_our_own_checklist_is_not_called_the_payers_policy() -> None:
    failed = [{"id": "PARS-02", "status": "not-met", "text": "no instability"}]
    view = verdict_view(result("not-eligible", failed, policy=OUR_POLICY))
    assert "payer" not in view["meaning"].split("(")[0].lower() and "clinical checklist" in view["meaning"]
    assert clause_label(failed[0], OUR_POLICY) == "Clinical checklist (spine-auth)"
    assert clause_label({"authority": "payer"}, OUR_POLICY) == "Payer policy"  # the criterion's own field wins
    assert authority_of({}, {"id": "aetna-cpb-0016"}) == "payer"


def test_ready_with_a_coverage_warning_says_coverage_is_uncertain() -> None:
    warning = {"code": "pars-coverage-uncertain", "message": "Coverage uncertain: the LCD does not address pars."}
    view = verdict_view(result("ready", [], [warning], policy=OUR_POLICY))
    assert view["coverage_uncertain"] and view["label"] == "Ready, coverage uncertain"
    assert "coverage is uncertain" in view["meaning"] and "can go to the payer" not in view["meaning"]
    plain = verdict_view(result("ready", []))
    assert not plain["coverage_uncertain"] and plain["meaning"].endswith("the request can go to the payer.")


def test_clauses_show_the_public_source_never_our_file_names() -> None:
    assert public_source({"source": "policy-rules A.5 RFA-01 (S1, High)"}) == ""
    assert public_source({"source": "policy-rules A.5", "citation": "LCD L38773 (CGS), Limitations"}) == (
        "LCD L38773 (CGS), Limitations"
    )
    cited = public_source(
        {"citation": "billing article A58364 v42 carry the same criteria (policy-rules.md section 0, A)."}
    )
    assert cited == "billing article A58364 v42 carry the same criteria." and "policy-rules" not in cited


def test_the_checklist_prefill_carries_the_suggestion_and_nothing_without_one() -> None:
    suggestion = Suggestion(
        "confirmatory", "medial-branch-block", "diagnostic", "lumbar", ("L4-L5", "L5-S1"), "left", ""
    )
    assert checklist_prefill(suggestion) == (
        "procedure=medial-branch-block&intent=diagnostic&levels=L4-L5%2CL5-S1&side=left&suggested=1"
    )
    assert checklist_prefill(None) == ""


def test_weekly_therapy_sessions_read_as_one_course() -> None:
    sessions = [
        CareEvent("therapy", "Physical therapy", date(2024, 7, day), date(2024, 7, day), False, f"Procedure/{day}")
        for day in (1, 8, 15, 22, 29)
    ]
    pill = CareEvent("analgesic", "naproxen", date(2024, 6, 1), date(2024, 6, 1), True, "MedicationRequest/1")
    lines = conservative_care([*sessions, pill], as_of=date(2024, 9, 1))
    therapy = next(line for line in lines if line["kind"] == "Therapy")
    assert therapy["count"] == 5 and therapy["weeks"] == 4 and therapy["end"] == "2024-07-29"
    analgesic = next(line for line in lines if line["kind"] == "Analgesic")
    assert analgesic["end"] == "ongoing" and analgesic["weeks"] == (date(2024, 9, 1) - date(2024, 6, 1)).days // 7
    assert datetime.fromisoformat(therapy["start"]).date() == date(2024, 7, 1)
