"""A saved draft order enters the prior-authorization worklist, with what the check result and the record know:
procedure, CPT lines, levels and side, payer, verdict, the patient's two identifiers and the ordering provider.
Called once by the order pages when a save succeeded (written to the EHR, or kept in the app)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smart_app.core.documents import find_patient, order_key, patient_identity
from smart_app.core.model import InvalidRequest
from smart_app.rules.loader import load_rules
from smart_app.store.prior_auth_requests import PriorAuthRequest, RequestEntry
from smart_app.web.audit_trail import audit
from smart_app.web.check_run import LaunchCheck, clinician_reference
from smart_app.web.launch_context import LaunchContext
from smart_app.web.prior_auth_services import actor_of, prior_auth
from smart_app.web.services import services
from smart_app.workflow.order import OrderOutcome


def enter_worklist(context: LaunchContext, check: LaunchCheck, outcome: OrderOutcome) -> PriorAuthRequest | None:
    """Add (or refresh) the worklist request of a saved draft order; None when nothing was saved."""
    if not (outcome.written or outcome.kept_locally):
        return None
    entry = request_entry(context, check.result, check.resources, form_values=check.form.values)
    item, created = prior_auth().store.enter(entry, actor=actor_of(context), now=services().clock())
    if created:
        audit(
            "prior-auth.created",
            subject=f"PriorAuthRequest/{item.id}",
            actor=context.fhir_user,
            detail=f"draft order saved ({item.procedure}, {item.payer_id})",
            ehr_name=context.registration.name,
            launch_id=context.launch_id,
        )
    return item


def request_entry(
    context: LaunchContext,
    result: Mapping[str, Any],
    resources: list[dict[str, Any]],
    *,
    form_values: Mapping[str, str] | None = None,
) -> RequestEntry:
    """The worklist row of a check result. `details` keeps what the staff's packet build needs to run the same
    check again: the checklist form as entered (with its date pinned: the attestations are keyed by it) and the
    check result's request and date."""
    patient_ref = str(result["patient"]["reference"])
    identity = patient_identity(resources, patient_ref, str(result["patient"].get("display", "")))
    member_id = identity.second_value if identity.second_label == "Member ID" else ""
    request = result["request"]
    lines = list(result.get("coding", {}).get("lines", []))
    payer_id = str(request.get("payer", ""))
    try:
        payer_name = load_rules().payer(payer_id).title
    except InvalidRequest:  # an unknown payer id still enters the worklist, under its id
        payer_name = payer_id
    return RequestEntry(
        ehr_name=context.registration.name,
        order_key=order_key(result),
        patient_ref=patient_ref,
        patient_name=identity.name,
        birth_date=identity.birth_date if identity.birth_date != "unknown" else "",
        member_id=member_id,
        mrn=_mrn(find_patient(resources, patient_ref) or {}),
        procedure=str(request.get("procedure", "")),
        cpt=", ".join(_line_code(line) for line in lines),
        levels=", ".join(request.get("levels", [])),
        side=str(request.get("side", "")),
        payer_id=payer_id,
        payer_name=payer_name,
        ordering_provider=clinician_reference(context) or context.fhir_user or "",
        verdict=str(result.get("verdict", "")),
        details={
            "lines": [
                {k: line.get(k) for k in ("code", "modifiers", "units", "levels", "diagnoses")} for line in lines
            ],
            "setting": request.get("setting"),
            "as_of": result.get("as_of"),
            "policy": (result.get("policy") or {}).get("id"),
            "request": dict(request),
            "form": {**dict(form_values), "as_of": str(result.get("as_of"))} if form_values is not None else None,
        },
    )


def _line_code(line: Mapping[str, Any]) -> str:
    modifiers = "-".join(str(m) for m in line.get("modifiers", []))
    return f"{line.get('code')}{'-' + modifiers if modifiers else ''}"


def _mrn(patient: Mapping[str, Any]) -> str:
    for identifier in patient.get("identifier", []):
        codes = {coding.get("code") for coding in identifier.get("type", {}).get("coding", [])}
        if "MR" in codes and identifier.get("value"):
            return str(identifier["value"])
    return ""
