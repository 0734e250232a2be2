"""Build the prior-authorization packet (PDF, PAS Bundle, DTR QuestionnaireResponse, manifest) as a zip, and
optionally write its PDF to the EHR as a DocumentReference, exactly once.

    files = build_packet_files(check_result, resources, options, practice=…, created=…, practitioner=…, organization=…)
    files.zip_bytes()                                  # packet.pdf, pas-bundle.json, questionnaire-response.json,
                                                       # manifest.json
    outcome = write_packet_document(client, files, context)   # conditional create / If-Match update, Provenance

The EHR write reuses the draft order's machinery (`core.documents.plan_writes`: conditional create on a business
identifier `<order key>.packet`, If-Match updates, a Provenance per change). The PDF carries its creation time, so
two builds of the same packet differ in bytes; the DocumentReference therefore also carries a digest of what the
packet says (check result, staff choices, parties), and a packet whose digest the EHR already holds is left
unchanged instead of being rewritten.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from smart_app.core.documents import (
    APP_NAME,
    IDENTIFIER_SYSTEM,
    SYSTEM_DEVICE,
    DraftOrder,
    DraftResource,
    OrderContext,
    build_provenance,
    canonical_json,
    existing_key,
    identifier_search,
    plan_writes,
)
from smart_app.core.documents import _device as app_device  # the app's shared Device, as the order writes it
from smart_app.core.fhir_json import reference_target
from smart_app.core.packet.model import AttestationNote, Packet, PacketOptions, Practice, build_packet
from smart_app.core.packet.pas import LOINC_PACKET, pas_request
from smart_app.fhir.client import FhirClient
from smart_app.fhir.errors import FhirError, FhirNotFound
from smart_app.render.packet_pdf import render_packet_pdf
from smart_app.rules.loader import load_rules
from smart_app.store.prior_auth_packets import KeptPacket
from smart_app.workflow.order import OrderOutcome, plain_reason

logger = logging.getLogger(__name__)
SYSTEM_PACKET_DIGEST = "https://spine-auth.example/fhir/sid/packet-digest"
MANIFEST_SCHEMA = "spine-auth/packet-manifest/v1"


@dataclass(frozen=True)
class PacketFiles:
    packet: Packet
    pdf: bytes
    pas_bundle: dict[str, Any]
    questionnaire_response: dict[str, Any]
    digest: str

    def manifest(self) -> dict[str, Any]:
        packet = self.packet
        return {
            "schema": MANIFEST_SCHEMA,
            "status": "draft, not submitted",
            "created": packet.created.isoformat(timespec="seconds"),
            "order_key": packet.key,
            "trace_number": packet.trace_number,
            "patient": packet.patient_reference,
            "payer": {
                "profile": packet.payer.profile_id,
                "name": packet.payer.name,
                "coverage": packet.payer.coverage_reference,
            },
            "request": dict(packet.request),
            "verdict": packet.verdict,
            "service": {
                "start": packet.options.service_start.isoformat(),
                "end": (packet.options.service_end or packet.options.service_start).isoformat(),
                "place_of_service": packet.place_of_service,
                "urgency": packet.options.urgency,
                "urgency_reason": packet.options.urgency_reason or None,
                "submission": packet.options.submission,
            },
            "claim_lines": [
                {"code": line["code"], "modifiers": list(line.get("modifiers", [])), "units": line.get("units")}
                for line in packet.lines
            ],
            "open_items": list(packet.open_items),
            "files": {
                name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                for name, data in self._files().items()
            },
            "content_digest": self.digest,
        }

    def _files(self) -> dict[str, bytes]:
        return {
            "packet.pdf": self.pdf,
            "pas-bundle.json": _json_bytes(self.pas_bundle),
            "questionnaire-response.json": _json_bytes(self.questionnaire_response),
        }

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        stamp = self.packet.created.timetuple()[:6]
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in {**self._files(), "manifest.json": _json_bytes(self.manifest())}.items():
                archive.writestr(zipfile.ZipInfo(name, date_time=stamp), data)
        return buffer.getvalue()

    @property
    def file_name(self) -> str:
        """No patient name in a file name: the session date and the order key."""
        return f"prior-auth-packet-{self.packet.check['as_of']}-{self.packet.key[:8]}.zip"

    def to_kept(self, *, built_at: float, built_by: str, choices: Mapping[str, str] | None = None) -> KeptPacket:
        """What the worklist keeps of this packet (with who built it, when, and the staff's form choices)."""
        return KeptPacket(
            built_at=built_at,
            built_by=built_by,
            digest=self.digest,
            file_name=self.file_name,
            pas_bundle=self.pas_bundle,
            questionnaire_response=self.questionnaire_response,
            pdf=self.pdf,
            zip=self.zip_bytes(),
            choices=dict(choices or {}),
        )


def build_packet_files(
    check_result: Mapping[str, Any],
    resources: Sequence[Mapping[str, Any]],
    options: PacketOptions,
    *,
    practice: Practice,
    created: datetime,
    practitioner: Mapping[str, Any] | None = None,
    organization: Mapping[str, Any] | None = None,
    attestations: Sequence[AttestationNote] = (),
) -> PacketFiles:
    """The packet and its three renderings. Raises PacketInputError for staff choices that cannot be used."""
    payer_id = str(check_result.get("request", {}).get("payer", "medicare"))
    rules = load_rules()
    title = rules.payers[payer_id].title if payer_id in rules.payers else payer_id
    packet = build_packet(
        check_result,
        resources,
        options,
        practice=practice,
        created=created,
        payer_title=title,
        practitioner=practitioner,
        organization=organization,
        attestations=attestations,
    )
    pdf = render_packet_pdf(packet)
    bundle, response = pas_request(packet, pdf=pdf)
    digest_input = {
        "check": check_result,
        "options": repr(options),
        "practice": repr(practice),
        "practitioner": practitioner,
        "organization": organization,
        "attestations": [repr(item) for item in attestations],
    }
    digest = hashlib.sha256(canonical_json(digest_input)).hexdigest()[:32]
    return PacketFiles(packet, pdf, bundle, response, digest)


def read_parties(
    client: FhirClient | None, resources: Sequence[Mapping[str, Any]], requester: str | None, patient_ref: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The ordering clinician's Practitioner and our Organization: from the record when it holds them, else read
    from the EHR (the requester reference; the patient's managingOrganization). A read that fails leaves the
    party unknown: the packet lists it as an open item instead of failing."""
    by_ref = {f"{item.get('resourceType')}/{item.get('id')}": dict(item) for item in resources if item.get("id")}
    patient = by_ref.get(patient_ref, {})
    organization_ref = reference_target(patient.get("managingOrganization"))
    return _read(client, by_ref, requester), _read(client, by_ref, organization_ref or None)


def _read(
    client: FhirClient | None, by_ref: Mapping[str, dict[str, Any]], reference: str | None
) -> dict[str, Any] | None:
    if not reference or "/" not in reference:
        return None
    if reference in by_ref:
        return by_ref[reference]
    if client is None:
        return None
    kind, _, resource_id = reference.partition("/")
    try:
        return client.read(kind, resource_id)
    except FhirNotFound:
        return None
    except FhirError as error:
        logger.info("could not read %s for the packet: %s", kind, error.brief())
        return None


# --- writing the PDF to the EHR -----------------------------------------------------------------------------------


def packet_document(files: PacketFiles, context: OrderContext) -> DraftResource:
    """The US Core DocumentReference of the packet PDF, keyed `<order key>.packet` (the draft order's system)."""
    packet, pdf = files.packet, files.pdf
    value = f"{packet.key}.packet"
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "identifier": [
            {"system": IDENTIFIER_SYSTEM, "value": value},
            {"system": SYSTEM_PACKET_DIGEST, "value": files.digest},
        ],
        "status": "current",
        "docStatus": "preliminary",
        "type": {"coding": [{"system": "http://loinc.org", "code": LOINC_PACKET[0], "display": LOINC_PACKET[1]}]},
        "category": [
            {
                "coding": [
                    {
                        "system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                        "code": "clinical-note",
                        "display": "Clinical Note",
                    }
                ]
            }
        ],
        "subject": {"reference": packet.patient_reference},
        "date": packet.created.isoformat(timespec="seconds"),
        "author": [{"reference": context.requester}] if context.requester else [],
        "description": "Prior authorization packet (draft, not submitted)",
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "data": base64.b64encode(pdf).decode("ascii"),
                    "size": len(pdf),
                    "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode("ascii"),
                    "title": f"Prior authorization packet, service {packet.service_window}",
                    "creation": packet.created.isoformat(timespec="seconds"),
                }
            }
        ],
    }
    if not resource["author"]:
        del resource["author"]
    if context.organization:
        resource["custodian"] = {"reference": context.organization}
    return DraftResource(
        key="packet",
        full_url=f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{IDENTIFIER_SYSTEM}|{value}')}",
        resource=resource,
        search=identifier_search(IDENTIFIER_SYSTEM, value),
    )


