"""What the verdict banner and each criterion say, in words that never contradict the result (issue 9, part 4).

- The banner names the criteria that failed (`not-met`) and then those the record cannot prove (`unknown`), first.
- `ready` says the request can go to the payer only when nothing casts doubt on coverage: with a coverage warning
  (`*-coverage-uncertain`, e.g. pars injections, which the Medicare LCD does not address) it says coverage is
  uncertain instead.
- A criterion of our own clinical checklist is never called "the payer's policy": the criterion's `authority`
  (payer | clinical) decides, else the policy's, else the policy id (`spine-auth-*` is ours).
- A clause shows its public source (`citation`: LCD number and section, article, paper), never our internal file
  names ("policy-rules A.5").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

OUR_POLICY_PREFIX = "spine-auth"
COVERAGE_UNCERTAIN = re.compile(r"coverage-uncertain$")
INTERNAL_SOURCE = re.compile(r"policy-rules|fhir-conventions|\.md\b|\.ya?ml\b|\bS\d+\b", re.IGNORECASE)
# "(policy-rules.md section 0, A)", "policy-rules E.2": our research notes, cited inside some public citations.
INTERNAL_REFERENCE = re.compile(
    r"\s*\(?policy-rules(?:\.md)?(?:\s+section)?\s*[0-9A-Z][0-9A-Z.\-, ]*\)?|\s*\(S\d+(?:,[^)]*)?\)"
)
MARKS = {"ready": "✓", "needs-documentation": "!", "not-eligible": "✗"}
LABELS = {"ready": "Ready", "needs-documentation": "Needs documentation", "not-eligible": "Not eligible"}


def authority_of(item: Mapping[str, Any], policy: Mapping[str, Any]) -> str:
    """payer | clinical, for a criterion (or for the policy itself when `item` is the policy)."""
    for value in (item.get("authority"), policy.get("authority")):
        if value in ("payer", "clinical"):
            return str(value)
    return "clinical" if str(policy.get("id", "")).startswith(OUR_POLICY_PREFIX) else "payer"


def public_source(item: Mapping[str, Any]) -> str:
    """The public source of a clause or warning: its citation, else its source unless that is an internal name."""
    citation = public_text(str(item.get("citation") or ""))
    if citation:
        return citation
    source = str(item.get("source") or "").strip()
    return "" if INTERNAL_SOURCE.search(source) else source


def public_text(text: str) -> str:
    """`text` without references to our internal research notes."""
    return INTERNAL_REFERENCE.sub("", text).strip()


def coverage_warnings(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [w for w in result.get("warnings") or [] if COVERAGE_UNCERTAIN.search(str(w.get("code", "")))]


def verdict_view(result: Mapping[str, Any]) -> dict[str, Any]:
    """The banner: label, mark, headline naming the failing then unknown criteria, and what it means."""
    verdict = str(result["verdict"])
    policy = result.get("policy") or {}
    criteria = result.get("criteria") or []
    failed = [c for c in criteria if c.get("status") == "not-met"]
    unknown = [c for c in criteria if c.get("status") == "unknown"]
    uncertain = coverage_warnings(result)
    ours = authority_of({}, policy) == "clinical"
    view: dict[str, Any] = {
        "label": LABELS.get(verdict, verdict),
        "mark": MARKS.get(verdict, "?"),
        "failed": [_named(c) for c in failed],
        "unknown": [_named(c) for c in unknown],
        "coverage_uncertain": bool(uncertain) and verdict == "ready",
    }
    if verdict == "not-eligible":
        payer_failed = any(authority_of(c, policy) == "payer" for c in failed)
        view["meaning"] = (
            "The payer's policy does not cover this request as it stands."
            if payer_failed
            else "Our clinical checklist advises against this request as it stands (no payer policy decides it)."
        )
    elif verdict == "needs-documentation":
        view["meaning"] = (
            "Nothing in the record rules the patient out, but the record does not prove every criterion yet. "
            "Document them in the EHR, or attest them below with a note."
        )
    elif uncertain:
        view["label"] = "Ready, coverage uncertain"
        view["meaning"] = "Every criterion is met or does not apply, but coverage is uncertain: " + " ".join(
            str(w.get("message", "")).strip() for w in uncertain[:1]
        )
    elif ours:
        view["meaning"] = "Every criterion of our clinical checklist is met or does not apply."
    else:
        view["meaning"] = "Every criterion is met or does not apply: the request can go to the payer."
    return view


def clause_label(criterion: Mapping[str, Any], policy: Mapping[str, Any]) -> str:
    return "Payer policy" if authority_of(criterion, policy) == "payer" else "Clinical checklist (spine-auth)"


def _named(criterion: Mapping[str, Any]) -> dict[str, str]:
    return {
        "id": str(criterion.get("id", "")),
        "text": str(criterion.get("text", "")),
        "next_step": str(criterion.get("next_step") or ""),
    }
