"""Reading FHIR OperationOutcome resources into one line a person (or a log) can use.

HAPI puts its stable error codes at the start of `diagnostics` (`HAPI-0989: …`); they are kept verbatim so a
support engineer can look them up. Only `severity`, `code`, `details.text` and `diagnostics` are read: an issue's
`expression`/`location` can quote the request, and nothing else is needed to act on the error.
"""

from __future__ import annotations

from typing import Any


def is_operation_outcome(value: Any) -> bool:
    """True when `value` is a JSON object whose resourceType is OperationOutcome."""
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


def describe_issue(issue: Any) -> str:
    """One issue as `severity code: diagnostics` (falls back to `details.text` when there are no diagnostics)."""
    if not isinstance(issue, dict):
        return "malformed issue"
    severity = issue.get("severity") if isinstance(issue.get("severity"), str) else "issue"
    code = issue.get("code") if isinstance(issue.get("code"), str) else "unknown"
    text = issue.get("diagnostics")
    if not isinstance(text, str) or not text.strip():
        details = issue.get("details")
        text = details.get("text") if isinstance(details, dict) else None
    if isinstance(text, str) and text.strip():
        return f"{severity} {code}: {text.strip()}"
    return f"{severity} {code}"


def summarize_outcome(outcome: Any) -> str:
    """Every issue of an OperationOutcome joined with `; ` (empty string when it is not one or has no issues)."""
    if not is_operation_outcome(outcome):
        return ""
    issues = outcome.get("issue")
    if not isinstance(issues, list):
        return ""
    return "; ".join(describe_issue(issue) for issue in issues)


def has_errors(outcome: Any) -> bool:
    """True when the OperationOutcome holds an issue of severity `error` or `fatal`."""
    if not is_operation_outcome(outcome) or not isinstance(outcome.get("issue"), list):
        return False
    return any(isinstance(i, dict) and i.get("severity") in ("error", "fatal") for i in outcome["issue"])
