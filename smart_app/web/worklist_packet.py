"""Blueprint `worklist_packet`: staff build the prior-authorization packet from the worklist request page.

    POST /s/<launch_id>/worklist/<request_id>/packet        build (or rebuild) and keep the packet; back to the page
    GET  /s/<launch_id>/worklist/<request_id>/packet.pdf    the kept packet's PDF
    GET  /s/<launch_id>/worklist/<request_id>/packet.zip    the kept packet's zip (PDF, PAS Bundle, DTR, manifest)

A staff launch has no patient but its token carries `user/` scopes, so it reads the request's patient record from
the EHR. The check runs again on that record with the request as the clinician saved it (`details.form`, kept at
entry) and the attestations kept for that request, whichever launch gave them; the packet is then built with the
staff's choices (the same form as the checklist page's) and kept with the request, where submission finds its PAS
Bundle. A request entered before the form was kept cannot be checked again: the page says to save it again.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.wrappers import Response as WerkzeugResponse

from smart_app.core.documents import OrderContext
from smart_app.core.model import InvalidRequest
from smart_app.core.packet.model import PacketInputError, Practice
from smart_app.fhir.errors import FhirError
from smart_app.fhir.record import fetch_patient_record
from smart_app.store.prior_auth_packets import kept_packet
from smart_app.store.prior_auth_requests import PriorAuthRequest
from smart_app.web.browser_session import check_csrf
from smart_app.web.check_run import app_version, attestation_store, now, request_form
from smart_app.web.errors import AppError
from smart_app.web.launch_context import LaunchContext, load_launch_context
from smart_app.web.packet import attestation_notes, staff_choices
from smart_app.web.services import services
from smart_app.web.worklist_packet_store import keep_files, packet_may_change
from smart_app.web.worklist_request import back_to_request, load_request
from smart_app.workflow.check import run_check
from smart_app.workflow.packet import PacketFiles, build_packet_files, read_parties, write_packet_document

bp = Blueprint("worklist_packet", __name__, url_prefix="/s/<launch_id>/worklist/<request_id>")

SAVE_AGAIN = (
    "This request was saved before packets could be built from the worklist: open the patient's checklist and "
    "save the draft order again, then build the packet here."
)


class PacketNotBuilt(Exception):
    """The packet could not be built; the message says why in plain words (no PHI)."""


@bp.post("/packet")
def build(launch_id: str, request_id: str) -> WerkzeugResponse:
    context = load_launch_context(launch_id)
    check_csrf()
    item = load_request(context, request_id)
    if not packet_may_change(item):
        return back_to_request(
            launch_id, request_id, error="Packet not built: this request was sent; its packet is kept as sent."
        )
    try:
        files, written = build_for_request(context, item, request.form)
    except PacketNotBuilt as error:
        return back_to_request(launch_id, request_id, error=f"Packet not built: {error}")
    replaced = keep_files(context, item.id, files, request.form)
    message = "Packet rebuilt; it replaces the one built before." if replaced else "Packet built."
    if written is not None:
        message += f" {written}"
    return back_to_request(launch_id, request_id, message=message)


@bp.get("/packet.pdf")
def pdf(launch_id: str, request_id: str) -> Response:
    return _download(launch_id, request_id, "pdf")


@bp.get("/packet.zip")
def zip_file(launch_id: str, request_id: str) -> Response:
    return _download(launch_id, request_id, "zip")


def _download(launch_id: str, request_id: str, kind: str) -> Response:
    context = load_launch_context(launch_id)
    item = load_request(context, request_id)
    packet = kept_packet(services().database, item.id)
    if packet is None:
        raise AppError(404, "no-packet", "No packet", "No packet has been built for this request yet.")
    if kind == "pdf":
        response = Response(packet.pdf, mimetype="application/pdf")
        name = packet.file_name.removesuffix(".zip") + ".pdf"
    else:
        response = Response(packet.zip, mimetype="application/zip")
        name = packet.file_name
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def build_for_request(context: LaunchContext, item: PriorAuthRequest, choices: Any) -> tuple[PacketFiles, str | None]:
    """Check the request again on the record read now and build its packet with the staff's `choices`; with
    `write_to_ehr` also save the PDF to the EHR (the second value says how that went, else None).

    Raises:
        PacketNotBuilt: the request cannot be checked again, the record cannot be read, or a bad choice.
    """
    saved = item.details.get("form")
    if not isinstance(saved, dict):
        raise PacketNotBuilt(SAVE_AGAIN)
    form = request_form(saved)
    if not form.valid or form.request is None or form.as_of is None:
        raise PacketNotBuilt(SAVE_AGAIN)
    try:
        options = staff_choices(choices, form.as_of)
    except PacketInputError as error:
        raise PacketNotBuilt(str(error)) from error
    patient_id = item.patient_ref.removeprefix("Patient/")
    client = context.fhir_client()
    try:
        record = fetch_patient_record(client, patient_id, readable_types=context.readable_types)
    except (FhirError, ValueError) as error:
        brief = error.brief() if isinstance(error, FhirError) else "not a patient id"
        raise PacketNotBuilt(f"the patient's record could not be read from the EHR ({brief})") from error
    resources = list(record.resources)
    if record.patient is not None and not any(r.get("resourceType") == "Patient" for r in resources):
        resources.insert(0, record.patient)
    attestations = attestation_store().for_request_any_launch(form.key(), ehr=context.fhir_base)
    try:
        result = run_check(
            resources,
            form.request,
            as_of=form.as_of,
            answers={a.criterion_id: a.to_answer() for a in attestations} or None,
            skipped=record.skipped,
            unreadable=record.unreadable,
            payer_from_record=form.payer_from_record,
            patient_id=patient_id,
        )
    except InvalidRequest as error:
        raise PacketNotBuilt(str(error)) from error
    requester = item.ordering_provider if item.ordering_provider.startswith("Practitioner") else None
    practitioner, organization = read_parties(client, resources, requester, item.patient_ref)
    try:
        files = build_packet_files(
            result,
            resources,
            options,
            practice=Practice.from_mapping(current_app.config.get("PRACTICE")),
            created=now(),
            practitioner=practitioner,
            organization=organization,
            attestations=attestation_notes(result, attestations),
        )
    except PacketInputError as error:
        raise PacketNotBuilt(str(error)) from error
    written = None
    if choices.get("write_to_ehr"):
        order = OrderContext(recorded=now(), resources=resources, requester=requester, app_version=app_version())
        outcome = write_packet_document(client, files, order)
        written = (
            "The PDF is saved to the EHR." if outcome.written else f"The PDF was not saved to the EHR: {outcome.reason}"
        )
    return files, written
