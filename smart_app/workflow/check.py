"""Run one check: the record → facts → the payer's policy → checklist → coding → a check-result/v1 document.

The payer is the one the request names; when the request leaves it open (`payer_from_record=True`), the first active
Coverage a payer profile recognises chooses it, else Medicare. Either way the payer used is the result's
`request.payer`, and a warning says how it was chosen. The record can come from a Bundle file (`check_bundle`) or
from a FHIR server (`fetch_record`); `run_check` itself does no I/O besides reading the packaged rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from smart_app.core.bundles import record_from_bundle
from smart_app.core.checklist import evaluate, read_answers
from smart_app.core.coding import code_request
from smart_app.core.facts import PatientFacts, extract_facts
from smart_app.core.model import CheckRequest, InvalidRequest, Warning
from smart_app.core.policy import PayerProfile
from smart_app.core.suggestion import Suggestion, suggest_next_step
from smart_app.fhir.client import FhirClient
from smart_app.fhir.record import fetch_patient_record
from smart_app.rules.coding import load_coding_table
from smart_app.rules.loader import DEFAULT_PAYER, RuleSet, load_rules

SCHEMA_ID = "check-result/v1"
_FACET_PROCEDURE = "medial-branch-block"  # the facet policy's thresholds drive the suggestion


@dataclass
class FetchedRecord:
    """A patient's resources as read from a FHIR server, with what could not be read."""

    patient_id: str
    resources: list[dict[str, Any]]
    skipped: list[dict[str, str]] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def run_check(
    resources: list[dict[str, Any]],
    request: CheckRequest,
    *,
    as_of: date,
    answers: Any = None,
    skipped: Sequence[Mapping[str, str]] = (),
    unreadable: Mapping[str, str] | None = None,
    payer_from_record: bool = False,
    patient_id: str | None = None,
    rules: RuleSet | None = None,
) -> dict[str, Any]:
    """The check-result/v1 document for one patient's resources.

    Raises:
        InvalidRequest: no Patient in the resources, an unknown payer, or malformed answers (one-line message).
    """
    rules = rules or load_rules()
    parsed_answers = read_answers(answers)
    facts = extract_facts(resources, patient_id=patient_id, as_of=as_of)
    if facts.patient_reference is None or not any(r.get("resourceType") == "Patient" for r in resources):
        raise InvalidRequest("the record holds no Patient")
    payer, payer_warning = _choose_payer(rules, request, facts, payer_from_record)
    request = replace(request, payer=payer.id)
    policy = rules.policy_for(request.procedure, payer)
    checklist = evaluate(policy, request, facts, as_of=as_of, answers=parsed_answers, unreadable=unreadable)
    warnings = [payer_warning, *_unreadable_warnings(unreadable or {}), *checklist.warnings]
    result: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "patient": _patient(facts),
        "as_of": as_of.isoformat(),
        "request": request.to_json(),
        **checklist.to_json(),
        "coding": _coding(request, facts, payer),
        "warnings": [warning.to_json() for warning in warnings],
    }
    suggestion = suggest_next_step(facts, as_of, rules.policy_for(_FACET_PROCEDURE, payer))
    if suggestion is not None:
        result["suggestion"] = suggestion.to_json()
    all_skipped = [dict(item) for item in skipped] + facts.skipped
    if all_skipped:
        result["skipped_resources"] = all_skipped
    return result


def suggestion_for(
    facts: PatientFacts, *, as_of: date, payer_id: str | None = None, rules: RuleSet | None = None
) -> Suggestion | None:
    """The next step the record supports under the payer's facet thresholds (the record's payer when None)."""
    rules = rules or load_rules()
    payer = rules.payer(payer_id) if payer_id else (rules.recognise(facts.coverages) or rules.payer(DEFAULT_PAYER))
    return suggest_next_step(facts, as_of, rules.policy_for(_FACET_PROCEDURE, payer))


def check_bundle(
    bundle: Any, request: CheckRequest, *, as_of: date, patient_id: str | None = None, **options: Any
) -> dict[str, Any]:
    """Check the patient of a Bundle (any type). Raises InvalidBundle for an unusable bundle."""
    record = record_from_bundle(bundle, patient_id)
    return run_check(record.resources, request, as_of=as_of, patient_id=record.patient_id, **options)


def fetch_record(fhir_base: str, patient_id: str, *, token: str | None = None) -> FetchedRecord:
    """Read one patient's record from a FHIR server; no token means an open server (no Authorization header).

    Raises:
        ValueError: the base URL or the patient id is not usable.
        FhirError: the server failed (FhirNotFound when the patient does not exist).
    """
    client = FhirClient(fhir_base, token_source=(lambda: token) if token else None)
    record = fetch_patient_record(client, patient_id)
    resources = list(record.resources)
    if record.patient is not None and not any(r.get("resourceType") == "Patient" for r in resources):
        resources.insert(0, record.patient)
    return FetchedRecord(patient_id, resources, list(record.skipped), dict(record.unreadable), list(record.warnings))


def _choose_payer(
    rules: RuleSet, request: CheckRequest, facts: PatientFacts, from_record: bool
) -> tuple[PayerProfile, Warning]:
    if not from_record:
        payer = rules.payer(request.payer)
        return payer, Warning("payer", f"payer {payer.id} ({payer.title}) as requested")
    recognised = rules.recognise(facts.coverages)
    if recognised is not None:
        return recognised, Warning("payer", f"payer {recognised.id} ({recognised.title}) from the record's Coverage")
    names = "; ".join(name for c in facts.coverages if c.active for name in c.names[:1])
    found = f" (Coverage names no known payer: {names})" if names else " (no active Coverage in the record)"
    default = rules.payer(DEFAULT_PAYER)
    return default, Warning("payer", f"payer {default.id} assumed{found}; pass --payer to choose another")


def _unreadable_warnings(unreadable: Mapping[str, str]) -> list[Warning]:
    return [
        Warning("record-incomplete", f"{kind} could not be read ({reason}); criteria that search it stay unknown")
        for kind, reason in sorted(unreadable.items())
    ]


def _patient(facts: PatientFacts) -> dict[str, str]:
    patient = {"reference": facts.patient_reference or "Patient/unknown"}
    if facts.patient_display:
        patient["display"] = facts.patient_display
    return patient


def _coding(request: CheckRequest, facts: PatientFacts, payer: PayerProfile) -> dict[str, Any]:
    try:
        coded = code_request(request, facts.diagnoses, load_coding_table(), payer.coding)
    except InvalidRequest as error:  # a request the table cannot code still gets its checklist
        return {"lines": [], "alternatives": [], "warnings": [{"code": "not-coded", "message": str(error)}]}
    return coded.to_json()
