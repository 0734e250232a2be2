"""The draft order as FHIR: ServiceRequest per CPT line, two DocumentReferences, a Device and a Provenance.

Pure: a check-result/v1 document plus an `OrderContext` (the launch's clinician, the patient record, the clock)
and the rendered report become plain FHIR R4 JSON, and `plan_writes` turns what the EHR already holds into the
one transaction Bundle that brings it up to date. No I/O happens here; `workflow.order` does the talking.

Exactly once. Every resource carries a business identifier derived from the order key:

    order_key = sha256("spine-auth/order/v1|<Patient/id>|<procedure>|<region>|<session date>")[:20] (hex)

The key names one procedure in one spinal region for one patient on one planned session date (`as_of`).
Levels, side, guidance, modifiers, diagnoses and evidence are the order's *content*: changing them updates the
same draft instead of adding a second order. The resources use it as follows (system `IDENTIFIER_SYSTEM`):

    ServiceRequest      identifier  <key>.line.<CPT>         requisition (SYSTEM_REQUISITION) <key>
    DocumentReference   identifier  <key>.report             (the checklist report, PDF)
    DocumentReference   identifier  <key>.check-result       (the check result, JSON)
    Device              identifier  spine-auth               (SYSTEM_DEVICE; the app itself, shared)
    Provenance          meta.tag    <key>.<digest of what this write changes>   (R4 Provenance has no identifier)

Creates are conditional (`ifNoneExist` on that identifier), so a POST retried after a lost response matches the
resource it already made instead of making another. Updates carry `ifMatch` with the version read.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from smart_app.core.fhir_json import icd10_codes, reference_target
from smart_app.core.model import SYSTEM_CPT, SYSTEM_ICD10, SYSTEM_LOINC, SYSTEM_SNOMED

# --- canonical URLs (fhir_profiles/ publishes the definitions behind them) ----------------------------------

CANONICAL_BASE = "https://spine-auth.example/fhir"
IDENTIFIER_SYSTEM = f"{CANONICAL_BASE}/sid/draft-order"
SYSTEM_REQUISITION = f"{CANONICAL_BASE}/sid/requisition"
SYSTEM_DEVICE = f"{CANONICAL_BASE}/sid/device"
SYSTEM_PROVENANCE_TAG = f"{CANONICAL_BASE}/sid/provenance"
CS_ORDER_DETAIL = f"{CANONICAL_BASE}/CodeSystem/order-detail"
CS_SPINE_LEVEL = f"{CANONICAL_BASE}/CodeSystem/spine-level"
CS_ATTACHMENT_KIND = f"{CANONICAL_BASE}/CodeSystem/attachment-kind"
PROFILE_SERVICE_REQUEST = f"{CANONICAL_BASE}/StructureDefinition/spine-injection-draft-order"
PROFILE_DOCUMENT_REFERENCE = f"{CANONICAL_BASE}/StructureDefinition/spine-auth-attachment"
EXTENSION_LATERALITY = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-laterality-qualifier"
SYSTEM_HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
SYSTEM_UCUM = "http://unitsofmeasure.org"
SYSTEM_DOC_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
SYSTEM_PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
SYSTEM_DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"

APP_NAME = "spine-auth"
LOINC_REPORT = ("103597-1", "Pain management form or template")
SNOMED_SURGICAL_PROCEDURE = ("387713003", "Surgical procedure")

# SNOMED CT laterality qualifiers (fhir-conventions.md: 7771000 left, 24028007 right, 51440002 both sides).
LATERALITY: dict[str, tuple[str, str]] = {
    "left": ("7771000", "Left"),
    "right": ("24028007", "Right"),
    "bilateral": ("51440002", "Right and left"),
}

# Our own order-detail codes (CodeSystem order-detail): purpose, guidance, sedation, technique, setting.
ORDER_DETAIL_CODES: dict[str, str] = {
    "diagnostic": "Diagnostic block",
    "therapeutic": "Therapeutic procedure",
    "guidance-fluoroscopy": "Fluoroscopic guidance",
    "guidance-ct": "CT guidance",
    "guidance-ultrasound": "Ultrasound guidance",
    "guidance-none": "No image guidance",
    "sedation-none": "No sedation",
    "sedation-moderate": "Moderate sedation",
    "sedation-mac": "Monitored anesthesia care",
    "sedation-general": "General anesthesia",
    "technique-thermal": "Thermal radiofrequency",
    "technique-pulsed": "Pulsed radiofrequency",
    "technique-cryo": "Cryoneurolysis",
    "technique-chemical": "Chemical neurolysis",
    "setting-physician": "Physician office",
    "setting-asc": "Ambulatory surgical center",
    "setting-hospital-outpatient": "Hospital outpatient department",
}

ATTACHMENT_KINDS: dict[str, str] = {
    "checklist-report": "Candidacy and prior-authorization checklist report",
    "check-result": "Candidacy check result (machine-readable)",
}

_SIDE_MODIFIERS = {"RT": "right", "LT": "left"}

Action = Literal["created", "updated", "unchanged"]


class OrderInputError(ValueError):
    """The check result or context cannot make a draft order (no CPT line, no patient, …). One-line message."""


# --- inputs -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderContext:
    """Who orders, for whom, and when. `recorded` is the clock (timezone-aware); `resources` is the record the
    check ran on (Patient, Coverage and Conditions are read from it). `requester` is the launch's fhirUser; when no
    clinician is known the app's Device proposes the order (intent `proposal`) and authors the Provenance."""

    recorded: datetime
    resources: Sequence[Mapping[str, Any]] = ()
    requester: str | None = None
    organization: str | None = None
    app_version: str = "0"
    requester_display: str = ""  # the clinician's name and NPI, shown in the Provenance (never a URL)


