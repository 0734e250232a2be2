"""RecordBuilder: one patient's record as a FHIR R4 transaction Bundle of `PUT Type/id` entries.

Each method adds one resource and returns its reference (`Type/id`). Ids are `seed_uuid(scenario, Type, n)`
where n counts resources of that type in the order they are added, so the same scenario code always gives
the same ids. Everything the sandbox user did (ordering, performing, authoring) points at the sandbox
Practitioner; everything kept by the clinic points at its Organization.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from smart_app.sandbox.constants import SANDBOX_ORGANIZATION_ID, SANDBOX_PRACTITIONER_ID
from smart_app.sandbox.seed import identifiers, vocab
from smart_app.sandbox.seed.ids import seed_uuid
from smart_app.sandbox.seed.spec import Payer, Person
from smart_app.sandbox.seed.timeline import day

PRACTITIONER_REF = f"Practitioner/{SANDBOX_PRACTITIONER_ID}"
ORGANIZATION_REF = f"Organization/{SANDBOX_ORGANIZATION_ID}"

Intent = Literal["diagnostic", "therapeutic"]
Modality = Literal["MR", "CT", "DX", "CR"]
ConditionVerification = Literal["confirmed", "provisional", "unconfirmed", "refuted", "entered-in-error"]
ConditionClinical = Literal["active", "recurrence", "relapse", "inactive", "remission", "resolved"]


def transaction_bundle(resources: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A transaction Bundle that PUTs every resource at `Type/id` (idempotent when loaded twice)."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{resource['id']}",
                "resource": resource,
                "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
            }
            for resource in resources
        ],
    }


def base64_text(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class RecordBuilder:
    """Collects one patient's resources; starts with the Patient and their Coverage."""

    def __init__(self, scenario_name: str, person: Person, payer: Payer, *, coverage_start: str | None = None):
        self.scenario_name = scenario_name
        self.person = person
        self.payer = payer
        self.patient_id = self.patient_id_for(scenario_name)
        self.patient_ref = f"Patient/{self.patient_id}"
        self._resources: list[dict[str, Any]] = []
        self._counts: Counter[str] = Counter()
        self.member_id = (
            identifiers.medicare_mbi(scenario_name)
            if payer.medicare
            else identifiers.commercial_member_id(scenario_name)
        )
        self._patient()
        self._coverage(coverage_start or day(-730))

    @staticmethod
    def patient_id_for(scenario_name: str) -> str:
        return seed_uuid(scenario_name, "Patient")

    # --- bookkeeping ------------------------------------------------------------------------------------

    def _add(self, resource_type: str, body: dict[str, Any]) -> str:
        self._counts[resource_type] += 1
        resource_id = seed_uuid(self.scenario_name, resource_type, str(self._counts[resource_type]))
        self._resources.append({"resourceType": resource_type, "id": resource_id, **body})
        return f"{resource_type}/{resource_id}"

    def bundle(self) -> dict[str, Any]:
        return transaction_bundle(self._resources)

    def _subject(self) -> dict[str, str]:
        return {"reference": self.patient_ref}

    # --- who and how they are covered ----------------------------------------------------------------

    def _patient(self) -> None:
        person = self.person
        member_system = vocab.MBI if self.payer.medicare else vocab.SANDBOX_COMMERCIAL_MEMBER
        self._resources.append(
            {
                "resourceType": "Patient",
                "id": self.patient_id,
                "identifier": [
                    {
                        "use": "usual",
                        "type": vocab.concept(vocab.coding(vocab.V2_IDENTIFIER_TYPE, "MR", "Medical record number")),
                        "system": vocab.SANDBOX_MRN,
                        "value": identifiers.mrn(self.scenario_name),
                    },
                    {
                        "use": "secondary",
                        "type": vocab.concept(vocab.coding(vocab.V2_IDENTIFIER_TYPE, "MB", "Member Number")),
                        "system": member_system,
                        "value": self.member_id,
                    },
                ],
                "active": True,
                "name": [{"use": "official", "family": person.family, "given": list(person.given)}],
                "gender": person.gender,
                "birthDate": person.birth_date,
                "address": [{"use": "home", "city": person.city, "state": person.state, "country": "US"}],
                "generalPractitioner": [{"reference": PRACTITIONER_REF}],
                "managingOrganization": {"reference": ORGANIZATION_REF},
            }
        )

    def _coverage(self, start: str) -> None:
        payer = self.payer
        body: dict[str, Any] = {
            "identifier": [
                {
                    "type": vocab.concept(vocab.coding(vocab.V2_IDENTIFIER_TYPE, "MB", "Member Number")),
                    "system": vocab.MBI if payer.medicare else vocab.SANDBOX_COMMERCIAL_MEMBER,
                    "value": self.member_id,
                }
            ],
            "status": "active",
            "type": vocab.concept(text="Medicare" if payer.medicare else "Commercial PPO"),
            "subscriberId": self.member_id,
            "beneficiary": self._subject(),
            "relationship": vocab.concept(vocab.coding(vocab.SUBSCRIBER_RELATIONSHIP, payer.relationship)),
            "period": {"start": start},
            "payor": [{"display": payer.display}],
            "class": [
                {
                    "type": vocab.concept(vocab.coding(vocab.COVERAGE_CLASS, "plan", "Plan")),
                    "value": payer.plan.upper().replace(" ", "-"),
                    "name": payer.plan,
                }
            ],
        }
        if payer.subscriber:
            body["subscriber"] = {"display": payer.subscriber}
        self._add("Coverage", body)

    # --- clinical content --------------------------------------------------------------------------------

    def condition(
        self,
        code: Sequence[dict[str, Any]],
        text: str | None,
        *,
        onset: str | None = None,
        onset_period_start: str | None = None,
        recorded: str | None = None,
        clinical: ConditionClinical | None = "active",
        verification: ConditionVerification = "confirmed",
        body_site: str | None = None,
        category: str = "problem-list-item",
        note: str | None = None,
    ) -> str:
        body: dict[str, Any] = {}
        if clinical and verification != "entered-in-error":  # con-5: no clinicalStatus on entered-in-error
            body["clinicalStatus"] = vocab.concept(vocab.coding(vocab.CONDITION_CLINICAL, clinical))
        body["verificationStatus"] = vocab.concept(vocab.coding(vocab.CONDITION_VERIFICATION, verification))
        body["category"] = [vocab.concept(vocab.coding(vocab.CONDITION_CATEGORY, category))]
        body["code"] = vocab.concept(*code, text=text)
        if body_site:
            body["bodySite"] = [vocab.concept(text=body_site)]
        body["subject"] = self._subject()
        if onset:
            body["onsetDateTime"] = onset
        if onset_period_start:
            body["onsetPeriod"] = {"start": onset_period_start}
        if recorded:
            body["recordedDate"] = recorded
        body["recorder"] = {"reference": PRACTITIONER_REF}
        if note:
            body["note"] = [{"text": note}]
        return self._add("Condition", body)

    def procedure(
        self,
        code: str,
        text: str,
        *,
        performed: str,
        performed_end: str | None = None,
        system: str = vocab.CPT,
        intent: Intent | None = None,
        body_site: str | None = None,
        status: str = "completed",
        note: str | None = None,
        by_sandbox_user: bool = True,
    ) -> str:
        body: dict[str, Any] = {"status": status}
        if intent:
            category = vocab.DIAGNOSTIC_PROCEDURE if intent == "diagnostic" else vocab.THERAPEUTIC_PROCEDURE
            body["category"] = vocab.concept(vocab.snomed(*category))
        body["code"] = vocab.concept(vocab.coding(system, code), text=text)
        body["subject"] = self._subject()
        if performed_end:
            body["performedPeriod"] = {"start": performed, "end": performed_end}
        else:
            body["performedDateTime"] = performed
        if by_sandbox_user:
            body["performer"] = [{"actor": {"reference": PRACTITIONER_REF}}]
        if body_site:
            body["bodySite"] = [vocab.concept(text=body_site)]
        if note:
            body["note"] = [{"text": note}]
        return self._add("Procedure", body)

    def score(
        self,
        code: tuple[str, str] | None,
        text: str,
        when: str,
        value: float | str,
        *,
        unit: str = "{score}",
        part_of: str | None = None,
        status: str = "final",
        as_integer: bool = False,
        effective_period: bool = False,
    ) -> str:
        """A survey Observation: a number (valueQuantity, or valueInteger) or, for messy records, a string."""
        body: dict[str, Any] = {"status": status}
        if part_of:
            body["partOf"] = [{"reference": part_of}]
        body["category"] = [vocab.concept(vocab.coding(vocab.OBSERVATION_CATEGORY, "survey", "Survey"))]
        body["code"] = vocab.concept(vocab.coding(vocab.LOINC, *code), text=text) if code else vocab.concept(text=text)
        body["subject"] = self._subject()
        if effective_period:
            body["effectivePeriod"] = {"start": when}
        else:
            body["effectiveDateTime"] = when
        body["performer"] = [{"reference": PRACTITIONER_REF}]
        if isinstance(value, str):
            body["valueString"] = value
        elif as_integer:
            body["valueInteger"] = int(value)
        else:
            body["valueQuantity"] = {"value": value, "unit": unit, "system": vocab.UCUM, "code": unit}
        return self._add("Observation", body)

    def pain(self, when: str, value: int, *, part_of: str | None = None) -> str:
        """Pain on the 0–10 numeric rating scale (LOINC 72514-3)."""
        return self.score(vocab.PAIN_NRS, vocab.PAIN_NRS[1], when, value, part_of=part_of)

    def odi(self, when: str, percent: int) -> str:
        """Oswestry Disability Index (LOINC 97909-6), percent."""
        return self.score(vocab.ODI, "Oswestry Disability Index (ODI) score", when, percent, unit="%")

    def ndi(self, when: str, percent: int) -> str:
        """Neck Disability Index: no LOINC code is confirmed in our references, so it is carried by text."""
        return self.score(None, "Neck Disability Index (NDI) score", when, percent, unit="%")

    def imaging(
        self,
        *,
        modality: Modality,
        when: str,
        description: str,
        conclusion: str | None,
        region: str,
        conclusion_codes: Sequence[dict[str, Any]] = (),
        presented_text: str | None = None,
        report_status: str = "final",
    ) -> tuple[str, str]:
        """An ImagingStudy and the radiology DiagnosticReport that reads it; returns both references."""
        modality_coding = vocab.coding(vocab.DICOM_DCM, modality)
        series_uid = f"2.25.{int(seed_uuid(self.scenario_name, 'series', when, description).replace('-', ''), 16)}"
        study_ref = self._add(
            "ImagingStudy",
            {
                "status": "available",
                "modality": [modality_coding],
                "subject": self._subject(),
                "started": when,
                "referrer": {"reference": PRACTITIONER_REF},
                "numberOfSeries": 1,
                "numberOfInstances": 24 if modality in ("MR", "CT") else 3,
                "description": description,
                "series": [
                    {
                        "uid": series_uid,
                        "modality": modality_coding,
                        "description": description,
                        "numberOfInstances": 24 if modality in ("MR", "CT") else 3,
                        "bodySite": {"display": region},
                    }
                ],
            },
        )
        report: dict[str, Any] = {
            "status": report_status,
            "category": [vocab.concept(vocab.coding(vocab.LOINC, *vocab.RADIOLOGY_CATEGORY))],
            "code": vocab.concept(text=description),
            "subject": self._subject(),
            "effectiveDateTime": when,
            "issued": f"{when}T16:00:00-05:00" if "T" not in when else when,
            "imagingStudy": [{"reference": study_ref}],
        }
        if conclusion:
            report["conclusion"] = conclusion
        if conclusion_codes:
            report["conclusionCode"] = [vocab.concept(item) for item in conclusion_codes]
        if presented_text:
            report["presentedForm"] = [
                {"contentType": "text/plain", "data": base64_text(presented_text), "title": description}
            ]
        report_ref = self._add("DiagnosticReport", report)
        return study_ref, report_ref

    def medication_request(
        self,
        medication: dict[str, Any],
        *,
        authored_on: str,
        dosage: str,
        status: str = "completed",
        note: str | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "status": status,
            "intent": "order",
            "medicationCodeableConcept": medication,
            "subject": self._subject(),
            "authoredOn": authored_on,
            "requester": {"reference": PRACTITIONER_REF},
            "dosageInstruction": [{"text": dosage}],
        }
        if note:
            body["note"] = [{"text": note}]
        return self._add("MedicationRequest", body)

    def medication_statement(
        self,
        medication: dict[str, Any],
        *,
        start: str,
        end: str | None,
        status: str = "completed",
        note: str | None = None,
    ) -> str:
        period = {"start": start, "end": end} if end else {"start": start}
        body: dict[str, Any] = {
            "status": status,
            "medicationCodeableConcept": medication,
            "subject": self._subject(),
            "effectivePeriod": period,
            "dateAsserted": end or start,
            "informationSource": {"reference": self.patient_ref},
        }
        if note:
            body["note"] = [{"text": note}]
        return self._add("MedicationStatement", body)

    def encounter(self, *, start: str, end: str, reason: str, kind: str = "Spine clinic office visit") -> str:
        return self._add(
            "Encounter",
            {
                "status": "finished",
                "class": vocab.coding(vocab.ACT_CODE, "AMB", "ambulatory"),
                "type": [vocab.concept(text=kind)],
                "subject": self._subject(),
                "participant": [{"individual": {"reference": PRACTITIONER_REF}}],
                "period": {"start": start, "end": end},
                "reasonCode": [vocab.concept(text=reason)],
                "serviceProvider": {"reference": ORGANIZATION_REF},
            },
        )

    def note(self, *, when: str, title: str, text: str, encounter: str | None = None) -> str:
        """A signed clinic note (DocumentReference with the text inline, base64 text/plain)."""
        body: dict[str, Any] = {
            "status": "current",
            "docStatus": "final",
            "type": vocab.concept(vocab.coding(vocab.LOINC, *vocab.PROGRESS_NOTE), text=title),
            "category": [
                vocab.concept(vocab.coding(vocab.US_CORE_DOCUMENT_CATEGORY, "clinical-note", "Clinical Note"))
            ],
            "subject": self._subject(),
            "date": when,
            "author": [{"reference": PRACTITIONER_REF}],
            "authenticator": {"reference": PRACTITIONER_REF},
            "custodian": {"reference": ORGANIZATION_REF},
            "description": title,
            "content": [
                {
                    "attachment": {
                        "contentType": "text/plain",
                        "language": "en-US",
                        "data": base64_text(text),
                        "title": title,
                        "creation": when,
                    }
                }
            ],
        }
        if encounter:
            body["context"] = {"encounter": [{"reference": encounter}], "period": {"start": when}}
        return self._add("DocumentReference", body)

    def device(self, *, name: str, type_text: str, implanted: str, status: str = "active") -> str:
        return self._add(
            "Device",
            {
                "status": status,
                "deviceName": [{"name": name, "type": "user-friendly-name"}],
                "type": vocab.concept(text=type_text),
                "patient": self._subject(),
                "owner": {"reference": ORGANIZATION_REF},
                "note": [{"text": f"Implanted {implanted}."}],
            },
        )
