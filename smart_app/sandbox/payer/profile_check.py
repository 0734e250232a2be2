"""The payer's second pass over a PAS request Bundle: HAPI FHIR's validator against the PAS request Bundle profile,
the known gaps (known_gaps.py) left out, every remaining error kept with the validator's FHIRPath expression."""

from __future__ import annotations

import re
from typing import Any

from .known_gaps import ALTERNATIVE, CHOICE_CASCADE, unexpected_issues
from .validator import REQUEST_BUNDLE_PROFILE, PasValidator

# HAPI reports a missing element at its parent ("Coverage.beneficiary: minimum required = 1, but only found 0" at
# `Bundle.entry[2].resource/*Coverage/null*/`): the expression we answer names the element itself.
# Consequences of another error (an entry that matches no allowed profile, a reference whose target fails its
# profile, the Claim-update alternative ours is not): answered after the errors that say what to fix.
_CONSEQUENCES = (*CHOICE_CASCADE, ALTERNATIVE, "Unable to find a profile match for")
_MINIMUM = re.compile(r"^[A-Z][A-Za-z]*(?:\.[A-Za-z0-9\[\]]+)*\.([A-Za-z0-9]+(?:\[x\])?): minimum required")


def profile_issues(validator: PasValidator, bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The OperationOutcome issues that make `bundle` unacceptable ([] when only known gaps are found), what to
    fix first and each once. Raises ValidatorUnavailable when the validator cannot answer (in time)."""
    outcome = validator.validate(bundle, REQUEST_BUNDLE_PROFILE)
    issues: dict[tuple[str, str], dict[str, Any]] = {}
    for issue in map(_naming_the_element, unexpected_issues(outcome)):
        issues.setdefault((issue["expression"][0], issue["diagnostics"]), issue)
    return sorted(issues.values(), key=lambda issue: any(text in issue["diagnostics"] for text in _CONSEQUENCES))


def _naming_the_element(issue: dict[str, Any]) -> dict[str, Any]:
    expression = str((issue.get("expression") or [""])[0])
    diagnostics = str(issue.get("diagnostics", ""))
    missing = _MINIMUM.match(diagnostics)
    if missing:
        element = missing.group(1).removesuffix("[x]")
        if not expression.endswith(f".{element}"):
            expression = f"{expression.removesuffix('.')}.{element}"
    return {
        "severity": issue.get("severity", "error"),
        "code": issue.get("code", "invalid"),
        "diagnostics": diagnostics,
        "expression": [expression],
    }
