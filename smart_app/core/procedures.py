"""Prior spine procedures (facet blocks, RFA, pars injections) and spinal fusions, from Procedure resources.

Only `completed` Procedures count as history (fhir-conventions). Kind comes from the CPT code and, for the
medial-branch vs intra-articular question, from the words of the code text; a facet or pars procedure recorded
without a CPT code is recognised from its text. Intent: `Procedure.category` (SNOMED 103693007 diagnostic,
277132007 therapeutic), else the words "diagnostic"/"therapeutic", else a local anesthetic with no steroid makes a
block diagnostic (a steroid makes it therapeutic); RFA is always therapeutic; otherwise intent stays unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smart_app.core.fhir_json import (
    FhirTime,
    as_list,
    codings,
    concept_text,
    concepts_text,
    cpt_codes,
    first_time,
    has_code,
    status_code,
)
from smart_app.core.model import SYSTEM_SNOMED, regions_of_levels
from smart_app.core.scores import Relief
from smart_app.core.text_findings import compile_pattern, first_phrase, regions_named, side_of, spine_levels
from smart_app.core.vocabulary import (
    ALIF_CPT,
    ANESTHETIC_ONLY,
    CONDITION_TEXT_FLAGS,
    FACET_CONTEXT,
    FACET_INJECTION_CPT,
    FACET_RFA_CPT,
    FUSION_CPT,
    INTENT_PHRASES,
    PROCEDURE_KIND_PHRASES,
    RFA_TECHNIQUE_PHRASES,
    SNOMED_DIAGNOSTIC_PROCEDURE,
    SNOMED_SIDES,
    SNOMED_THERAPEUTIC_PROCEDURE,
    STEROID,
    ULTRASOUND_FACET_CPT,
    UNLISTED_NERVOUS_CPT,
)

BLOCK_KINDS = ("mbb", "intra-articular", "facet-injection")  # facet-injection: a block of unknown kind
_PROCEDURE_WORDS = r"inject|block|ablat|neurotomy|denervation|rhizotomy|lesioning|\bRFA\b"
_LUMBAR_CPT = frozenset({"64493", "64494", "64495", "64635", "64636", "0216T", "0217T", "0218T"})
_KIND_NAMES = {
    "mbb": "medial branch block",
    "intra-articular": "intra-articular facet injection",
    "facet-injection": "facet injection",
    "rfa": "radiofrequency ablation",
    "pars": "pars injection",
}


@dataclass(frozen=True)
class SpineProcedure:
    """One earlier facet or pars procedure, with the relief measured after it (None: no baseline score)."""

    reference: str
    kind: str  # mbb | intra-articular | facet-injection | rfa | pars
    intent: str | None  # diagnostic | therapeutic | None (unknown)
    levels: tuple[str, ...]  # facet joints (L4-L5) or, for pars, vertebrae (L5)
    region: str | None
    side: str | None
    time: FhirTime | None
    technique: str | None = None  # RFA only
    guidance: str | None = None
    codes: tuple[str, ...] = ()
    text: str = ""
    pain_relief: Relief | None = None
    function_relief: Relief | None = None

    @property
    def is_block(self) -> bool:
        return self.kind in BLOCK_KINDS

    @property
    def day_text(self) -> str:
        return self.time.iso_day if self.time else "undated"

    def describe(self) -> str:
        intent = f"{self.intent} " if self.intent else ""
        levels = ", ".join(self.levels) or "levels not recorded"
        side = f" {self.side}" if self.side else ""
        technique = f", {self.technique}" if self.technique and self.kind == "rfa" else ""
        return f"{intent}{_KIND_NAMES[self.kind]}{side} {levels}{technique} on {self.day_text}"

    def covers(self, levels: tuple[str, ...]) -> bool | None:
        """True when it was done at every one of `levels`; None when its own levels are not recorded."""
        if not self.levels:
            return None
        return set(levels) <= set(self.levels)

    def overlaps(self, levels: tuple[str, ...]) -> bool | None:
        if not self.levels:
            return None
        return bool(set(levels) & set(self.levels))


@dataclass(frozen=True)
class Fusion:
    reference: str
    description: str
    alif: bool
    levels: tuple[str, ...]
    day: str | None


def read_spine_procedure(resource: dict[str, Any], reference: str) -> SpineProcedure | None:
    """A facet/pars procedure from a completed Procedure; None for anything else."""
    if status_code(resource, "status") != "completed":
        return None
    code = resource.get("code")
    codes = tuple(cpt_codes(code))
    site_text = concepts_text(resource.get("bodySite"))
    text = " ; ".join(part for part in (concept_text(code), site_text) if part)
    kind = _kind(codes, text)
    if kind is None:
        return None
    joints, vertebrae = spine_levels(text)
    levels = vertebrae if kind == "pars" else joints
    regions = regions_of_levels(joints) if joints else ()
    region = regions[0] if regions else _region_from(codes, text, vertebrae)
    return SpineProcedure(
        reference=reference,
        kind=kind,
        intent=_intent(resource, kind, text),
        levels=levels,
        region=region,
        side=_side(resource.get("bodySite")) or side_of(text),
        time=first_time(resource, "performedDateTime", "performedPeriod"),
        technique=(first_phrase(text, RFA_TECHNIQUE_PHRASES) or "thermal") if kind == "rfa" else None,
        guidance="ultrasound" if set(codes) & ULTRASOUND_FACET_CPT else None,
        codes=codes,
        text=text[:200],
    )


def read_fusion(resource: dict[str, Any], reference: str) -> Fusion | None:
    if status_code(resource, "status") != "completed":
        return None
    code = resource.get("code")
    codes = set(cpt_codes(code))
    text = " ; ".join(part for part in (concept_text(code), concepts_text(resource.get("bodySite"))) if part)
    alif = bool(codes & ALIF_CPT) or bool(compile_pattern(CONDITION_TEXT_FLAGS["alif"]).search(text))
    known = next((FUSION_CPT[c] for c in sorted(codes) if c in FUSION_CPT), None)
    if not alif and known is None and not compile_pattern(r"\bspinal\s+fusion\b|\barthrodesis\b").search(text):
        return None
    time = first_time(resource, "performedDateTime", "performedPeriod")
    joints, _ = spine_levels(text)
    return Fusion(reference, known or text[:120], alif, joints, time.iso_day if time else None)


def _kind(codes: tuple[str, ...], text: str) -> str | None:
    code_set = set(codes)
    phrase = first_phrase(text, PROCEDURE_KIND_PHRASES)
    if code_set & FACET_RFA_CPT:
        return "rfa"
    if code_set & (FACET_INJECTION_CPT | ULTRASOUND_FACET_CPT):
        if phrase == "pars":
            return "pars"
        return phrase if phrase in ("mbb", "intra-articular") else "facet-injection"
    if code_set & UNLISTED_NERVOUS_CPT:
        return "pars" if phrase == "pars" else None
    if code_set or phrase is None or not compile_pattern(_PROCEDURE_WORDS).search(text):
        return None  # another CPT procedure, or no words that name one of ours
    if phrase == "pars":
        return "pars"
    if not compile_pattern(FACET_CONTEXT).search(text):
        return None
    return phrase


def _intent(resource: dict[str, Any], kind: str, text: str) -> str | None:
    if kind == "rfa":
        return "therapeutic"
    categories = as_list(resource.get("category"))
    if has_code(categories, SYSTEM_SNOMED, frozenset({SNOMED_DIAGNOSTIC_PROCEDURE})):
        return "diagnostic"
    if has_code(categories, SYSTEM_SNOMED, frozenset({SNOMED_THERAPEUTIC_PROCEDURE})):
        return "therapeutic"
    words = " ".join([text, concepts_text(categories)])
    phrase = first_phrase(words, INTENT_PHRASES)
    if phrase:
        return phrase
    used = " ".join([words, concepts_text(resource.get("usedCode"))])
    if compile_pattern(STEROID).search(used):
        return "therapeutic"
    if compile_pattern(ANESTHETIC_ONLY).search(used):
        return "diagnostic"
    return None


def _side(body_sites: Any) -> str | None:
    sides = {SNOMED_SIDES[c.code] for site in as_list(body_sites) for c in codings(site) if c.code in SNOMED_SIDES}
    if "bilateral" in sides or {"left", "right"} <= sides:
        return "bilateral"
    return sides.pop() if len(sides) == 1 else None


def _region_from(codes: tuple[str, ...], text: str, vertebrae: tuple[str, ...]) -> str | None:
    if vertebrae:
        return {"C": "cervical", "T": "thoracic"}.get(vertebrae[0][0], "lumbar")
    named = regions_named(text)
    if named:
        return named[0]
    return "lumbar" if set(codes) & _LUMBAR_CPT else None
