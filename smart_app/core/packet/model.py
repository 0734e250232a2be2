"""The packet model: who asks whom for what, for which patient, on what evidence.

Built from a check-result/v1 document, the record it was computed from (raw FHIR JSON), the staff's choices
(`PacketOptions`: payer profile, urgency, place of service, planned dates, rendering facility), the EHR's
Practitioner/Organization resources and our practice's settings (`Practice`). Everything the three renderings
say comes from here, so the PDF, the PAS Bundle and the QuestionnaireResponse cannot disagree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from smart_app.core.documents import (
    PatientIdentity,
    find_patient,
    order_key,
    patient_identity,
)
from smart_app.core.facts import PatientFacts, extract_facts
from smart_app.core.fhir_json import as_str
from smart_app.core.packet.letter import Letter, write_letter
from smart_app.core.packet.parties import SYSTEM_NPI as SYSTEM_NPI
from smart_app.core.packet.parties import SYSTEM_TIN as SYSTEM_TIN
from smart_app.core.packet.parties import Address as Address
from smart_app.core.packet.parties import Clinician, PayerInfo, clinician_of, merge_practice, mrn_of, payer_of
from smart_app.core.packet.parties import Facility as Facility
from smart_app.core.packet.parties import Practice as Practice
from smart_app.core.packet.sources import SourceDocuments, collect_sources

Urgency = Literal["standard", "expedited"]
Submission = Literal["initial", "resubmission"]

# CMS place-of-service codes a facet or pars procedure is done in, with their CMS names.
PLACES_OF_SERVICE: dict[str, str] = {
    "11": "Office",
    "19": "Off Campus-Outpatient Hospital",
    "22": "On Campus-Outpatient Hospital",
    "24": "Ambulatory Surgical Center",
}
# The request's `setting` → the place of service staff most often mean by it (they may choose another).
DEFAULT_PLACE_OF_SERVICE = {"physician": "11", "hospital-outpatient": "22", "asc": "24"}

PROCEDURE_WORDS = {
    "medial-branch-block": "lumbar medial branch block",
    "facet-injection": "facet joint injection",
    "radiofrequency-ablation": "radiofrequency ablation of the medial branch nerves",
    "pars-injection": "pars interarticularis injection",
}
SIDE_WORDS = {"left": "left", "right": "right", "bilateral": "bilateral"}


class PacketInputError(ValueError):
    """The staff's choices cannot make a packet (an expedited request without a reason, a bad date range…)."""


@dataclass(frozen=True)
class PacketOptions:
    """What the prior-auth staff choose. The payer profile is the check request's `payer`."""

    service_start: date
    service_end: date | None = None
    urgency: Urgency = "standard"
    urgency_reason: str = ""
    place_of_service: str | None = None  # None: from the request's setting
    facility: Facility | None = None
    submission: Submission = "initial"

    def validated(self) -> PacketOptions:
        if self.urgency not in ("standard", "expedited"):
            raise PacketInputError("urgency must be standard or expedited")
        if self.urgency == "expedited" and not self.urgency_reason.strip():
            raise PacketInputError("an expedited request needs a reason (why waiting could seriously harm the patient)")
        if self.place_of_service is not None and self.place_of_service not in PLACES_OF_SERVICE:
            known = ", ".join(f"{code} {name}" for code, name in PLACES_OF_SERVICE.items())
            raise PacketInputError(f"place of service must be one of {known}")
        if self.service_end is not None and self.service_end < self.service_start:
            raise PacketInputError("the planned date range ends before it starts")
        if self.submission not in ("initial", "resubmission"):
            raise PacketInputError("submission must be initial or resubmission")
        return self


@dataclass(frozen=True)
class AttestationNote:
    criterion_id: str
    criterion_text: str
    status: str
    note: str
    who: str
    when: str


