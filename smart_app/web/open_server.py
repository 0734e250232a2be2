"""Blueprint `open_server`: open FHIR servers (no OAuth, e.g. the HAPI public sandbox). The patient is chosen in
the app, by id or by a name search on the server, and no Authorization header is ever sent.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from smart_app.config import EhrRegistration
from smart_app.fhir.client import FhirClient
from smart_app.store.audit import record_event
from smart_app.store.launches import Launch, new_launch_id
from smart_app.web.browser_session import check_csrf, csrf_token, ensure_session
from smart_app.web.errors import AppError
from smart_app.web.patient import patient_banner
from smart_app.web.services import services

bp = Blueprint("open_server", __name__, url_prefix="/open")

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
MAX_NAME_LENGTH = 100
SEARCH_PAGE_SIZE = 20


def _open_registration(name: str) -> EhrRegistration:
    registration = services().registry.by_name(name)
    if registration is None or not registration.open:
        raise AppError(
            404,
            "unknown-open-server",
            "Unknown server",
            "No open FHIR server is registered by that name.",
            issue_code="not-found",
        )
    return registration


@bp.get("/<ehr>")
def choose_patient(ehr: str) -> str:
    registration = _open_registration(ehr)
    name = request.args.get("name", "").strip()[:MAX_NAME_LENGTH]
    matches: list[dict[str, Any]] = []
    if name:
        client = FhirClient(registration.iss, token_source=None, max_pages=1)
        bundle = client.get_bundle(client.search_url("Patient", {"name": name, "_count": SEARCH_PAGE_SIZE}))
        for entry in bundle.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
                summary = patient_banner(resource)
                if summary and FHIR_ID.match(summary["id"]):
                    matches.append(summary)
    return render_template(
        "open_picker.html",
        registration=registration,
        name=name,
        matches=matches,
        searched=bool(name),
        csrf_token=csrf_token(),
    )


@bp.post("/<ehr>/select")
def select_patient(ehr: str) -> WerkzeugResponse:
    registration = _open_registration(ehr)
    check_csrf()
    patient_id = request.form.get("patient_id", "").strip()
    if not FHIR_ID.match(patient_id):
        raise AppError(
            400,
            "bad-patient-id",
            "Not a patient id",
            "A FHIR patient id has 1 to 64 letters, digits, '-' or '.'.",
            issue_code="invalid",
        )
    FhirClient(registration.iss, token_source=None).read("Patient", patient_id)  # 404 page when it does not exist
    app_services = services()
    now = app_services.clock()
    launch_id = new_launch_id()
    session_hash = ensure_session()
    with app_services.database.session() as db:
        db.add(
            Launch(
                id=launch_id,
                session_hash=session_hash,
                ehr_name=registration.name,
                iss=registration.iss,
                mode="open",
                patient_id=patient_id,
                need_patient_banner=True,
                granted_scope="",
                created_at=now,
            )
        )
        record_event(
            db,
            "launch.completed",
            now=now,
            launch_id=launch_id,
            ehr_name=registration.name,
            detail="open server, patient chosen in the app",
        )
    return redirect(url_for("patient.summary", launch_id=launch_id))
