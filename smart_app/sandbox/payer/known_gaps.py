"""The exact list of validator findings we tolerate (../shared/data/README.md), one list for the payer and the
tests: packages PAS names that are not shipped (here: the R5 cross-version extensions package behind PAS's
Claim.encounter slice) and terminology no public validator has (X12, and CPT/LOINC/ICD-10-CM/CMS POS/NUCC, which
our validator reports as warnings, so they never reach this filter)."""

from __future__ import annotations

import re
from typing import Any

XVER_GAP = "Unable to resolve profile CanonicalType[http://hl7.org/fhir/5.0/StructureDefinition/extension-"
CHOICE_CASCADE = ("did not match any of the allowed profiles", "Unable to find a match for the specified profile among")
ALTERNATIVE = "profile-claim-update|2.2.1"  # the other Claim choice of the PAS Bundle (an update, which ours is not)


def _where(issue: dict[str, Any]) -> str:
    return str((issue.get("expression") or [""])[0])


def unexpected_issues(outcome: dict[str, Any]) -> list[dict[str, Any]]:
    """The error and fatal issues that are not known gaps. A profile-choice failure on a Bundle entry counts as a
    gap only when every error of that entry against the profile it claims is itself a gap."""
    issues = [i for i in outcome.get("issue", []) if i.get("severity") in ("error", "fatal")]
    left = []
    for issue in issues:
        text = str(issue.get("diagnostics", ""))
        if XVER_GAP in text:
            continue
        if any(marker in text for marker in CHOICE_CASCADE) or ALTERNATIVE in text:
            entry = re.match(r"Bundle\.entry\[\d+\]", _where(issue))
            own = [
                other for other in issues
                if entry and _where(other).startswith(entry.group(0))
                and ALTERNATIVE not in str(other.get("diagnostics"))
                and not any(marker in str(other.get("diagnostics")) for marker in CHOICE_CASCADE)
            ]  # fmt: skip
            if entry and own and all(XVER_GAP in str(other.get("diagnostics")) for other in own):
                continue
        left.append(issue)
    return left


def unexpected_errors(outcome: dict[str, Any]) -> list[str]:
    """`unexpected_issues` as "expression: diagnostics" lines."""
    return [f"{_where(issue)}: {issue.get('diagnostics', '')}" for issue in unexpected_issues(outcome)]
