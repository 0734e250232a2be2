"""The key fields of one FHIR resource, for the evidence view a clinician opens from a checklist line.

A reviewer wants the facts behind a criterion, not the JSON: its dates, its codes with their displays, its
values, the report's conclusion and text. `key_fields` picks those from any resource type the record holds (and
from what the draft order writes), in a fixed order, each rendered as plain text; references to other resources
of the record stay links. Nothing here does I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from smart_app.fhir.record import RECORD_TYPES

# What the view opens: the record's types, what they point at, and what the draft order writes.
VIEWABLE_TYPES: frozenset[str] = frozenset({*RECORD_TYPES, "Encounter", "Provenance", "Device"})
# Resources without a patient link that may still be shown (the app's own Device, the order's Provenance).
UNLINKED_TYPES: frozenset[str] = frozenset({"Provenance", "Device"})
PATIENT_LINKS: tuple[str, ...] = ("subject", "patient", "beneficiary")
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
MAX_TEXT = 4000
# Parts of composite elements that mean nothing to a reader (identifiers of DICOM instances, extensions).
_NOT_SHOWN = frozenset({"id", "extension", "modifierExtension", "uid", "number", "instance", "sopClass", "endpoint"})

SYSTEM_LABELS: dict[str, str] = {
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
    "http://hl7.org/fhir/sid/icd-10": "ICD-10",
    "http://snomed.info/sct": "SNOMED CT",
    "http://loinc.org": "LOINC",
    "http://www.ama-assn.org/go/cpt": "CPT",
    "urn:oid:2.16.840.1.113883.6.12": "CPT",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://dicom.nema.org/resources/ontology/DCM": "DICOM",
}

# (label, element names or `prefix*` for a choice type [x]) in the order they are shown; `LABELS_BY_TYPE` renames
# a field where one resource type means something else by it.
FIELD_ORDER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Name", ("name",)),
    ("Gender", ("gender",)),
    ("Birth date", ("birthDate",)),
    ("Identifier", ("identifier",)),
    ("Status", ("status", "docStatus")),
    ("Clinical status", ("clinicalStatus",)),
    ("Verification", ("verificationStatus",)),
    ("Intent", ("intent",)),
    ("Category", ("category",)),
    ("Type", ("type",)),
    ("Code", ("code",)),
    ("Procedure code", ("procedureCode",)),
    ("Medication", ("medication*",)),
    ("Body site", ("bodySite",)),
    ("Onset", ("onset*",)),
    ("Abatement", ("abatement*",)),
    ("Recorded", ("recordedDate", "recorded", "dateAsserted")),
    ("Effective", ("effective*",)),
    ("Performed", ("performed*",)),
    ("Occurrence", ("occurrence*",)),
    ("Started", ("started",)),
    ("Authored", ("authoredOn",)),
    ("Date", ("date",)),
    ("Issued", ("issued",)),
    ("Period", ("period",)),
    ("Value", ("value*",)),
    ("Components", ("component",)),
    ("Interpretation", ("interpretation",)),
    ("Quantity", ("quantity*",)),
    ("Order details", ("orderDetail",)),
    ("Dosage", ("dosage", "dosageInstruction")),
    ("Reason", ("reasonCode", "reasonReference")),
    ("Outcome", ("outcome",)),
    ("Series", ("series",)),
    ("Conclusion", ("conclusion", "conclusionCode")),
    ("Description", ("description",)),
    ("Payer", ("payor",)),
    ("Class", ("class",)),
    ("Subscriber id", ("subscriberId",)),
    ("Order of coverage", ("order",)),
    ("Requester", ("requester",)),
    ("Performer", ("performer", "asserter", "recorder")),
    ("Agent", ("agent",)),
    ("Activity", ("activity",)),
    ("Targets", ("target",)),
    ("Requisition", ("requisition",)),
    ("Supporting information", ("supportingInfo",)),
    ("Results", ("result",)),
    ("Device name", ("deviceName",)),
    ("Version", ("version",)),
    ("Note", ("note",)),
    ("Report text", ("presentedForm", "content")),
)


LABELS_BY_TYPE: dict[tuple[str, str], str] = {
    ("Coverage", "Class"): "Plan",
    ("Coverage", "Type"): "Coverage type",
    ("Coverage", "Identifier"): "Member id",
    ("Encounter", "Reason"): "Reason for visit",
}


@dataclass(frozen=True)
class Item:
    """One shown value; `reference` makes it a link to that resource's own view."""

    text: str
    reference: str | None = None


