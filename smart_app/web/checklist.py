"""Blueprint `checklist`: the checklist page of a launch, attestations, the evidence view and the check API.

    GET  /s/<launch_id>/checklist                  the request form (prefilled from the query); with `run=1` the
                                                   check runs and the page shows its result (the URL is shareable)
    POST /s/<launch_id>/checklist/attest           attest one unknown criterion (met / not-met + a note)
    POST /s/<launch_id>/checklist/attest/withdraw  withdraw an attestation
    GET  /s/<launch_id>/resource/<type>/<id>       the key fields of one resource, read through the launch
    GET  /s/<launch_id>/api/check?procedure=…      the check-result/v1 document
    POST /s/<launch_id>/api/check                  the same, from a JSON body that may carry `answers`

Invalid input shows the form again with a message next to each bad field (HTTP 400); the API answers an
OperationOutcome with one issue per field.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from smart_app.core.documents import SYSTEM_REQUISITION, order_key
from smart_app.core.model import InvalidRequest
from smart_app.rules.loader import load_rules
from smart_app.store.attestations import ATTESTABLE_STATUSES
from smart_app.web.api import InvalidForm, json_body, json_errors
from smart_app.web.browser_session import check_csrf, csrf_token
from smart_app.web.check_run import (
    LaunchCheck,
    attestation_store,
    checked_request,
    clinician_reference,
    draft_store,
    now,
    request_form,
    run_launch_check,
    valid_request_form,
)
from smart_app.web.clinician import clinician_of
from smart_app.web.errors import AppError
from smart_app.web.evidence import belongs_to_patient, is_viewable, key_fields, title_of
from smart_app.web.forms import (
    COMMON_FACET_LEVELS,
    COMMON_PARS_LEVELS,
    FORM_ERROR,
    CheckForm,
    values_from_multidict,
)
from smart_app.web.launch_context import LaunchContext, load_launch_context
from smart_app.web.patient import patient_banner
from smart_app.web.verdict import clause_label, public_source, verdict_view

bp = Blueprint("checklist", __name__, url_prefix="/s/<launch_id>")

CRITERION_ID = re.compile(r"^[A-Z]+[0-9]?-[0-9]{2}$")
MAX_NOTE_LENGTH = 2000

STATUSES: dict[str, dict[str, str]] = {
    "met": {"label": "Met", "mark": "✓"},
    "not-met": {"label": "Not met", "mark": "✗"},
    "unknown": {"label": "Unknown", "mark": "?"},
    "not-applicable": {"label": "Not applicable", "mark": "–"},
}
PATHWAYS: dict[str, str] = {
    "pars-injection": "Pars interarticularis injection",
    "facet-diagnostic-first": "Facet joint: first diagnostic block",
    "facet-diagnostic-confirmatory": "Facet joint: confirmatory (second) diagnostic block",
    "facet-therapeutic": "Facet joint: therapeutic intra-articular injection",
    "rfa-initial": "Radiofrequency ablation: initial",
    "rfa-repeat": "Radiofrequency ablation: repeat",
}
ORIGINS: dict[str, str] = {"record": "from the record", "request": "from the request", "attested": "attested"}


# --- the page ----------------------------------------------------------------------------------------------------


@bp.get("/checklist")
def page(launch_id: str) -> Response:
    context = load_launch_context(launch_id)
    form = request_form(values_from_multidict(request.args))
    if not request.args.get("run"):
        return make_response(render_checklist(context, CheckForm(form.values)))  # prefilled, not yet checked
    if not form.valid:
        return make_response(render_checklist(context, form), 400)
    try:
        check = run_launch_check(context, form)
    except InvalidRequest as error:
        return make_response(render_checklist(context, _with_error(form, FORM_ERROR, str(error))), 400)
    response = make_response(render_checklist(context, form, check))
    response.headers["Server-Timing"] = server_timing(check)
    return response


def render_checklist(
    context: LaunchContext,
    form: CheckForm,
    check: LaunchCheck | None = None,
    *,
    attest_errors: dict[str, str] | None = None,
) -> str:
    """The checklist page: the form, and the result when a check ran."""
    view: dict[str, Any] = {}
    if check is not None:
        key = order_key(check.result)
        view = {
            "result": check.result,
            "verdict": verdict_view(check.result),
            "pathway": PATHWAYS.get(check.result["pathway"], check.result["pathway"]),
            "attested": check.attested,
            "unreadable": check.record.unreadable,
            "fetch_ms": round(check.fetch_seconds * 1000),
            "check_ms": round(check.check_seconds * 1000),
            "resource_count": len(check.resources),
            "order_key": key,
            "drafts_in_ehr": drafts_in_record(check.resources, key),
            "kept_draft": draft_store().get(key, ehr=context.fhir_base),
        }
    return render_template(
        "checklist.html",
        context=context,
        form=form,
        view=view,
        banner=patient_banner(_patient_for_banner(context, check)),
        attest_errors=attest_errors or {},
        write_mode="write" if context.can_write_orders else "export-only",
        missing_write_scopes=[] if context.can_write_orders else context.capabilities.missing_order_scopes(),
        csrf_token=csrf_token(),
        payer_options=payer_options(),
        facet_levels=COMMON_FACET_LEVELS,
        pars_levels=COMMON_PARS_LEVELS,
        statuses=STATUSES,
        origins=ORIGINS,
        clause_label=clause_label,
        public_source=public_source,
        prefill_note=request.args.get("suggested") == "1",
    )


def _patient_for_banner(context: LaunchContext, check: LaunchCheck | None) -> dict[str, Any] | None:
    """The Patient for the banner: from the record just read, else read alone (only when the EHR wants a banner)."""
    if check is not None:
        return check.record.patient
    if not context.need_patient_banner:
        return None
    return context.fhir_client().read("Patient", context.patient_id)


def payer_options() -> list[tuple[str, str]]:
    """The payer choices: the record's Coverage first (the default), then every payer profile by title."""
    profiles = sorted(load_rules().payers.values(), key=lambda profile: profile.title)
    return [("", "From the record"), *((p.id, p.title) for p in profiles)]


