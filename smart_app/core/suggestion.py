"""The next step the record supports: which procedure, levels and side a clinician would most likely request now.

Read from the prior blocks, RFAs and their relief (issue 9, part 3). The web app pre-fills the checklist form with
it and shows it on the clinical summary; the JSON result carries it as the optional field `suggestion`.

How it reads the record (thresholds and counts come from the policy's own criteria, never from literals here):
- The site is the levels and region of the latest facet procedure; the sides are those the history treated there.
- Per side, the current work-up (blocks since the last RFA there, `core.episodes`) decides the step: no block →
  a first diagnostic medial branch block; fewer good blocks than RFA-01 needs → a confirmatory block; enough →
  an RFA, or a therapeutic injection when the record says RFA is not possible (TX-03's sources); a block below
  the relief threshold → no facet step (the facet joints are unlikely to be the source).
- After an RFA with no new work-up: lasting relief (RFAR-01) → a repeat RFA, unless it is as old as RFAR-03 says
  diagnostics must be repeated (then a first diagnostic block); an RFA that failed → no facet step.
- Sides at the same step are proposed together (bilateral); otherwise the side furthest along, and the reason
  says where the other side stands.
- No facet history: a pars defect on imaging (or a pars diagnosis) → a bilateral pars injection at that vertebra;
  an axial facet diagnosis → a first diagnostic medial branch block where imaging shows facet arthropathy (its
  joints and side), else at the diagnosis's recorded levels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from smart_app.core.episodes import prior_rfas, workup_blocks
from smart_app.core.facts import PatientFacts
from smart_app.core.fhir_json import add_months
from smart_app.core.model import CheckRequest, InvalidRequest, region_of_level, vertebra_index
from smart_app.core.operators_base import MET, NOT_MET
from smart_app.core.operators_treatments import lasting_relief
from smart_app.core.policy import Policy
from smart_app.core.procedures import SpineProcedure
from smart_app.core.sides import LEFT, RIGHT, sides_of, treated_side, where


@dataclass(frozen=True)
class Suggestion:
    """A proposal, never a verdict: the clinician can change every field."""

    step: str  # first-diagnostic | confirmatory | rfa-initial | rfa-repeat | therapeutic | pars
    procedure: str  # a contract procedure value (medial-branch-block, radiofrequency-ablation, …)
    intent: str | None  # diagnostic | therapeutic | None where the procedure has no intent choice
    region: str
    levels: tuple[str, ...]
    side: str  # left | right | bilateral
    reason: str  # in words, for the clinician ("two right L4-L5, L5-S1 blocks ≥ 80 %: RFA is next")
    evidence: tuple[str, ...] = field(default_factory=tuple)  # FHIR references the proposal rests on

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "procedure": self.procedure,
            "intent": self.intent,
            "region": self.region,
            "levels": list(self.levels),
            "side": self.side,
            "reason": self.reason,
            "evidence": list(self.evidence),
        }


_MBB = "medial-branch-block"
_RFA = "radiofrequency-ablation"
_FACET = "facet-injection"
_ORDER = ("first-diagnostic", "confirmatory", "therapeutic", "rfa-initial", "rfa-repeat")


@dataclass(frozen=True)
class _SideStep:
    side: str
    step: str | None  # None: the record argues against another facet procedure on this side
    text: str  # why, without the place
    evidence: tuple[str, ...]


def suggest_next_step(facts: PatientFacts, as_of: date, policy: Policy) -> Suggestion | None:
    """The next procedure the record supports, or None when the record gives no basis (no spine diagnosis, or a
    history that argues against another facet procedure). `policy` is the facet policy whose thresholds apply."""
    site = _latest_facet_site(facts)
    facet = _facet_suggestion(facts, as_of, policy, site) if site is not None else None
    # A pars defect is the next thing to treat when the facet history leads nowhere (e.g. a failed RFA).
    return facet or _pars_suggestion(facts) or (None if site else _first_block_from_diagnosis(facts))


def _latest_facet_site(facts: PatientFacts) -> SpineProcedure | None:
    facet = [p for p in facts.procedures if p.kind != "pars" and p.levels and p.region and p.time]
    return max(facet, key=lambda p: p.time.start if p.time else datetime.min) if facet else None


def _facet_suggestion(facts: PatientFacts, as_of: date, policy: Policy, site: SpineProcedure) -> Suggestion | None:
    try:
        request = CheckRequest.build(procedure=_MBB, intent="diagnostic", levels=site.levels, side="bilateral")
    except InvalidRequest:
        return None
    treated = {s for p in facts.procedures if p.kind != "pars" and p.overlaps(request.levels) for s in sides_of(p.side)}
    sides = [s for s in (RIGHT, LEFT) if s in treated] or [RIGHT, LEFT]
    steps = [_side_step(facts, as_of, policy, request, side) for side in sides]
    proposed = [s for s in steps if s.step is not None]
    if not proposed:
        return None
    furthest = max(proposed, key=lambda s: _ORDER.index(s.step or ""))
    together = [s for s in proposed if s.step == furthest.step]
    side = "bilateral" if len(together) == 2 else together[0].side
    others = [s for s in steps if s not in together]
    if len({s.text for s in together}) == 1:
        reasons = [f"{where(side, request.levels)}: {together[0].text}"]
    else:
        reasons = [f"{where(s.side, request.levels)}: {s.text}" for s in together]
    reasons += [f"{where(s.side, request.levels)}: {s.text}" for s in others]
    reason = "; ".join(reasons)
    if not treated:
        reason += "; earlier procedures do not record a side, so both sides are proposed: check the side"
    step = furthest.step or ""
    procedure, intent = {
        "first-diagnostic": (_MBB, "diagnostic"),
        "confirmatory": (_MBB, "diagnostic"),
        "therapeutic": (_FACET, "therapeutic"),
        "rfa-initial": (_RFA, None),
        "rfa-repeat": (_RFA, None),
    }[step]
    evidence = tuple(dict.fromkeys(ref for s in together for ref in s.evidence))
    return Suggestion(step, procedure, intent, request.region, request.levels, side, reason, evidence)


def _side_step(facts: PatientFacts, as_of: date, policy: Policy, request: CheckRequest, side: str) -> _SideStep:
    rfa_rule = _params(policy, "rfa-initial", "prior_blocks_relief")
    needed, minimum = int(rfa_rule.get("count", 0)), float(rfa_rule.get("min_relief", 0))
    blocks = [b for b in workup_blocks(facts, request, side=side) if treated_side(b.side, side)]
    good = [b for b in blocks if _immediate(b) is not None and (_immediate(b) or 0) >= minimum]
    failed = [b for b in blocks if _immediate(b) is not None and (_immediate(b) or 0) < minimum]
    refs = tuple(b.reference for b in blocks)
    if failed:
        reason = f"{failed[-1].describe()} gave less than {minimum:g} % relief, so no further facet step"
        return _SideStep(side, None, reason, refs)
    if blocks:
        if len(good) >= needed:
            step = "therapeutic" if _not_rfa_candidate(facts) else "rfa-initial"
            rfas = prior_rfas(facts, request, side)
            step = "rfa-repeat" if step == "rfa-initial" and rfas else step
            what = "a therapeutic injection (RFA not possible)" if step == "therapeutic" else "RFA is next"
            return _SideStep(side, step, f"{len(good)} blocks ≥ {minimum:g} %: {what}", refs)
        if good:
            reason = f"{len(good)} block ≥ {minimum:g} % of {needed} needed: a confirmatory block is next"
            return _SideStep(side, "confirmatory", reason, refs)
        reason = f"the relief of {blocks[-1].describe()} is not documented; document it, or block again"
        return _SideStep(side, "confirmatory", reason, refs)
    rfas = [r for r in prior_rfas(facts, request, side) if treated_side(r.side, side) is not False]
    if rfas:
        return _after_rfa(as_of, policy, side, rfas[-1])
    return _SideStep(side, "first-diagnostic", "no diagnostic block yet: a first block is next", ())


def _after_rfa(as_of: date, policy: Policy, side: str, last: SpineProcedure) -> _SideStep:
    repeat = _params(policy, "rfa-repeat", "prior_treatment_relief")
    years = int(_params(policy, "rfa-repeat", "rfa_recent").get("years", 0))
    threshold, months = float(repeat.get("min_relief", 0)), int(repeat.get("min_months", 0))
    outcome = lasting_relief(last, last.pain_relief, threshold, months)
    refs = (last.reference,)
    if outcome == NOT_MET:
        reason = f"{last.describe()} did not give {threshold:g} % relief for {months} months"
        return _SideStep(side, None, reason, refs)
    if years and last.time and add_months(last.time.day, 12 * years) <= as_of:
        reason = f"the last RFA ({last.describe()}) is {years}+ years old: repeat diagnostic blocks first"
        return _SideStep(side, "first-diagnostic", reason, refs)
    relief = "lasting relief" if outcome == MET else "relief not yet documented for the repeat criteria"
    return _SideStep(side, "rfa-repeat", f"{last.describe()} with {relief}: a repeat RFA", refs)


def _pars_suggestion(facts: PatientFacts) -> Suggestion | None:
    vertebrae = {v for f in facts.imaging_findings if f.finding == "pars-defect" and f.present for v in f.vertebrae}
    vertebrae |= {v for d in facts.diagnoses if d.category == "pars" and d.active for v in d.levels}
    refs = [f.reference for f in facts.imaging_findings if f.finding == "pars-defect" and f.present]
    refs += [r for d in facts.diagnoses if d.category == "pars" and d.active for r in d.references]
    lumbar = sorted((v for v in vertebrae if v.startswith("L")), key=vertebra_index)
    if not refs:
        return None
    reason = f"pars defect at {', '.join(lumbar)}" if lumbar else "pars defect (level not recorded: choose it)"
    return Suggestion(
        "pars",
        "pars-injection",
        None,
        "lumbar",
        tuple(lumbar),
        "bilateral",
        f"{reason}: a pars injection",
        tuple(dict.fromkeys(refs)),
    )


def _first_block_from_diagnosis(facts: PatientFacts) -> Suggestion | None:
    """An axial facet diagnosis and no facet procedure: a first block where imaging shows facet arthropathy (its
    joints and side), else at the diagnosis's levels."""
    axial = [d for d in facts.diagnoses if d.category == "axial" and d.active and d.confirmed and d.region]
    if not axial:
        return None
    chosen = next((d for d in axial if d.levels), axial[0])
    region = str(chosen.region)
    imaging = [
        f
        for f in facts.imaging_findings
        if f.finding == "facet-arthropathy" and f.present and f.joints and region_of_level(f.joints[0]) == region
    ]
    latest = max(imaging, key=lambda f: f.day or date.min) if imaging else None
    levels = tuple(latest.joints) if latest else tuple(level for level in chosen.levels if "-" in level)
    side = latest.side if latest and latest.side else "bilateral"
    shown = f" at {where(side, levels)}" if levels else " (levels not recorded: choose them)"
    basis = f"; imaging: {latest.describe()}" if latest else ""
    reason = f"{chosen.code} {chosen.display}, no facet procedure yet: a first diagnostic medial branch block{shown}"
    evidence = (*chosen.references[:1], *((latest.reference,) if latest else ()))
    return Suggestion("first-diagnostic", _MBB, "diagnostic", region, levels, side, reason + basis, evidence)


def _params(policy: Policy, pathway: str, operator: str) -> Mapping[str, Any]:
    """The parameters of the pathway's first criterion that uses the operator (e.g. RFA-01's count and relief)."""
    for rule in policy.criteria_for(pathway):
        if rule.rule.operator == operator:
            return rule.rule.params
    return {}


def _immediate(block: SpineProcedure) -> float | None:
    return block.pain_relief.immediate_percent if block.pain_relief else None


def _not_rfa_candidate(facts: PatientFacts) -> bool:
    """The record says why RFA is not possible (the sources TX-03 reads)."""
    diagnosed = any(d.category == "not-rfa-candidate" and d.active and d.confirmed for d in facts.diagnoses)
    return diagnosed or bool(facts.implanted_devices) or bool(facts.notes.get("not-rfa-candidate"))