@dataclass(frozen=True)
class KeyField:
    label: str
    items: tuple[Item, ...]


def is_viewable(resource_type: str, resource_id: str) -> bool:
    return bool(RESOURCE_TYPE.match(resource_type) and FHIR_ID.match(resource_id)) and resource_type in VIEWABLE_TYPES


def belongs_to_patient(resource: Mapping[str, Any], patient_id: str) -> bool:
    """True when the resource is the patient, names the patient (subject / patient / beneficiary), or is one of
    the app's own unlinked resources. Keeps the view to this launch's patient even on an open server."""
    if resource.get("resourceType") == "Patient":
        return resource.get("id") == patient_id
    linked: list[Mapping[str, Any]] = [
        link for name in PATIENT_LINKS if isinstance(link := resource.get(name), Mapping)
    ]
    if not linked:
        return resource.get("resourceType") in UNLINKED_TYPES
    return any(_reference_id(link.get("reference"), "Patient") == patient_id for link in linked)


def title_of(resource: Mapping[str, Any]) -> str:
    """A one-line heading: the type and what it is about (its code, name or title)."""
    kind = str(resource.get("resourceType", "Resource"))
    for name in ("code", "type", "procedureCode", "medicationCodeableConcept"):
        value = resource.get(name)
        if value:
            first = value[0] if isinstance(value, list) and value else value
            return f"{kind}: {describe(first)}"
    if kind == "Patient":
        return f"Patient: {describe(resource.get('name'))}"
    return kind


def key_fields(resource: Mapping[str, Any]) -> list[KeyField]:
    """The resource's key fields in `FIELD_ORDER`, empty ones left out, plus when it was last updated."""
    fields = []
    kind = str(resource.get("resourceType", ""))
    for label, names in FIELD_ORDER:
        items = [item for value in _values(resource, names) for item in _items(value) if item.text]
        if items:
            fields.append(KeyField(LABELS_BY_TYPE.get((kind, label), label), tuple(items)))
    last_updated = (resource.get("meta") or {}).get("lastUpdated") if isinstance(resource.get("meta"), dict) else None
    if last_updated:
        fields.append(KeyField("Last updated", (Item(str(last_updated)),)))
    return fields


def describe(value: Any) -> str:
    """Any FHIR value as short plain text (codes with their displays and systems, quantities with units)."""
    return "; ".join(item.text for item in _items(value) if item.text)


# --- values ----------------------------------------------------------------------------------------------------


def _values(resource: Mapping[str, Any], names: Iterable[str]) -> list[Any]:
    found = []
    for name in names:
        if name.endswith("*"):
            prefix = name[:-1]
            found += [value for key, value in resource.items() if _is_choice(key, prefix)]
        elif name in resource:
            found.append(resource[name])
    return found


def _is_choice(key: str, prefix: str) -> bool:
    return key.startswith(prefix) and len(key) > len(prefix) and key[len(prefix)].isupper()


def _items(value: Any) -> list[Item]:
    if isinstance(value, list):
        return [item for element in value for item in _items(element)]
    if isinstance(value, Mapping):
        return _mapping_items(value)
    if isinstance(value, bool):
        return [Item("yes" if value else "no")]
    if value is None:
        return []
    return [Item(str(value)[:MAX_TEXT])]


