"""The Da Vinci PAS 2.2.1 request Bundle of a packet: a `collection` Bundle, Claim first.

Claim (`use` preauthorization, one item per CPT line of the check with its modifiers, units, planned date, place
of service and a `requestedService` ServiceRequest; ICD-10-CM diagnoses; the packet PDF as a PAS
DocumentReference with inline data and the DTR QuestionnaireResponse, both as `AdditionalInformation`
supportingInfo with the PWK01 `documentInformation` extension), then every resource it references once:
Patient (PAS Beneficiary), Coverage, insurer and requestor Organizations, the rendering Practitioner.

This is a draft for an intermediary or the EHR to submit: the Bundle and the Claim carry a `draft` tag and nothing
here talks to a payer. X12 codes (service type, request type, certification type, level of service, PWK01/02)
follow the PAS examples; X12 terminology is licensed and no public validator checks it.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from smart_app.core.documents import CANONICAL_BASE, modifier_system
from smart_app.core.model import SYSTEM_CPT, SYSTEM_ICD10, SYSTEM_LOINC
from smart_app.core.packet.dtr import questionnaire_response as dtr_response
from smart_app.core.packet.model import SYSTEM_NPI, SYSTEM_TIN, Packet

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition"
PAS_TEMP_CODES = "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes"
X12 = "https://codesystem.x12.org/005010"
SYSTEM_POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
SYSTEM_TRACE = f"{CANONICAL_BASE}/sid/pas-trace-number"
SYSTEM_PACKET = f"{CANONICAL_BASE}/sid/packet"
SYSTEM_PACKET_STATUS = f"{CANONICAL_BASE}/CodeSystem/packet-status"
DRAFT_TAG = {"system": SYSTEM_PACKET_STATUS, "code": "draft", "display": "Draft: not submitted"}
V2_IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
LOINC_PACKET = ("103597-1", "Pain management form or template")
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition"
CRD_SERVICE_REQUEST = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/profile-servicerequest"


def pas_request(packet: Packet, *, pdf: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """The PAS request Bundle (see the module docstring) and the DTR QuestionnaireResponse it carries."""
    urls = _Urls(packet.key)
    lines = list(packet.lines)
    questionnaire_response = dtr_response(
        packet,
        patient=urls.of("Patient"),
        coverage=urls.of("Coverage"),
        service_requests=[urls.of("ServiceRequest", str(index)) for index in range(1, len(lines) + 1)],
        practitioner=urls.of("Practitioner"),
    )
    claim = _claim(packet, urls, lines)
    entries: list[tuple[str, dict[str, Any]]] = [(urls.of("Claim"), claim)]
    entries.append((urls.of("Patient"), _beneficiary(packet)))
    entries.append((urls.of("Coverage"), _coverage(packet, urls)))
    entries.append((urls.of("Organization", "insurer"), _insurer(packet)))
    entries.append((urls.of("Organization", "requestor"), _requestor(packet)))
    entries.append((urls.of("Practitioner"), _practitioner(packet)))
    entries.append((urls.of("PractitionerRole"), _practitioner_role(packet, urls)))
    for index, line in enumerate(lines, start=1):
        entries.append((urls.of("ServiceRequest", str(index)), _service_request(packet, urls, line)))
    entries.append((urls.of("DocumentReference"), _document(packet, urls, pdf)))
    entries.append((urls.of("QuestionnaireResponse"), questionnaire_response))
    bundle = {
        "resourceType": "Bundle",
        "meta": {"profile": [f"{PAS}/profile-pas-request-bundle"], "tag": [DRAFT_TAG]},
        "identifier": {"system": SYSTEM_PACKET, "value": packet.trace_number},
        "type": "collection",
        "timestamp": _instant(packet),
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
    }
    return bundle, questionnaire_response


class _Urls:
    """Stable `urn:uuid` full URLs per packet key, so the same packet gives the same Bundle."""

    def __init__(self, key: str) -> None:
        self.key = key

    def of(self, resource_type: str, part: str = "") -> str:
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{SYSTEM_PACKET}|{self.key}|{resource_type}|{part}')}"


def _claim(packet: Packet, urls: _Urls, lines: list[Mapping[str, Any]]) -> dict[str, Any]:
    expedited = packet.options.urgency == "expedited"
    diagnoses = [code for code, _words in packet.diagnoses]
    items = []
    for index, line in enumerate(lines, start=1):
        item: dict[str, Any] = {
            "extension": [
                _ext(
                    f"{PAS}/extension-serviceItemRequestType", _concept(f"{X12}/1525", "HS", "Health Services Review")
                ),
                _ext(f"{PAS}/extension-certificationType", _concept(f"{X12}/1322", "I", "Initial")),
                {
                    "url": f"{PAS}/extension-requestedService",
                    "valueReference": {"reference": urls.of("ServiceRequest", str(index))},
                },
            ],
            "sequence": index,
            "careTeamSequence": [1],
            "diagnosisSequence": [diagnoses.index(code) + 1 for code in line.get("diagnoses", []) if code in diagnoses][
                :4
            ],
            "informationSequence": [1, 2],
            "category": _concept(f"{X12}/1365", "1", "Medical Care"),
            "productOrService": {
                "coding": [{"system": SYSTEM_CPT, "code": str(line["code"])}],
                "text": str(line.get("display", "")),
            },
            "modifier": [
                {"coding": [{"system": modifier_system(str(m)), "code": str(m)}]} for m in line.get("modifiers", [])
            ],
            **_serviced(packet),
            "locationCodeableConcept": _concept(
                SYSTEM_POS, packet.place_of_service, packet.place_of_service_words.split(" ", 1)[1]
            ),
            "quantity": {"value": int(line.get("units", 1))},
        }
        items.append({key: value for key, value in item.items() if value not in ([], None)})
    claim: dict[str, Any] = {
        "resourceType": "Claim",
        "meta": {"profile": [f"{PAS}/profile-claim"], "tag": [DRAFT_TAG]},
        "extension": [
            _ext(
                f"{PAS}/extension-levelOfServiceCode",
                _concept(f"{X12}/1338", "U", "Urgent") if expedited else _concept(f"{X12}/1338", "E", "Elective"),
            )
        ],
        "identifier": [{"system": SYSTEM_TRACE, "value": packet.trace_number}],
        "status": "active",
        "type": _concept("http://terminology.hl7.org/CodeSystem/claim-type", "professional", "Professional"),
        "use": "preauthorization",
        "patient": {"reference": urls.of("Patient")},
        "created": _instant(packet),
        "insurer": {"reference": urls.of("Organization", "insurer")},
        "provider": {"reference": urls.of("Organization", "requestor")},
        "priority": _concept(
            "http://terminology.hl7.org/CodeSystem/processpriority", "stat" if expedited else "normal"
        ),
        "careTeam": [
            {
                "extension": [{"url": f"{PAS}/extension-careTeamClaimScope", "valueBoolean": True}],
                "sequence": 1,
                "provider": {"reference": urls.of("PractitionerRole")},
                "role": _concept(
                    "http://terminology.hl7.org/CodeSystem/claimcareteamrole", "primary", "Primary provider"
                ),
            }
        ],
        "supportingInfo": [
            _additional_information(
                1, urls.of("DocumentReference"), "Letter of medical necessity and supporting records (PDF)"
            ),
            _additional_information(
                2, urls.of("QuestionnaireResponse"), "Candidacy checklist (DTR QuestionnaireResponse)"
            ),
        ],
        "diagnosis": [
            {"sequence": number, "diagnosisCodeableConcept": {"coding": [{"system": SYSTEM_ICD10, "code": code}]}}
            for number, code in enumerate(diagnoses, start=1)
        ],
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": urls.of("Coverage")}}],
        "item": items,
    }
    if expedited:
        claim["supportingInfo"].append(
            {
                "sequence": 3,
                "category": {"coding": [{"system": PAS_TEMP_CODES, "code": "freeFormMessage"}]},
                "valueString": f"Expedited review requested: {packet.options.urgency_reason}",
            }
        )
    if not claim["diagnosis"]:
        del claim["diagnosis"]
    return claim


def _additional_information(sequence: int, reference: str, description: str) -> dict[str, Any]:
    return {
        "extension": [
            {
                "url": f"{PAS}/extension-documentInformation",
                "extension": [
                    {
                        "url": "reportTypeCode",
                        "valueCodeableConcept": _concept(f"{X12}/755", "PY", "Physician's Report"),
                    },
                    {
                        "url": "transmissionMethod",
                        "valueCodeableConcept": _concept(f"{X12}/756", "EL", "Electronically Only"),
                    },
                    {"url": "description", "valueString": description},
                ],
            }
        ],
        "sequence": sequence,
        "category": {"coding": [{"system": PAS_TEMP_CODES, "code": "additionalInformation"}]},
        "valueReference": {"reference": reference},
    }


def _serviced(packet: Packet) -> dict[str, Any]:
    start, end = packet.options.service_start, packet.options.service_end
    if end is None or end == start:
        return {"servicedDate": start.isoformat()}
    return {"servicedPeriod": {"start": start.isoformat(), "end": end.isoformat()}}


def _beneficiary(packet: Packet) -> dict[str, Any]:
    patient = packet.patient
    identifiers = []
    if packet.payer.member_id:
        identifiers.append(
            {
                "type": _concept(V2_IDENTIFIER_TYPE, "MB", "Member Number"),
                "system": _member_system(packet),
                "value": packet.payer.member_id,
            }
        )
    if packet.mrn:
        identifiers.append(
            {
                "type": _concept(V2_IDENTIFIER_TYPE, "MR", "Medical record number"),
                "system": _mrn_system(packet),
                "value": packet.mrn,
            }
        )
    names = [name for name in patient.get("name", []) if isinstance(name, dict)]
    resource = {
        "resourceType": "Patient",
        "meta": {"profile": [f"{PAS}/profile-beneficiary"]},
        "identifier": identifiers,
        "name": [
            {key: value for key, value in name.items() if key in ("use", "family", "given", "prefix", "suffix", "text")}
            for name in names
        ]
        or [{"text": packet.identity.name}],
        "gender": packet.gender,
        "birthDate": patient.get("birthDate"),
        "address": [address for address in patient.get("address", []) if isinstance(address, dict)],
    }
    return {key: value for key, value in resource.items() if value not in ([], None, "")}


def _mrn_system(packet: Packet) -> str:
    for identifier in packet.patient.get("identifier", []):
        if identifier.get("value") == packet.mrn and identifier.get("system"):
            return str(identifier["system"])
    return f"{CANONICAL_BASE}/sid/mrn"


def _member_system(packet: Packet) -> str:
    coverage = packet.payer.coverage or {}
    for identifier in coverage.get("identifier", []):
        if identifier.get("value") == packet.payer.member_id and identifier.get("system"):
            return str(identifier["system"])
    return f"{CANONICAL_BASE}/sid/member-id"


def _coverage(packet: Packet, urls: _Urls) -> dict[str, Any]:
    coverage = packet.payer.coverage or {}
    relationship = next(
        (
            coding.get("code")
            for coding in coverage.get("relationship", {}).get("coding", [])
            if coding.get("system") == "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
        ),
        "self",
    )
    resource: dict[str, Any] = {
        "resourceType": "Coverage",
        "meta": {"profile": [f"{PAS}/profile-coverage"]},
        "identifier": [
            {
                "type": _concept(V2_IDENTIFIER_TYPE, "MB", "Member Number"),
                "system": _member_system(packet),
                "value": packet.payer.member_id or "unknown",
            }
        ],
        "status": "active",
        "subscriberId": packet.payer.member_id or None,
        "beneficiary": {"reference": urls.of("Patient")},
        "relationship": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": relationship},
                *([{"system": f"{X12}/1069", "code": "18", "display": "Self"}] if relationship == "self" else []),
            ]
        },
        "payor": [{"reference": urls.of("Organization", "insurer")}],
    }
    if relationship != "self":
        resource["subscriber"] = {"reference": urls.of("Patient")}
    if coverage.get("period"):
        resource["period"] = coverage["period"]
    if coverage.get("class"):
        resource["class"] = coverage["class"]
    return {key: value for key, value in resource.items() if value is not None}


def _insurer(packet: Packet) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "meta": {"profile": [f"{PAS}/profile-insurer"]},
        "active": True,
        "type": [_concept(f"{X12}/98", "PR", "Payer")],
        "name": packet.payer.name,
    }


def _requestor(packet: Packet) -> dict[str, Any]:
    practice = packet.requesting
    identifiers = []
    if practice.npi:
        identifiers.append({"system": SYSTEM_NPI, "value": practice.npi})
    if practice.tin:
        identifiers.append({"system": SYSTEM_TIN, "value": practice.tin})
    telecom = [{"system": "phone", "value": practice.phone}] if practice.phone else []
    telecom += [{"system": "fax", "value": practice.fax}] if practice.fax else []
    resource = {
        "resourceType": "Organization",
        "meta": {"profile": [f"{PAS}/profile-requestor"]},
        "identifier": identifiers,
        "active": True,
        "type": [_concept(f"{X12}/98", "X3", "Utilization Management Organization")],
        "name": practice.name or "Requesting practice (name not configured)",
        "telecom": telecom,
        "address": [practice.address.to_fhir()] if practice.address.one_line() else [],
    }
    return {key: value for key, value in resource.items() if value not in ([], None)}


def _practitioner(packet: Packet) -> dict[str, Any]:
    clinician = packet.rendering
    words = clinician.name.split(",")[0].split()
    family = words[-1] if words else "Unknown"
    given = [word for word in words[:-1] if not word.endswith(".")]
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "meta": {"profile": [f"{PAS}/profile-practitioner"]},
        "identifier": [{"system": SYSTEM_NPI, "value": clinician.npi}] if clinician.npi else [],
        "name": [
            {
                "family": family,
                **({"given": given} if given else {}),
                "text": clinician.name or "Ordering clinician not known",
            }
        ],
    }
    return {key: value for key, value in resource.items() if value != []}


def _practitioner_role(packet: Packet, urls: _Urls) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "meta": {"profile": [f"{PAS}/profile-practitionerrole"]},
        "active": True,
        "practitioner": {"reference": urls.of("Practitioner")},
        "organization": {"reference": urls.of("Organization", "requestor")},
    }
    if packet.requesting.phone:
        resource["telecom"] = [{"system": "phone", "value": packet.requesting.phone}]
    return resource


def _service_request(packet: Packet, urls: _Urls, line: Mapping[str, Any]) -> dict[str, Any]:
    start, end = packet.options.service_start, packet.options.service_end
    if end is None or end == start:
        timing: dict[str, Any] = {"event": [start.isoformat()]}
    else:
        timing = {"repeat": {"boundsPeriod": {"start": start.isoformat(), "end": end.isoformat()}}}
    return {
        "resourceType": "ServiceRequest",
        "meta": {"profile": [f"{PAS}/profile-servicerequest", CRD_SERVICE_REQUEST]},
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": SYSTEM_CPT, "code": str(line["code"])}], "text": str(line.get("display", ""))},
        "quantityQuantity": {"value": int(line.get("units", 1))},
        "subject": {"reference": urls.of("Patient")},
        "occurrenceTiming": timing,
        "authoredOn": _instant(packet),
        "requester": {"reference": urls.of("Practitioner")},
        "reasonCode": [{"coding": [{"system": SYSTEM_ICD10, "code": str(code)}]} for code in line.get("diagnoses", [])],
    }


def _document(packet: Packet, urls: _Urls, pdf: bytes) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "meta": {"profile": [f"{PAS}/profile-documentreference"]},
        "identifier": [{"system": SYSTEM_PACKET, "value": f"{packet.key}.packet"}],
        "status": "current",
        "docStatus": "preliminary",
        "type": _concept(SYSTEM_LOINC, *LOINC_PACKET),
        "category": [
            _concept(
                "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                "clinical-note",
                "Clinical Note",
            )
        ],
        "subject": {"reference": urls.of("Patient")},
        "date": _instant(packet),
        "author": [{"reference": urls.of("Practitioner")}],
        "description": (
            "Prior authorization packet: cover sheet, letter of medical necessity, evidence index, source documents"
        ),
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "data": base64.b64encode(pdf).decode("ascii"),
                    "size": len(pdf),
                    "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode("ascii"),
                    "title": f"Prior authorization packet, service {packet.service_window}",
                    "creation": _instant(packet),
                }
            }
        ],
    }


def _ext(url: str, concept: dict[str, Any]) -> dict[str, Any]:
    return {"url": url, "valueCodeableConcept": concept}


def _concept(system: str, code: str, display: str = "") -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _instant(packet: Packet) -> str:
    return packet.created.isoformat(timespec="seconds")
