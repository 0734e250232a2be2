"""Evaluate a policy for one request and one patient: pathway, criteria with evidence, verdict, warnings, outlook.

- Verdict (CLI.md): `not-eligible` when a criterion is `not-met`, else `needs-documentation` when one is
  `unknown`, else `ready`.
- A criterion whose `when` does not match the request is `not-applicable`.
- An exclusion met only by the absence of evidence becomes `unknown` when a resource type it searches could not be
  read (`unreadable`), and the detail says which. So does a requirement `not-met` only because the record holds
  fewer qualifying procedures than it needs (`shortfall`): only a complete read proves the shortfall.
- A criterion carries the next step that would meet it (`next_step`), its public `citation` and its `authority`
  (`payer` policy or our own `clinical` checklist).
- Clinician answers (`--answers`): an attestation settles an `unknown` criterion either way and may turn a `met`
  into `not-met` (the clinician knows something the chart does not), but never turns a `not-met` the record proves
  into `met`; such an answer is ignored with a warning. An attestation needs a note. Attested criteria carry
  `origin: attested`.
- Advisories (e.g. PARS-07) that fail become warnings, never verdicts; notices are fixed warnings per payer kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from smart_app.core.episodes import decide_pathway, mixed_sides, prior_rfas, workup_blocks
from smart_app.core.facts import PatientFacts
from smart_app.core.model import CheckRequest, Evidence, InvalidRequest, Warning
from smart_app.core.operators import MET, NOT_APPLICABLE, NOT_MET, OPERATORS, UNKNOWN, Context, Outcome, run_rule
from smart_app.core.policy import CriterionRule, Outlook, Policy

ANSWER_STATUSES = (MET, NOT_MET)


@dataclass(frozen=True)
class Answer:
    status: str
    note: str


@dataclass(frozen=True)
class CriterionResult:
    id: str
    text: str
    status: str
    origin: str
    detail: str
    source: str
    evidence: tuple[Evidence, ...] = ()
    next_step: str = ""
    citation: str = ""
    authority: str = "payer"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "status": self.status,
            "origin": self.origin,
            "detail": self.detail,
            "source": self.source,
            "evidence": [evidence.to_json() for evidence in _unique(self.evidence)],
        }
        if self.next_step and self.status in (NOT_MET, UNKNOWN):
            data["next_step"] = self.next_step
        if self.citation:
            data["citation"] = self.citation
        data["authority"] = self.authority
        return data


@dataclass(frozen=True)
class ChecklistResult:
    pathway: str
    policy: dict[str, str]
    verdict: str
    criteria: list[CriterionResult]
    warnings: list[Warning] = field(default_factory=list)
    outlook: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The checklist part of the check result (pathway, policy, verdict, criteria, warnings, outlook)."""
        data: dict[str, Any] = {
            "pathway": self.pathway,
            "policy": dict(self.policy),
            "verdict": self.verdict,
            "criteria": [criterion.to_json() for criterion in self.criteria],
            "warnings": [warning.to_json() for warning in self.warnings],
        }
        if self.outlook is not None:
            data["outlook"] = dict(self.outlook)
        return data


