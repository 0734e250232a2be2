"""Blueprint `patient`: the first page after a launch, `/s/<launch_id>/`, and the clinical summary loaded into it.

The launch ends at the page: it answers at once from what the launch already knows (the layout, a banner slot when
the EHR asks for one, the clinician if already known; nothing is read from the EHR) with a summary area that says
what is being read. The browser then fetches the summary fragment (`/s/<launch_id>/summary`, `summary.js`): the
record (only the types the grant allows), the clinical summary (`clinical_summary.py`: diagnoses, procedure timeline,
pain chart, imaging, conservative care, the suggested next step), the checklist button pre-filled from that
suggestion, and what was read per type behind a "details" disclosure. `/s/<launch_id>/summary/page` is the same
summary as a whole page (the link shown without JavaScript). API callers (`Accept: application/json` on
`/s/<launch_id>/`) get the whole summary as data, as before.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, render_template, url_for

from smart_app.core.facts import extract_facts
from smart_app.fhir.record import RECORD_INCLUDED_TYPES, RECORD_TYPES, PatientRecord, fetch_patient_record
from smart_app.fhir.scopes import ORDER_WRITE_TYPES
from smart_app.web.check_run import today
from smart_app.web.clinical_summary import ClinicalSummary, build_summary, checklist_prefill
from smart_app.web.clinician import clinician_of
from smart_app.web.errors import wants_json
from smart_app.web.launch_context import LaunchContext, load_launch_context
from smart_app.web.record_reads import record_read_slot
from smart_app.workflow.check import suggestion_for

bp = Blueprint("patient", __name__, url_prefix="/s/<launch_id>")

# Shown while the record is read, in the words of the details table (one line, the order the record reads them).
TYPE_NAMES = {
    "Patient": "patient",
    "Condition": "conditions",
    "Procedure": "procedures",
    "ImagingStudy": "imaging studies",
    "Observation": "observations",
    "DiagnosticReport": "reports",
    "DocumentReference": "documents",
    "MedicationRequest": "medication orders",
    "MedicationStatement": "medication statements",
    "Medication": "medications",
    "Coverage": "coverage",
    "Organization": "payers",
    "ServiceRequest": "service requests",
    "Device": "devices",
}


@bp.get("/")
def summary(launch_id: str) -> Response | str:
    """The page (HTML: at once, the summary loads into it) or the whole summary as data (JSON)."""
    context = load_launch_context(launch_id)
    if wants_json():
        view, _ = read_summary(context)
        return jsonify(view)
    # The header names the clinician only if already read (it came with the launch row): the Practitioner read is
    # the summary's.
    g.known_clinician = context.clinician
    return render_template(
        "patient.html",
        context=context,
        banner_pending=wants_banner(context),
        summary_src=url_for("patient.summary_fragment", launch_id=launch_id),
        summary_page=url_for("patient.summary_page", launch_id=launch_id),
        reading=reading_types(context),
    )


@bp.get("/summary")
def summary_fragment(launch_id: str) -> str:
    """The clinical summary as an HTML fragment for the page's summary area (root marked `data-summary-loaded`)."""
    context = load_launch_context(launch_id)
    view, record = read_summary(context)
    return render_template(
        "patient_summary.html",
        view=view,
        clinical=view["clinical"],
        context=context,
        fragment_banner=patient_banner(record.patient) if wants_banner(context) else None,
    )


@bp.get("/summary/page")
def summary_page(launch_id: str) -> str:
    """The page with the summary already in it (without JavaScript, and what the page looked like before)."""
    context = load_launch_context(launch_id)
    view, record = read_summary(context)
    return render_template(
        "patient.html",
        context=context,
        banner=patient_banner(record.patient),
        view=view,
        clinical=view["clinical"],
    )


def read_summary(context: LaunchContext) -> tuple[dict[str, Any], PatientRecord]:
    """Read the record and build everything the summary shows, as data (the JSON answer), with the record."""
    with record_read_slot():
        record = fetch_patient_record(context.fhir_client(), context.patient_id, readable_types=context.readable_types)
        clinical, prefill = clinical_summary(context, record)
    view = summary_view(context, record)
    view["clinical"] = clinical.to_json()
    view["checklist"] += f"?{prefill}" if prefill else ""
    g.known_clinician = clinician = clinician_of(context)  # the header's too (no second look-up)
    view["clinician"] = clinician.display
    return view, record


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


def wants_banner(context: LaunchContext) -> bool:
    """The EHR asks for a banner and the grant lets us read the Patient. The page shows a banner slot at once and
    the summary fragment fills it: the Patient comes with the record read, so the sign-in's last hop reads nothing
    from the EHR. Nothing on the page can be acted on before the banner is there (the checklist button comes with
    the summary)."""
    return context.need_patient_banner and "Patient" in context.readable_types


def reading_types(context: LaunchContext) -> list[str]:
    """The kinds of record the summary reads for this launch (the grant decides), for the progress line."""
    readable = context.readable_types
    return [TYPE_NAMES.get(t, t) for t in (*RECORD_TYPES, *RECORD_INCLUDED_TYPES) if t in readable]


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
