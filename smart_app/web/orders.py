"""Blueprint `orders`: save or withdraw the draft order of a checked request, and export the checklist report.

    POST /s/<launch_id>/orders                  "Save draft order" (a form carrying the request): the page says what
                                                was written, or why not and that the draft was kept in the app
    POST /s/<launch_id>/orders/withdraw         "Withdraw draft"
    POST /s/<launch_id>/api/orders              the same as JSON: {check, written, kept_locally, reason, …}
    POST /s/<launch_id>/api/orders/withdraw     (the `smart-app order` output of ../shared/contracts/CLI.md)
    GET  /s/<launch_id>/export/report.pdf?<request>       the checklist report, always available
    GET  /s/<launch_id>/export/draft-order.json?<request> the draft kept in the app when the EHR did not take it

Every action runs the check again on a fresh read of the record (with the attestations kept for the request), so
what is saved is what the clinician sees. The order workflow never raises for an EHR refusal: it keeps the draft
in the app's database and says why.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, render_template, request

from smart_app.core.documents import order_key
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
from smart_app.web.errors import AppError
from smart_app.web.evidence import is_viewable
from smart_app.web.forms import CheckForm, values_from_multidict
from smart_app.web.launch_context import LaunchContext, load_launch_context
from smart_app.web.worklist_entry import enter_worklist
from smart_app.workflow.order import OrderOutcome, render_report, save_draft_order, withdraw_draft_order

bp = Blueprint("orders", __name__, url_prefix="/s/<launch_id>")


@bp.post("/orders")
def save(launch_id: str) -> str:
    context = load_launch_context(launch_id)
    check_csrf()
    form = posted_form()
    check, outcome = _save(context, form)
    return _outcome_page(context, form, outcome, check.result["verdict"], action="save")


@bp.post("/orders/withdraw")
def withdraw(launch_id: str) -> str:
    context = load_launch_context(launch_id)
    check_csrf()
    form = posted_form()
    check, outcome = _withdraw(context, form)
    return _outcome_page(context, form, outcome, check.result["verdict"], action="withdraw")


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
    check = checked_request(context, form)
    pdf = render_report(check.result, order_context(context, check))
    response = Response(pdf, mimetype="application/pdf")
    name = f"checklist-report-{check.result['as_of']}.pdf"  # no patient name in a file name
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/export/draft-order.json")
def export_draft(launch_id: str) -> Response:
    context = load_launch_context(launch_id)
    check = checked_request(context, _query_form())
    bundle = draft_store().export(order_key(check.result))
    if bundle is None:
        raise AppError(
            404,
            "no-kept-draft",
            "No draft kept in the app",
            "The app keeps no draft of this order: it was written to the EHR, withdrawn, or never saved.",
            issue_code="not-found",
        )
    response = Response(json.dumps(bundle, indent=2), mimetype="application/fhir+json")
    response.headers["Content-Disposition"] = f'attachment; filename="draft-order-{check.result["as_of"]}.json"'
    return response


# --- the work ----------------------------------------------------------------------------------------------------


def _save(context: LaunchContext, form: CheckForm) -> tuple[LaunchCheck, OrderOutcome]:
    check = checked_request(context, form)
    outcome = save_draft_order(
        context.fhir_client(),
        check.result,
        order_context(context, check),
        draft_store(),
        capabilities=None if context.is_open else context.capabilities,  # an open server decides for itself
    )
    enter_worklist(context, check, outcome)  # the prior-authorization worklist picks the saved order up
    return check, outcome


def _withdraw(context: LaunchContext, form: CheckForm) -> tuple[LaunchCheck, OrderOutcome]:
    check = checked_request(context, form)
    outcome = withdraw_draft_order(
        context.fhir_client(), order_key(check.result), order_context(context, check), draft_store()
    )
    return check, outcome


def _json_form() -> CheckForm:
    form = request_form(json_body())
    if not form.valid:
        raise InvalidForm(form)
    return form


def _query_form() -> CheckForm:
    return valid_request_form(values_from_multidict(request.args))


def _outcome_page(context: LaunchContext, form: CheckForm, outcome: OrderOutcome, verdict: str, *, action: str) -> str:
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
        verdict=verdict,
        has_draft_in_ehr=action == "save" and bool(in_ehr),
        checklist=checklist_url(context.launch_id, form),
        csrf_token=csrf_token(),
    )


def _split(reference: str) -> tuple[str, str]:
    kind, _, resource_id = reference.partition("/")
    return kind, resource_id
