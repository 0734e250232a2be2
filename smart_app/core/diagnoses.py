"""Condition → `Diagnosis`: the code, what it means for these rules (category), region, levels, status, onset.

Statuses (fhir-conventions "General rules"): `refuted` / `entered-in-error` Conditions are not read at all;
`inactive` / `resolved` / `remission` (or an abatement) make a diagnosis inactive; a provisional, differential or
unconfirmed one is kept with `confirmed=False`, so it can raise doubt about an exclusion but never prove a
requirement. Onset: `onsetDateTime`, `onsetPeriod.start`, `onsetAge` (with the birth date), else `recordedDate`;
partial dates count as the earliest day they allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from smart_app.core.fhir_json import (
    ICD10_SYSTEMS,
    add_months,
    as_dict,
    as_number,
    as_str,
    codings,
    concept_text,
    concepts_text,
    first_time,
    normalise_icd10,
    notes_text,
    status_code,
)
from smart_app.core.model import SYSTEM_ICD10, SYSTEM_SNOMED, Diagnosis, regions_of_levels
from smart_app.core.text_findings import compile_pattern, regions_named, spine_levels
from smart_app.core.vocabulary import (
    CONDITION_TEXT_FLAGS,
    ICD10_CATEGORIES,
    ICD10_FIXED_REGIONS,
    ICD10_SITE_DIGIT,
    SITE_DIGIT_REGIONS,
    SNOMED_DIAGNOSES,
)

_IGNORED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
_UNCONFIRMED = frozenset({"provisional", "differential", "unconfirmed"})
_INACTIVE = frozenset({"inactive", "resolved", "remission"})


@dataclass(frozen=True)
class ConditionFacts:
    """What one Condition contributes: its diagnoses and the text flags it raises (synovial cyst, ALIF)."""

    diagnoses: list[Diagnosis]
    flags: dict[str, str]  # flag → the text that raised it


def read_condition(resource: dict[str, Any], reference: str, birth_date: date | None) -> ConditionFacts | None:
    """None when the Condition does not count (refuted, entered in error)."""
    verification = status_code(resource, "verificationStatus")
    if verification in _IGNORED_VERIFICATION:
        return None
    clinical = status_code(resource, "clinicalStatus")
    abated = any(key.startswith("abatement") for key in resource)
    active = clinical not in _INACTIVE and not (abated and not clinical)
    onset = _onset(resource, birth_date)
    code = resource.get("code")
    site_text = concepts_text(resource.get("bodySite"))
    text = " ; ".join(part for part in (concept_text(code), site_text, notes_text(resource)) if part)
    joints, vertebrae = spine_levels(site_text or concept_text(code))
    text_regions: tuple[str, ...] = regions_of_levels(joints) if joints else ()
    if not text_regions and vertebrae:
        text_regions = tuple(dict.fromkeys(_vertebra_region(v) for v in vertebrae))
    diagnoses = []
    for system, raw_code, display in _codes(code):
        category, regions = _classify(system, raw_code)
        regions = regions or text_regions or regions_named(site_text)
        levels = vertebrae if category == "pars" else joints
        diagnoses.append(
            Diagnosis(
                code=raw_code,
                system=system,
                display=display,
                category=category,
                region=regions[0] if regions else None,
                regions=regions,
                levels=levels,
                active=active,
                onset=onset.isoformat() if onset else None,
                references=(reference,),
                confirmed=verification not in _UNCONFIRMED,
            )
        )
    flags = {}
    for flag, pattern in CONDITION_TEXT_FLAGS.items():
        lasting = flag == "alif"  # a fusion stays done even when its Condition is marked resolved
        if (active or lasting) and compile_pattern(pattern).search(text):
            flags[flag] = text[:160]
    return ConditionFacts(diagnoses, flags)


def _codes(concept: Any) -> list[tuple[str, str, str]]:
    """(system, normalised code, display) of every ICD-10-CM and SNOMED CT coding."""
    found: list[tuple[str, str, str]] = []
    for coding in codings(concept):
        if coding.code and coding.system in ICD10_SYSTEMS:
            found.append((SYSTEM_ICD10, normalise_icd10(coding.code), coding.display))
        elif coding.code and coding.system == SYSTEM_SNOMED:
            found.append((SYSTEM_SNOMED, coding.code, coding.display))
    return found


def _classify(system: str, code: str) -> tuple[str, tuple[str, ...]]:
    if system == SYSTEM_SNOMED:
        category, regions = SNOMED_DIAGNOSES.get(code, ("other", ()))
        return category, regions
    category = next((cat for prefix, cat in ICD10_CATEGORIES if code.startswith(prefix)), "other")
    return category, icd10_regions(code)


def icd10_regions(code: str) -> tuple[str, ...]:
    """Regions an ICD-10-CM code names, from its fixed meaning or its site digit; () when it does not say."""
    for prefix, regions in ICD10_FIXED_REGIONS:
        if code.startswith(prefix):
            return regions
    compact = code.replace(".", "")
    for prefix, index in ICD10_SITE_DIGIT:
        if code.startswith(prefix) and len(compact) > index:
            return SITE_DIGIT_REGIONS.get(compact[index], ())
    return ()


def _vertebra_region(name: str) -> str:
    return {"C": "cervical", "T": "thoracic"}.get(name[0], "lumbar")


def _onset(resource: dict[str, Any], birth_date: date | None) -> date | None:
    found = first_time(resource, "onsetDateTime", "onsetPeriod")
    if found is not None:
        return found.day
    years = as_number(as_dict(resource.get("onsetAge")).get("value"))
    unit = as_str(as_dict(resource.get("onsetAge")).get("code")) or "a"
    if birth_date is not None and years is not None and 0 <= years < 150:
        months = int(years * 12) if unit in ("a", "yr", "year", "years") else int(years) if unit == "mo" else None
        if months is not None:
            return add_months(birth_date, months)
    recorded = first_time(resource, "recordedDate")
    return recorded.day if recorded else None