@dataclass(frozen=True)
class EvidenceLink:
    """One piece of evidence for a criterion: what it is in words, and the anchor of the source page holding it."""

    reference: str
    label: str
    anchor: str


@dataclass(frozen=True)
class CriterionEntry:
    id: str
    text: str
    status: str
    origin: str
    detail: str
    source: str
    evidence: tuple[EvidenceLink, ...]


@dataclass(frozen=True)
class Packet:
    """Everything the three renderings say. `key` is the order key (the same business key as the draft order)."""

    key: str
    created: datetime
    check: Mapping[str, Any]
    identity: PatientIdentity
    patient: Mapping[str, Any]
    patient_reference: str
    gender: str
    mrn: str
    payer: PayerInfo
    ordering: Clinician
    rendering: Clinician
    requesting: Practice
    facility: Facility
    options: PacketOptions
    place_of_service: str
    diagnoses: tuple[tuple[str, str], ...]  # (ICD-10-CM code, words)
    lines: tuple[Mapping[str, Any], ...]
    criteria: tuple[CriterionEntry, ...]
    letter: Letter
    sources: SourceDocuments
    attestations: tuple[AttestationNote, ...]
    open_items: tuple[str, ...]
    facts: PatientFacts

    @property
    def request(self) -> Mapping[str, Any]:
        return dict(self.check.get("request", {}))

    @property
    def procedure_words(self) -> str:
        return PROCEDURE_WORDS.get(str(self.request.get("procedure")), str(self.request.get("procedure")))

    @property
    def levels(self) -> tuple[str, ...]:
        return tuple(str(level) for level in self.request.get("levels", []))

    @property
    def side(self) -> str:
        return SIDE_WORDS.get(str(self.request.get("side")), str(self.request.get("side")))

    @property
    def service_window(self) -> str:
        start, end = self.options.service_start, self.options.service_end
        return start.isoformat() if end is None or end == start else f"{start.isoformat()} to {end.isoformat()}"

    @property
    def place_of_service_words(self) -> str:
        return f"{self.place_of_service} {PLACES_OF_SERVICE[self.place_of_service]}"

    @property
    def policy(self) -> Mapping[str, Any]:
        return dict(self.check.get("policy", {}))

    @property
    def verdict(self) -> str:
        return str(self.check.get("verdict"))

    @property
    def trace_number(self) -> str:
        """Our submitter trace number (TRN02) for this packet: the order key and the planned dates."""
        digest = hashlib.sha256(f"{self.key}|{self.service_window}|{self.options.submission}".encode()).hexdigest()
        return digest[:20]


def build_packet(
    check_result: Mapping[str, Any],
    resources: Sequence[Mapping[str, Any]],
    options: PacketOptions,
    *,
    practice: Practice,
    created: datetime,
    payer_title: str,
    practitioner: Mapping[str, Any] | None = None,
    organization: Mapping[str, Any] | None = None,
    attestations: Sequence[AttestationNote] = (),
) -> Packet:
    """The packet for one check result. `practitioner` is the ordering clinician's Practitioner as the EHR holds
    it (None: no clinician known, the packet says so); `organization` the EHR's Organization of our practice,
    used where configuration leaves a field empty."""
    options = options.validated()
    if created.tzinfo is None:
        raise PacketInputError("the creation time must be timezone-aware")
    patient_ref = str(check_result["patient"]["reference"])
    as_of = date.fromisoformat(str(check_result["as_of"]))
    record = [dict(item) for item in resources]
    facts = extract_facts(record, patient_id=patient_ref.split("/", 1)[-1], as_of=as_of)
    identity = patient_identity(record, patient_ref, str(check_result["patient"].get("display", "")))
    patient = find_patient(record, patient_ref) or {}
    requesting = merge_practice(practice, organization)
    ordering = clinician_of(practitioner)
    request = check_result.get("request", {})
    place = options.place_of_service or DEFAULT_PLACE_OF_SERVICE.get(str(request.get("setting")), "11")
    facility = options.facility or Facility(requesting.name, requesting.npi, requesting.address)
    payer = payer_of(record, patient_ref, str(request.get("payer", "")), payer_title)
    lines = tuple(check_result.get("coding", {}).get("lines", []))
    diagnoses = _diagnoses(lines, facts)
    sources = collect_sources(record, facts, check_result)
    criteria = tuple(_criterion(item, sources) for item in check_result.get("criteria", []))
    open_items = _open_items(check_result, criteria, payer, ordering, requesting, facility)
    letter = write_letter(
        check_result, facts, sources, open_items, patient_name=identity.name, service_window=_window(options)
    )
    return Packet(
        key=order_key(check_result),
        created=created,
        check=check_result,
        identity=identity,
        patient=patient,
        patient_reference=patient_ref,
        gender=as_str(patient.get("gender")) or "unknown",
        mrn=mrn_of(patient),
        payer=payer,
        ordering=ordering,
        rendering=ordering,
        requesting=requesting,
        facility=facility,
        options=options,
        place_of_service=place,
        diagnoses=diagnoses,
        lines=lines,
        criteria=criteria,
        letter=letter,
        sources=sources,
        attestations=tuple(attestations),
        open_items=open_items,
        facts=facts,
    )


