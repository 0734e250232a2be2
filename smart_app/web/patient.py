"""Blueprint `patient`: the first page after a launch, `/s/<launch_id>/`: the clinical summary.

It reads the patient's record (only the types the grant allows), then shows the banner (only when the EHR says
one is needed), the clinical summary (`clinical_summary.py`: diagnoses, procedure timeline, pain chart, imaging,
conservative care, the suggested next step) and the checklist button, pre-filled from that suggestion. What was
read per type, what was skipped or unreadable and why, and the scopes granted sit behind a "details" disclosure.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template, url_for

from smart_app.core.facts import extract_facts
from smart_app.fhir.record import PatientRecord, fetch_patient_record
from smart_app.fhir.scopes import ORDER_WRITE_TYPES
from smart_app.web.check_run import today
from smart_app.web.clinical_summary import ClinicalSummary, build_summary, checklist_prefill
from smart_app.web.clinician import clinician_of
from smart_app.web.errors import wants_json
from smart_app.web.launch_context import LaunchContext, load_launch_context
from smart_app.workflow.check import suggestion_for

bp = Blueprint("patient", __name__, url_prefix="/s/<launch_id>")


@bp.get("/")
def summary(launch_id: str) -> Response | str:
    context = load_launch_context(launch_id)
    record = fetch_patient_record(context.fhir_client(), context.patient_id, readable_types=context.readable_types)
    clinical, prefill = clinical_summary(context, record)
    view = summary_view(context, record)
    view["clinical"] = clinical.to_json()
    view["checklist"] += f"?{prefill}" if prefill else ""
    view["clinician"] = clinician_of(context).display
    if wants_json():
        return jsonify(view)
    return render_template(
        "patient.html",
        view=view,
        clinical=view["clinical"],
        context=context,
        banner=patient_banner(record.patient),
        clinician=view["clinician"],
    )


def clinical_summary(context: LaunchContext, record: PatientRecord) -> tuple[ClinicalSummary, str]:
    """The summary of the record as of today, and the checklist query pre-filled from the suggested next step."""
    resources = list(record.resources)
    if record.patient is not None and not any(r.get("resourceType") == "Patient" for r in resources):
        resources.insert(0, record.patient)
    as_of = today()
    facts = extract_facts(resources, patient_id=context.patient_id, as_of=as_of)
    suggestion = suggestion_for(facts, as_of=as_of)
    return build_summary(facts, suggestion, as_of=as_of), checklist_prefill(suggestion)


def summary_view(context: LaunchContext, record: PatientRecord) -> dict[str, Any]:
    """What the page shows, as data (also the JSON answer for API callers)."""
    capabilities = context.capabilities
    return {
        "launch": context.launch_id,
        "ehr": context.registration.title,
        "mode": context.mode,
        "patient": context.patient_id,
        "needPatientBanner": context.need_patient_banner,
        "counts": record.counts(),
        "skipped": record.skipped,
        "unreadable": record.unreadable,
        "warnings": record.warnings,
        "scopesGranted": [] if context.is_open else list(capabilities.granted),
        "writeMode": "write" if context.can_write_orders else "export-only",
        "missingWriteScopes": [] if context.can_write_orders else capabilities.missing_order_scopes(ORDER_WRITE_TYPES),
        "checklist": url_for("patient.summary", launch_id=context.launch_id) + "checklist",
        "requests": record.request_count,
    }


def patient_banner(patient: dict[str, Any] | None) -> dict[str, str] | None:
    """Name, gender and birth date for the banner (the page decides whether to show it)."""
    if not patient:
        return None
    names = patient.get("name") or []
    official = next((n for n in names if isinstance(n, dict) and n.get("use") == "official"), None)
    name = official or (names[0] if names and isinstance(names[0], dict) else {})
    text = name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip()
    return {
        "name": text or "(no name)",
        "gender": str(patient.get("gender", "unknown")),
        "birthDate": str(patient.get("birthDate", "unknown")),
        "id": str(patient.get("id", "")),
    }
