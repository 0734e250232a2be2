"""Blueprint `orders`: save or withdraw the draft order of a checked request, and export the checklist report.

    POST /s/<launch_id>/orders                  "Save draft order" (a form carrying the request): the page says what
                                                was written, or why not and that the draft was kept in the app; for
                                                a `not-eligible` verdict it first asks to confirm (`confirm` field)
    POST /s/<launch_id>/orders/withdraw         "Withdraw draft"
    POST /s/<launch_id>/api/orders              the same as JSON: {check, written, kept_locally, reason, …}
    POST /s/<launch_id>/api/orders/withdraw     (the `smart-app order` output of ../shared/contracts/CLI.md)
    GET  /s/<launch_id>/export/report.pdf?<request>       the checklist report, always available
    GET  /s/<launch_id>/export/draft-order.json?<request> the draft kept in the app when the EHR did not take it

Every action runs the check again on a fresh read of the record (with the attestations kept for the request), so
what is saved is what the clinician sees. The order workflow never raises for an EHR refusal: it keeps the draft
in the app's database and says why. A kept draft belongs to one EHR (the launch's FHIR base) and one patient; the
exports of a kept draft (its JSON and its report PDF) are served from what was kept, without reading the EHR,
which may be down at exactly that moment. Saves, withdrawals and exports are audited (order key, never PHI). Saves
of one order are serialised in the app (`order_lock`), so a double submission writes once and the second sees the
order unchanged.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request

from smart_app.core.documents import order_key
from smart_app.store.audit import record_event
from smart_app.web.api import InvalidForm, json_body, json_errors
from smart_app.web.browser_session import check_csrf, csrf_token
from smart_app.web.check_run import (
    LaunchCheck,
    checked_request,
    draft_store,
    order_context,
    request_form,
    valid_request_form,
)
from smart_app.web.checklist import checklist_url, posted_form
from smart_app.web.clinician import clinician_of
from smart_app.web.errors import AppError
from smart_app.web.evidence import is_viewable
from smart_app.web.forms import CheckForm, values_from_multidict
from smart_app.web.launch_context import LaunchContext, load_launch_context
from smart_app.web.patient import patient_banner
from smart_app.web.services import services
from smart_app.web.verdict import verdict_view
from smart_app.web.worklist_entry import enter_worklist
from smart_app.workflow.kept_drafts import KeptDraftMismatch, kept_for_launch, kept_report_pdf, request_order_key
from smart_app.workflow.order import OrderOutcome, render_report, save_draft_order, withdraw_draft_order

bp = Blueprint("orders", __name__, url_prefix="/s/<launch_id>")

CONFIRM_NOT_ELIGIBLE = "not-eligible"
_order_locks: dict[str, threading.Lock] = {}
_order_locks_guard = threading.Lock()


@contextmanager
def order_lock(key: str) -> Iterator[None]:
    """One save or withdraw of an order at a time in this app (a double click, two tabs)."""
    with _order_locks_guard:
        lock = _order_locks.setdefault(key, threading.Lock())
    with lock:
        yield


@bp.post("/orders")
def save(launch_id: str) -> str:
    context = load_launch_context(launch_id)
    check_csrf()
    form = posted_form()
    check = checked_request(context, form)
    if check.result["verdict"] == "not-eligible" and request.form.get("confirm") != CONFIRM_NOT_ELIGIBLE:
        return _confirm_page(context, form, check)
    outcome = _write(context, check)
    return _outcome_page(context, form, outcome, check, action="save")


@bp.post("/orders/withdraw")
def withdraw(launch_id: str) -> str:
    context = load_launch_context(launch_id)
    check_csrf()
    form = posted_form()
    check, outcome = _withdraw(context, form)
    return _outcome_page(context, form, outcome, check, action="withdraw")


@bp.post("/api/orders")
@json_errors
def api_save(launch_id: str) -> Response:
    context = load_launch_context(launch_id)
    check, outcome = _save(context, _json_form())
    return jsonify({"check": check.result, **outcome.to_json()})


@bp.post("/api/orders/withdraw")
@json_errors
def api_withdraw(launch_id: str) -> Response:
    context = load_launch_context(launch_id)
    check, outcome = _withdraw(context, _json_form())
    return jsonify({"check": check.result, **outcome.to_json()})


@bp.get("/export/report.pdf")
def export_report(launch_id: str) -> Response:
    context = load_launch_context(launch_id)
    form = _query_form()
    key, as_of = _request_key(context, form)
    kept = _kept_bundle(context, key)
    pdf = kept_report_pdf(kept, key) if kept is not None else None
    if pdf is None:  # nothing kept for this order: the report of a fresh check
        check = checked_request(context, form)
        pdf = render_report(check.result, order_context(context, check, clinician_of(context).display))
    _audit(context, "order.report-exported", key, "kept" if kept is not None else "fresh")
    response = Response(pdf, mimetype="application/pdf")
    name = f"checklist-report-{as_of}.pdf"  # no patient name in a file name
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/export/draft-order.json")
def export_draft(launch_id: str) -> Response:
    context = load_launch_context(launch_id)
    key, as_of = _request_key(context, _query_form())
    bundle = _kept_bundle(context, key)
    if bundle is None:
        raise AppError(
            404,
            "no-kept-draft",
            "No draft kept in the app",
            "The app keeps no draft of this order: it was written to the EHR, withdrawn, or never saved.",
            issue_code="not-found",
        )
    _audit(context, "order.draft-exported", key, "kept")
    response = Response(json.dumps(bundle, indent=2), mimetype="application/fhir+json")
    response.headers["Content-Disposition"] = f'attachment; filename="draft-order-{as_of}.json"'
    return response


# --- the work ----------------------------------------------------------------------------------------------------


def _save(context: LaunchContext, form: CheckForm) -> tuple[LaunchCheck, OrderOutcome]:
    check = checked_request(context, form)
    return check, _write(context, check)


def _write(context: LaunchContext, check: LaunchCheck) -> OrderOutcome:
    with order_lock(order_key(check.result)):
        outcome = save_draft_order(
            context.fhir_client(),
            check.result,
            order_context(context, check, clinician_of(context).display),
            draft_store(),
            capabilities=None if context.is_open else context.capabilities,  # an open server decides for itself
        )
    _audit(context, "order.kept" if outcome.kept_locally else "order.saved", outcome.order_key, _summary(outcome))
    enter_worklist(context, check, outcome)  # the prior-authorization worklist picks the saved order up
    return outcome


def _withdraw(context: LaunchContext, form: CheckForm) -> tuple[LaunchCheck, OrderOutcome]:
    check = checked_request(context, form)
    key = order_key(check.result)
    with order_lock(key):
        outcome = withdraw_draft_order(
            context.fhir_client(), key, order_context(context, check, clinician_of(context).display), draft_store()
        )
    _audit(context, "order.withdrawn", outcome.order_key, _summary(outcome))
    return check, outcome


def _request_key(context: LaunchContext, form: CheckForm) -> tuple[str, str]:
    """The order key and planned date of the request, without reading the EHR."""
    assert form.request is not None and form.as_of is not None  # a valid form
    return request_order_key(context.patient_id, form.request, form.as_of), form.as_of.isoformat()


def _kept_bundle(context: LaunchContext, key: str) -> dict[str, Any] | None:
    """The transaction kept for this order of this launch's EHR and patient, checked against the launch."""
    store = draft_store()
    try:
        kept = kept_for_launch(store, key, fhir_base=context.fhir_base, patient_id=context.patient_id)
    except KeptDraftMismatch as error:
        _audit(context, "order.kept-draft-refused", key, "row of another EHR or patient")
        raise AppError(
            404, "no-kept-draft", "No draft kept in the app", "The app keeps no draft of this order.",
            issue_code="not-found",
        ) from error  # fmt: skip
    return store.export(key, ehr=context.fhir_base) if kept is not None else None


