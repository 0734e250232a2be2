"""A deliberately large patient record for benchmarks (fetch paging, fact extraction); not loaded by default.

`build_large_record(n)` gives one transaction Bundle of about n resources (exactly n entries, the Patient
included) spread over the types the app reads. Content repeats from small pools of plausible spine-clinic
data, dated back over ten years from the seed anchor. Ids are uuid5 of the patient id and the entry number,
so the same arguments always give the same Bundle. It references nothing outside itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from smart_app.sandbox.seed import vocab
from smart_app.sandbox.seed.builder import transaction_bundle
from smart_app.sandbox.seed.identifiers import medicare_mbi, mrn
from smart_app.sandbox.seed.ids import seed_uuid
from smart_app.sandbox.seed.timeline import day, moment

LARGE_RECORD_NAME = "large-record"
SPAN_DAYS = 3650

# Share of entries per type, per 100 (the Patient is added on top of the mix).
MIX: tuple[tuple[str, int], ...] = (
    ("Observation", 30),
    ("Procedure", 12),
    ("Condition", 9),
    ("ImagingStudy", 8),
    ("DiagnosticReport", 8),
    ("DocumentReference", 8),
    ("MedicationRequest", 8),
    ("MedicationStatement", 6),
    ("ServiceRequest", 9),
    ("Coverage", 2),
    ("Device", 1),
)

CONDITIONS = (
    ("M47.816", "Spondylosis without myelopathy or radiculopathy, lumbar region"),
    ("M54.50", "Low back pain, unspecified"),
    ("M54.2", "Cervicalgia"),
    ("I10", "Essential (primary) hypertension"),
    ("E78.5", "Hyperlipidemia, unspecified"),
    ("E11.9", "Type 2 diabetes mellitus without complications"),
    ("M17.11", "Unilateral primary osteoarthritis, right knee"),
)
PROCEDURES = (
    ("97110", "Physical therapy: therapeutic exercise"),
    ("97140", "Physical therapy: manual therapy"),
    ("97530", "Physical therapy: therapeutic activities"),
    ("98940", "Chiropractic manipulative treatment, spinal, 1-2 regions"),
    ("20610", "Arthrocentesis, major joint (knee), with injection"),
)
MEDICATIONS = (
    ("7258", "naproxen"),
    ("5640", "ibuprofen"),
    ("161", "acetaminophen"),
    ("41493", "meloxicam"),
    ("6809", "metformin"),
    ("29046", "lisinopril"),
)
IMAGING = (
    ("MR", "MRI lumbar spine without contrast", "Mild multilevel facet arthropathy. No disc herniation."),
    ("DX", "Lumbar spine radiographs, 2 views", "Mild degenerative change. Alignment normal."),
    ("CT", "CT lumbar spine without contrast", "Facet arthropathy L4-L5 and L5-S1. No fracture."),
    ("DX", "Right knee radiographs, 3 views", "Moderate medial compartment joint space narrowing."),
)
DEVICES = ("Knee brace", "Walking cane", "Lumbar support belt")
PAYERS = ("Medicare Part B", "Bluebell Health PPO", "Medicare Advantage Sandbox Plan")
SERVICES = (
    ("97161", "Physical therapy evaluation"),
    ("72148", "MRI lumbar spine without contrast"),
    ("99213", "Office visit, established patient"),
)


def _mix_cycle() -> list[str]:
    return list(itertools.chain.from_iterable([kind] * weight for kind, weight in MIX))


class _LargeRecord:
    def __init__(self, n_resources: int, patient_id: str | None):
        self.n = n_resources
        self.patient_id = patient_id or seed_uuid(LARGE_RECORD_NAME, "Patient")
        self.subject = {"reference": f"Patient/{self.patient_id}"}
        self.last_study: str | None = None
        self.makers: dict[str, Callable[[int], dict[str, Any]]] = {
            "Observation": self.observation,
            "Procedure": self.procedure,
            "Condition": self.condition,
            "ImagingStudy": self.imaging_study,
            "DiagnosticReport": self.diagnostic_report,
            "DocumentReference": self.document_reference,
            "MedicationRequest": self.medication_request,
            "MedicationStatement": self.medication_statement,
            "ServiceRequest": self.service_request,
            "Coverage": self.coverage,
            "Device": self.device,
        }

    def offset(self, index: int) -> int:
        """Entries run from ten years ago (index 1) up to the day before the anchor."""
        return -SPAN_DAYS + (SPAN_DAYS - 1) * index // max(self.n - 1, 1)

    def resource_id(self, kind: str, index: int) -> str:
        return seed_uuid(LARGE_RECORD_NAME, self.patient_id, kind, str(index))

    def build(self) -> dict[str, Any]:
        resources = [self.patient()]
        cycle = _mix_cycle()
        # The first entries cover every type once, so even a small record holds them all.
        order = [kind for kind, _ in MIX] + cycle * (self.n // len(cycle) + 1)
        for index in range(1, self.n):
            kind = order[index - 1]
            if kind == "DiagnosticReport" and self.last_study is None:
                kind = "ImagingStudy"
            body = self.makers[kind](index)
            resource = {"resourceType": kind, "id": self.resource_id(kind, index), **body}
            if kind == "ImagingStudy":
                self.last_study = f"ImagingStudy/{resource['id']}"
            resources.append(resource)
        return transaction_bundle(resources)

    def patient(self) -> dict[str, Any]:
        return {
            "resourceType": "Patient",
            "id": self.patient_id,
            "identifier": [
                {"system": vocab.SANDBOX_MRN, "value": mrn(self.patient_id)},
                {"system": vocab.MBI, "value": medicare_mbi(self.patient_id)},
            ],
            "name": [{"family": "Benchmark", "given": ["Large", "Record"]}],
            "gender": "female",
            "birthDate": "1950-01-01",
        }

    def observation(self, index: int) -> dict[str, Any]:
        code, unit, value = (
            (vocab.ODI, "%", 20 + index % 40) if index % 4 == 0 else (vocab.PAIN_NRS, "{score}", index % 11)
        )
        return {
            "status": "final",
            "category": [vocab.concept(vocab.coding(vocab.OBSERVATION_CATEGORY, "survey"))],
            "code": vocab.concept(vocab.coding(vocab.LOINC, *code)),
            "subject": self.subject,
            "effectiveDateTime": moment(self.offset(index), "10:00"),
            "valueQuantity": {"value": value, "unit": unit, "system": vocab.UCUM, "code": unit},
        }

    def procedure(self, index: int) -> dict[str, Any]:
        code, text = PROCEDURES[index % len(PROCEDURES)]
        return {
            "status": "completed",
            "code": vocab.concept(vocab.coding(vocab.CPT, code), text=text),
            "subject": self.subject,
            "performedDateTime": day(self.offset(index)),
        }

    def condition(self, index: int) -> dict[str, Any]:
        code, display = CONDITIONS[index % len(CONDITIONS)]
        return {
            "clinicalStatus": vocab.concept(
                vocab.coding(vocab.CONDITION_CLINICAL, "active" if index % 3 else "resolved")
            ),
            "verificationStatus": vocab.concept(vocab.coding(vocab.CONDITION_VERIFICATION, "confirmed")),
            "category": [vocab.concept(vocab.coding(vocab.CONDITION_CATEGORY, "encounter-diagnosis"))],
            "code": vocab.concept(vocab.icd10(code, display), text=display),
            "subject": self.subject,
            "onsetDateTime": day(self.offset(index)),
        }

    def imaging_study(self, index: int) -> dict[str, Any]:
        modality, description, _ = IMAGING[index % len(IMAGING)]
        return {
            "status": "available",
            "modality": [vocab.coding(vocab.DICOM_DCM, modality)],
            "subject": self.subject,
            "started": day(self.offset(index)),
            "description": description,
            "numberOfSeries": 1,
            "numberOfInstances": 12,
        }

    def diagnostic_report(self, index: int) -> dict[str, Any]:
        _, description, conclusion = IMAGING[index % len(IMAGING)]
        return {
            "status": "final",
            "category": [vocab.concept(vocab.coding(vocab.LOINC, *vocab.RADIOLOGY_CATEGORY))],
            "code": vocab.concept(text=description),
            "subject": self.subject,
            "effectiveDateTime": day(self.offset(index)),
            "imagingStudy": [{"reference": self.last_study}],
            "conclusion": conclusion,
        }

    def document_reference(self, index: int) -> dict[str, Any]:
        """Metadata only: the document itself lives elsewhere (attachment url), as in most EHR exports."""
        when = moment(self.offset(index), "16:00")
        document_id = self.resource_id("document", index)
        return {
            "status": "current",
            "type": vocab.concept(vocab.coding(vocab.LOINC, *vocab.PROGRESS_NOTE)),
            "subject": self.subject,
            "date": when,
            "description": "Office visit note",
            "content": [
                {
                    "attachment": {
                        "contentType": "application/pdf",
                        "url": f"https://documents.sandbox.spine-auth.example/{document_id}.pdf",
                        "title": "Office visit note",
                        "creation": when,
                        "size": 20000 + index,
                    }
                }
            ],
        }

    def medication_request(self, index: int) -> dict[str, Any]:
        code, name = MEDICATIONS[index % len(MEDICATIONS)]
        return {
            "status": "completed" if index % 5 else "active",
            "intent": "order",
            "medicationCodeableConcept": vocab.concept(vocab.rxnorm(code, name), text=name),
            "subject": self.subject,
            "authoredOn": day(self.offset(index)),
        }

    def medication_statement(self, index: int) -> dict[str, Any]:
        code, name = MEDICATIONS[(index + 2) % len(MEDICATIONS)]
        return {
            "status": "completed",
            "medicationCodeableConcept": vocab.concept(vocab.rxnorm(code, name), text=name),
            "subject": self.subject,
            "effectivePeriod": {"start": day(self.offset(index)), "end": day(self.offset(index) + 30)},
        }

    def service_request(self, index: int) -> dict[str, Any]:
        code, text = SERVICES[index % len(SERVICES)]
        return {
            "status": "completed",
            "intent": "order",
            "code": vocab.concept(vocab.coding(vocab.CPT, code), text=text),
            "subject": self.subject,
            "authoredOn": moment(self.offset(index), "11:00"),
        }

    def coverage(self, index: int) -> dict[str, Any]:
        payer = PAYERS[index % len(PAYERS)]
        start = self.offset(index)
        return {
            "status": "cancelled" if index < self.n // 2 else "active",
            "subscriberId": f"LR{index:06d}",
            "beneficiary": self.subject,
            "period": {"start": day(start), "end": day(min(start + 365, -1))},
            "payor": [{"display": payer}],
        }

    def device(self, index: int) -> dict[str, Any]:
        name = DEVICES[index % len(DEVICES)]
        return {
            "status": "active",
            "deviceName": [{"name": name, "type": "user-friendly-name"}],
            "type": {"text": name},
            "patient": self.subject,
        }


def build_large_record(n_resources: int = 2000, *, patient_id: str | None = None) -> dict[str, Any]:
    """One patient with `n_resources` entries in a transaction Bundle (Patient included), valid R4."""
    if n_resources < 1 + len(MIX):
        raise ValueError(f"a large record needs at least {1 + len(MIX)} resources, got {n_resources}")
    return _LargeRecord(n_resources, patient_id).build()
