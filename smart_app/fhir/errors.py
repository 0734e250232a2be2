"""Typed errors of the FHIR client. One tree, one mapping table (`error_for_status`).

    FhirError                     .method .url .status .outcome .diagnostics
    ├── FhirTransportError        no HTTP answer: connection refused or reset, DNS, TLS (status None)
    │   └── FhirTimeout           connect or read timeout
    ├── FhirHttpError             the server answered with a status we do not treat as success
    │   ├── FhirUnauthorized      401: the token is missing, expired or revoked (refresh, then relaunch)
    │   ├── FhirForbidden         403: the scope was not granted or the EHR refuses this user/app
    │   ├── FhirNotFound          404, 410
    │   ├── FhirConflict          409, 412: version conflict (HAPI answers 409 where R4 says 412)
    │   ├── FhirInvalid           400, 422: the request or the resource sent was rejected
    │   ├── FhirRateLimited       429 after the retries (`.retry_after` seconds when the server said)
    │   └── FhirServerError       5xx after the retries
    └── FhirMalformedResponse     a 2xx whose body is not the JSON we expected

`url` is the request URL as sent. The bearer token travels only in the Authorization header, so it never appears
in an error, its message or its repr. `diagnostics` is the OperationOutcome summarised as
`severity code: text; …`, HAPI's `HAPI-NNNN:` codes kept verbatim.
"""

from __future__ import annotations

from typing import Any

from smart_app.fhir.operation_outcome import summarize_outcome


class FhirError(Exception):
    """Base of every error the FHIR client raises."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        status: int | None = None,
        outcome: dict[str, Any] | None = None,
        diagnostics: str = "",
    ) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.status = status
        self.outcome = outcome
        self.diagnostics = diagnostics or summarize_outcome(outcome)

    def brief(self) -> str:
        """Status and diagnostics without the URL (which can name the patient): for warnings shown to users."""
        if self.status is not None:
            return f"HTTP {self.status}" + (f": {self.diagnostics}" if self.diagnostics else "")
        return self.diagnostics or type(self).__name__


class FhirTransportError(FhirError):
    """No HTTP response: connection refused or reset, name resolution, TLS."""


class FhirTimeout(FhirTransportError):
    """The connect or read timeout expired."""


class FhirHttpError(FhirError):
    """The server answered with an error status (4xx/5xx, or an unexpected 3xx)."""

    status: int


class FhirUnauthorized(FhirHttpError):
    """401: the access token is missing, expired or revoked."""


class FhirForbidden(FhirHttpError):
    """403: the granted scopes or the EHR's policy do not allow this request."""


class FhirNotFound(FhirHttpError):
    """404 or 410."""


class FhirConflict(FhirHttpError):
    """409 or 412: the resource changed since it was read (If-Match) or a conditional create matched several."""


class FhirInvalid(FhirHttpError):
    """400 or 422: the request or the resource was rejected as invalid."""


class FhirRateLimited(FhirHttpError):
    """429 that outlasted the retries, or whose Retry-After is longer than the client is willing to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after


class FhirServerError(FhirHttpError):
    """5xx that outlasted the retries."""


class FhirMalformedResponse(FhirError):
    """A success status whose body is not JSON, or not the resource the request must return."""


_STATUS_ERRORS: dict[int, type[FhirHttpError]] = {
    400: FhirInvalid,
    401: FhirUnauthorized,
    403: FhirForbidden,
    404: FhirNotFound,
    409: FhirConflict,
    410: FhirNotFound,
    412: FhirConflict,
    422: FhirInvalid,
    429: FhirRateLimited,
}


def error_for_status(
    *,
    method: str,
    url: str,
    status: int,
    reason: str = "",
    outcome: dict[str, Any] | None = None,
    diagnostics: str = "",
    retry_after: float | None = None,
) -> FhirHttpError:
    """The typed error for an HTTP error status, its message naming the request, status and diagnostics."""
    error_class = _STATUS_ERRORS.get(status) or (FhirServerError if status >= 500 else FhirHttpError)
    summary = diagnostics or summarize_outcome(outcome)
    message = f"{method} {url} failed: HTTP {status}{f' {reason}' if reason else ''}"
    if summary:
        message += f" ({summary})"
    context: dict[str, Any] = {
        "method": method,
        "url": url,
        "status": status,
        "outcome": outcome,
        "diagnostics": summary,
    }
    if error_class is FhirRateLimited:
        return FhirRateLimited(message, retry_after=retry_after, **context)
    return error_class(message, **context)