def _summary(outcome: OrderOutcome) -> str:
    counts: dict[str, int] = {}
    for item in outcome.written:
        counts[item["action"]] = counts.get(item["action"], 0) + 1
    written = ", ".join(f"{count} {action}" for action, count in sorted(counts.items())) or "nothing written"
    return f"{written}; kept locally" if outcome.kept_locally else written


def _audit(context: LaunchContext, event: str, key: str, detail: str) -> None:
    """An audit row naming the launch, its EHR, the user and the order key (a hash: no PHI)."""
    app_services = services()
    with app_services.database.session() as db:
        record_event(
            db,
            event,
            now=app_services.clock(),
            launch_id=context.launch_id,
            ehr_name=context.registration.name,
            actor=context.fhir_user,
            detail=f"order {key}: {detail}",
        )


def _json_form() -> CheckForm:
    form = request_form(json_body())
    if not form.valid:
        raise InvalidForm(form)
    return form


def _query_form() -> CheckForm:
    return valid_request_form(values_from_multidict(request.args))


def _confirm_page(context: LaunchContext, form: CheckForm, check: LaunchCheck) -> str:
    """Ask before saving a draft order the checklist found not eligible (a plain form: works without JavaScript)."""
    return render_template(
        "orders_confirm.html",
        context=context,
        form=form,
        verdict=verdict_view(check.result),
        banner=patient_banner(check.record.patient),
        checklist=checklist_url(context.launch_id, form, "result"),
        confirm_value=CONFIRM_NOT_ELIGIBLE,
        csrf_token=csrf_token(),
    )


def _outcome_page(
    context: LaunchContext, form: CheckForm, outcome: OrderOutcome, check: LaunchCheck, *, action: str
) -> str:
    written: list[dict[str, str | None]] = [
        {**item, "link": item["reference"] if is_viewable(*_split(item["reference"])) else None}
        for item in outcome.written
    ]
    in_ehr = [item["reference"] for item in outcome.written if item["reference"].startswith("ServiceRequest/")]
    return render_template(
        "orders_outcome.html",
        context=context,
        form=form,
        outcome=outcome,
        written=written,
        action=action,
        verdict=check.result["verdict"],
        banner=patient_banner(check.record.patient),
        has_draft_in_ehr=action == "save" and bool(in_ehr),
        checklist=checklist_url(context.launch_id, form),
        csrf_token=csrf_token(),
    )


def _split(reference: str) -> tuple[str, str]:
    kind, _, resource_id = reference.partition("/")
    return kind, resource_id