@dataclass(frozen=True)
class PatientIdentity:
    """The two patient identifiers printed on every report page: name + DOB and name + member id (or MRN)."""

    name: str
    birth_date: str
    second_label: str  # "Member ID" or "MRN"
    second_value: str

    @property
    def first_identifier(self) -> str:
        return f"{self.name} · DOB {self.birth_date}"

    @property
    def second_identifier(self) -> str:
        return f"{self.name} · {self.second_label} {self.second_value}"


# --- outputs ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftResource:
    """One resource of the draft order. `key` is stable within an order (`line.64635`, `report`, …)."""

    key: str
    full_url: str
    resource: dict[str, Any]
    search: str  # the conditional-create query that finds it again, e.g. `identifier=system|value`

    @property
    def resource_type(self) -> str:
        return str(self.resource["resourceType"])


@dataclass(frozen=True)
class DraftOrder:
    """Everything the EHR should hold for one order key. `transaction()` creates it all at once."""

    key: str
    patient: str
    resources: tuple[DraftResource, ...]

    def get(self, key: str) -> DraftResource | None:
        return next((item for item in self.resources if item.key == key), None)

    def of_type(self, resource_type: str) -> list[DraftResource]:
        return [item for item in self.resources if item.resource_type == resource_type]

    def transaction(self) -> dict[str, Any]:
        """The create-everything transaction Bundle (`urn:uuid` references, conditional creates)."""
        return _bundle([_create_entry(item) for item in self.resources])


@dataclass(frozen=True)
class PlannedWrite:
    """What saving does to one resource; `reference` is `Type/id` when the resource already exists."""

    key: str
    resource_type: str
    action: Action
    full_url: str
    reference: str | None = None


@dataclass(frozen=True)
class WritePlan:
    """The transaction that brings the EHR up to date (None when nothing changes) and what it does."""

    writes: tuple[PlannedWrite, ...]
    bundle: dict[str, Any] | None
    notes: tuple[str, ...] = ()

    def references(self, response: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
        """`[{"reference", "action"}]` per resource, with ids taken from the transaction-response when given."""
        located = _response_locations(self.bundle, response) if response is not None else {}
        result = []
        for write in self.writes:
            reference = located.get(write.full_url) or write.reference or write.full_url
            result.append({"reference": reference, "action": write.action})
        return result


# --- the order key and identifiers --------------------------------------------------------------------------


def order_key(check_result: Mapping[str, Any]) -> str:
    """The deterministic business key of the order a check result describes (see the module docstring)."""
    request = check_result["request"]
    parts = ["spine-auth/order/v1", check_result["patient"]["reference"], request["procedure"], request["region"]]
    parts.append(check_result["as_of"])
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:20]


def identifier_search(system: str, value: str) -> str:
    return f"identifier={system}|{value}"


