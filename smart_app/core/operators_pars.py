"""Operators for the pars checklist: the acute-defect check, a defect on imaging at the requested vertebra, and
the age advisory (see `core.operators` for the rules every operator keeps)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smart_app.core.imaging import ImagingFinding
from smart_app.core.model import CheckRequest, Evidence
from smart_app.core.operators_base import MET, NOT_MET, UNKNOWN, Context, Outcome, register

# --- pars ----------------------------------------------------------------------------------------------------


@register(
    "a patient under the age limit must not have a defect that looks acute (healing potential: bracing first)",
    max_age="from this age on the check does not apply",
    acute_findings="imaging findings that make a defect look acute",
    assess_modalities="imaging that can show them (MR)",
)
def no_acute_pars_defect(context: Context, params: Mapping[str, Any]) -> Outcome:
    age = context.facts.age_on(context.as_of)
    if age is None:
        return Outcome(UNKNOWN, "no birth date in the record")
    if age >= int(params["max_age"]):
        return Outcome(MET, f"age {age}: the acute-defect check applies under {params['max_age']}")
    acute = [
        f
        for f in context.facts.imaging_findings
        if f.finding in params["acute_findings"] and f.present and _at_any_level(f, context.request) is not False
    ]
    if acute:
        evidence = tuple(Evidence(f.reference, f.describe()) for f in acute)
        return Outcome(
            NOT_MET, f"age {age} with an acute-looking defect ({acute[0].describe()}): bracing first", evidence
        )
    reports = [r for r in context.facts.imaging_reports if set(r.modalities) & set(params["assess_modalities"])]
    if reports:
        last = reports[-1]
        return Outcome(
            MET,
            f"age {age}; {'/'.join(last.modalities)} on {last.day}: no acute-looking defect",
            (Evidence(last.reference, last.title),),
        )
    return Outcome(UNKNOWN, f"age {age}: no MRI in the record to judge whether the defect is acute")


@register(
    "imaging shows the finding at every requested vertebra (a Condition of the categories may supply the level)",
    finding="imaging finding (pars-defect)",
    level_from_categories="optional: diagnosis categories whose recorded level places an unlevelled finding",
)
def imaging_shows(context: Context, params: Mapping[str, Any]) -> Outcome:
    findings = [f for f in context.facts.imaging_findings if f.finding == params["finding"]]
    dx_levels = {
        level
        for d in context.facts.diagnoses
        if d.category in params.get("level_from_categories", ()) and d.active
        for level in d.levels
    }
    shown, evidence = [], []
    for level in context.request.levels:
        hits = [f for f in findings if f.present and (f.at_vertebra(level) or _placed(f, level, dx_levels))]
        if hits:
            shown.append(level)
            evidence += [Evidence(f.reference, f.describe()) for f in hits]
    if len(shown) == len(context.request.levels):
        return Outcome(MET, f"{params['finding']} at {', '.join(shown)}: {evidence[0].summary}", tuple(evidence))
    denied = [f for f in findings if not f.present and f.at_vertebra(context.request.levels[0]) is not False]
    if denied and not evidence:
        return Outcome(
            NOT_MET,
            f"imaging reports no {params['finding']}: {denied[0].describe()}",
            (Evidence(denied[0].reference, denied[0].describe()),),
        )
    others = sorted({v for f in findings if f.present for v in f.vertebrae} - set(shown))
    elsewhere = f" (reported at {', '.join(others)})" if others else ""
    return Outcome(
        UNKNOWN,
        f"no imaging of a {params['finding']} at {', '.join(context.request.levels)}{elsewhere}",
        tuple(evidence),
    )


@register("advisory: the patient is at most N years old", max_age="age limit in years")
def age_at_most(context: Context, params: Mapping[str, Any]) -> Outcome:
    age = context.facts.age_on(context.as_of)
    if age is None:
        return Outcome(UNKNOWN, "no birth date in the record")
    return Outcome(MET if age <= int(params["max_age"]) else NOT_MET, f"age {age}")


def _placed(finding: ImagingFinding, level: str, diagnosed_levels: set[str]) -> bool:
    """A finding that names no vertebra is placed at `level` when a diagnosis records that level."""
    return finding.at_vertebra(level) is None and level in diagnosed_levels


def _at_any_level(finding: ImagingFinding, request: CheckRequest) -> bool | None:
    answers = [finding.at_vertebra(level) for level in request.levels]
    if any(answers):
        return True
    return None if any(answer is None for answer in answers) else False
