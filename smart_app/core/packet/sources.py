"""The source documents of the packet, read from the record: imaging report text, procedure notes with the score
table of each block, physical therapy and medication history, and what DocumentReferences attach (text or PDF).

Every piece of evidence a criterion cites gets an anchor here, so the PDF can print the page it sits on; a cited
resource that is none of the above (a diagnosis, a score) is listed as a record extract, described in words.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from smart_app.core.care import CareEvent
from smart_app.core.documents import CANONICAL_BASE
from smart_app.core.facts import PatientFacts
from smart_app.core.fhir_json import (
    as_dict,
    as_list,
    as_str,
    attachment_text,
    concept_text,
    first_time,
    notes_text,
)
from smart_app.core.procedures import SpineProcedure
from smart_app.core.vocabulary import ANESTHETIC_ONLY, STEROID

MAX_ATTACHMENT_BYTES = 5_000_000
_AGENT = re.compile(rf"{ANESTHETIC_ONLY}|{STEROID}", re.IGNORECASE)
_TYPE_WORDS = {
    "Condition": "Diagnosis",
    "Observation": "Score",
    "Procedure": "Procedure",
    "DiagnosticReport": "Imaging report",
    "MedicationRequest": "Medication",
    "MedicationStatement": "Medication",
    "DocumentReference": "Clinical document",
    "ImagingStudy": "Imaging study",
    "Coverage": "Coverage",
    "Device": "Device",
    "Encounter": "Visit",
}
KIND_WORDS = {
    "mbb": "medial branch block",
    "intra-articular": "intra-articular facet injection",
    "facet-injection": "facet injection",
    "rfa": "radiofrequency ablation",
    "pars": "pars interarticularis injection",
}


def anchor_for(reference: str) -> str:
    return "src-" + hashlib.sha1(reference.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class ImagingSource:
    reference: str
    day: str
    title: str
    text: str
    author: str

    @property
    def anchor(self) -> str:
        return anchor_for(self.reference)


@dataclass(frozen=True)
class ScoreRow:
    when: str
    scale: str
    value: str
    relief: str  # "" for the baseline


@dataclass(frozen=True)
class ProcedureSource:
    """One prior spine procedure: what, where, which side, agent, and its pain/function scores on one scale."""

    reference: str
    day: str
    title: str
    kind: str
    intent: str
    levels: tuple[str, ...]
    side: str
    agent: str
    note: str
    scores: tuple[ScoreRow, ...]
    immediate_relief: str
    duration: str

    @property
    def anchor(self) -> str:
        return anchor_for(self.reference)


@dataclass(frozen=True)
class CareSource:
    reference: str
    kind: str  # therapy | analgesic
    name: str
    start: str
    end: str
    ongoing: bool


@dataclass(frozen=True)
class AttachedDocument:
    """A DocumentReference's content: `text` for text/*, `pdf` bytes for application/pdf."""

    reference: str
    title: str
    day: str
    content_type: str
    text: str = ""
    pdf: bytes = b""

    @property
    def anchor(self) -> str:
        return anchor_for(self.reference)


@dataclass(frozen=True)
class RecordExtract:
    reference: str
    label: str

    @property
    def anchor(self) -> str:
        return anchor_for(self.reference)


@dataclass(frozen=True)
class SourceDocuments:
    imaging: tuple[ImagingSource, ...] = ()
    procedures: tuple[ProcedureSource, ...] = ()
    care: tuple[CareSource, ...] = ()
    documents: tuple[AttachedDocument, ...] = ()
    extracts: tuple[RecordExtract, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)

    def label(self, reference: str, summary: str = "") -> str:
        """The evidence in words (never the bare FHIR id)."""
        kind = _TYPE_WORDS.get(reference.split("/", 1)[0], reference.split("/", 1)[0])
        words = summary or self.labels.get(reference, "")
        return f"{kind}: {words}" if words else f"{kind} (no description in the record)"

    def anchor(self, reference: str) -> str:
        return anchor_for(reference)

    @property
    def therapy(self) -> tuple[CareSource, ...]:
        return tuple(item for item in self.care if item.kind == "therapy")

    @property
    def medications(self) -> tuple[CareSource, ...]:
        return tuple(item for item in self.care if item.kind == "analgesic")


def collect_sources(
    resources: Sequence[Mapping[str, Any]], facts: PatientFacts, check_result: Mapping[str, Any]
) -> SourceDocuments:
    by_ref = {f"{item.get('resourceType')}/{item.get('id')}": item for item in resources if item.get("id")}
    imaging = tuple(
        _imaging(by_ref, report.reference) for report in facts.imaging_reports if report.reference in by_ref
    )
    procedures = tuple(_procedure(by_ref.get(item.reference, {}), item) for item in facts.procedures)
    care = tuple(_care(event) for event in facts.conservative_care)
    documents = tuple(
        doc
        for doc in (
            _document(ref, item) for ref, item in by_ref.items() if item.get("resourceType") == "DocumentReference"
        )
        if doc
    )
    shown = {item.reference for group in (imaging, procedures, care, documents) for item in group}
    labels = {ref: _describe(item) for ref, item in by_ref.items()}
    cited = dict.fromkeys(
        str(evidence.get("reference"))
        for criterion in check_result.get("criteria", [])
        for evidence in criterion.get("evidence", [])
    )
    summaries = {
        str(evidence.get("reference")): str(evidence.get("summary", ""))
        for criterion in check_result.get("criteria", [])
        for evidence in criterion.get("evidence", [])
    }
    extracts = tuple(
        RecordExtract(ref, summaries.get(ref) or labels.get(ref, "") or "described in the record")
        for ref in cited
        if ref not in shown
    )
    return SourceDocuments(imaging, procedures, care, documents, extracts, labels)


