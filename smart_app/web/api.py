"""The JSON API's edges: reading a JSON body, and answering every failure as a FHIR OperationOutcome whatever the
caller's Accept header says (400 bad request, 401 launch again, 403/404 from the launch check, 415 not JSON, 502
the EHR failed, with the server's diagnostics).

A JSON POST needs `Content-Type: application/json`, which a cross-site form cannot send without a CORS preflight
the app never answers; that is what keeps these cookie-authenticated endpoints safe from cross-site requests.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec

from flask import Response, jsonify, request

from smart_app.core.model import InvalidRequest
from smart_app.fhir.errors import FhirError
from smart_app.web.errors import AppError, from_fhir_error, relaunch_error
from smart_app.web.forms import FORM_ERROR, CheckForm
from smart_app.workflow.tokens import RelaunchRequired

logger = logging.getLogger(__name__)
P = ParamSpec("P")


class InvalidForm(Exception):
    """The request's fields failed validation; the response lists every field's problem."""

    def __init__(self, form: CheckForm) -> None:
        super().__init__("invalid request")
        self.form = form


def json_body() -> dict[str, Any]:
    """The request's JSON object.

    Raises:
        AppError: 415 when the body is not declared JSON, 400 when it is not a JSON object.
    """
    if not request.is_json:
        raise AppError(415, "not-json", "Send JSON", "Send the request body as application/json.", issue_code="invalid")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise AppError(400, "bad-json", "Bad request", "The body must be a JSON object.", issue_code="invalid")
    return body


def outcome_response(outcome: Mapping[str, Any], status: int) -> Response:
    response = jsonify(outcome)
    response.mimetype = "application/fhir+json"
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def form_outcome(form: CheckForm) -> dict[str, Any]:
    """One issue per invalid field, with the field's name as `expression`."""
    issues = []
    for name, message in form.errors.items():
        issue: dict[str, Any] = {"severity": "error", "code": "invalid", "details": {"text": message}}
        if name != FORM_ERROR:
            issue["expression"] = [name]
        issues.append(issue)
    return {"resourceType": "OperationOutcome", "issue": issues}


def json_errors(view: Callable[P, Response]) -> Callable[P, Response]:
    """Answer the view's failures as OperationOutcome JSON (only unexpected errors reach the app's handler)."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return view(*args, **kwargs)
        except InvalidForm as error:
            return outcome_response(form_outcome(error.form), 400)
        except InvalidRequest as error:
            bad = AppError(400, "invalid-request", "Bad request", str(error), issue_code="invalid")
            return outcome_response(bad.to_operation_outcome(), 400)
        except AppError as error:
            return outcome_response(error.to_operation_outcome(), error.status)
        except RelaunchRequired as error:
            relaunch = relaunch_error(error.reason)
            return outcome_response(relaunch.to_operation_outcome(), relaunch.status)
        except FhirError as error:
            logger.warning("FHIR error on %s: %s %s", request.endpoint, type(error).__name__, error.status)
            failure = from_fhir_error(error)
            return outcome_response(failure.to_operation_outcome(), failure.status)

    return wrapper