def _window(options: PacketOptions) -> str:
    start, end = options.service_start, options.service_end
    return start.isoformat() if end is None or end == start else f"{start.isoformat()} to {end.isoformat()}"


def _diagnoses(lines: Sequence[Mapping[str, Any]], facts: PatientFacts) -> tuple[tuple[str, str], ...]:
    words = {item.code: item.display for item in facts.diagnoses}
    codes = list(dict.fromkeys(str(code) for line in lines for code in line.get("diagnoses", [])))
    return tuple((code, words.get(code, "")) for code in codes)


def _criterion(item: Mapping[str, Any], sources: SourceDocuments) -> CriterionEntry:
    links = []
    for evidence in item.get("evidence", []):
        reference = str(evidence.get("reference", ""))
        label = sources.label(reference, str(evidence.get("summary", "")))
        links.append(EvidenceLink(reference, label, sources.anchor(reference)))
    return CriterionEntry(
        id=str(item.get("id")),
        text=str(item.get("text", "")),
        status=str(item.get("status")),
        origin=str(item.get("origin", "record")),
        detail=str(item.get("detail", "")),
        source=str(item.get("citation") or item.get("source") or ""),
        evidence=tuple(links),
    )


def _open_items(
    check_result: Mapping[str, Any],
    criteria: Sequence[CriterionEntry],
    payer: PayerInfo,
    ordering: Clinician,
    practice: Practice,
    facility: Facility,
) -> tuple[str, ...]:
    """What a reviewer would pend the request for: unknown criteria first, then missing administrative data."""
    items = [
        f"{item.text} ({item.id}): not shown by the record. {item.detail}".strip()
        for item in criteria
        if item.status == "unknown"
    ]
    items += [
        f"{item.text} ({item.id}) is NOT met: {item.detail}".strip() for item in criteria if item.status == "not-met"
    ]
    if not payer.member_id:
        items.append("The member ID is not in the record's Coverage: add it before submitting.")
    if not ordering.name:
        items.append("No ordering clinician is known (launch the app as a clinician or pass --requester).")
    elif not ordering.npi:
        items.append(f"The NPI of {ordering.name} is not in the EHR's Practitioner record.")
    if not practice.npi:
        items.append("Our practice's NPI is not configured (PRACTICE setting).")
    if not practice.tin:
        items.append("Our practice's TIN is not configured (PRACTICE setting).")
    if not facility.npi:
        items.append(f"The rendering facility ({facility.name or 'not named'}) has no NPI.")
    if not check_result.get("coding", {}).get("lines"):
        items.append("The check produced no CPT line: there is nothing to request.")
    return tuple(items)