def drafts_in_record(resources: list[dict[str, Any]], key: str) -> list[str]:
    """References of the draft ServiceRequests of this order that the record read from the EHR holds."""
    found = []
    for resource in resources:
        if resource.get("resourceType") != "ServiceRequest" or resource.get("status") != "draft":
            continue
        requisition = resource.get("requisition") or {}
        if requisition.get("system") == SYSTEM_REQUISITION and requisition.get("value") == key:
            found.append(f"ServiceRequest/{resource.get('id')}")
    return found


def _with_error(form: CheckForm, name: str, message: str) -> CheckForm:
    return CheckForm(form.values, {**form.errors, name: message}, form.request, form.as_of)


def checklist_url(launch_id: str, form: CheckForm, anchor: str = "") -> str:
    """The shareable URL of the checklist for this request (the check runs when opened)."""
    url = url_for("checklist.page", launch_id=launch_id) + "?" + form.query(run="1")
    return url + (f"#{anchor}" if anchor else "")


# --- attestations ------------------------------------------------------------------------------------------------


@bp.post("/checklist/attest")
def attest(launch_id: str) -> WerkzeugResponse | tuple[str, int]:
    context = load_launch_context(launch_id)
    check_csrf()
    form = posted_form()
    criterion_id = request.form.get("criterion", "")
    status = request.form.get("status", "")
    note = request.form.get("note", "").strip()
    check = checked_request(context, form)
    criterion = next((c for c in check.result["criteria"] if c["id"] == criterion_id), None)
    problem = _attestation_problem(criterion, status, note)
    if problem:
        return render_checklist(context, form, check, attest_errors={criterion_id: problem}), 400
    attestation_store().attest(
        ehr=context.fhir_base,
        launch_id=launch_id,
        request_key=form.key(),
        criterion_id=criterion_id,
        status=status,
        note=note,
        attested_by=clinician_of(context).display or clinician_reference(context),
        now=now(),
    )
    return redirect(checklist_url(launch_id, form, f"criterion-{criterion_id}"), code=303)


