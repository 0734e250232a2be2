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

from collections.abc import Mapping
from typing import Any

from smart_app.core.documents import modifier_system
from smart_app.core.model import SYSTEM_CPT, SYSTEM_ICD10
from smart_app.core.packet.dtr import questionnaire_response as dtr_response
from smart_app.core.packet.model import Packet
from smart_app.core.packet.pas_resources import (
    DRAFT_TAG,
    LOINC_PACKET,
    PAS,
    PAS_TEMP_CODES,
    SYSTEM_PACKET,
    SYSTEM_POS,
    SYSTEM_TRACE,
    X12,
    Urls,
    beneficiary,
    concept,
    coverage,
    document,
    ext,
    instant,
    insurer,
    practitioner,
    practitioner_role,
    requestor,
    service_request,
)

__all__ = ["LOINC_PACKET", "pas_request"]


def pas_request(packet: Packet, *, pdf: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """The PAS request Bundle (see the module docstring) and the DTR QuestionnaireResponse it carries."""
    urls = Urls(packet.key)
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
    entries.append((urls.of("Patient"), beneficiary(packet)))
    entries.append((urls.of("Coverage"), coverage(packet, urls)))
    entries.append((urls.of("Organization", "insurer"), insurer(packet)))
    entries.append((urls.of("Organization", "requestor"), requestor(packet)))
    entries.append((urls.of("Practitioner"), practitioner(packet)))
    entries.append((urls.of("PractitionerRole"), practitioner_role(packet, urls)))
    for index, line in enumerate(lines, start=1):
        entries.append((urls.of("ServiceRequest", str(index)), service_request(packet, urls, line)))
    entries.append((urls.of("DocumentReference"), document(packet, urls, pdf)))
    entries.append((urls.of("QuestionnaireResponse"), questionnaire_response))
    bundle = {
        "resourceType": "Bundle",
        "meta": {"profile": [f"{PAS}/profile-pas-request-bundle"], "tag": [DRAFT_TAG]},
        "identifier": {"system": SYSTEM_PACKET, "value": packet.trace_number},
        "type": "collection",
        "timestamp": instant(packet),
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
    }
    return bundle, questionnaire_response


def _claim(packet: Packet, urls: Urls, lines: list[Mapping[str, Any]]) -> dict[str, Any]:
    expedited = packet.options.urgency == "expedited"
    diagnoses = [code for code, _words in packet.diagnoses]
    items = []
    for index, line in enumerate(lines, start=1):
        item: dict[str, Any] = {
            "extension": [
                ext(f"{PAS}/extension-serviceItemRequestType", concept(f"{X12}/1525", "HS", "Health Services Review")),
                ext(f"{PAS}/extension-certificationType", concept(f"{X12}/1322", "I", "Initial")),
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
            "category": concept(f"{X12}/1365", "1", "Medical Care"),
            "productOrService": {
                "coding": [{"system": SYSTEM_CPT, "code": str(line["code"])}],
                "text": str(line.get("display", "")),
            },
            "modifier": [
                {"coding": [{"system": modifier_system(str(m)), "code": str(m)}]} for m in line.get("modifiers", [])
            ],
            **_serviced(packet),
            "locationCodeableConcept": concept(
                SYSTEM_POS, packet.place_of_service, packet.place_of_service_words.split(" ", 1)[1]
            ),
            "quantity": {"value": int(line.get("units", 1))},
        }
        items.append({key: value for key, value in item.items() if value not in ([], None)})
    claim: dict[str, Any] = {
        "resourceType": "Claim",
        "meta": {"profile": [f"{PAS}/profile-claim"], "tag": [DRAFT_TAG]},
        "extension": [
            ext(
                f"{PAS}/extension-levelOfServiceCode",
                concept(f"{X12}/1338", "U", "Urgent") if expedited else concept(f"{X12}/1338", "E", "Elective"),
            )
        ],
        "identifier": [{"system": SYSTEM_TRACE, "value": packet.trace_number}],
        "status": "active",
        "type": concept("http://terminology.hl7.org/CodeSystem/claim-type", "professional", "Professional"),
        "use": "preauthorization",
        "patient": {"reference": urls.of("Patient")},
        "created": instant(packet),
        "insurer": {"reference": urls.of("Organization", "insurer")},
        "provider": {"reference": urls.of("Organization", "requestor")},
        "priority": concept("http://terminology.hl7.org/CodeSystem/processpriority", "stat" if expedited else "normal"),
        "careTeam": [
            {
                "extension": [{"url": f"{PAS}/extension-careTeamClaimScope", "valueBoolean": True}],
                "sequence": 1,
                "provider": {"reference": urls.of("PractitionerRole")},
                "role": concept(
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
                        "valueCodeableConcept": concept(f"{X12}/755", "PY", "Physician's Report"),
                    },
                    {
                        "url": "transmissionMethod",
                        "valueCodeableConcept": concept(f"{X12}/756", "EL", "Electronically Only"),
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
