"""Errors shown to people and to API callers: a readable page for browsers, an OperationOutcome for
`Accept: application/json` (or `application/fhir+json`). Never a stack trace, never a token or PHI in the log.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from smart_app.fhir.errors import (
    FhirError,
    FhirForbidden,
    FhirNotFound,
    FhirTimeout,
    FhirTransportError,
    FhirUnauthorized,
)
from smart_app.workflow.tokens import RelaunchRequired

logger = logging.getLogger(__name__)

RELAUNCH_MESSAGE = "Your session with the EHR has ended. Please launch the app again from your EHR."


class AppError(Exception):
    """An error with a status, a stable code, a title and a message a clinician can act on."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        message: str,
        *,
        relaunch: bool = False,
        issue_code: str = "processing",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.title = title
        self.message = message
        self.relaunch = relaunch
        self.issue_code = issue_code

    def to_operation_outcome(self) -> dict[str, Any]:
        return {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": self.issue_code,
                    "details": {
                        "coding": [{"system": "urn:spine-auth:error", "code": self.code}],
                        "text": self.message,
                    },
                    "diagnostics": self.title,
                }
            ],
        }


def relaunch_error(reason: str) -> AppError:
    return AppError(
        401,
        "relaunch-required",
        "Launch again from your EHR",
        f"{RELAUNCH_MESSAGE} ({reason})",
        relaunch=True,
        issue_code="login",
    )


def wants_json() -> bool:
    """True when the caller prefers JSON (an API client) over HTML (a browser)."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/fhir+json"])
    return best in ("application/json", "application/fhir+json")


def render_error(error: AppError, *, as_json: bool | None = None) -> Response:
    """The error as a page, or as an OperationOutcome for API callers (`as_json` overrides the Accept header)."""
    if wants_json() if as_json is None else as_json:
        response = jsonify(error.to_operation_outcome())
        response.mimetype = "application/fhir+json"
    else:
        response = Response(render_template("error.html", error=error), mimetype="text/html")
    response.status_code = error.status
    response.headers["Cache-Control"] = "no-store"
    return response


def from_fhir_error(error: FhirError) -> AppError:
    """What a FHIR failure means for the user (the URL, which can name the patient, is not shown)."""
    if isinstance(error, FhirUnauthorized):
        return relaunch_error("the EHR no longer accepts this session's token")
    if isinstance(error, FhirForbidden):
        return AppError(403, "fhir-forbidden", "The EHR refused access", error.brief(), issue_code="forbidden")
    if isinstance(error, FhirNotFound):
        return AppError(404, "fhir-not-found", "Not found in the EHR", error.brief(), issue_code="not-found")
    if isinstance(error, FhirTimeout):
        return AppError(
            504,
            "fhir-slow",
            "The EHR is slow to answer",
            "The EHR is answering too slowly, so the app stopped waiting for it "
            f"({error.brief()}). Please try again in a moment; if it stays slow, tell your EHR support team.",
            issue_code="timeout",
        )
    if isinstance(error, FhirTransportError):
        return AppError(502, "fhir-unreachable", "The EHR could not be reached", error.brief(), issue_code="transient")
    return AppError(502, "fhir-error", "The EHR answered with an error", error.brief(), issue_code="exception")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def handle_app_error(error: AppError) -> Response:
        return render_error(error)

    @app.errorhandler(RelaunchRequired)
    def handle_relaunch(error: RelaunchRequired) -> Response:
        return render_error(relaunch_error(error.reason))

    @app.errorhandler(FhirError)
    def handle_fhir_error(error: FhirError) -> Response:
        logger.warning("FHIR error on %s: %s %s", request.endpoint, type(error).__name__, error.status)
        return render_error(from_fhir_error(error))

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException) -> Response:
        status = error.code or 500
        title = error.name or "Error"
        issue_code = "not-found" if status == 404 else "invalid"
        return render_error(
            AppError(status, f"http-{status}", title, error.description or title, issue_code=issue_code)
        )

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Response:
        # Frames only: exception messages can carry URLs with patient ids.
        frames = "".join(traceback.format_tb(error.__traceback__))
        logger.error("unhandled %s in %s\n%s", type(error).__name__, request.endpoint, frames)
        return render_error(
            AppError(
                500,
                "internal-error",
                "Something went wrong",
                "The app hit an unexpected error.",
                issue_code="exception",
            )
        )