@bp.post("/checklist/attest/withdraw")
def withdraw_attestation(launch_id: str) -> WerkzeugResponse:
    context = load_launch_context(launch_id)
    check_csrf()
    form = posted_form()
    criterion_id = request.form.get("criterion", "")
    if not CRITERION_ID.match(criterion_id):
        raise AppError(400, "bad-criterion", "Bad request", "No such criterion.", issue_code="invalid")
    attestation_store().withdraw(launch_id, form.key(), criterion_id, ehr=context.fhir_base)
    return redirect(checklist_url(launch_id, form, f"criterion-{criterion_id}"), code=303)


def posted_form() -> CheckForm:
    """The request a POST form carries in its hidden fields (it was valid when the page was made)."""
    return valid_request_form(values_from_multidict(request.form))


def _attestation_problem(criterion: dict[str, Any] | None, status: str, note: str) -> str | None:
    if criterion is None:
        return "This criterion is not part of this request's checklist."
    if criterion["status"] != "unknown" and criterion.get("origin") != "attested":
        return "Only criteria the record cannot prove (unknown) can be attested."
    if status not in ATTESTABLE_STATUSES:
        return "Choose met or not met."
    if not note:
        return "A note is required: say where this is documented."
    if len(note) > MAX_NOTE_LENGTH:
        return f"The note is too long (at most {MAX_NOTE_LENGTH} characters)."
    return None


# --- the evidence view -------------------------------------------------------------------------------------------


@bp.get("/resource/<resource_type>/<resource_id>")
def resource_view(launch_id: str, resource_type: str, resource_id: str) -> Response | str:
    context = load_launch_context(launch_id)
    if not is_viewable(resource_type, resource_id):
        raise AppError(404, "not-viewable", "Not available", "The app does not show this kind of resource.")
    resource = context.fhir_client().read(resource_type, resource_id)
    if not belongs_to_patient(resource, context.patient_id):
        raise AppError(
            404,
            "other-patient",
            "Not in this patient's record",
            "This resource does not belong to the patient of this launch.",
            issue_code="not-found",
        )
    fields = key_fields(resource)
    reference = f"{resource_type}/{resource_id}"
    if _wants_json():
        return jsonify(
            {
                "reference": reference,
                "title": title_of(resource),
                "fields": [
                    {"label": f.label, "values": [{"text": i.text, "reference": i.reference} for i in f.items]}
                    for f in fields
                ],
            }
        )
    back = request.args.get("back", "")
    return render_template(
        "checklist_resource.html",
        context=context,
        reference=reference,
        title=title_of(resource),
        fields=fields,
        back=back if _is_own_checklist_link(launch_id, back) else "",
        banner=patient_banner(_patient_for_banner(context, None)),
    )


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/fhir+json"])
    return best in ("application/json", "application/fhir+json")


def _is_own_checklist_link(launch_id: str, link: str) -> bool:
    """Only a link back to this launch's checklist is offered (never an arbitrary URL from the query)."""
    return link.startswith(url_for("checklist.page", launch_id=launch_id) + "?")


# --- the JSON API ------------------------------------------------------------------------------------------------


@bp.get("/api/check")
@json_errors
def api_check(launch_id: str) -> Response:
    context = load_launch_context(launch_id)
    return _check_response(context, request_form(values_from_multidict(request.args)), None)


@bp.post("/api/check")
@json_errors
def api_check_post(launch_id: str) -> Response:
    context = load_launch_context(launch_id)
    body = json_body()
    return _check_response(context, request_form(body), body.get("answers"))


def _check_response(context: LaunchContext, form: CheckForm, answers: Any) -> Response:
    if not form.valid:
        raise InvalidForm(form)
    check = run_launch_check(context, form, extra_answers=answers)
    response = jsonify(check.result)
    response.headers["Server-Timing"] = server_timing(check)
    return response


def server_timing(check: LaunchCheck) -> str:
    """How long the record read and the check took (ms), for the browser's developer tools and the tests."""
    return f"fetch;dur={check.fetch_seconds * 1000:.1f}, check;dur={check.check_seconds * 1000:.1f}"