def write_packet_document(client: FhirClient, files: PacketFiles, context: OrderContext) -> OrderOutcome:
    """Write the packet PDF to the EHR exactly once (see the module docstring). Never raises for an EHR refusal:
    the outcome says why, and the zip stays downloadable."""
    document = packet_document(files, context)
    device = app_device(context)
    key = files.packet.key
    for attempt in (1, 2):
        try:
            existing = _existing(client, key)
        except FhirError as error:
            return OrderOutcome(
                order_key=key, reason=plain_reason(error, "read the packet back"), diagnostics=error.diagnostics
            )
        desired = _same_content(document, existing.get(f"{key}.packet"), files.digest)
        provenance = build_provenance(key, [desired.full_url], [desired], context, device.full_url)
        draft = DraftOrder(key=key, patient=files.packet.patient_reference, resources=(desired, device, provenance))
        plan = plan_writes(draft, existing, context)
        try:
            response = client.transaction(plan.bundle) if plan.bundle else None
        except FhirError as error:
            if attempt == 1 and error.status in (None, 409, 412):
                continue
            return OrderOutcome(
                order_key=key, reason=plain_reason(error, "save the packet"), diagnostics=error.diagnostics
            )
        return OrderOutcome(order_key=key, written=plan.references(response), notes=list(plan.notes))
    raise AssertionError("unreachable")  # pragma: no cover


def _existing(client: FhirClient, key: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    searches = [
        ("DocumentReference", {"identifier": f"{IDENTIFIER_SYSTEM}|{key}.packet"}),
        ("Device", {"identifier": f"{SYSTEM_DEVICE}|{APP_NAME}"}),
    ]
    for resource_type, params in searches:
        for resource in client.search(resource_type, params, no_cache=True).resources:
            item_key = existing_key(resource)
            if item_key and item_key not in found:
                found[item_key] = resource
    return found


def _same_content(document: DraftResource, current: Mapping[str, Any] | None, digest: str) -> DraftResource:
    """When the EHR already holds this packet (same digest), keep its PDF bytes so nothing is rewritten."""
    if current is None:
        return document
    digests = {
        item.get("value") for item in current.get("identifier", []) if item.get("system") == SYSTEM_PACKET_DIGEST
    }
    if digest not in digests:
        return document
    resource = {**document.resource, "content": current.get("content", document.resource["content"])}
    return DraftResource(document.key, document.full_url, resource, document.search)


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
