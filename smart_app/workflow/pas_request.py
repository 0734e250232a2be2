"""A minimal PAS 2.2.1 request Bundle built from what the worklist knows about a request. The app no longer sends
it (submission sends the kept packet's PAS Bundle, `workflow/pas_send.py`); it stays only because the sandbox
payer's own tests (tests/payer/test_payer.py) build their requests with it: delete it when they stop.

It holds the Claim first (use = preauthorization, identifier = the request's business identifier, one item per
CPT line with its modifiers, units and ICD-10-CM diagnoses), then the Beneficiary, the Coverage with the member id,
the Insurer and the Requestor, every reference resolving inside the Bundle, and the checklist report as a PAS
DocumentReference when one is given.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from smart_app.store.prior_auth_requests import PriorAuthRequest

PAS = "http://hl7.org/fhir/us/davinci-pas"
TRN_SYSTEM = "urn:trnorg:spine-auth"
CPT = "http://www.ama-assn.org/go/cpt"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
X12_LEVEL_OF_SERVICE = "https://codesystem.x12.org/005010/1338"
X12_REQUEST_TYPE = "https://codesystem.x12.org/005010/1525"
X12_CERTIFICATION = "https://codesystem.x12.org/005010/1322"
X12_SERVICE_TYPE = "https://codesystem.x12.org/005010/1365"
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
SETTING_POS = {"physician": "11", "hospital-outpatient": "22", "asc": "24"}


def build_pas_request(request: PriorAuthRequest, *, now: datetime, report_pdf: bytes | None = None) -> dict[str, Any]:
    """The PAS request Bundle of a worklist request; its identifier is the request's claim identifier, so a retry
    of the same submission is the same business transaction for the payer."""
    ident = request.claim_identifier
    lines: list[dict[str, Any]] = list(request.details.get("lines") or [])
    diagnoses = list(dict.fromkeys(code for line in lines for code in line.get("diagnoses", [])))
    patient_url, coverage_url, insurer_url, requestor_url, document_url = (
        f"urn:uuid:{ident[:8]}-{ident[8:12]}-{ident[12:16]}-{ident[16:20]}-{suffix:012d}" for suffix in range(1, 6)
    )
    expedited = request.priority == "expedited"
    claim: dict[str, Any] = {
        "resourceType": "Claim",
        "meta": {"profile": [f"{PAS}/StructureDefinition/profile-claim"]},
        "extension": [
            {
                "url": f"{PAS}/StructureDefinition/extension-levelOfServiceType",
                "valueCodeableConcept": {
                    "coding": [{"system": X12_LEVEL_OF_SERVICE, "code": "U" if expedited else "E"}]
                },
            }
        ],
        "identifier": [{"system": TRN_SYSTEM, "value": ident}],
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
        "use": "preauthorization",
        "patient": {"reference": patient_url},
        "created": now.isoformat(timespec="seconds"),
        "insurer": {"reference": insurer_url},
        "provider": {"reference": requestor_url},
        "priority": {"coding": [{"code": "stat" if expedited else "normal"}]},
        "diagnosis": [
            {"sequence": index + 1, "diagnosisCodeableConcept": {"coding": [{"system": ICD10, "code": code}]}}
            for index, code in enumerate(diagnoses[:12])
        ],
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": coverage_url}}],
        "item": [_item(index + 1, line, diagnoses, request) for index, line in enumerate(lines)],
    }
    entries = [
        {"fullUrl": f"urn:uuid:{_uuid(ident)}", "resource": claim},
        {"fullUrl": patient_url, "resource": _patient(request)},
        {"fullUrl": coverage_url, "resource": _coverage(request, patient_url, insurer_url)},
        {"fullUrl": insurer_url, "resource": _organization(request.payer_name or request.payer_id, "payer")},
        {"fullUrl": requestor_url, "resource": _organization(request.ordering_provider or "Ordering practice", "prov")},
    ]
    if report_pdf is not None:
        claim["supportingInfo"] = [
            {
                "sequence": 1,
                "category": {
                    "coding": [{"system": f"{PAS}/CodeSystem/PASSupportingInfoType", "code": "additionalInformation"}]
                },
                "valueReference": {"reference": document_url},
            }
        ]
        entries.append({"fullUrl": document_url, "resource": _document(report_pdf, patient_url, now)})
    return {
        "resourceType": "Bundle",
        "meta": {"profile": [f"{PAS}/StructureDefinition/profile-pas-request-bundle"]},
        "identifier": {"system": TRN_SYSTEM, "value": ident},
        "type": "collection",
        "timestamp": now.astimezone(UTC).isoformat(timespec="seconds"),
        "entry": entries,
    }


def _uuid(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:32]}"


def _item(sequence: int, line: dict[str, Any], diagnoses: list[str], request: PriorAuthRequest) -> dict[str, Any]:
    setting = str(request.details.get("setting") or "physician")
    return {
        "sequence": sequence,
        "extension": [
            {
                "url": f"{PAS}/StructureDefinition/extension-requestType",
                "valueCodeableConcept": {"coding": [{"system": X12_REQUEST_TYPE, "code": "HS"}]},
            },
            {
                "url": f"{PAS}/StructureDefinition/extension-certificationType",
                "valueCodeableConcept": {"coding": [{"system": X12_CERTIFICATION, "code": "I"}]},
            },
        ],
        "diagnosisSequence": [diagnoses.index(code) + 1 for code in line.get("diagnoses", []) if code in diagnoses][:4],
        "category": {"coding": [{"system": X12_SERVICE_TYPE, "code": "1"}]},
        "productOrService": {"coding": [{"system": CPT, "code": str(line["code"])}]},
        "modifier": [{"coding": [{"system": CPT, "code": str(m)}]} for m in line.get("modifiers", [])],
        "quantity": {"value": line.get("units", 1)},
        "locationCodeableConcept": {"coding": [{"system": POS, "code": SETTING_POS.get(setting, "11")}]},
    }


def _patient(request: PriorAuthRequest) -> dict[str, Any]:
    given, _, family = request.patient_name.rpartition(" ")
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "meta": {"profile": [f"{PAS}/StructureDefinition/profile-beneficiary"]},
        "name": [
            {
                "text": request.patient_name,
                "family": family or request.patient_name,
                **({"given": given.split()} if given else {}),
            }
        ],
    }
    if request.birth_date:
        patient["birthDate"] = request.birth_date
    if request.mrn:
        patient["identifier"] = [
            {
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                "value": request.mrn,
            }
        ]
    return patient


def _coverage(request: PriorAuthRequest, patient_url: str, insurer_url: str) -> dict[str, Any]:
    return {
        "resourceType": "Coverage",
        "meta": {"profile": [f"{PAS}/StructureDefinition/profile-coverage"]},
        "identifier": [
            {
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MB"}]},
                "value": request.member_id or "unknown",
            }
        ],
        "status": "active",
        "subscriberId": request.member_id or "unknown",
        "beneficiary": {"reference": patient_url},
        "relationship": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "self"}]
        },
        "payor": [{"reference": insurer_url}],
    }


def _organization(name: str, kind: str) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "meta": {"profile": [f"{PAS}/StructureDefinition/profile-{'insurer' if kind == 'payer' else 'requestor'}"]},
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": kind}]}],
        "name": name,
    }


def _document(pdf: bytes, patient_url: str, now: datetime) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "meta": {"profile": [f"{PAS}/StructureDefinition/profile-documentreference"]},
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "103597-1"}]},
        "category": [
            {
                "coding": [
                    {
                        "system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                        "code": "clinical-note",
                    }
                ]
            }
        ],
        "subject": {"reference": patient_url},
        "date": now.isoformat(timespec="seconds"),
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "data": base64.b64encode(pdf).decode("ascii"),
                    "title": "Prior-authorization checklist report",
                }
            }
        ],
    }