def _imaging(by_ref: Mapping[str, Mapping[str, Any]], reference: str) -> ImagingSource:
    report = dict(by_ref[reference])
    parts = [as_str(report.get("conclusion"))]
    parts += [attachment_text(form) for form in as_list(report.get("presentedForm"))]
    text = "\n".join(part.strip() for part in parts if part and part.strip())
    time = first_time(report, "effectiveDateTime", "effectivePeriod", "issued")
    performers = [as_str(as_dict(item).get("display")) for item in as_list(report.get("resultsInterpreter"))]
    performers += [as_str(as_dict(item).get("display")) for item in as_list(report.get("performer"))]
    return ImagingSource(
        reference=reference,
        day=time.iso_day if time else "date not recorded",
        title=concept_text(report.get("code")) or "Imaging report",
        text=text or "The report carries no text.",
        author=next((name for name in performers if name), ""),
    )


def _procedure(resource: Mapping[str, Any], item: SpineProcedure) -> ProcedureSource:
    text = " ".join([item.text, notes_text(dict(resource)), concept_text(resource.get("code"))])
    used = " ".join(concept_text(code) for code in as_list(resource.get("usedCode")))
    agents = list(dict.fromkeys(match.group(0).lower() for match in _AGENT.finditer(f"{text} {used}")))
    rows: list[ScoreRow] = []
    immediate = duration = ""
    relief = item.pain_relief
    if relief is not None:
        rows.append(ScoreRow(relief.baseline.time.iso_day, relief.scale, f"{relief.baseline.value:g}", "baseline"))
        for point in relief.points:
            when = (
                point.score.time.start.strftime("%Y-%m-%d %H:%M")
                if point.score.time.has_time
                else point.score.time.iso_day
            )
            rows.append(ScoreRow(when, relief.scale, f"{point.score.value:g}", f"{point.percent:.0f}%"))
        if relief.immediate_percent is not None:
            immediate = f"{relief.immediate_percent:.0f}%"
        run = relief.sustained()
        if run.last is not None and item.time is not None:
            hours = (run.last.score.start - relief.baseline.start).total_seconds() / 3600
            duration = f"at least {hours:.0f} hours" if hours < 48 else f"at least {hours / 24:.0f} days"
    if item.function_relief is not None:
        function = item.function_relief
        rows.append(
            ScoreRow(function.baseline.time.iso_day, function.scale, f"{function.baseline.value:g}", "baseline")
        )
        for point in function.points:
            rows.append(
                ScoreRow(point.score.time.iso_day, function.scale, f"{point.score.value:g}", f"{point.percent:.0f}%")
            )
    return ProcedureSource(
        reference=item.reference,
        day=item.time.iso_day if item.time else "date not recorded",
        title=concept_text(resource.get("code")) or item.text or KIND_WORDS.get(item.kind, item.kind),
        kind=KIND_WORDS.get(item.kind, item.kind),
        intent=item.intent or "intent not recorded",
        levels=item.levels,
        side=item.side or "side not recorded",
        agent=("agent: " + ", ".join(agents)) if agents else "agent not recorded",
        note=notes_text(dict(resource)),
        scores=tuple(rows),
        immediate_relief=immediate,
        duration=duration,
    )


def _care(event: CareEvent) -> CareSource:
    return CareSource(
        event.reference, event.kind, event.name, event.start.isoformat(), event.end.isoformat(), event.ongoing
    )


def _document(reference: str, resource: Mapping[str, Any]) -> AttachedDocument | None:
    """A document of the record to show or merge; never one this app wrote (a report, a packet)."""
    if as_str(resource.get("status")) == "entered-in-error":
        return None
    systems = {as_str(as_dict(item).get("system")) for item in as_list(resource.get("identifier"))}
    if any(system.startswith(CANONICAL_BASE) for system in systems):
        return None
    time = first_time(dict(resource), "date")
    title = as_str(resource.get("description")) or concept_text(resource.get("type")) or "Clinical document"
    for content in as_list(resource.get("content")):
        attachment = as_dict(as_dict(content).get("attachment"))
        content_type = as_str(attachment.get("contentType")).lower()
        title = as_str(attachment.get("title")) or title
        if content_type.startswith("text/"):
            text = attachment_text(attachment).strip()
            if text:
                return AttachedDocument(reference, title, time.iso_day if time else "", content_type, text=text)
        if content_type == "application/pdf" and isinstance(attachment.get("data"), str):
            try:
                pdf = base64.b64decode(attachment["data"], validate=False)
            except (binascii.Error, ValueError):
                continue
            if pdf.startswith(b"%PDF") and len(pdf) <= MAX_ATTACHMENT_BYTES:
                return AttachedDocument(reference, title, time.iso_day if time else "", content_type, pdf=pdf)
    return None


def _describe(resource: Mapping[str, Any]) -> str:
    """A resource in a few words: its code text and date."""
    words = (
        concept_text(resource.get("code")) or concept_text(resource.get("type")) or as_str(resource.get("description"))
    )
    if resource.get("resourceType") == "MedicationRequest":
        words = concept_text(resource.get("medicationCodeableConcept")) or words
    value = as_dict(resource.get("valueQuantity")).get("value")
    if value is not None:
        words = f"{words} {value}"
    time = first_time(
        dict(resource), "effectiveDateTime", "performedDateTime", "onsetDateTime", "authoredOn", "date", "recordedDate"
    )
    return f"{words} ({time.iso_day})" if time and words else words
