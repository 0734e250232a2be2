"""The packet model: who asks whom for what, for which patient, on what evidence.

Built from a check-result/v1 document, the record it was computed from (raw FHIR JSON), the staff's choices
(`PacketOptions`: payer profile, urgency, place of service, planned dates, rendering facility), the EHR's
Practitioner/Organization resources and our practice's settings (`Practice`). Everything the three renderings
say comes from here, so the PDF, the PAS Bundle and the QuestionnaireResponse cannot disagree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from smart_app.core.documents import (
    PatientIdentity,
    find_coverage,
    find_patient,
    order_key,
    patient_identity,
)
from smart_app.core.facts import PatientFacts, extract_facts
from smart_app.core.fhir_json import as_dict, as_list, as_str, concept_text
from smart_app.core.packet.letter import Letter, write_letter
from smart_app.core.packet.sources import SourceDocuments, collect_sources

SYSTEM_NPI = "http://hl7.org/fhir/sid/us-npi"
SYSTEM_TIN = "urn:oid:2.16.840.1.113883.4.4"
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
class Address:
    lines: tuple[str, ...] = ()
    city: str = ""
    state: str = ""
    postal_code: str = ""

    def one_line(self) -> str:
        place = " ".join(
            part for part in (self.city + ("," if self.city else ""), self.state, self.postal_code) if part
        )
        return ", ".join(part for part in (*self.lines, place.strip(" ,")) if part)

    def to_fhir(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "line": list(self.lines),
            "city": self.city,
            "state": self.state,
            "postalCode": self.postal_code,
            "country": "US",
        }
        return {key: value for key, value in fields.items() if value}

    @classmethod
    def from_fhir(cls, value: Any) -> Address:
        data = as_dict(value)
        return cls(
            lines=tuple(as_str(line) for line in as_list(data.get("line")) if as_str(line)),
            city=as_str(data.get("city")),
            state=as_str(data.get("state")),
            postal_code=as_str(data.get("postalCode")),
        )


@dataclass(frozen=True)
class Practice:
    """Our practice, from configuration (`PRACTICE` setting): the requesting organisation on every packet."""

    name: str = ""
    npi: str = ""
    tin: str = ""
    address: Address = field(default_factory=Address)
    phone: str = ""
    fax: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> Practice:
        data = data or {}
        return cls(
            name=str(data.get("name") or ""),
            npi=str(data.get("npi") or ""),
            tin=str(data.get("tin") or ""),
            address=Address(
                lines=tuple(str(line) for line in data.get("address_lines") or ()),
                city=str(data.get("city") or ""),
                state=str(data.get("state") or ""),
                postal_code=str(data.get("postal_code") or ""),
            ),
            phone=str(data.get("phone") or ""),
            fax=str(data.get("fax") or ""),
        )


@dataclass(frozen=True)
class Facility:
    """Where the procedure is done (the staff's choice; the practice itself when not given)."""

    name: str
    npi: str = ""
    address: Address = field(default_factory=Address)


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
class Clinician:
    """A provider as the packet names it; `reference` is the EHR's Practitioner when there is one."""

    name: str
    npi: str = ""
    reference: str | None = None
    specialty: str = ""
    phone: str = ""


@dataclass(frozen=True)
class PayerInfo:
    profile_id: str
    profile_title: str
    name: str
    plan: str = ""
    group: str = ""
    member_id: str = ""
    coverage_reference: str | None = None
    coverage: Mapping[str, Any] | None = None


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
    requesting = _merge_practice(practice, organization)
    ordering = _clinician(practitioner)
    request = check_result.get("request", {})
    place = options.place_of_service or DEFAULT_PLACE_OF_SERVICE.get(str(request.get("setting")), "11")
    facility = options.facility or Facility(requesting.name, requesting.npi, requesting.address)
    payer = _payer(record, patient_ref, str(request.get("payer", "")), payer_title)
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
        mrn=_mrn(patient),
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


def _merge_practice(practice: Practice, organization: Mapping[str, Any] | None) -> Practice:
    """Configuration wins; the EHR's Organization fills what configuration leaves empty."""
    if not organization:
        return practice
    addresses = as_list(organization.get("address"))
    phones = [t for t in as_list(organization.get("telecom")) if as_dict(t).get("system") == "phone"]
    faxes = [t for t in as_list(organization.get("telecom")) if as_dict(t).get("system") == "fax"]
    return Practice(
        name=practice.name or as_str(organization.get("name")),
        npi=practice.npi or npi_of(organization),
        tin=practice.tin or _identifier(organization, SYSTEM_TIN),
        address=practice.address if practice.address.lines else Address.from_fhir(addresses[0] if addresses else {}),
        phone=practice.phone or (as_str(as_dict(phones[0]).get("value")) if phones else ""),
        fax=practice.fax or (as_str(as_dict(faxes[0]).get("value")) if faxes else ""),
    )


def _clinician(practitioner: Mapping[str, Any] | None) -> Clinician:
    if not practitioner:
        return Clinician(name="")
    names = as_list(practitioner.get("name"))
    name = as_dict(names[0]) if names else {}
    words = " ".join(
        [
            *map(as_str, as_list(name.get("prefix"))),
            *map(as_str, as_list(name.get("given"))),
            as_str(name.get("family")),
        ]
    ).strip()
    suffix = ", ".join(as_str(item) for item in as_list(name.get("suffix")) if as_str(item))
    qualification = next(
        (concept_text(as_dict(item).get("code")) for item in as_list(practitioner.get("qualification"))), ""
    )
    phone = next(
        (
            as_str(as_dict(t).get("value"))
            for t in as_list(practitioner.get("telecom"))
            if as_dict(t).get("system") == "phone"
        ),
        "",
    )
    return Clinician(
        name=as_str(name.get("text")) or (f"{words}, {suffix}" if suffix else words),
        npi=npi_of(practitioner),
        reference=f"Practitioner/{practitioner['id']}" if practitioner.get("id") else None,
        specialty=qualification,
        phone=phone,
    )


def npi_of(resource: Mapping[str, Any]) -> str:
    return _identifier(resource, SYSTEM_NPI)


def _identifier(resource: Mapping[str, Any], system: str) -> str:
    for identifier in as_list(resource.get("identifier")):
        if as_dict(identifier).get("system") == system and as_str(as_dict(identifier).get("value")):
            return as_str(identifier["value"])
    return ""


def _payer(resources: Sequence[Mapping[str, Any]], patient_ref: str, profile_id: str, title: str) -> PayerInfo:
    coverage = find_coverage(resources, patient_ref)
    if coverage is None:
        return PayerInfo(profile_id=profile_id, profile_title=title, name=title)
    payors = [as_dict(item) for item in as_list(coverage.get("payor"))]
    name = next((as_str(item.get("display")) for item in payors if as_str(item.get("display"))), "") or title
    plan = group = ""
    for item in as_list(coverage.get("class")):
        codes = {as_dict(c).get("code") for c in as_list(as_dict(as_dict(item).get("type")).get("coding"))}
        words = as_str(as_dict(item).get("name")) or as_str(as_dict(item).get("value"))
        if "plan" in codes:
            plan = words
        elif "group" in codes:
            group = words
    identity = patient_identity(resources, patient_ref)
    member = identity.second_value if identity.second_label == "Member ID" else ""
    reference = f"Coverage/{coverage['id']}" if coverage.get("id") else None
    return PayerInfo(profile_id, title, name, plan, group, member, reference, coverage)


def _mrn(patient: Mapping[str, Any]) -> str:
    for identifier in as_list(patient.get("identifier")):
        codes = {as_dict(c).get("code") for c in as_list(as_dict(as_dict(identifier).get("type")).get("coding"))}
        if "MR" in codes or "mrn" in as_str(as_dict(identifier).get("system")).lower():
            return as_str(as_dict(identifier).get("value"))
    return ""


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