def _full_url(system: str, value: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{system}|{value}')}"


# --- building the draft -------------------------------------------------------------------------------------


def build_draft_order(
    check_result: Mapping[str, Any],
    context: OrderContext,
    *,
    report_pdf: bytes,
) -> DraftOrder:
    """The resources of the draft order for one check result. Raises OrderInputError when there is nothing to
    order (no CPT line) or the record has no Patient."""
    lines = list(check_result.get("coding", {}).get("lines", []))
    if not lines:
        raise OrderInputError("the check produced no CPT line, so there is nothing to order")
    patient_ref = str(check_result["patient"]["reference"])
    key = order_key(check_result)
    recorded = _instant(context.recorded)
    device = _device(context)
    requester = context.requester or device.full_url

    coverage = find_coverage(context.resources, patient_ref)
    conditions = _conditions_by_code(context.resources, patient_ref)
    requisition = {"system": SYSTEM_REQUISITION, "value": key}
    shared = _shared_request_parts(check_result, coverage)

    service_requests: list[DraftResource] = []
    for line_key, line in _keyed_lines(lines):
        value = f"{key}.{line_key}"
        resource: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "meta": {"profile": [PROFILE_SERVICE_REQUEST]},
            "identifier": [{"system": IDENTIFIER_SYSTEM, "value": value}],
            "requisition": requisition,
            "status": "draft",
            "intent": "proposal",
            "category": [_concept(SYSTEM_SNOMED, *SNOMED_SURGICAL_PROCEDURE)],
            "code": _cpt_concept(line),
            "orderDetail": _order_details(check_result["request"], line),
            "quantityQuantity": {"value": int(line["units"]), "unit": "unit", "system": SYSTEM_UCUM, "code": "1"},
            "subject": {"reference": patient_ref},
            "occurrenceDateTime": str(check_result["as_of"]),
            "authoredOn": recorded,
            "requester": {"reference": requester},
            "bodySite": _body_sites(check_result["request"], line),
            **_reasons(line, conditions),
            **shared,
        }
        service_requests.append(_draft(f"{line_key}", IDENTIFIER_SYSTEM, value, _without_empty(resource)))

    related = [{"reference": item.full_url} for item in service_requests]
    pdf_doc = _document_reference(
        key,
        "report",
        check_result,
        context,
        related,
        kind="checklist-report",
        content_type="application/pdf",
        data=report_pdf,
        title=f"Spine injection checklist report, session {check_result['as_of']}",
    )
    json_doc = _document_reference(
        key,
        "check-result",
        check_result,
        context,
        related,
        kind="check-result",
        content_type="application/json",
        data=canonical_json(check_result),
        title=f"Spine injection check result, session {check_result['as_of']}",
    )
    written = [*service_requests, pdf_doc, json_doc]
    provenance = build_provenance(key, [item.full_url for item in written], written, context, device.full_url)
    return DraftOrder(key=key, patient=patient_ref, resources=(*written, device, provenance))


