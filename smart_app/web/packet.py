"""Blueprint `packet`: the checklist page's "Prior-auth packet" download.

    POST /s/<launch_id>/packet    a form carrying the request (hidden fields) and the staff's choices: urgency
                                  (+ reason), place of service, planned date or range, rendering facility,
                                  resubmission, and optionally "also save the PDF to the EHR". CSRF-protected like
                                  the other forms. Answers with the zip (packet.pdf, pas-bundle.json,
                                  questionnaire-response.json, manifest.json); a bad choice answers 400 with the
                                  reason. The EHR write outcome goes into the response headers (X-Packet-Written).
                                  When the order is in the prior-auth worklist, the packet is kept with its
                                  request (X-Packet-Kept: the request id), as when staff build it there.

The check runs again on a fresh read of the record with the attestations kept for the request, so the packet says
what the page says; attestations appear in the PDF with who and when.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, request

from smart_app.core.packet.model import (
    Address,
    AttestationNote,
    Facility,
    PacketInputError,
    PacketOptions,
    Practice,
)
from smart_app.store.attestations import Attestation
from smart_app.web.browser_session import check_csrf
from smart_app.web.check_run import checked_request, now, order_context
from smart_app.web.checklist import posted_form
from smart_app.web.errors import AppError
from smart_app.web.worklist_packet_store import keep_with_worklist_request
from smart_app.workflow.packet import build_packet_files, read_parties, write_packet_document

bp = Blueprint("packet", __name__, url_prefix="/s/<launch_id>")


@bp.post("/packet")
def download(launch_id: str) -> Response:
    from smart_app.web.launch_context import load_launch_context

    context = load_launch_context(launch_id)
    check_csrf()
    form = posted_form()
    assert form.as_of is not None
    options = _staff_choices(form.as_of)
    check = checked_request(context, form)
    order = order_context(context, check)
    client = context.fhir_client()
    patient_ref = str(check.result["patient"]["reference"])
    practitioner, organization = read_parties(client, check.resources, order.requester, patient_ref)
    attestations = attestation_notes(check.result, check.attestations)
    try:
        files = build_packet_files(
            check.result,
            check.resources,
            options,
            practice=Practice.from_mapping(current_app.config.get("PRACTICE")),
            created=now(),
            practitioner=practitioner,
            organization=organization,
            attestations=attestations,
        )
    except PacketInputError as error:
        raise AppError(400, "invalid-packet", "Bad packet request", str(error), issue_code="invalid") from error
    kept = keep_with_worklist_request(context, check.result, files, request.form)
    response = Response(files.zip_bytes(), mimetype="application/zip")
    if kept:
        response.headers["X-Packet-Kept"] = kept
    response.headers["Content-Disposition"] = f'attachment; filename="{files.file_name}"'
    if request.form.get("write_to_ehr"):
        outcome = write_packet_document(client, files, order)
        response.headers["X-Packet-Written"] = json.dumps(outcome.written)
        if outcome.reason:
            response.headers["X-Packet-Not-Written"] = outcome.reason
    return response


def attestation_notes(result: Mapping[str, Any], attestations: Sequence[Attestation]) -> list[AttestationNote]:
    """The kept attestations as the packet shows them: the criterion's words, the answer, who and when."""
    texts = {str(item["id"]): str(item.get("text", "")) for item in result.get("criteria", [])}
    return [
        AttestationNote(
            criterion_id=item.criterion_id,
            criterion_text=texts.get(item.criterion_id, item.criterion_id),
            status=item.status,
            note=item.note,
            who=item.attested_by or "an unidentified user",
            when=item.attested_at,
        )
        for item in attestations
    ]


def _staff_choices(as_of: date) -> PacketOptions:
    try:
        return staff_choices(request.form, as_of)
    except PacketInputError as error:
        raise AppError(400, "invalid-packet", "Bad packet request", str(error), issue_code="invalid") from error


def staff_choices(values: Mapping[str, str], as_of: date) -> PacketOptions:
    """The packet form's choices (shared by the checklist page and the worklist request page).

    Raises:
        PacketInputError: a choice that cannot be used (the message says which, in plain words).
    """
    try:
        start = date.fromisoformat(values["service_date"]) if values.get("service_date") else as_of
        end = date.fromisoformat(values["service_end"]) if values.get("service_end") else None
        facility = None
        if values.get("facility_name", "").strip():
            address = values.get("facility_address", "").strip()
            facility = Facility(
                name=values["facility_name"].strip()[:200],
                npi=values.get("facility_npi", "").strip()[:20],
                address=Address(lines=(address[:200],) if address else ()),
            )
        urgency = values.get("urgency") or "standard"
        place = values.get("place_of_service") or None
        return PacketOptions(
            service_start=start,
            service_end=end,
            urgency=urgency,  # type: ignore[arg-type]  # validated below
            urgency_reason=values.get("urgency_reason", "").strip()[:500],
            place_of_service=place,
            facility=facility,
            submission="resubmission" if values.get("resubmission") else "initial",
        ).validated()
    except PacketInputError:
        raise
    except ValueError as error:  # a malformed date
        raise PacketInputError("planned dates must be YYYY-MM-DD") from error
