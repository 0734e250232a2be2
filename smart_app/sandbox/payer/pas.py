"""PAS 2.2.1 on the payer's side: structural checks of a request Bundle, the review of its items, and the response
Bundle (ClaimResponse first, with reviewAction per item; valid against PAS 2.2.1 profile-pas-response-bundle) and
the rest-hook notification Bundle.

Structural checks follow the PAS request Bundle profile: a `collection` Bundle with `identifier` and `timestamp`,
every entry with a `fullUrl`, the Claim first with `use = preauthorization`, a patient, an insurer, a provider and
at least one item with a `productOrService`, and every reference in the Claim resolving inside the Bundle.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PAS = "http://hl7.org/fhir/us/davinci-pas"
REVIEW_ACTION_URL = f"{PAS}/StructureDefinition/extension-reviewAction"
REVIEW_ACTION_CODE_URL = f"{PAS}/StructureDefinition/extension-reviewActionCode"  # the `code` sub-extension's url
REVIEW_ACTION_CODES = "https://codesystem.x12.org/005010/306"
REVIEW_REASON_CODES = "https://codesystem.x12.org/external/886"  # PAS 2.2.1 X12278ReviewDecisionReasonCode
RESPONSE_BUNDLE_PROFILE = f"{PAS}/StructureDefinition/profile-pas-response-bundle"
CLAIM_RESPONSE_PROFILE = f"{PAS}/StructureDefinition/profile-claimresponse"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport"
CPT = "http://www.ama-assn.org/go/cpt"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
REVIEW_TEXT = {
    "A1": "Certified in total",
    "A2": "Certified - partial",
    "A3": "Not certified",
    "A4": "Pended",
    "A6": "Modified",
}


class InvalidRequest(ValueError):
    """The request Bundle breaks the PAS structure; `issues` are (FHIRPath, message) pairs."""

    def __init__(self, issues: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in issues))
        self.issues = issues


@cache
def review_rules() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((Path(__file__).parent / "rules.yaml").read_text())
    return loaded


def operation_outcome(issues: list[tuple[str, str]], *, code: str = "structure") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": code, "diagnostics": message, "expression": [path]}
            for path, message in issues
        ],
    }


def claim_of(bundle: Any) -> dict[str, Any]:
    """The Claim of a PAS request (or inquiry) Bundle after the structural checks; raises InvalidRequest."""
    issues: list[tuple[str, str]] = []
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidRequest([("Bundle", "the body must be a PAS request Bundle (or Parameters holding one)")])
    if bundle.get("type") != "collection":
        issues.append(("Bundle.type", "must be 'collection'"))
    if not (bundle.get("identifier") or {}).get("value"):
        issues.append(("Bundle.identifier", "required (the submission's business identifier)"))
    if not bundle.get("timestamp"):
        issues.append(("Bundle.timestamp", "required"))
    entries = bundle.get("entry") or []
    if not entries:
        raise InvalidRequest([*issues, ("Bundle.entry", "the Bundle is empty")])
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("fullUrl") or not isinstance(entry.get("resource"), dict):
            issues.append((f"Bundle.entry[{index}]", "every entry needs a fullUrl and a resource"))
    claim = entries[0].get("resource") if isinstance(entries[0], dict) else None
    if not isinstance(claim, dict) or claim.get("resourceType") != "Claim":
        raise InvalidRequest([*issues, ("Bundle.entry[0]", "the Claim must be the first entry")])
    if claim.get("use") != "preauthorization":
        issues.append(("Claim.use", "must be 'preauthorization'"))
    for element in ("patient", "insurer", "provider"):
        if not (claim.get(element) or {}).get("reference"):
            issues.append((f"Claim.{element}", "required"))
    items = claim.get("item") or []
    if not items:
        issues.append(("Claim.item", "at least one item is required"))
    for index, item in enumerate(items):
        if not (item.get("productOrService") or {}).get("coding"):
            issues.append((f"Claim.item[{index}].productOrService", "required"))
        if not isinstance(item.get("sequence"), int):
            issues.append((f"Claim.item[{index}].sequence", "required (a positive integer)"))
    full_urls = {entry.get("fullUrl") for entry in entries if isinstance(entry, dict)}
    local = {
        f"{entry['resource'].get('resourceType')}/{entry['resource'].get('id')}"
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict)
    }
    for path, reference in _references(claim, "Claim"):
        if reference not in full_urls and reference not in local:
            issues.append((path, f"reference {reference} does not resolve inside the Bundle"))
    if issues:
        raise InvalidRequest(issues)
    return claim


def _references(node: Any, path: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and not value.startswith("#"):
                found.append((f"{path}.reference", value))
            else:
                found += _references(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _references(value, f"{path}[{index}]")
    return found


def claim_identifier(claim: dict[str, Any]) -> str:
    identifiers = claim.get("identifier") or []
    return str(identifiers[0].get("value", "")) if identifiers else ""


@dataclass(frozen=True)
class ItemDecision:
    sequence: int
    code: str  # X12 HCR01: A1 | A2 | A3 | A4 | A6
    reason: str = ""  # a key of rules.yaml `reasons`


def review(claim: dict[str, Any], bundle: dict[str, Any]) -> list[ItemDecision]:
    """Our own checklist on the submitted data (rules.yaml): each item certified, not certified with a reason, or
    pended when the Bundle carries no clinical documentation."""
    rules = review_rules()
    diagnoses = [
        coding.get("code", "")
        for diagnosis in claim.get("diagnosis") or []
        for coding in (diagnosis.get("diagnosisCodeableConcept") or {}).get("coding", [])
    ]
    supported = any(code.startswith(tuple(rules["supporting_diagnoses"])) for code in diagnoses)
    documented = any(
        (entry.get("resource") or {}).get("resourceType") in ("DocumentReference", "QuestionnaireResponse")
        for entry in bundle.get("entry", [])[1:]
    )
    answers = checklist_answers(bundle)
    decisions = []
    for item in claim.get("item") or []:
        sequence = int(item["sequence"])
        codes = [coding.get("code") for coding in item["productOrService"]["coding"]]
        units = float((item.get("quantity") or {}).get("value", 1))
        if not any(code in rules["covered_cpt"] for code in codes):
            decisions.append(ItemDecision(sequence, "A3", "not-covered"))
        elif not supported:
            decisions.append(ItemDecision(sequence, "A3", "no-diagnosis"))
        elif units > rules["max_units_per_item"]:
            decisions.append(ItemDecision(sequence, "A3", "units"))
        elif "not-met" in answers.values():
            decisions.append(ItemDecision(sequence, "A3", "criteria-not-met"))
        elif not documented or "unknown" in answers.values():
            decisions.append(ItemDecision(sequence, "A4", "no-documentation"))
        else:
            decisions.append(ItemDecision(sequence, "A1"))
    return decisions


def checklist_answers(bundle: dict[str, Any]) -> dict[str, str]:
    """The requester's checklist as the Bundle's DTR QuestionnaireResponse answers it: criterion → status code
    (met, not-met, unknown, not-applicable). Empty when the Bundle carries no such answers."""
    found: dict[str, str] = {}

    def walk(items: list[Any]) -> None:
        for item in items:
            if not isinstance(item, dict):
                continue
            for answer in item.get("answer") or []:
                coding = (answer or {}).get("valueCoding") or {}
                if str(coding.get("system", "")).endswith("/CodeSystem/criterion-status") and coding.get("code"):
                    found[str(item.get("linkId"))] = str(coding["code"])
            walk(item.get("item") or [])

    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "QuestionnaireResponse":
            walk(resource.get("item") or [])
    return found


def uniform(claim: dict[str, Any], code: str, reason: str = "") -> list[ItemDecision]:
    """The same decision for every item (the test switches)."""
    return [ItemDecision(int(item["sequence"]), code, reason) for item in claim.get("item") or []]


def response_bundle(
    request_bundle: dict[str, Any],
    decisions: list[ItemDecision],
    *,
    auth_number: str,
    now: datetime,
    period_days: int = 90,
) -> dict[str, Any]:
    """The PAS response Bundle: ClaimResponse first (request echoing the Claim identifier, outcome, preAuthRef and
    preAuthPeriod when anything is certified, reviewAction per item, processNote with the denial reasons), then the
    patient and insurer it references."""
    claim = request_bundle["entry"][0]["resource"]
    by_reference = {entry["fullUrl"]: entry["resource"] for entry in request_bundle["entry"]}
    reasons = review_rules()["reasons"]
    codes = {decision.code for decision in decisions}
    pended = "A4" in codes
    certified = bool(codes & {"A1", "A2", "A6"}) and not pended
    claim_response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": str(uuid.uuid4()),  # a lowercase UUID: the entry's fullUrl is urn:uuid:<id>
        "meta": {"profile": [CLAIM_RESPONSE_PROFILE]},
        "identifier": [{"system": "urn:sandbox-payer:claim-response", "value": uuid.uuid4().hex}],
        "status": "active",
        "type": claim.get("type") or {"coding": [{"code": "professional"}]},
        "use": "preauthorization",
        "patient": claim["patient"],
        "created": now.isoformat(timespec="seconds"),
        "insurer": claim["insurer"],
        "requestor": claim["provider"],
        "request": {"identifier": (claim.get("identifier") or [{}])[0]},
        "outcome": "complete",  # PAS 2.2.1 allows complete | error | partial; a pended item says A4 itself
        "item": [_item(decision, auth_number if certified else "", reasons) for decision in decisions],
    }
    if certified:
        claim_response["preAuthRef"] = auth_number
        claim_response["preAuthPeriod"] = {
            "start": now.date().isoformat(),
            "end": (now.date() + timedelta(days=period_days)).isoformat(),
        }
    notes = [reasons[d.reason] for d in decisions if d.reason and d.code in ("A3", "A4")]
    if notes:
        claim_response["processNote"] = [
            {"number": index + 1, "type": "display", "text": text} for index, text in enumerate(dict.fromkeys(notes))
        ]
    entries = [{"fullUrl": f"urn:uuid:{claim_response['id']}", "resource": claim_response}]
    for reference in (claim["patient"]["reference"], claim["insurer"]["reference"]):
        if reference in by_reference:
            entries.append({"fullUrl": reference, "resource": by_reference[reference]})
    return {
        "resourceType": "Bundle",
        "meta": {"profile": [RESPONSE_BUNDLE_PROFILE]},
        "identifier": {"system": "urn:sandbox-payer:response", "value": str(uuid.uuid4())},
        "type": "collection",
        "timestamp": now.isoformat(timespec="seconds"),
        "entry": entries,
    }


def _item(decision: ItemDecision, auth_number: str, reasons: dict[str, str]) -> dict[str, Any]:
    review_action: list[dict[str, Any]] = [
        {
            "url": REVIEW_ACTION_CODE_URL,
            "valueCodeableConcept": {
                "coding": [
                    {"system": REVIEW_ACTION_CODES, "code": decision.code, "display": REVIEW_TEXT[decision.code]}
                ]
            },
        }
    ]
    if auth_number and decision.code in ("A1", "A2", "A6"):
        review_action.insert(0, {"url": "number", "valueString": auth_number})
    if decision.reason:
        review_action.append(
            {
                "url": "reasonCode",
                "valueCodeableConcept": {
                    "coding": [{"system": REVIEW_REASON_CODES, "code": decision.reason}],
                    "text": reasons.get(decision.reason, decision.reason),
                },
            }
        )
    return {
        "itemSequence": decision.sequence,
        "adjudication": [
            {
                "category": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": "submitted"}]
                },
                "extension": [{"url": REVIEW_ACTION_URL, "extension": review_action}],
            }
        ],
    }


def notification_bundle(subscription: dict[str, Any], event_number: int, response: dict[str, Any]) -> dict[str, Any]:
    """A Subscriptions R5 Backport (R4) `event-notification` history Bundle: a SubscriptionStatus Parameters first,
    then the full PAS response Bundle (`content = full-resource`)."""
    focus = f"urn:uuid:{response['identifier']['value']}"
    status = {
        "resourceType": "Parameters",
        "id": uuid.uuid4().hex,
        "meta": {"profile": [f"{BACKPORT}/StructureDefinition/backport-subscription-status-r4"]},
        "parameter": [
            {"name": "subscription", "valueReference": {"reference": f"Subscription/{subscription['id']}"}},
            {"name": "topic", "valueCanonical": f"{PAS}/SubscriptionTopic/PASSubscriptionTopic"},
            {"name": "status", "valueCode": "active"},
            {"name": "type", "valueCode": "event-notification"},
            {"name": "events-since-subscription-start", "valueString": str(event_number)},
            {
                "name": "notification-event",
                "part": [
                    {"name": "event-number", "valueString": str(event_number)},
                    {"name": "focus", "valueReference": {"reference": focus}},
                ],
            },
        ],
    }
    return {
        "resourceType": "Bundle",
        "id": uuid.uuid4().hex,
        "meta": {"profile": [f"{BACKPORT}/StructureDefinition/backport-subscription-notification-r4"]},
        "type": "history",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "entry": [
            {
                "fullUrl": f"urn:uuid:{status['id']}",
                "resource": status,
                "request": {"method": "GET", "url": f"Subscription/{subscription['id']}/$status"},
                "response": {"status": "200"},
            },
            {
                "fullUrl": focus,
                "resource": response,
                "request": {"method": "POST", "url": "Bundle"},
                "response": {"status": "201"},
            },
        ],
    }


def today() -> date:
    return datetime.now(UTC).date()
