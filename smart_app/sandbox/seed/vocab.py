"""Code systems and the handful of codings the seed records use (see ../shared/contracts/fhir-conventions.md).

Only codes the project's references confirm are used; anything else is carried as text.
"""

from __future__ import annotations

from typing import Any

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
CPT_OID = "urn:oid:2.16.840.1.113883.6.12"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"
NPI = "http://hl7.org/fhir/sid/us-npi"
MBI = "http://hl7.org/fhir/sid/us-mbi"
V2_IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
US_CORE_DOCUMENT_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"

# Our own identifier systems for the sandbox EHR.
SANDBOX_MRN = "https://sandbox.spine-auth.example/fhir/sid/mrn"
SANDBOX_COMMERCIAL_MEMBER = "https://sandbox.spine-auth.example/fhir/sid/bluebell-member-id"
SANDBOX_ORGANIZATION_ID_SYSTEM = "https://sandbox.spine-auth.example/fhir/sid/organization"

PAIN_NRS = ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported")
ODI = ("97909-6", "Oswestry Disability Index score [ODI]")
RADIOLOGY_CATEGORY = ("LP29684-5", "Radiology")
PROGRESS_NOTE = ("11506-3", "Progress note")

DIAGNOSTIC_PROCEDURE = ("103693007", "Diagnostic procedure")
THERAPEUTIC_PROCEDURE = ("277132007", "Therapeutic procedure")
SPINAL_INSTABILITY = ("240220009", "Spinal instability")


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"system": system, "code": code}
    if display:
        result["display"] = display
    return result


def concept(*codings: dict[str, Any], text: str | None = None) -> dict[str, Any]:
    """A CodeableConcept; text-only when no coding is given."""
    result: dict[str, Any] = {}
    if codings:
        result["coding"] = list(codings)
    if text:
        result["text"] = text
    return result


def icd10(code: str, display: str) -> dict[str, Any]:
    return coding(ICD10, code, display)


def snomed(code: str, display: str) -> dict[str, Any]:
    return coding(SNOMED, code, display)


def rxnorm(code: str, display: str) -> dict[str, Any]:
    return coding(RXNORM, code, display)
