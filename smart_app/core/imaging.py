"""Imaging findings from DiagnosticReports: conclusion codes, conclusion text and inline report text.

A DiagnosticReport is read as imaging when its category says radiology/imaging (LOINC LP29684-5 or the words),
when it links an ImagingStudy, or when its title names a modality. Other reports (labs, pathology) are never read
for findings, so "urine culture: infection" cannot become a spinal infection. Modality comes from the linked
ImagingStudy, else from the report's words. Reports `entered-in-error` or `cancelled` do not count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from smart_app.core.fhir_json import (
    as_list,
    as_str,
    attachment_text,
    codings,
    concept_text,
    concepts_text,
    first_time,
    iter_dicts,
    reference_target,
    status_code,
)
from smart_app.core.model import SYSTEM_SNOMED
from smart_app.core.text_findings import Mention, find_findings, regions_named
from smart_app.core.vocabulary import IMAGING_FINDINGS

_IGNORED_STATUS = frozenset({"entered-in-error", "cancelled"})
_IMAGING_CATEGORY = re.compile(r"radiolog|imaging|\bRAD\b|LP29684-5", re.IGNORECASE)
_MODALITY_WORDS = (
    ("MR", re.compile(r"\bMRI?\b|magnetic\s+resonance|\bSTIR\b", re.IGNORECASE)),
    ("CT", re.compile(r"\bCT\b|computed\s+tomograph", re.IGNORECASE)),
    ("DX", re.compile(r"\bX-?\s*rays?\b|radiograph\w*|\bXR\b|flexion|extension\s+views", re.IGNORECASE)),
)


@dataclass(frozen=True)
class ImagingFinding:
    finding: str  # see vocabulary.IMAGING_FINDINGS
    present: bool  # False: the report says it is absent ("no spondylolisthesis")
    joints: tuple[str, ...]
    vertebrae: tuple[str, ...]
    side: str | None
    regions: tuple[str, ...]  # from the finding's levels, else the report's title; () = not said
    day: date | None
    modalities: tuple[str, ...]
    reference: str
    snippet: str
    grade: int | None = None

    def at_vertebra(self, vertebra: str) -> bool | None:
        """True/False when the finding names its vertebrae (facet joints count by their upper vertebra)."""
        named = set(self.vertebrae) | {joint.split("-")[0] for joint in self.joints}
        return (vertebra in named) if named else None

    def describe(self) -> str:
        when = f" ({self.day.isoformat()})" if self.day else ""
        return f"{'/'.join(self.modalities) or 'imaging'}{when}: {self.snippet}"


@dataclass(frozen=True)
class ImagingReport:
    reference: str
    day: date | None
    modalities: tuple[str, ...]
    title: str


def read_imaging_report(
    resource: dict[str, Any], reference: str, studies: dict[str, dict[str, Any]]
) -> tuple[ImagingReport, list[ImagingFinding]] | None:
    """The report and its findings; None when the resource is not an imaging report that counts."""
    if status_code(resource, "status") in _IGNORED_STATUS:
        return None
    title = concept_text(resource.get("code"))
    linked = [studies.get(reference_target(item), {}) for item in iter_dicts(resource.get("imagingStudy"))]
    is_imaging = bool(linked) or bool(_IMAGING_CATEGORY.search(concepts_text(resource.get("category"))))
    if not is_imaging and not any(pattern.search(title) for _, pattern in _MODALITY_WORDS):
        return None
    study_text = " ; ".join(as_str(study.get("description")) for study in linked)
    modalities = _modalities(linked, " ; ".join([title, study_text]))
    time = first_time(resource, "effectiveDateTime", "effectivePeriod", "issued")
    day = time.day if time else None
    report = ImagingReport(reference, day, modalities, title or study_text)
    report_regions = regions_named(" ; ".join([title, study_text]))
    text = " \n".join(
        part
        for part in [as_str(resource.get("conclusion"))]
        + [attachment_text(form) for form in as_list(resource.get("presentedForm"))]
        if part
    )
    findings = [_finding(m, report_regions, day, modalities, reference) for m in find_findings(text, IMAGING_FINDINGS)]
    for rule in IMAGING_FINDINGS:
        coded = [c for c in _conclusion_codings(resource) if c in rule.snomed]
        if coded:
            findings.append(
                ImagingFinding(
                    rule.finding, True, (), (), None, report_regions, day, modalities, reference, f"coded {coded[0]}"
                )
            )
    return report, findings


def _finding(
    mention: Mention, report_regions: tuple[str, ...], day: date | None, modalities: tuple[str, ...], reference: str
) -> ImagingFinding:
    named = {_region_of(name) for name in (*mention.joints, *mention.vertebrae)}
    regions = tuple(sorted(named)) if named else report_regions
    return ImagingFinding(
        finding=mention.name,
        present=not mention.negated,
        joints=mention.joints,
        vertebrae=mention.vertebrae,
        side=mention.side,
        regions=regions,
        day=day,
        modalities=modalities,
        reference=reference,
        snippet=mention.snippet,
        grade=mention.grade,
    )


def _region_of(level: str) -> str:
    return {"C": "cervical", "T": "thoracic"}.get(level[0], "lumbar")


def _conclusion_codings(resource: dict[str, Any]) -> list[str]:
    concepts = as_list(resource.get("conclusionCode"))
    return [c.code for concept in concepts for c in codings(concept) if c.system == SYSTEM_SNOMED]


def _modalities(studies: list[dict[str, Any]], text: str) -> tuple[str, ...]:
    found: list[str] = []
    for study in studies:
        for coding in (c for item in as_list(study.get("modality")) for c in codings(item)):
            code = coding.code.upper()
            code = "DX" if code in ("CR", "DR", "RG") else code
            if code and code not in found:
                found.append(code)
    if not found:
        found = [name for name, pattern in _MODALITY_WORDS if pattern.search(text)]
    return tuple(found)