def _keyed_lines(lines: Sequence[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    """`line.<CPT>`, or `line.<CPT>.RT` / `.LT` when a payer wants both sides as two lines; a key that would
    repeat (never expected) gets `.2`, `.3` so identifiers stay unique."""
    seen: dict[str, int] = {}
    keyed = []
    for line in lines:
        side = _line_side_modifier(line)
        base = f"line.{line['code']}" + (f".{side}" if side else "")
        seen[base] = seen.get(base, 0) + 1
        keyed.append((base if seen[base] == 1 else f"{base}.{seen[base]}", line))
    return keyed


def _line_side_modifier(line: Mapping[str, Any]) -> str | None:
    return next((str(item) for item in line.get("modifiers", []) if item in _SIDE_MODIFIERS), None)


def _line_side(request: Mapping[str, Any], line: Mapping[str, Any]) -> str:
    """The side one line treats: its RT/LT modifier when it has one, else the request's side."""
    modifier = _line_side_modifier(line)
    return _SIDE_MODIFIERS[modifier] if modifier else str(request["side"])


def _draft(key: str, system: str, value: str, resource: dict[str, Any]) -> DraftResource:
    return DraftResource(
        key=key, full_url=_full_url(system, value), resource=resource, search=identifier_search(system, value)
    )


def _shared_request_parts(check_result: Mapping[str, Any], coverage: Mapping[str, Any] | None) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    if coverage is not None and coverage.get("id"):
        parts["insurance"] = [{"reference": f"Coverage/{coverage['id']}"}]
    evidence = _evidence_references(check_result)
    if evidence:
        parts["supportingInfo"] = evidence
    policy = check_result.get("policy", {})
    note = (
        f"Draft from spine-auth for the session of {check_result['as_of']}: verdict {check_result['verdict']}, "
        f"pathway {check_result['pathway']}, policy {policy.get('id', '?')} {policy.get('version', '')}".rstrip()
    )
    parts["note"] = [{"text": note}]
    return parts


def _cpt_concept(line: Mapping[str, Any]) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": SYSTEM_CPT, "code": str(line["code"])}
    if line.get("display"):
        coding["display"] = str(line["display"])
    concept: dict[str, Any] = {"coding": [coding]}
    if line.get("display"):
        concept["text"] = str(line["display"])
    return concept


def _order_details(request: Mapping[str, Any], line: Mapping[str, Any]) -> list[dict[str, Any]]:
    side = _line_side(request, line)
    details = [_concept(SYSTEM_SNOMED, *LATERALITY[side]), _detail(str(request["intent"]))]
    details.extend(_modifier_concept(str(modifier)) for modifier in line.get("modifiers", []))
    details.append(_detail(f"guidance-{request['guidance']}"))
    details.append(_detail(f"sedation-{request['sedation']}"))
    if request.get("technique"):
        details.append(_detail(f"technique-{request['technique']}"))
    details.append(_detail(f"setting-{request['setting']}"))
    return details


def _detail(code: str) -> dict[str, Any]:
    return _concept(CS_ORDER_DETAIL, code, ORDER_DETAIL_CODES[code])


def modifier_system(modifier: str) -> str:
    """CPT modifiers are two digits (50, 59); HCPCS Level II modifiers hold a letter (LT, RT, KX)."""
    return SYSTEM_CPT if modifier.isdigit() else SYSTEM_HCPCS


def _modifier_concept(modifier: str) -> dict[str, Any]:
    return {"coding": [{"system": modifier_system(modifier), "code": modifier}], "text": f"Modifier {modifier}"}


def _body_sites(request: Mapping[str, Any], line: Mapping[str, Any]) -> list[dict[str, Any]]:
    side = _line_side(request, line)
    levels = [str(level) for level in (line.get("levels") or request["levels"])]
    structure = "pars interarticularis" if request["procedure"] == "pars-injection" else "facet joint"
    side_words = {"left": "left", "right": "right", "bilateral": "both sides"}[side]
    laterality = _concept(SYSTEM_SNOMED, *LATERALITY[side])
    sites = []
    for level in levels:
        sites.append(
            {
                "extension": [{"url": EXTENSION_LATERALITY, "valueCodeableConcept": laterality}],
                "coding": [{"system": CS_SPINE_LEVEL, "code": level, "display": f"{level} {structure}"}],
                "text": f"{level} {structure}, {side_words}",
            }
        )
    return sites


def _reasons(line: Mapping[str, Any], conditions: Mapping[str, list[str]]) -> dict[str, Any]:
    codes = [str(code) for code in line.get("diagnoses", [])]
    reason_code = [{"coding": [{"system": SYSTEM_ICD10, "code": code}]} for code in codes]
    references = _unique(reference for code in codes for reference in conditions.get(code, []))
    parts: dict[str, Any] = {}
    if reason_code:
        parts["reasonCode"] = reason_code
    if references:
        parts["reasonReference"] = [{"reference": reference} for reference in references]
    return parts


def _evidence_references(check_result: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every resource cited as evidence by a criterion, once, in criterion order (the Patient is the subject)."""
    references = _unique(
        str(item["reference"])
        for criterion in check_result.get("criteria", [])
        for item in criterion.get("evidence", [])
        if not str(item.get("reference", "")).startswith("Patient/")
    )
    return [{"reference": reference} for reference in references]


def _document_reference(
    key: str,
    suffix: str,
    check_result: Mapping[str, Any],
    context: OrderContext,
    related: list[dict[str, str]],
    *,
    kind: str,
    content_type: str,
    data: bytes,
    title: str,
) -> DraftResource:
    value = f"{key}.{suffix}"
    author = context.requester or _device(context).full_url
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "meta": {"profile": [PROFILE_DOCUMENT_REFERENCE]},
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": value}],
        "status": "current",
        "docStatus": "preliminary",
        "type": {
            "coding": [
                {"system": SYSTEM_LOINC, "code": LOINC_REPORT[0], "display": LOINC_REPORT[1]},
                {"system": CS_ATTACHMENT_KIND, "code": kind, "display": ATTACHMENT_KINDS[kind]},
            ],
        },
        "category": [_concept(SYSTEM_DOC_CATEGORY, "clinical-note", "Clinical Note")],
        "subject": {"reference": str(check_result["patient"]["reference"])},
        "date": _instant(context.recorded),
        "author": [{"reference": author}],
        "description": ATTACHMENT_KINDS[kind],
        "content": [
            {
                "attachment": {
                    "contentType": content_type,
                    "data": base64.b64encode(data).decode("ascii"),
                    "size": len(data),
                    "hash": base64.b64encode(hashlib.sha1(data).digest()).decode("ascii"),
                    "title": title,
                    "creation": _instant(context.recorded),
                },
            }
        ],
        "context": {"related": related},
    }
    if context.organization:
        resource["custodian"] = {"reference": context.organization}
    return _draft(suffix, IDENTIFIER_SYSTEM, value, resource)


def _device(context: OrderContext) -> DraftResource:
    resource = {
        "resourceType": "Device",
        "identifier": [{"system": SYSTEM_DEVICE, "value": APP_NAME}],
        "status": "active",
        "deviceName": [{"name": APP_NAME, "type": "user-friendly-name"}],
        "type": {"text": "Clinical decision support software (SMART on FHIR app)"},
        "version": [{"value": context.app_version}],
    }
    return _draft("device", SYSTEM_DEVICE, APP_NAME, resource)


def build_provenance(
    key: str,
    targets: Sequence[str],
    written: Sequence[DraftResource],
    context: OrderContext,
    device_reference: str,
    *,
    activity: str = "CREATE",
) -> DraftResource:
    """A Provenance for one write: the clinician (when known) is the author, the app's Device the assembler.
    Its tag is derived from the content written, so the same write retried is recognised and not repeated."""
    digest = content_digest([item.resource for item in written], extra=activity)
    tag = f"{key}.{digest}"
    agents: list[dict[str, Any]] = []
    if context.requester:
        author: dict[str, Any] = {
            "type": _concept(SYSTEM_PARTICIPANT_TYPE, "author", "Author"),
            "who": {"reference": context.requester},
        }
        if context.requester_display:
            author["who"]["display"] = context.requester_display
        if context.organization:
            author["onBehalfOf"] = {"reference": context.organization}
        agents.append(author)
    device_role = "assembler" if context.requester else "author"
    agents.append(
        {
            "type": _concept(SYSTEM_PARTICIPANT_TYPE, device_role, device_role.title()),
            "who": {"reference": device_reference},
        }
    )
    resource = {
        "resourceType": "Provenance",
        "meta": {"tag": [{"system": SYSTEM_PROVENANCE_TAG, "code": tag}]},
        "target": [{"reference": target} for target in targets],
        "recorded": _instant(context.recorded),
        "activity": _concept(SYSTEM_DATA_OPERATION, activity, activity.lower()),
        "agent": agents,
    }
    return DraftResource(
        key="provenance",
        full_url=_full_url(SYSTEM_PROVENANCE_TAG, tag),
        resource=resource,
        search=f"_tag={SYSTEM_PROVENANCE_TAG}|{tag}",
    )


# --- what is already there: the plan ------------------------------------------------------------------------

# Fields that record *when* we wrote, not *what*: ignored when deciding whether a resource changed.
_VOLATILE: dict[str, tuple[tuple[str, ...], ...]] = {
    "ServiceRequest": (("authoredOn",),),
    "DocumentReference": (("date",), ("content", "attachment", "creation")),
    "Provenance": (("recorded",),),
}
_EDITABLE_STATUSES = frozenset({"draft", "revoked"})


def plan_writes(
    draft: DraftOrder,
    existing: Mapping[str, Mapping[str, Any]],
    context: OrderContext,
    *,
    with_provenance: bool = True,
) -> WritePlan:
    """Compare the draft with what the EHR holds (`existing`: identifier value or `device` → resource JSON, every
    ServiceRequest of the requisition included) and plan one transaction: conditional creates for what is
    missing, `ifMatch` updates for what changed, `revoked` for lines the order no longer has, nothing for the rest.
    A line the EHR has moved past draft (signed, active, completed) is never touched; a note says so.
    `with_provenance=False` leaves out the Device and the Provenance (for an EHR that does not let us write them)."""
    references: dict[str, str] = {}  # full_url → Type/id of resources that exist
    by_key: dict[str, Mapping[str, Any]] = {}
    for item in draft.resources:
        found = existing.get("device" if item.key == "device" else _identifier_value(item.resource) or "")
        if found is not None and found.get("id"):
            references[item.full_url] = f"{item.resource_type}/{found['id']}"
            by_key[item.key] = found

    writes: list[PlannedWrite] = []
    entries: list[dict[str, Any]] = []
    notes: list[str] = []
    changed: list[DraftResource] = []
    for item in draft.resources:
        if item.key == "provenance" or (item.key == "device" and not with_provenance):
            continue
        current = by_key.get(item.key)
        if current is None:
            # A new resource may point at one that already exists (the shared Device, a line kept as it is):
            # by its `Type/id`, since only what this transaction creates has a `urn:uuid` in it.
            created = _created(item, references, device_written=with_provenance)
            writes.append(PlannedWrite(item.key, item.resource_type, "created", item.full_url))
            entries.append(_create_entry(created))
            changed.append(created)
            continue
        reference = references[item.full_url]
        if item.key == "device":  # the app's Device is shared by every order: created once, never rewritten
            writes.append(PlannedWrite(item.key, item.resource_type, "unchanged", item.full_url, reference))
            continue
        desired = _resolve(item.resource, references)
        if item.resource_type == "ServiceRequest" and current.get("status") not in _EDITABLE_STATUSES:
            notes.append(f"{reference} is {current.get('status')} in the EHR, no longer a draft: left as it is")
            writes.append(PlannedWrite(item.key, item.resource_type, "unchanged", item.full_url, reference))
            continue
        if _comparable(desired) == _comparable(current):
            writes.append(PlannedWrite(item.key, item.resource_type, "unchanged", item.full_url, reference))
            continue
        desired = _carry_over(desired, current)
        writes.append(PlannedWrite(item.key, item.resource_type, "updated", item.full_url, reference))
        entries.append(_update_entry(item.full_url, reference, desired, current))
        changed.append(DraftResource(item.key, item.full_url, desired, item.search))

    wanted = {_identifier_value(item.resource) for item in draft.of_type("ServiceRequest")}
    for value, current in sorted(existing.items()):
        if current.get("resourceType") != "ServiceRequest" or value in wanted or current.get("status") != "draft":
            continue
        reference = f"ServiceRequest/{current['id']}"
        revoked = {**_strip_server_fields(current), "status": "revoked"}
        full_url = _full_url(IDENTIFIER_SYSTEM, value)
        writes.append(PlannedWrite(f"obsolete.{value}", "ServiceRequest", "updated", full_url, reference))
        entries.append(_update_entry(full_url, reference, revoked, current))
        changed.append(
            DraftResource(f"obsolete.{value}", full_url, revoked, identifier_search(IDENTIFIER_SYSTEM, value))
        )

    if not entries or not with_provenance:
        return WritePlan(tuple(writes), _bundle(entries) if entries else None, tuple(notes))
    device = draft.get("device")
    assert device is not None
    device_ref = references.get(device.full_url, device.full_url)
    targets = [references.get(item.full_url, item.full_url) for item in changed if item.key != "device"]
    activity = "CREATE" if all(write.action == "created" for write in writes if write.key != "device") else "UPDATE"
    provenance = build_provenance(draft.key, targets, changed, context, device_ref, activity=activity)
    writes.append(PlannedWrite("provenance", "Provenance", "created", provenance.full_url))
    entries.append(_create_entry(provenance))
    return WritePlan(tuple(writes), _bundle(entries), tuple(notes))


def _created(item: DraftResource, references: Mapping[str, str], *, device_written: bool) -> DraftResource:
    """`item` as this transaction creates it: references to existing resources by `Type/id`; without the Device in
    the transaction (and not on the server), the requester/author that would name it are left out."""
    resource = _resolve(item.resource, references)
    device_url = _device_full_url()
    if not device_written and device_url not in references:
        resource = {key: value for key, value in resource.items() if not _names(value, device_url)}
    return DraftResource(item.key, item.full_url, resource, item.search)


def _device_full_url() -> str:
    return _full_url(SYSTEM_DEVICE, APP_NAME)


def _names(value: Any, reference: str) -> bool:
    """Whether a requester/author element is (only) a reference to `reference`."""
    if isinstance(value, dict):
        return value.get("reference") == reference
    if isinstance(value, list):
        return bool(value) and all(_names(item, reference) for item in value)
    return False


def plan_withdrawal(
    key: str, lines: Sequence[Mapping[str, Any]], context: OrderContext, *, device: Mapping[str, Any] | None
) -> WritePlan:
    """Revoke every draft ServiceRequest of the order (`lines`: the requisition's ServiceRequests as read)."""
    device_item = _device(context)
    writes: list[PlannedWrite] = []
    entries: list[dict[str, Any]] = []
    changed: list[DraftResource] = []
    if device is None:
        writes.append(PlannedWrite("device", "Device", "created", device_item.full_url))
        entries.append(_create_entry(device_item))
    for current in lines:
        reference = f"ServiceRequest/{current['id']}"
        value = _identifier_value(current) or str(current["id"])
        full_url = _full_url(IDENTIFIER_SYSTEM, value)
        if current.get("status") != "draft":
            writes.append(PlannedWrite(value, "ServiceRequest", "unchanged", full_url, reference))
            continue
        revoked = {**_strip_server_fields(current), "status": "revoked"}
        writes.append(PlannedWrite(value, "ServiceRequest", "updated", full_url, reference))
        entries.append(_update_entry(full_url, reference, revoked, current))
        changed.append(DraftResource(value, full_url, revoked, identifier_search(IDENTIFIER_SYSTEM, value)))
    if not changed:
        return WritePlan(tuple(writes), None)
    device_ref = f"Device/{device['id']}" if device is not None else device_item.full_url
    targets = [f"ServiceRequest/{item.resource['id']}" for item in changed]
    provenance = build_provenance(key, targets, changed, context, device_ref, activity="UPDATE")
    writes.append(PlannedWrite("provenance", "Provenance", "created", provenance.full_url))
    entries.append(_create_entry(provenance))
    return WritePlan(tuple(writes), _bundle(entries))


def existing_key(resource: Mapping[str, Any]) -> str | None:
    """The key `plan_writes` expects for a resource read back from the EHR: its identifier value in our system,
    or `device` for our app's Device."""
    if resource.get("resourceType") == "Device":
        systems = {item.get("system") for item in resource.get("identifier", [])}
        return "device" if SYSTEM_DEVICE in systems else None
    return _identifier_value(resource)


def _identifier_value(resource: Mapping[str, Any]) -> str | None:
    for identifier in resource.get("identifier", []):
        if identifier.get("system") == IDENTIFIER_SYSTEM and identifier.get("value"):
            return str(identifier["value"])
    return None


def _create_entry(item: DraftResource) -> dict[str, Any]:
    return {
        "fullUrl": item.full_url,
        "resource": item.resource,
        "request": {"method": "POST", "url": item.resource_type, "ifNoneExist": item.search},
    }


def _update_entry(full_url: str, reference: str, resource: Mapping[str, Any], current: Mapping[str, Any]) -> dict:
    request: dict[str, Any] = {"method": "PUT", "url": reference}
    version = current.get("meta", {}).get("versionId")
    if version:
        request["ifMatch"] = f'W/"{version}"'
    body = {**resource, "id": reference.split("/", 1)[1]}
    return {"fullUrl": full_url, "resource": body, "request": request}


def _bundle(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _response_locations(bundle: Mapping[str, Any] | None, response: Mapping[str, Any]) -> dict[str, str]:
    """full_url → `Type/id` from a transaction-response (entries answer the request entries in order)."""
    if not bundle:
        return {}
    located: dict[str, str] = {}
    for sent, answered in zip(bundle.get("entry", []), response.get("entry", []), strict=False):
        location = str(answered.get("response", {}).get("location") or "")
        if not location:
            resource = answered.get("resource") or {}
            if resource.get("id"):
                location = f"{resource['resourceType']}/{resource['id']}"
        if location:
            located[sent["fullUrl"]] = reference_from_location(location)
    return located


def reference_from_location(location: str) -> str:
    """`http://host/fhir/ServiceRequest/1/_history/2` or `ServiceRequest/1/_history/2` → `ServiceRequest/1`."""
    parts = [part for part in location.split("/") if part]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return "/".join(parts[-2:])


def _resolve(value: Any, references: Mapping[str, str]) -> Any:
    """Replace `urn:uuid` references to resources that already exist by their `Type/id`."""
    if isinstance(value, dict):
        return {key: _resolve(item, references) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, references) for item in value]
    if isinstance(value, str) and value in references:
        return references[value]
    return value


def _strip_server_fields(resource: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in resource.items() if key not in ("meta", "text")} | (
        {"meta": {"profile": resource["meta"]["profile"]}} if resource.get("meta", {}).get("profile") else {}
    )


def _comparable(resource: Mapping[str, Any]) -> Any:
    data = {key: value for key, value in resource.items() if key not in ("id", "meta", "text")}
    for path in _VOLATILE.get(str(resource.get("resourceType")), ()):
        data = _drop_path(data, path)
    return json.loads(canonical_json(data))


def _drop_path(value: Any, path: tuple[str, ...]) -> Any:
    if isinstance(value, list):
        return [_drop_path(item, path) for item in value]
    if not isinstance(value, dict) or not path:
        return value
    head, rest = path[0], path[1:]
    if head not in value:
        return value
    if not rest:
        return {key: item for key, item in value.items() if key != head}
    return {**value, head: _drop_path(value[head], rest)}


def _carry_over(desired: dict[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """A draft keeps the date it was first authored; everything else takes the new values."""
    if desired.get("resourceType") == "ServiceRequest" and current.get("authoredOn"):
        return {**desired, "authoredOn": current["authoredOn"]}
    return desired


# --- reading the record -------------------------------------------------------------------------------------


def find_patient(resources: Iterable[Mapping[str, Any]], patient_ref: str) -> Mapping[str, Any] | None:
    patient_id = patient_ref.split("/", 1)[-1]
    return next(
        (item for item in resources if item.get("resourceType") == "Patient" and item.get("id") == patient_id), None
    )


def find_coverage(resources: Iterable[Mapping[str, Any]], patient_ref: str) -> Mapping[str, Any] | None:
    """The patient's active Coverage (the first one, as the checklist uses it to pick the payer)."""
    for item in resources:
        if item.get("resourceType") != "Coverage" or item.get("status", "active") != "active":
            continue
        if reference_target(item.get("beneficiary")) == patient_ref:
            return item
    return None


def patient_identity(resources: Sequence[Mapping[str, Any]], patient_ref: str, display: str = "") -> PatientIdentity:
    """Name + DOB and name + member id (Coverage) or MRN (Patient.identifier) for the report's page header."""
    patient = find_patient(resources, patient_ref) or {}
    name = _human_name(patient) or display or "Unnamed patient"
    birth_date = str(patient.get("birthDate") or "unknown")
    coverage = find_coverage(resources, patient_ref)
    member_id = _member_id(coverage) if coverage else None
    if member_id:
        return PatientIdentity(name, birth_date, "Member ID", member_id)
    mrn = _mrn(patient)
    return PatientIdentity(name, birth_date, "MRN", mrn or patient_ref.split("/", 1)[-1])


def _human_name(patient: Mapping[str, Any]) -> str:
    names = patient.get("name") or []
    if not names:
        return ""
    name = next((item for item in names if item.get("use") in (None, "official", "usual")), names[0])
    if name.get("text"):
        return str(name["text"])
    return " ".join([*map(str, name.get("given", [])), str(name.get("family", ""))]).strip()


def _member_id(coverage: Mapping[str, Any]) -> str | None:
    for identifier in coverage.get("identifier", []):
        codes = {coding.get("code") for coding in identifier.get("type", {}).get("coding", [])}
        if "MB" in codes and identifier.get("value"):
            return str(identifier["value"])
    subscriber = coverage.get("subscriberId")
    return str(subscriber) if subscriber else None


def _mrn(patient: Mapping[str, Any]) -> str | None:
    identifiers = patient.get("identifier", [])
    for identifier in identifiers:
        codes = {coding.get("code") for coding in identifier.get("type", {}).get("coding", [])}
        if ("MR" in codes or "mrn" in str(identifier.get("system", "")).lower()) and identifier.get("value"):
            return str(identifier["value"])
    first = next((item for item in identifiers if item.get("value")), None)
    return str(first["value"]) if first else None


def _conditions_by_code(resources: Iterable[Mapping[str, Any]], patient_ref: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in resources:
        if item.get("resourceType") != "Condition" or not item.get("id"):
            continue
        if reference_target(item.get("subject")) != patient_ref:
            continue
        for code in icd10_codes(item.get("code")):
            found.setdefault(code, []).append(f"Condition/{item['id']}")
    return found


# --- small helpers ------------------------------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """Stable JSON bytes (sorted keys, no spaces): the same data always gives the same bytes and digest."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_digest(resources: Iterable[Mapping[str, Any]], *, extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode("utf-8"))
    for resource in resources:
        digest.update(canonical_json(_comparable(resource)))
    return digest.hexdigest()[:16]


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _instant(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise OrderInputError("the clock must be timezone-aware")
    return moment.isoformat(timespec="seconds")


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _without_empty(resource: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in resource.items() if value not in (None, [], {}, "")}
