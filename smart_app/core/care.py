"""Conservative care with its dates: therapy sessions (Procedure) and analgesics (MedicationRequest/Statement).

Therapies by CPT or SNOMED code (physical therapy, exercise/movement therapy, chiropractic manipulation,
acupuncture); analgesics by RxNorm code or by ingredient name in the drug's text, because records often carry
clinical-drug codes (fhir-conventions "Medications"). A medication order that is `active` runs until the check date;
otherwise it lasts from its start to the end of its period (or that one day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from smart_app.core.fhir_json import (
    as_dict,
    coded,
    codings,
    concept_text,
    cpt_codes,
    first_time,
    parse_fhir_time,
    reference_target,
    status_code,
)
from smart_app.core.model import SYSTEM_RXNORM, SYSTEM_SNOMED
from smart_app.core.text_findings import compile_pattern
from smart_app.core.vocabulary import (
    ANALGESIC_NAMES,
    ANALGESIC_RXNORM,
    CONSERVATIVE_THERAPY_CPT,
    CONSERVATIVE_THERAPY_SNOMED,
)

_IGNORED_MEDICATION_STATUS = frozenset({"entered-in-error", "cancelled", "draft", "not-taken", "unknown"})


@dataclass(frozen=True)
class CareEvent:
    kind: str  # therapy | analgesic
    name: str
    start: date
    end: date
    ongoing: bool
    reference: str

    def describe(self) -> str:
        if self.ongoing:
            return f"{self.name} since {self.start.isoformat()} (active)"
        if self.end > self.start:
            return f"{self.name} {self.start.isoformat()} to {self.end.isoformat()}"
        return f"{self.name} on {self.start.isoformat()}"


def read_therapy(resource: dict[str, Any], reference: str) -> CareEvent | None:
    if status_code(resource, "status") not in ("completed", "in-progress"):
        return None
    code = resource.get("code")
    name = next((CONSERVATIVE_THERAPY_CPT[c] for c in cpt_codes(code) if c in CONSERVATIVE_THERAPY_CPT), None)
    if name is None:
        snomed = coded(code, frozenset({SYSTEM_SNOMED}))
        name = next((CONSERVATIVE_THERAPY_SNOMED[c] for c in snomed if c in CONSERVATIVE_THERAPY_SNOMED), None)
    time = first_time(resource, "performedDateTime", "performedPeriod")
    if name is None or time is None:
        return None
    end = parse_fhir_time(as_dict(resource.get("performedPeriod")).get("end"))
    return CareEvent("therapy", name, time.day, max(time.day, end.day) if end else time.day, False, reference)


def read_analgesic(
    resource: dict[str, Any], reference: str, medications: dict[str, dict[str, Any]]
) -> CareEvent | None:
    """A conservative analgesic from a MedicationRequest or MedicationStatement; `medications` resolves
    `medicationReference` to Medication resources of the record."""
    status = status_code(resource, "status")
    if status in _IGNORED_MEDICATION_STATUS:
        return None
    concept = resource.get("medicationCodeableConcept")
    if concept is None:
        medication = medications.get(reference_target(resource.get("medicationReference")), {})
        concept = medication.get("code")
    name = _analgesic_name(concept)
    if name is None:
        return None
    time = first_time(resource, "authoredOn", "effectiveDateTime", "effectivePeriod", "dateAsserted")
    if time is None:
        return None
    end_value = as_dict(resource.get("effectivePeriod")).get("end") or as_dict(
        as_dict(as_dict(resource.get("dispenseRequest")).get("validityPeriod"))
    ).get("end")
    end = parse_fhir_time(end_value)
    return CareEvent(
        "analgesic", name, time.day, max(time.day, end.last_day) if end else time.day, status == "active", reference
    )


def _analgesic_name(concept: Any) -> str | None:
    for code in coded(concept, frozenset({SYSTEM_RXNORM})):
        if code in ANALGESIC_RXNORM:
            return ANALGESIC_RXNORM[code]
    text = " ".join([concept_text(concept), *(c.display for c in codings(concept))])
    for pattern, name in ANALGESIC_NAMES.items():
        if compile_pattern(pattern).search(text):
            return name
    return None
