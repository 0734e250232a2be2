"""Blueprint `payer_notifications`: the rest-hook endpoint a payer POSTs PAS notifications to (Subscriptions R5
Backport on R4, `full-resource`: the response Bundle inside), so pended requests are updated without polling.

    POST /payer-notifications/<payer_name>     Authorization: Bearer <the secret we gave in the Subscription>

Machine to machine, so no CSRF token: the bearer secret (per payer, compared in constant time) is the proof.
Answers 204, or an OperationOutcome (401 wrong secret, 404 unknown payer, 400 not a notification Bundle).
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request

from smart_app.web.audit_trail import audit
from smart_app.web.prior_auth_services import notify_secret, prior_auth
from smart_app.web.services import services
from smart_app.workflow.submission import SubmissionError, apply_notification

bp = Blueprint("payer_notifications", __name__)


def _outcome(status: int, code: str, message: str) -> Response:
    response = jsonify(
        {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": message}]}
    )
    response.status_code = status
    response.mimetype = "application/fhir+json"
    return response


@bp.post("/payer-notifications/<payer_name>")
def notify(payer_name: str) -> Response:
    payer = prior_auth().payers.by_name(payer_name)
    if payer is None:
        return _outcome(404, "not-found", "unknown payer")
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(sent, notify_secret(payer.name)):
        return _outcome(401, "security", "the notification does not carry our subscription's secret")
    now = services().clock()
    try:
        updated = apply_notification(prior_auth().store, request.get_json(silent=True), now=now)
    except SubmissionError as error:
        return _outcome(400, "structure", str(error))
    for item in updated:
        audit(
            "prior-auth.status-change",
            subject=f"PriorAuthRequest/{item.id}",
            actor=f"payer {payer.name}",
            detail=f"notification: {item.status}",
            ehr_name=item.ehr_name,
        )
    return Response(status=204)
