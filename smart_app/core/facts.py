"""Raw FHIR JSON of one patient → `PatientFacts`: everything the checklist and the coder read, with references.

Pure and tolerant: any resource may be missing fields, carry wrong types, partial dates or unknown codes; such
parts are skipped, never fatal. Items dated after `as_of` are left out (the check looks at the record as it stood
on the planned date of service). What each resource type contributes is documented in its module:
`diagnoses` (Condition), `scores` (Observation, relief), `procedures` (spine procedures, fusions), `care`
(therapy, analgesics), `imaging` (DiagnosticReport findings); devices, notes and Coverage are read here.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from smart_app.core.care import CareEvent, read_analgesic, read_therapy
from smart_app.core.diagnoses import read_condition
from smart_app.core.fhir_json import (
    as_dict,
    as_list,
    as_number,
    as_str,
    attachment_text,
    concept_text,
    iter_dicts,
    notes_text,
    parse_fhir_time,
    reference_target,
    status_code,
)
from smart_app.core.imaging import ImagingFinding, ImagingReport, read_imaging_report
from smart_app.core.model import Diagnosis, Evidence, Warning
from smart_app.core.procedures import Fusion, SpineProcedure, read_fusion, read_spine_procedure
from smart_app.core.scores import (
    IMMEDIATE_WINDOW,
    Score,
    ScoreFlag,
    compute_relief,
    procedure_start,
    read_score,
)
from smart_app.core.text_findings import affirmed, compile_pattern
from smart_app.core.vocabulary import EXTERNAL_DEVICE, IMPLANTED_ELECTRICAL_DEVICE, NOTE_TOPICS

_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_TYPE_RE = re.compile(r"^[A-Z][A-Za-z]+$")
_INACTIVE_DEVICE = frozenset({"inactive", "entered-in-error"})
_IGNORED_DOCUMENT = frozenset({"entered-in-error", "superseded-by-error"})


@dataclass(frozen=True)
class CoverageFact:
    reference: str
    names: tuple[str, ...]  # payor displays / organisation names, plan and class names
    active: bool
    order: int | None


@dataclass(frozen=True)
class PatientFacts:
    """What the record says, each fact with the references that prove it."""

    patient_reference: str | None
    patient_display: str = ""
    birth_date: date | None = None
    diagnoses: list[Diagnosis] = field(default_factory=list)
    pain_scores: list[Score] = field(default_factory=list)
    disability_scores: list[Score] = field(default_factory=list)
    post_procedure_scores: frozenset[str] = frozenset()  # scores that measure a procedure's effect
    conservative_care: list[CareEvent] = field(default_factory=list)
    imaging_reports: list[ImagingReport] = field(default_factory=list)
    imaging_findings: list[ImagingFinding] = field(default_factory=list)
    procedures: list[SpineProcedure] = field(default_factory=list)
    fusions: list[Fusion] = field(default_factory=list)
    implanted_devices: list[Evidence] = field(default_factory=list)
    notes: dict[str, list[Evidence]] = field(default_factory=dict)  # topic (vocabulary.NOTE_TOPICS) → evidence
    condition_flags: dict[str, list[Evidence]] = field(default_factory=dict)  # synovial-cyst, alif
    coverages: list[CoverageFact] = field(default_factory=list)
    read_counts: dict[str, int] = field(default_factory=dict)  # resources read, by type
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - int(before_birthday)

    def scores(self, kind: str) -> list[Score]:
        return self.pain_scores if kind == "pain" else self.disability_scores


def extract_facts(resources: list[dict[str, Any]], *, patient_id: str | None, as_of: date) -> PatientFacts:
    """Read every resource of the record once; never raises on odd content."""
    index = _Index(resources if isinstance(resources, list) else [], patient_id)
    patient = index.patient
    birth = parse_fhir_time(patient.get("birthDate")) if patient else None
    birth_date = birth.day if birth else None
    collector = _Collector(as_of, birth_date, index)
    for resource_type, reference, resource in index.entries:
        collector.read(resource_type, reference, resource)
    procedures, starts = _with_relief(collector.procedures, collector.pain, collector.disability)
    return PatientFacts(
        patient_reference=index.patient_reference,
        patient_display=_display_name(patient),
        birth_date=birth_date,
        diagnoses=collector.diagnoses,
        pain_scores=collector.pain,
        disability_scores=collector.disability,
        post_procedure_scores=_post_procedure_scores(starts, collector.pain + collector.disability),
        conservative_care=sorted(collector.care, key=lambda event: event.start),
        imaging_reports=collector.reports,
        imaging_findings=collector.findings,
        procedures=procedures,
        fusions=collector.fusions,
        implanted_devices=collector.devices,
        notes=collector.notes,
        condition_flags=collector.flags,
        coverages=collector.coverages,
        read_counts=dict(index.counts),
        skipped=index.skipped,
        warnings=collector.warnings,
    )


class _Index:
    """Resources by type with their references; the lookups later passes need (studies, medications, orgs)."""

    def __init__(self, resources: list[Any], patient_id: str | None) -> None:
        self.entries: list[tuple[str, str, dict[str, Any]]] = []
        self.by_reference: dict[str, dict[str, Any]] = {}
        self.counts: Counter[str] = Counter()
        self.skipped: list[dict[str, str]] = []
        self.patient: dict[str, Any] = {}
        self.patient_reference: str | None = None
        for position, resource in enumerate(resources):
            if not isinstance(resource, dict) or not _TYPE_RE.match(as_str(resource.get("resourceType"))):
                self.skipped.append({"reference": f"record item {position}", "reason": "not a FHIR resource"})
                continue
            resource_type = as_str(resource.get("resourceType"))
            resource_id = as_str(resource.get("id"))
            reference = (
                f"{resource_type}/{resource_id}" if _ID_RE.match(resource_id) else f"{resource_type}/item-{position}"
            )
            self.entries.append((resource_type, reference, resource))
            self.by_reference[reference] = resource
            self.counts[resource_type] += 1
            if resource_type == "Patient" and not self.patient and (patient_id in (None, resource_id)):
                self.patient, self.patient_reference = resource, reference
        if self.patient_reference is None and patient_id:
            self.patient_reference = f"Patient/{patient_id}"

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {ref: res for kind, ref, res in self.entries if kind == resource_type}


class _Collector:
    """One pass over the record, dispatching each resource to the reader of its type."""

    def __init__(self, as_of: date, birth_date: date | None, index: _Index) -> None:
        self.as_of = as_of
        self.birth_date = birth_date
        self.studies = index.of_type("ImagingStudy")
        self.medications = index.of_type("Medication")
        self.organizations = index.of_type("Organization")
        self.diagnoses: list[Diagnosis] = []
        self.pain: list[Score] = []
        self.disability: list[Score] = []
        self.care: list[CareEvent] = []
        self.reports: list[ImagingReport] = []
        self.findings: list[ImagingFinding] = []
        self.procedures: list[SpineProcedure] = []
        self.fusions: list[Fusion] = []
        self.devices: list[Evidence] = []
        self.notes: dict[str, list[Evidence]] = {}
        self.flags: dict[str, list[Evidence]] = {}
        self.coverages: list[CoverageFact] = []
        self.warnings: list[Warning] = []

    def read(self, resource_type: str, reference: str, resource: dict[str, Any]) -> None:
        readers = {
            "Condition": self._read_condition,
            "Observation": self._read_observation,
            "Procedure": self._read_procedure,
            "MedicationRequest": self._read_medication,
            "MedicationStatement": self._read_medication,
            "DiagnosticReport": self._read_diagnostic_report,
            "Device": self._read_device,
            "DocumentReference": self._read_document,
            "Coverage": self._read_coverage,
        }
        reader = readers.get(resource_type)
        if reader is not None:
            reader(reference, resource)

    def _future(self, day: date | None) -> bool:
        return day is not None and day > self.as_of

    def _read_condition(self, reference: str, resource: dict[str, Any]) -> None:
        found = read_condition(resource, reference, self.birth_date)
        if found is None:
            return
        for diagnosis in found.diagnoses:
            if not self._future(date.fromisoformat(diagnosis.onset) if diagnosis.onset else None):
                self.diagnoses.append(diagnosis)
                if diagnosis.code.startswith("M41") and diagnosis.active:
                    self.warnings.append(
                        Warning(
                            "deformity-check",
                            f"{reference}: scoliosis ({diagnosis.code}) on the problem list; a significant deformity "
                            "is non-facet pathology (GEN-05) and must be judged by the clinician",
                            "policy-rules C.2.b (M41)",
                        )
                    )
        for flag, text in found.flags.items():
            self.flags.setdefault(flag, []).append(Evidence(reference, text))
        self._read_notes(reference, notes_text(resource))

    def _read_observation(self, reference: str, resource: dict[str, Any]) -> None:
        score = read_score(resource, reference)
        if isinstance(score, ScoreFlag):
            self.warnings.append(Warning("score-not-usable", f"{score.reference}: {score.reason}", "fhir-conventions"))
        elif score is not None and not self._future(score.time.day):
            (self.pain if score.kind == "pain" else self.disability).append(score)

    def _read_procedure(self, reference: str, resource: dict[str, Any]) -> None:
        spine = read_spine_procedure(resource, reference)
        if spine is not None:
            if not self._future(spine.time.day if spine.time else None):
                self.procedures.append(spine)
            return
        fusion = read_fusion(resource, reference)
        if fusion is not None:
            if not self._future(date.fromisoformat(fusion.day) if fusion.day else None):
                self.fusions.append(fusion)
            return
        therapy = read_therapy(resource, reference)
        if therapy is not None and not self._future(therapy.start):
            self.care.append(therapy)
        self._read_notes(reference, notes_text(resource))

    def _read_medication(self, reference: str, resource: dict[str, Any]) -> None:
        event = read_analgesic(resource, reference, self.medications)
        if event is not None and not self._future(event.start):
            self.care.append(replace(event, end=self.as_of) if event.ongoing else event)

    def _read_diagnostic_report(self, reference: str, resource: dict[str, Any]) -> None:
        found = read_imaging_report(resource, reference, self.studies)
        if found is None:
            return
        report, findings = found
        if not self._future(report.day):
            self.reports.append(report)
            self.findings.extend(findings)

    def _read_device(self, reference: str, resource: dict[str, Any]) -> None:
        if status_code(resource, "status") in _INACTIVE_DEVICE:
            return
        names = [concept_text(resource.get("type"))]
        names += [as_str(item.get("name")) for item in iter_dicts(resource.get("deviceName"))]
        text = " ; ".join(name for name in names if name)
        if compile_pattern(IMPLANTED_ELECTRICAL_DEVICE).search(text) and not compile_pattern(EXTERNAL_DEVICE).search(
            text
        ):
            self.devices.append(Evidence(reference, f"implanted device: {text[:120]}"))

    def _read_document(self, reference: str, resource: dict[str, Any]) -> None:
        if status_code(resource, "status") in _IGNORED_DOCUMENT or status_code(resource, "docStatus") in (
            _IGNORED_DOCUMENT
        ):
            return
        time = parse_fhir_time(resource.get("date"))
        if self._future(time.day if time else None):
            return
        texts = [as_str(resource.get("description"))]
        texts += [attachment_text(as_dict(content).get("attachment")) for content in as_list(resource.get("content"))]
        self._read_notes(reference, "\n".join(text for text in texts if text))

    def _read_coverage(self, reference: str, resource: dict[str, Any]) -> None:
        names: list[str] = []
        for payor in iter_dicts(resource.get("payor")):
            names.append(as_str(payor.get("display")))
            organization = self.organizations.get(reference_target(payor), {})
            names.append(as_str(organization.get("name")))
        for item in iter_dicts(resource.get("class")):
            names += [as_str(item.get("name")), as_str(item.get("value"))]
        names.append(concept_text(resource.get("type")))
        order = as_number(resource.get("order"))
        status = status_code(resource, "status")
        self.coverages.append(
            CoverageFact(
                reference,
                tuple(name for name in names if name),
                status in ("", "active"),
                int(order) if order is not None else None,
            )
        )

    def _read_notes(self, reference: str, text: str) -> None:
        if not text:
            return
        for topic, phrases in NOTE_TOPICS.items():
            snippets = affirmed(text, phrases)
            if snippets:
                self.notes.setdefault(topic, []).append(Evidence(reference, snippets[0][:160]))


def _with_relief(
    procedures: list[SpineProcedure], pain: list[Score], disability: list[Score]
) -> tuple[list[SpineProcedure], dict[str, datetime]]:
    """Each dated procedure with its pain and function relief (the series ends at the next procedure at the same
    site), and when each one started for the score windows."""
    pain.sort(key=lambda score: score.start)
    disability.sort(key=lambda score: score.start)
    starts = {p.reference: procedure_start(p.time, p.reference, pain) for p in procedures if p.time}
    dated = sorted((p for p in procedures if p.time), key=lambda p: starts[p.reference])
    result = [p for p in procedures if not p.time]
    for position, procedure in enumerate(dated):
        start = starts[procedure.reference]
        later = (other for other in dated[position + 1 :] if _same_site(procedure, other))
        next_start = next((starts[other.reference] for other in later if starts[other.reference] > start), None)
        result.append(
            replace(
                procedure,
                pain_relief=compute_relief(procedure.reference, start, pain, next_start),
                function_relief=compute_relief(procedure.reference, start, disability, next_start),
            )
        )
    return result, starts


def _same_site(first: SpineProcedure, second: SpineProcedure) -> bool:
    if first.region and second.region and first.region != second.region:
        return False
    overlap = first.overlaps(second.levels)
    return overlap is None or overlap


def _post_procedure_scores(starts: dict[str, datetime], scores: list[Score]) -> frozenset[str]:
    """Scores that measure a procedure's effect: `partOf` it after its start, or in the 12 h after any start.
    Later follow-up scores are the patient's pain as it is, and stay usable as a current baseline."""
    post = set()
    for score in scores:
        for reference, start in starts.items():
            if start < score.start and (reference in score.part_of or score.start <= start + IMMEDIATE_WINDOW):
                post.add(score.reference)
                break
    return frozenset(post)


def _display_name(patient: dict[str, Any]) -> str:
    for name in iter_dicts(patient.get("name")):
        text = as_str(name.get("text"))
        if text:
            return text
        given = " ".join(as_str(part) for part in as_list(name.get("given")) if as_str(part))
        family = as_str(name.get("family"))
        if given or family:
            return f"{given} {family}".strip()
    return ""
