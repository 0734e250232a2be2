"""The audit trail: every read of patient data, edit, attestation, export, submission and status change is
appended to the audit log (who: the launch's fhirUser; when; what: the event and the record touched; from where:
the client address), and staff can view and export it.

One hook covers every page of a launch (`/s/<launch_id>/…`, any blueprint): a successful GET is a `read` (or an
`export` for downloads), a POST an `edit`, an `attestation`, a `submission` or a `status-change` by endpoint.
Nothing clinical goes in: the subject is a reference (`Patient/<id>`, `PriorAuthRequest/<id>`).

    GET /s/<launch_id>/audit?page=      the log, newest first (the practice's EHR only)
    GET /s/<launch_id>/audit.csv        the same, every event, as CSV
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from flask import Blueprint, Response, render_template, request

from smart_app.store.audit import append_event, recent_events
from smart_app.web.launch_context import launch_record, load_launch_context
from smart_app.web.services import services

bp = Blueprint("audit_trail", __name__, url_prefix="/s/<launch_id>")

EXPORTS = frozenset(
    {
        "orders.export_report",
        "orders.export_draft",
        "worklist.worklist_csv",
        "audit_trail.audit_csv",
        "worklist_packet.pdf",
        "worklist_packet.zip_file",
    }
)
ATTESTATIONS = frozenset({"checklist.attest", "checklist.withdraw_attestation"})
POST_EVENTS = {
    "worklist_request.submit": "prior-auth.submission",
    "worklist_request.change_status": "prior-auth.status-change",
    "worklist_request.assign": "prior-auth.edit",
    "worklist_request.add_note": "prior-auth.edit",
}
PAGE_SIZE = 100
CSV_LIMIT = 100_000


def audit(
    event: str,
    *,
    subject: str | None,
    actor: str | None,
    detail: str = "",
    ehr_name: str | None = None,
    launch_id: str | None = None,
) -> None:
    """Append one event for the current request (its client address is `from where`)."""
    app_services = services()
    with app_services.database.transaction() as db:
        append_event(
            db,
            event,
            now=app_services.clock(),
            launch_id=launch_id,
            ehr_name=ehr_name,
            actor=actor,
            detail=detail,
            subject=subject,
            source=request.remote_addr,
        )


def event_of(endpoint: str, method: str) -> str | None:
    if endpoint in EXPORTS:
        return "data.export"
    if method == "GET":
        return "data.read"
    if endpoint in ATTESTATIONS:
        return "data.attestation"
    return POST_EVENTS.get(endpoint, "data.edit") if method == "POST" else None


@bp.after_app_request
def record_launch_request(response: Response) -> Response:
    """Audit every successful request under a launch (the launch names who, which EHR and which patient)."""
    launch_id = (request.view_args or {}).get("launch_id")
    endpoint = request.endpoint or ""
    if not launch_id or response.status_code >= 400:
        return response
    event = event_of(endpoint, request.method)
    if event is None:
        return response
    launch = launch_record(str(launch_id))  # read once per request, usually already by the view
    if launch is None:
        return response
    request_id = (request.view_args or {}).get("request_id")
    subject = (
        f"PriorAuthRequest/{request_id}"
        if request_id
        else (f"Patient/{launch.patient_id}" if launch.patient_id else None)
    )
    app_services = services()
    with app_services.database.transaction() as db:
        append_event(
            db,
            event,
            now=app_services.clock(),
            launch_id=launch.id,
            ehr_name=launch.ehr_name,
            actor=launch.fhir_user,
            detail=f"{request.method} {endpoint}",
            subject=subject,
            source=request.remote_addr,
        )
    return response


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


@bp.get("/audit")
def audit_log(launch_id: str) -> str:
    context = load_launch_context(launch_id)
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    subject = request.args.get("subject", "")[:200] or None
    with services().database.session() as db:
        events, total = recent_events(
            db, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE, subject=subject, ehr_name=context.registration.name
        )
    return render_template(
        "worklist/audit.html",
        context=context,
        events=events,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        when=_when,
        subject=subject or "",
    )


@bp.get("/audit.csv")
def audit_csv(launch_id: str) -> Response:
    context = load_launch_context(launch_id)
    with services().database.session() as db:
        events, _ = recent_events(db, limit=CSV_LIMIT, ehr_name=context.registration.name)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "at", "event", "actor", "subject", "source", "ehr", "launch", "detail"])
    for item in events:
        writer.writerow(
            [
                item.id,
                _when(item.at),
                item.event,
                item.actor or "",
                item.subject or "",
                item.source or "",
                item.ehr_name or "",
                item.launch_id or "",
                item.detail,
            ]
        )
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response
