"""The checklist engine with the packaged policies: pathways, verdicts, answers, unreadable data, payers, outlook."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from smart_app.core.checklist import ChecklistResult, evaluate, read_answers
from smart_app.core.facts import extract_facts
from smart_app.core.model import CheckRequest, InvalidRequest
from smart_app.rules.loader import load_rules
from tests.core import test_facts_builders as fb

AS_OF = date(2026, 11, 15)


def request(procedure: str = "medial-branch-block", levels: str = "L4-L5,L5-S1", **extra: Any) -> CheckRequest:
    intent = extra.pop("intent", "diagnostic" if procedure in ("medial-branch-block", "facet-injection") else None)
    return CheckRequest.build(
        procedure=procedure, levels=levels, side=extra.pop("side", "bilateral"), intent=intent, **extra
    )


def check(
    resources: list[dict[str, Any]], req: CheckRequest | None = None, *, payer: str = "medicare", **options: Any
) -> ChecklistResult:
    req = req or request()
    rules = load_rules()
    policy = rules.policy_for(req.procedure, rules.payer(payer))
    facts = extract_facts(resources, patient_id=fb.PATIENT_ID, as_of=options.pop("as_of", AS_OF))
    return evaluate(policy, req, facts, as_of=facts_day(options), **options)


def facts_day(options: dict[str, Any]) -> date:
    return options.pop("check_day", AS_OF)


def statuses(result: ChecklistResult) -> dict[str, str]:
    return {criterion.id: criterion.status for criterion in result.criteria}


def block(day: str, baseline: float = 8, after: float = 1, **extra: Any) -> list[dict[str, Any]]:
    procedure = fb.mbb(f"{day}T08:00:00Z", category="diagnostic", **extra)
    return [procedure, fb.score(baseline, f"{day}T07:00:00Z"), fb.score(after, f"{day}T10:00:00Z")]


# --- pathways and verdicts -----------------------------------------------------------------------------------


def test_a_complete_record_is_ready_and_lists_every_criterion_of_the_pathway() -> None:
    result = check(fb.ready_lumbar_record())
    assert (result.verdict, result.pathway) == ("ready", "facet-diagnostic-first")
    assert list(statuses(result)) == [
        "GEN-01", "GEN-02", "GEN-03", "GEN-04", "GEN-05", "GEN-07", "GEN-09", "GEN-10", "GEN-11", "GEN-12", "GEN-13",
        "SED-01", "SED-02", "DX-02", "DX-03", "DX-04",
    ]  # fmt: skip
    by_id = {criterion.id: criterion for criterion in result.criteria}
    assert by_id["DX-02"].status == "not-applicable"  # a medial branch block, not an intra-articular one
    assert (by_id["GEN-11"].origin, by_id["GEN-01"].origin) == ("request", "record")
    assert all(c.source and c.text for c in result.criteria)
    assert result.policy["id"] == "medicare-facet-l38773"


@pytest.mark.parametrize(
    ("req", "extra", "pathway"),
    [
        (request("pars-injection", "L5"), [], "pars-injection"),
        (request("radiofrequency-ablation"), [], "rfa-initial"),
        (request("radiofrequency-ablation"), [fb.rfa("2026-01-05")], "rfa-repeat"),
        (request("radiofrequency-ablation", "L2-L3"), [fb.rfa("2026-01-05")], "rfa-initial"),
        (request(intent="therapeutic"), [], "facet-therapeutic"),
        (request(), block("2026-10-01"), "facet-diagnostic-confirmatory"),
        (request(levels="L5-S1"), block("2026-10-01"), "facet-diagnostic-confirmatory"),  # earlier block covered it
        (request(levels="L3-L4"), block("2026-10-01"), "facet-diagnostic-first"),
        (request(), [*block("2025-10-01"), fb.rfa("2025-12-01")], "facet-diagnostic-first"),  # an RFA ends a work-up
    ],
)
def test_pathway(req: CheckRequest, extra: list[dict[str, Any]], pathway: str) -> None:
    assert check(fb.ready_lumbar_record(*extra), req).pathway == pathway


def test_one_not_met_makes_the_patient_not_eligible_and_unknown_needs_documentation() -> None:
    three_levels = check(fb.ready_lumbar_record(), request(levels="L3-L4,L4-L5,L5-S1"))
    assert (three_levels.verdict, statuses(three_levels)["GEN-13"]) == ("not-eligible", "not-met")
    no_scores = [r for r in fb.ready_lumbar_record() if r["resourceType"] != "Observation"]
    missing = check(no_scores)
    assert missing.verdict == "needs-documentation"
    assert (statuses(missing)["GEN-01"], statuses(missing)["GEN-07"]) == ("unknown", "unknown")


def test_sedation_criteria_follow_the_request() -> None:
    assert statuses(check(fb.ready_lumbar_record(), request(sedation="general")))["SED-01"] == "not-met"
    mac = statuses(check(fb.ready_lumbar_record(), request(sedation="mac")))
    assert (mac["SED-01"], mac["SED-02"]) == ("met", "unknown")
    rfa_mac = statuses(check(fb.ready_lumbar_record(), request("radiofrequency-ablation", sedation="mac")))
    assert rfa_mac["SED-02"] == "not-applicable"


def test_a_confirmatory_request_after_two_blocks_warns() -> None:
    result = check(fb.ready_lumbar_record(*block("2026-09-01"), *block("2026-10-01")))
    assert result.pathway == "facet-diagnostic-confirmatory"
    assert "extra-diagnostic-block" in {w.code for w in result.warnings}


# --- unreadable parts of the record --------------------------------------------------------------------------


def test_exclusions_are_unknown_when_their_resources_could_not_be_read() -> None:
    result = check(fb.ready_lumbar_record(), unreadable={"Condition": "HTTP 403"})
    by_id = {criterion.id: criterion for criterion in result.criteria}
    assert by_id["GEN-04"].status == "unknown" and by_id["GEN-04"].detail.startswith(
        "could not read Condition (HTTP 403)"
    )
    assert by_id["GEN-09"].status == "unknown"
    assert by_id["DX-03"].status == "met"  # reads Procedure only
    assert result.verdict == "needs-documentation"


def test_an_exclusion_proven_by_a_readable_part_stays_not_met() -> None:
    result = check(fb.ready_lumbar_record(fb.condition("M54.16")), unreadable={"DiagnosticReport": "HTTP 403"})
    assert statuses(result)["GEN-04"] == "not-met"


def right_blocks() -> list[dict[str, Any]]:
    return [*block("2026-09-01", side="Right"), *block("2026-09-20", side="Right", after=0)]


def test_too_few_blocks_in_a_complete_record_is_not_met_with_the_next_step() -> None:
    result = check(fb.ready_lumbar_record(*right_blocks()), request("radiofrequency-ablation", side="left"))
    assert (result.pathway, result.verdict) == ("rfa-initial", "not-eligible")
    (rfa_01,) = [criterion for criterion in result.criteria if criterion.id == "RFA-01"]
    assert rfa_01.status == "not-met" and rfa_01.detail.startswith("left: none")
    data = rfa_01.to_json()
    assert data["next_step"] == "a first diagnostic medial branch block at left L4-L5, L5-S1"
    assert data["citation"].startswith("LCD L38773") and "policy-rules" not in data["citation"]
    assert data["authority"] == "payer" and data["source"].startswith("LCD L38773")  # source kept for traceability


@pytest.mark.parametrize("unreadable", ["Procedure", "Observation"])
def test_too_few_blocks_stays_unknown_when_procedures_or_scores_could_not_be_read(unreadable: str) -> None:
    result = check(
        fb.ready_lumbar_record(*right_blocks()),
        request("radiofrequency-ablation", side="left"),
        unreadable={unreadable: "HTTP 403"},
    )
    (rfa_01,) = [criterion for criterion in result.criteria if criterion.id == "RFA-01"]
    assert rfa_01.status == "unknown"
    assert rfa_01.detail.startswith(f"could not read {unreadable} (HTTP 403); left: none")
    assert result.verdict == "needs-documentation"


def test_a_failed_block_stays_not_met_even_when_part_of_the_record_could_not_be_read() -> None:
    failing = [*block("2026-09-01", side="Right"), *block("2026-09-20", side="Right", after=6)]
    req = request("radiofrequency-ablation", side="right")
    result = check(fb.ready_lumbar_record(*failing), req, unreadable={"Observation": "HTTP 403"})
    assert statuses(result)["RFA-01"] == "not-met"


def test_sides_at_different_steps_are_named_in_a_warning() -> None:
    result = check(fb.ready_lumbar_record(*block("2026-10-01", side="Right")), request(side="bilateral"))
    assert result.pathway == "facet-diagnostic-confirmatory"
    (warning,) = [w for w in result.warnings if w.code == "sides-at-different-steps"]
    assert "right: confirmatory block after diagnostic medial branch block right" in warning.message
    assert "left: first block" in warning.message
    assert statuses(result)["DX2-02"] == "met"  # the left side is a first block: nothing to confirm there


def test_pars_criteria_are_our_clinical_checklist_with_public_citations() -> None:
    req = CheckRequest.build(procedure="pars-injection", levels="L5", side="bilateral")
    result = check([fb.patient()], req)
    assert {criterion.authority for criterion in result.criteria} == {"clinical"}
    assert all(criterion.to_json()["citation"] for criterion in result.criteria)
    notice = next(w for w in result.warnings if w.code == "pars-coverage-uncertain")
    assert notice.to_json()["citation"].startswith("LCD L38773")


# --- answers -------------------------------------------------------------------------------------------------


def test_attestations_settle_unknowns_and_may_make_met_not_met_but_never_the_reverse() -> None:
    record = [
        r
        for r in fb.ready_lumbar_record(fb.condition("M54.16"))
        if r.get("code", {}).get("coding", [{}])[0].get("code") != "97909-6"
    ]
    answers = read_answers(
        {
            "GEN-07": {"status": "met", "note": "ODI 40% in the 2026-10-20 scanned intake form"},
            "GEN-03": {"status": "not-met", "note": "patient never took the NSAID"},
            "GEN-04": {"status": "met", "note": "treated"},
            "TX-03": {"status": "met", "note": "not in this pathway"},
        }
    )
    result = check(record, answers=answers)
    by_id = {criterion.id: criterion for criterion in result.criteria}
    assert (by_id["GEN-07"].status, by_id["GEN-07"].origin) == ("met", "attested")
    assert "scanned intake form" in by_id["GEN-07"].detail and "record: unknown" in by_id["GEN-07"].detail
    assert (by_id["GEN-03"].status, by_id["GEN-03"].origin) == ("not-met", "attested")
    assert (by_id["GEN-04"].status, by_id["GEN-04"].origin) == ("not-met", "record")
    ignored = [w.message for w in result.warnings if w.code == "answer-ignored"]
    assert any("GEN-04" in m for m in ignored) and any("TX-03" in m for m in ignored)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "JSON object"),
        ({"GEN-07": "met"}, "object with status and note"),
        ({"GEN-07": {"status": "yes", "note": "x"}}, "status must be met or not-met"),
        ({"GEN-07": {"status": "met"}}, "a note"),
        ({"GEN-07": {"status": "met", "note": "  "}}, "a note"),
    ],
)
def test_malformed_answers_are_refused_in_one_line(raw: Any, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message) as caught:
        read_answers(raw)
    assert "\n" not in str(caught.value)


# --- payer profiles override parameters ------------------------------------------------------------------------


def test_aetna_needs_six_weeks_of_care_and_allows_three_levels() -> None:
    short_care = [
        fb.patient(), fb.condition("M47.816", onset="2026-03-01"), fb.medication("ibuprofen", "2026-09-01"),
        fb.procedure("97110", "PT", "2026-09-29"), fb.score(7, "2026-10-20"), fb.odi(40, "2026-10-20"),
    ]  # fmt: skip
    medicare, aetna = check(short_care), check(short_care, payer="aetna")
    assert (statuses(medicare)["GEN-03"], statuses(aetna)["GEN-03"]) == ("met", "unknown")
    assert "requires 42 days" in next(c.detail for c in aetna.criteria if c.id == "GEN-03")
    assert "min_conservative_care_days=42" in aetna.policy["citation"]
    three = request(levels="L3-L4,L4-L5,L5-S1")
    assert statuses(check(fb.ready_lumbar_record(), three, payer="aetna"))["GEN-13"] == "met"


def test_bcbs_nd_accepts_fifty_percent_relief_on_the_first_block() -> None:
    record = fb.ready_lumbar_record(*block("2026-10-01", baseline=8, after=4))  # 50 %
    assert statuses(check(record))["DX2-02"] == "not-met"
    assert statuses(check(record, payer="bcbs-nd"))["DX2-02"] == "met"


# --- pars: advisories, notices, outlook ------------------------------------------------------------------------


def pars_record(conclusion: str, *extra: dict[str, Any], birth: str = "1985-03-02") -> list[dict[str, Any]]:
    return [
        fb.patient(birth), fb.condition("M43.06", onset="2026-02-01", body_site="L5 pars"),
        fb.condition("M54.50", onset="2026-02-01"), fb.procedure("97110", "PT", "2026-03-02"),
        fb.imaging_report(conclusion, when="2026-09-15"), fb.score(6, "2026-10-28"), fb.odi(30, "2026-10-28"), *extra,
    ]  # fmt: skip


def test_pars_outlook_rises_with_isthmic_edema_on_mri() -> None:
    plain = check(pars_record("Bilateral L5 pars defects with sclerotic margins."), request("pars-injection", "L5"))
    edema = check(
        pars_record("Bilateral L5 spondylolysis with isthmic bone marrow edema on STIR."),
        request("pars-injection", "L5"),
    )
    assert plain.verdict == edema.verdict == "ready"
    assert plain.outlook is not None and edema.outlook is not None
    assert (plain.outlook["expected_success_rate"], edema.outlook["expected_success_rate"]) == (0.545, 0.70)
    assert "Kajdi" in edema.outlook["source"]


def test_pars_in_a_young_patient_with_an_acute_defect_is_not_eligible() -> None:
    young = pars_record("Bilateral L5 spondylolysis with isthmic bone marrow edema on STIR.", birth="2009-05-01")
    assert statuses(check(young, request("pars-injection", "L5")))["PARS-03"] == "not-met"


def test_pars_warnings_depend_on_payer_kind_and_history() -> None:
    failed_rfa = [fb.rfa("2026-03-10T08:00:00Z"), fb.score(7, "2026-03-10T07:00:00Z"), fb.score(7, "2026-04-14")]
    record = pars_record("Bilateral L5 pars defects.", *failed_rfa)
    medicare = {w.code for w in check(record, request("pars-injection", "L5")).warnings}
    aetna = check(record, request("pars-injection", "L5"), payer="aetna")
    assert {"pars-coverage-uncertain", "prior-failed-rfa"} <= medicare
    assert statuses(aetna)["GEN-03"] == "unknown"  # Aetna's six weeks of care apply to pars requests too
    messages = [w.message for w in aetna.warnings if w.code == "pars-coverage-uncertain"]
    assert len(messages) == 1 and "commercial" in messages[0]


def test_a_policy_not_yet_effective_is_flagged() -> None:
    result = check(fb.ready_lumbar_record(), as_of=date(2026, 1, 1), check_day=date(2026, 1, 1))
    assert "policy-not-yet-effective" in {w.code for w in result.warnings}
