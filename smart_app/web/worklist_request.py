"""Blueprint `worklist_request`: one prior-authorization request for staff, and what they can do with it.

    GET  /s/<launch_id>/worklist/<request_id>             details, clock, history, notes, the payer's ClaimResponses
    POST /s/<launch_id>/worklist/<request_id>/status      move it (the lifecycle's staff moves), with a note
    POST /s/<launch_id>/worklist/<request_id>/assign      assign it (empty: unassign; "me": the signed-in user)
    POST /s/<launch_id>/worklist/<request_id>/note        add a note
    POST /s/<launch_id>/worklist/<request_id>/submit      send it to its payer's PAS endpoint (once)

Building the packet (and its downloads) is `web/worklist_packet.py`; "ready to submit" needs a kept packet.

Every POST checks the form's CSRF token; every change is recorded with who and when (the request's history) and
in the audit log (`web/audit_trail.py`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from smart_app.core import prior_auth as lifecycle
from smart_app.core.packet.model import PLACES_OF_SERVICE
from smart_app.store.prior_auth_packets import kept_packet
from smart_app.store.prior_auth_requests import PriorAuthRequest, RequestNotFound
from smart_app.web.browser_session import check_csrf, csrf_token
from smart_app.web.errors import AppError
from smart_app.web.launch_context import LaunchContext, load_launch_context
from smart_app.web.prior_auth_services import actor_of, notify_secret, prior_auth
from smart_app.web.services import services
from smart_app.web.worklist import when
from smart_app.web.worklist_packet_store import packet_summary
from smart_app.workflow.submission import NotifyChannel, SubmissionError, review_actions, submit_request

bp = Blueprint("worklist_request", __name__, url_prefix="/s/<launch_id>/worklist/<request_id>")


def load_request(context: LaunchContext, request_id: str) -> PriorAuthRequest:
    try:
        found = prior_auth().store.get(request_id, now=services().clock())
    except RequestNotFound:
        found = None
    if found is None or found.ehr_name != context.registration.name:
        raise AppError(
            404,
            "unknown-request",
            "No such request",
            "This prior-authorization request does not exist.",
            issue_code="not-found",
        )
    return found


@bp.get("")
def detail(launch_id: str, request_id: str) -> str:
    context = load_launch_context(launch_id)
    item = load_request(context, request_id)
    store = prior_auth().store
    payer = prior_auth().payers.for_payer(item.payer_id)
    packet = kept_packet(services().database, item.id)
    responses = [
        {
            **response,
            "when": when(response["received_at"]),
            "actions": review_actions(response["resource"]),
            "json": json.dumps(response["resource"], indent=2),
        }
        for response in store.claim_responses(item.id)
    ]
    return render_template(
        "worklist/request.html",
        context=context,
        item=item,
        history=store.history(item.id),
        responses=responses,
        moves=[
            (s, lifecycle.STATUS_LABELS[s])
            for s in lifecycle.allowed_next(item.status, "staff")
            if s != lifecycle.SUBMITTED
        ],
        payer=payer,
        when=when,
        clock=lifecycle.DECISION_CLOCKS.get(item.program),
        csrf_token=csrf_token(),
        message=request.args.get("message", ""),
        error=request.args.get("error", ""),
        packet=packet,
        packet_says=packet_summary(packet) if packet else {},
        places=sorted(PLACES_OF_SERVICE.items()),
        choices=packet.choices if packet else {"service_date": str(item.details.get("as_of") or "")},
        packet_form=bool(item.details.get("form")),
        today=datetime.fromtimestamp(services().clock(), UTC).date().isoformat(),
    )


def back_to_request(launch_id: str, request_id: str, *, message: str = "", error: str = "") -> WerkzeugResponse:
    url = url_for("worklist_request.detail", launch_id=launch_id, request_id=request_id)
    params = {"message": message} if message else {"error": error} if error else {}
    return redirect(f"{url}?{urlencode(params)}" if params else url, code=303)


@bp.post("/status")
def change_status(launch_id: str, request_id: str) -> WerkzeugResponse:
    context = load_launch_context(launch_id)
    check_csrf()
    item = load_request(context, request_id)
    target = request.form.get("status", "")
    note = request.form.get("note", "").strip()[:2000]
    try:
        lifecycle.check_transition(item.status, target, "staff")
        if target == lifecycle.SUBMITTED:
            raise lifecycle.TransitionError("use Submit to payer to send the request")
    except lifecycle.TransitionError as error:
        return back_to_request(launch_id, request_id, error=str(error))
    if target == lifecycle.READY and kept_packet(services().database, item.id) is None:
        return back_to_request(
            launch_id, request_id, error="Build the packet first: ready to submit means the packet is complete."
        )
    if target == lifecycle.CANCELLED and not note:
        return back_to_request(launch_id, request_id, error="say why the request is cancelled")
    prior_auth().store.transition(
        item.id, target, actor_kind="staff", actor=actor_of(context), now=services().clock(), note=note
    )
    return back_to_request(launch_id, request_id, message=f"Status: {lifecycle.STATUS_LABELS[target]}")


@bp.post("/assign")
def assign(launch_id: str, request_id: str) -> WerkzeugResponse:
    context = load_launch_context(launch_id)
    check_csrf()
    item = load_request(context, request_id)
    assignee = request.form.get("assignee", "").strip()
    if assignee == "me":
        assignee = actor_of(context)
    prior_auth().store.assign(item.id, assignee, actor=actor_of(context), now=services().clock())
    return back_to_request(launch_id, request_id, message=f"Assigned to {assignee}" if assignee else "Unassigned")


@bp.post("/note")
def add_note(launch_id: str, request_id: str) -> WerkzeugResponse:
    context = load_launch_context(launch_id)
    check_csrf()
    item = load_request(context, request_id)
    note = request.form.get("note", "").strip()
    if not note:
        return back_to_request(launch_id, request_id, error="the note is empty")
    prior_auth().store.add_note(item.id, note, actor=actor_of(context), now=services().clock())
    return back_to_request(launch_id, request_id, message="Note added")


@bp.post("/submit")
def submit(launch_id: str, request_id: str) -> WerkzeugResponse:
    context = load_launch_context(launch_id)
    check_csrf()
    item = load_request(context, request_id)
    payer = prior_auth().payers.for_payer(item.payer_id)
    if payer is None:
        return back_to_request(launch_id, request_id, error=f"no PAS endpoint is configured for payer {item.payer_id}")
    app_services = services()
    public_url = current_app.config.get("PUBLIC_URL")
    path = url_for("payer_notifications.notify", payer_name=payer.name)
    endpoint = (
        f"{str(public_url).rstrip('/')}{path}"
        if public_url
        else url_for("payer_notifications.notify", payer_name=payer.name, _external=True)
    )
    try:
        result = submit_request(
            prior_auth().store,
            item.id,
            payer,
            app_services.signing_keys,
            actor=actor_of(context),
            clock=app_services.clock,
            http=app_services.http,
            notify=NotifyChannel(endpoint, f"Authorization: Bearer {notify_secret(payer.name)}"),
            priority="expedited" if request.form.get("priority") == "expedited" else "standard",
        )
    except SubmissionError as error:
        return back_to_request(launch_id, request_id, error=f"Not submitted: {error}")
    stamp = datetime.fromtimestamp(app_services.clock(), UTC).strftime("%H:%M")
    return back_to_request(
        launch_id, request_id, message=f"Submitted to {payer.title} at {stamp} UTC: {result.request.status_label}"
    )