def _mapping_items(value: Mapping[str, Any]) -> list[Item]:
    """One branch per FHIR data type, recognised by its keys (JSON carries no type names)."""
    if "reference" in value or ("display" in value and len(value) <= 2 and "code" not in value):
        return [_reference_item(value)]
    if "coding" in value or ("text" in value and len(value) <= 2):
        return [Item(_concept_text(value))]
    if "system" in value and "code" in value and "value" not in value:
        return [Item(_coding_text(value))]
    if ("value" in value and ("unit" in value or "code" in value)) or "comparator" in value:
        return [Item(_quantity_text(value))]
    if "start" in value or "end" in value:
        return [Item(f"{value.get('start', '…')} to {value.get('end', 'ongoing')}")]
    if "family" in value or "given" in value:
        return [Item(_name_text(value))]
    if "system" in value and "value" in value:
        return [Item(f"{value['value']} ({_system_label(str(value['system']))})")]
    if "contentType" in value or "data" in value or "url" in value:
        return [Item(_attachment_text(value))]
    if "attachment" in value:
        return _mapping_items(value["attachment"])
    return _composite_items(value)


def _composite_items(value: Mapping[str, Any]) -> list[Item]:
    """An element with parts (a component, a series, a note, a dosage, an agent, a class): its parts in one line,
    links kept."""
    if "code" in value and any(_is_choice(key, "value") for key in value):
        values = [describe(v) for key, v in value.items() if _is_choice(key, "value")]
        return [Item(f"{describe(value['code'])}: {'; '.join(values)}")]
    parts: list[str] = []
    links: list[Item] = []
    for key, part in value.items():
        if key in _NOT_SHOWN:
            continue
        for item in _items(part):
            if item.reference:
                links.append(item)
            elif item.text:
                parts.append(item.text)
    line = [Item(" · ".join(parts))] if parts else []
    return line + links


def _reference_item(value: Mapping[str, Any]) -> Item:
    reference = value.get("reference")
    display = value.get("display")
    if isinstance(reference, str):
        kind, _, resource_id = reference.partition("/")
        link = reference if "/" in reference and is_viewable(kind, resource_id) else None
        return Item(f"{display} ({reference})" if display else reference, link)
    return Item(str(display or ""))


def _concept_text(value: Mapping[str, Any]) -> str:
    codings = [_coding_text(coding) for coding in value.get("coding") or [] if isinstance(coding, Mapping)]
    text = value.get("text")
    if text and not any(str(text) in coding for coding in codings):
        codings.append(str(text))
    return "; ".join(codings)


def _coding_text(coding: Mapping[str, Any]) -> str:
    code, display = coding.get("code"), coding.get("display")
    system = _system_label(str(coding.get("system", ""))) if coding.get("system") else ""
    words = " ".join(str(part) for part in (code, display) if part)
    return f"{words} ({system})" if system and code else words


def _system_label(system: str) -> str:
    return SYSTEM_LABELS.get(system) or system.rstrip("/").rsplit("/", 1)[-1]


def _quantity_text(value: Mapping[str, Any]) -> str:
    unit = value.get("unit") or value.get("code") or ""
    return f"{value.get('comparator', '')}{value.get('value', '')} {unit}".strip()


def _name_text(value: Mapping[str, Any]) -> str:
    if value.get("text"):
        return str(value["text"])
    return " ".join([*(str(part) for part in value.get("given") or []), str(value.get("family", ""))]).strip()


def _attachment_text(value: Mapping[str, Any]) -> str:
    """Title and type; the text itself when the attachment is inline text (a radiology report, a note)."""
    label = " · ".join(str(value[key]) for key in ("title", "contentType") if value.get(key))
    content_type = str(value.get("contentType", ""))
    data = value.get("data")
    if isinstance(data, str) and content_type.startswith("text/"):
        try:
            text = base64.b64decode(data, validate=True).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            return f"{label} (unreadable content)"
        return f"{label}: {text[:MAX_TEXT]}" if label else text[:MAX_TEXT]
    return label or "attachment"


def _reference_id(reference: Any, kind: str) -> str | None:
    if not isinstance(reference, str):
        return None
    parts = reference.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == kind:
        return parts[-1]
    return None
