"""The resources a PAS request Bundle carries besides the Claim, each on its PAS 2.2.1 profile: Patient
(Beneficiary), Coverage, insurer and requestor Organizations, Practitioner and PractitionerRole, one ServiceRequest
per Claim item and the packet PDF as a PAS DocumentReference (inline data). Also the shared `urn:uuid` naming."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from smart_app.core.documents import CANONICAL_BASE
from smart_app.core.model import SYSTEM_CPT, SYSTEM_ICD10, SYSTEM_LOINC
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


class Urls:
    """Stable `urn:uuid` full URLs per packet key, so the same packet gives the same Bundle."""

    def __init__(self, key: str) -> None:
        self.key = key

    def of(self, resource_type: str, part: str = "") -> str:
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{SYSTEM_PACKET}|{self.key}|{resource_type}|{part}')}"


def beneficiary(packet: Packet) -> dict[str, Any]:
    patient = packet.patient
    identifiers = []
    if packet.payer.member_id:
        identifiers.append(
            {
                "type": concept(V2_IDENTIFIER_TYPE, "MB", "Member Number"),
                "system": _member_system(packet),
                "value": packet.payer.member_id,
            }
        )
    if packet.mrn:
        identifiers.append(
            {
                "type": concept(V2_IDENTIFIER_TYPE, "MR", "Medical record number"),
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


def coverage(packet: Packet, urls: Urls) -> dict[str, Any]:
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
                "type": concept(V2_IDENTIFIER_TYPE, "MB", "Member Number"),
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


def insurer(packet: Packet) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "meta": {"profile": [f"{PAS}/profile-insurer"]},
        "active": True,
        "type": [concept(f"{X12}/98", "PR", "Payer")],
        "name": packet.payer.name,
    }


def requestor(packet: Packet) -> dict[str, Any]:
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
        "type": [concept(f"{X12}/98", "X3", "Utilization Management Organization")],
        "name": practice.name or "Requesting practice (name not configured)",
        "telecom": telecom,
        "address": [practice.address.to_fhir()] if practice.address.one_line() else [],
    }
    return {key: value for key, value in resource.items() if value not in ([], None)}


def practitioner(packet: Packet) -> dict[str, Any]:
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


def practitioner_role(packet: Packet, urls: Urls) -> dict[str, Any]:
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


def service_request(packet: Packet, urls: Urls, line: Mapping[str, Any]) -> dict[str, Any]:
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
        "authoredOn": instant(packet),
        "requester": {"reference": urls.of("Practitioner")},
        "reasonCode": [{"coding": [{"system": SYSTEM_ICD10, "code": str(code)}]} for code in line.get("diagnoses", [])],
    }


def document(packet: Packet, urls: Urls, pdf: bytes) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "meta": {"profile": [f"{PAS}/profile-documentreference"]},
        "identifier": [{"system": SYSTEM_PACKET, "value": f"{packet.key}.packet"}],
        "status": "current",
        "docStatus": "preliminary",
        "type": concept(SYSTEM_LOINC, *LOINC_PACKET),
        "category": [
            concept(
                "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                "clinical-note",
                "Clinical Note",
            )
        ],
        "subject": {"reference": urls.of("Patient")},
        "date": instant(packet),
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
                    "creation": instant(packet),
                }
            }
        ],
    }


def ext(url: str, concept: dict[str, Any]) -> dict[str, Any]:
    return {"url": url, "valueCodeableConcept": concept}


def concept(system: str, code: str, display: str = "") -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def instant(packet: Packet) -> str:
    return packet.created.isoformat(timespec="seconds")