def read_answers(raw: Any) -> dict[str, Answer]:
    """`{criterion_id: {"status": "met"|"not-met", "note": "..."}}` → answers; raises InvalidRequest (one line)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidRequest("answers must be a JSON object keyed by criterion id")
    answers = {}
    for criterion_id, answer in raw.items():
        if not isinstance(answer, dict):
            raise InvalidRequest(f"answer for {criterion_id} must be an object with status and note")
        status, note = answer.get("status"), answer.get("note")
        if status not in ANSWER_STATUSES:
            raise InvalidRequest(f"answer for {criterion_id}: status must be met or not-met; got {status!r}")
        if not isinstance(note, str) or not note.strip():
            raise InvalidRequest(f"answer for {criterion_id}: a note saying where it is documented is required")
        answers[str(criterion_id)] = Answer(status, note.strip())
    return answers


def evaluate(
    policy: Policy,
    request: CheckRequest,
    facts: PatientFacts,
    *,
    as_of: date,
    answers: Mapping[str, Answer] | None = None,
    unreadable: Mapping[str, str] | None = None,
) -> ChecklistResult:
    """Run every criterion of the pathway; pure (the clock is `as_of`)."""
    context = Context(request, facts, as_of)
    unreadable = unreadable or {}
    pathway = decide_pathway(request, facts)
    warnings = [*facts.warnings, *_pathway_warnings(pathway, context)]
    criteria = []
    for rule in policy.criteria_for(pathway):
        outcome = _evaluate(rule, context, unreadable)
        warnings += outcome.warnings
        criteria.append(
            CriterionResult(
                rule.id,
                rule.text,
                outcome.status,
                OPERATORS[rule.rule.operator].origin,
                outcome.detail,
                rule.source,
                outcome.evidence,
                next_step=outcome.next_step,
                citation=rule.citation,
                authority=rule.authority,
            )
        )
    criteria, answer_warnings = _apply_answers(criteria, answers or {})
    warnings += answer_warnings
    warnings += _advisories(policy, context, unreadable)
    warnings += [
        Warning(notice.code, notice.message, notice.source, notice.citation)
        for notice in policy.notices
        if policy.payer is None or policy.payer.kind in notice.payer_kinds
    ]
    if policy.effective > as_of:
        warnings.append(
            Warning("policy-not-yet-effective", f"{policy.id} v{policy.version} takes effect on {policy.effective}")
        )
    return ChecklistResult(
        pathway=pathway,
        policy=policy.describe(),
        verdict=verdict_of(criteria),
        criteria=criteria,
        warnings=_unique_warnings(warnings),
        outlook=_outlook(policy.outlook, context) if policy.outlook else None,
    )


def verdict_of(criteria: list[CriterionResult]) -> str:
    statuses = {criterion.status for criterion in criteria}
    if NOT_MET in statuses:
        return "not-eligible"
    if UNKNOWN in statuses:
        return "needs-documentation"
    return "ready"


def _evaluate(rule: CriterionRule, context: Context, unreadable: Mapping[str, str]) -> Outcome:
    if not _applies(rule.when, context.request):
        wanted = "; ".join(f"{key} {' or '.join(values)}" for key, values in rule.when.items())
        return Outcome(NOT_APPLICABLE, f"applies to {wanted}")
    outcome = run_rule(rule.rule, context)
    missing = [kind for kind in rule.reads if kind in unreadable]
    absence_based = (outcome.status == MET and outcome.by_absence) or (outcome.status == NOT_MET and outcome.shortfall)
    if absence_based and missing:
        reasons = ", ".join(f"{kind} ({unreadable[kind]})" for kind in missing)
        return replace(outcome, status=UNKNOWN, detail=f"could not read {reasons}; {outcome.detail}")
    return outcome


def _applies(when: Mapping[str, tuple[str, ...]], request: CheckRequest) -> bool:
    values = request.to_json()
    return all(values.get(key) in allowed for key, allowed in when.items())


def _apply_answers(
    criteria: list[CriterionResult], answers: Mapping[str, Answer]
) -> tuple[list[CriterionResult], list[Warning]]:
    warnings: list[Warning] = []
    by_id = {criterion.id: criterion for criterion in criteria}
    for criterion_id in sorted(set(answers) - set(by_id)):
        warnings.append(
            Warning("answer-ignored", f"answer for {criterion_id} ignored: not a criterion of this pathway")
        )
    result = []
    for criterion in criteria:
        answer = answers.get(criterion.id)
        if answer is None or criterion.status == NOT_APPLICABLE or criterion.status == answer.status:
            result.append(criterion)
            continue
        if criterion.status == NOT_MET:
            warnings.append(
                Warning(
                    "answer-ignored",
                    f"answer 'met' for {criterion.id} ignored: the record shows it is not met ({criterion.detail})",
                )
            )
            result.append(criterion)
            continue
        detail = f"attested {answer.status}: {answer.note} (record: {criterion.status}; {criterion.detail})"
        result.append(replace(criterion, status=answer.status, origin="attested", detail=detail))
    return result, warnings


def _advisories(policy: Policy, context: Context, unreadable: Mapping[str, str]) -> list[Warning]:
    warnings = []
    for advisory in policy.advisories:
        if not _applies(advisory.when, context.request):
            continue
        outcome = run_rule(advisory.rule, context)
        if outcome.status == NOT_MET:
            message = f"{advisory.message}: {outcome.detail}"
            warnings.append(Warning(advisory.code, message, advisory.source, advisory.citation))
        elif outcome.status == MET and outcome.by_absence and any(kind in unreadable for kind in advisory.reads):
            message = f"{advisory.message}: part of the record could not be read"
            warnings.append(Warning(advisory.code, message, citation=advisory.citation))
    return warnings


def _pathway_warnings(pathway: str, context: Context) -> list[Warning]:
    warnings = _mixed_side_warnings(context)
    if pathway == "facet-diagnostic-confirmatory":
        blocks = workup_blocks(context.facts, context.request)
        if len(blocks) > 1:
            warnings.append(
                Warning(
                    "extra-diagnostic-block",
                    f"the record already holds {len(blocks)} diagnostic blocks at these levels since the last RFA; "
                    "a further diagnostic block needs a documented reason",
                    "policy-rules B CR-10",
                )
            )
    if pathway == "rfa-initial":
        unlevelled = [
            p
            for p in context.facts.procedures
            if p.kind == "rfa" and not p.levels and p.region in (None, context.request.region)
        ]
        if unlevelled and not prior_rfas(context.facts, context.request):
            warnings.append(
                Warning(
                    "rfa-levels-unknown",
                    f"{unlevelled[-1].reference} is an RFA without recorded levels; if it was at these levels this is "
                    "a repeat RFA",
                )
            )
    return warnings


def _mixed_side_warnings(context: Context) -> list[Warning]:
    """A bilateral request whose sides are at different steps: say which side is where."""
    by_side = mixed_sides(context.request, context.facts)
    if not by_side:
        return []
    ablation = context.request.procedure == "radiofrequency-ablation"
    parts = []
    for side, found in by_side.items():
        if ablation:
            parts.append(f"{side}: repeat RFA after {found[-1].describe()}" if found else f"{side}: initial RFA")
        else:
            parts.append(
                f"{side}: confirmatory block after {found[-1].describe()}" if found else f"{side}: first block"
            )
    checked = "as an initial RFA on both sides" if ablation else "per side (confirmatory criteria where a block exists)"
    return [
        Warning(
            "sides-at-different-steps",
            f"the two sides are at different steps ({'; '.join(parts)}); checked {checked}. Consider requesting each "
            "side on its own.",
        )
    ]


def _outlook(outlook: Outlook, context: Context) -> dict[str, Any]:
    rate, basis = outlook.rate, outlook.basis
    for modifier in outlook.modifiers:
        for finding in context.facts.imaging_findings:
            at_level = any(finding.at_vertebra(level) is not False for level in context.request.levels)
            modality_ok = not modifier.modalities or set(finding.modalities) & set(modifier.modalities)
            if finding.finding == modifier.finding and finding.present and at_level and modality_ok:
                rate, basis = modifier.rate, f"{modifier.basis} ({finding.reference})"
                break
    return {
        "success_definition": outlook.success_definition,
        "expected_success_rate": rate,
        "basis": basis,
        "source": outlook.source,
    }


def _unique(evidence: tuple[Evidence, ...]) -> list[Evidence]:
    seen: dict[str, Evidence] = {}
    for item in evidence:
        seen.setdefault(item.reference, item)
    return list(seen.values())


def _unique_warnings(warnings: list[Warning]) -> list[Warning]:
    return list(dict.fromkeys(warnings))
