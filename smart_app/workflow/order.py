"""Write the draft order to the EHR exactly once, or keep it in the app when the EHR will not take it.

    outcome = save_draft_order(client, check_result, context, store, capabilities=launch_capabilities)
    outcome.written        [{"reference": "ServiceRequest/…", "action": "created" | "updated" | "unchanged"}]
    outcome.kept_locally   True when the EHR refused (or its answer was lost and could not be confirmed)
    outcome.reason         the refusal in plain words; outcome.diagnostics holds the server's own words

Saving reads what the EHR already holds for the order key (`core.documents`), then sends one transaction:
conditional creates for what is missing, If-Match updates for what changed, nothing at all when nothing changed.
A 409/412 (someone changed the order meanwhile) is answered by reading again and retrying once. A lost answer
(timeout, dropped connection) is answered by reading again: conditional creates make the second attempt find what
the first one made. Whatever the EHR refuses, the transaction Bundle and the reason are kept in the app's
database (`store.drafts`) so the clinician loses nothing and can export the draft.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from smart_app.core.documents import (
    APP_NAME,
    IDENTIFIER_SYSTEM,
    SYSTEM_DEVICE,
    SYSTEM_PROVENANCE_TAG,
    SYSTEM_REQUISITION,
    DraftOrder,
    OrderContext,
    OrderInputError,
    WritePlan,
    build_draft_order,
    existing_key,
    order_key,
    patient_identity,
    plan_withdrawal,
    plan_writes,
)
from smart_app.fhir.client import FhirClient
from smart_app.fhir.errors import (
    FhirConflict,
    FhirError,
    FhirForbidden,
    FhirInvalid,
    FhirMalformedResponse,
    FhirServerError,
    FhirTransportError,
    FhirUnauthorized,
)
from smart_app.fhir.scopes import ScopeCapabilities
from smart_app.render.report import render_checklist_report
from smart_app.store.drafts import DraftStore
from smart_app.workflow.reference_check import check_references, dangling_reason
from smart_app.workflow.report_cache import REPORTS

logger = logging.getLogger(__name__)

KEPT = "The draft is kept in the app and can be exported."


@dataclass
class OrderOutcome:
    """What saving (or withdrawing) a draft order did. `export_available` is always True: the draft can be
    exported from the app whether or not the EHR took it."""

    order_key: str
    written: list[dict[str, str]] = field(default_factory=list)
    kept_locally: bool = False
    reason: str | None = None
    diagnostics: str = ""
    notes: list[str] = field(default_factory=list)
    export_available: bool = True

    def to_json(self) -> dict[str, Any]:
        """The `smart-app order` fields (`written`, `kept_locally`, `reason`) plus the key and diagnostics."""
        return {
            "order_key": self.order_key,
            "written": list(self.written),
            "kept_locally": self.kept_locally,
            "reason": self.reason,
            "diagnostics": self.diagnostics or None,
            "notes": list(self.notes),
            "export_available": self.export_available,
        }


def render_report(check_result: Mapping[str, Any], context: OrderContext) -> bytes:
    """The checklist report PDF of a check result, with the patient's identifiers from the record (rendered once
    per check result, identity and clinician: see `report_cache`)."""
    patient = check_result["patient"]
    identity = patient_identity(context.resources, str(patient["reference"]), str(patient.get("display", "")))
    return REPORTS.pdf(check_result, identity, context.requester_display, render_checklist_report)


def save_draft_order(
    client: FhirClient,
    check_result: Mapping[str, Any],
    context: OrderContext,
    store: DraftStore | None,
    *,
    capabilities: ScopeCapabilities | None = None,
) -> OrderOutcome:
    """Write the draft order for `check_result` (see the module docstring). `capabilities` is what the launch's
    grant allows (None: unknown, as for an open server); without write scopes nothing is sent and the draft is
    kept locally. Never raises for an EHR refusal; raises OrderInputError only for a check result that cannot
    make an order."""
    try:
        draft = build_draft_order(check_result, context, report_pdf=render_report(check_result, context))
    except OrderInputError as error:
        return OrderOutcome(order_key=order_key(check_result), reason=str(error))

    if capabilities is not None and not capabilities.can_write_orders():
        missing = ", ".join(capabilities.missing_order_scopes())
        reason = f"The EHR did not give this app permission to write orders (missing: {missing}). {KEPT}"
        return _keep(store, client, draft, reason, "", context.recorded)
    with_provenance = capabilities is None or all(capabilities.allows(t, "c") for t in ("Provenance", "Device"))

    outcome = OrderOutcome(order_key=draft.key)
    first: WritePlan | None = None
    for attempt in (1, 2):
        try:
            existing = read_existing(client, draft.key)
        except FhirError as error:
            return _refused(store, client, draft, error, context.recorded, reading=True)
        plan = plan_writes(draft, existing, context, with_provenance=with_provenance)
        first = first or plan
        dangling = check_references(client, plan.bundle, context, existing)
        if dangling:
            return _keep(store, client, draft, dangling_reason(dangling), "", context.recorded)
        try:
            response = client.transaction(plan.bundle) if plan.bundle else None
        except FhirConflict as error:
            if attempt == 1:
                logger.info("draft order %s changed in the EHR while saving; reading it again", draft.key)
                continue
            reason = f"The order was changed in the EHR while it was being saved, and again on the retry. {KEPT}"
            return _keep(store, client, draft, reason, error.diagnostics, context.recorded)
        except (FhirTransportError, FhirMalformedResponse) as error:
            # A success reply that cannot be read (truncated, not a Bundle) is a lost answer too: the EHR may
            # hold the order, so read again by identifier rather than call it refused.
            if attempt == 1:
                logger.info("draft order %s: the EHR's answer was lost; checking what it holds", draft.key)
                continue
            reason = f"The EHR did not answer, twice; whether the order was saved is unknown. {KEPT}"
            return _keep(store, client, draft, reason, error.diagnostics, context.recorded)
        except FhirError as error:
            return _refused(store, client, draft, error, context.recorded)
        outcome.written = _merge(first, plan, plan.references(response))
        if plan is not first and plan.bundle is None:
            outcome.written += _provenance_of(client, first)
        outcome.notes = list(plan.notes)
        if not with_provenance:
            outcome.notes.append("No Provenance was written: the grant does not allow Provenance and Device writes.")
        if store is not None:
            store.forget(draft.key, ehr=client.base_url)
        return outcome
    raise AssertionError("unreachable")  # pragma: no cover


def withdraw_draft_order(
    client: FhirClient,
    key: str,
    context: OrderContext,
    store: DraftStore | None = None,
) -> OrderOutcome:
    """Withdraw the draft order with this key: every draft ServiceRequest of it becomes `revoked` (If-Match), with
    a Provenance. A draft only kept locally is dropped. Lines the EHR has moved past draft are left alone."""
    outcome = OrderOutcome(order_key=key, export_available=False)
    if store is not None and store.forget(key, ehr=client.base_url):
        outcome.notes.append("The draft kept in the app was discarded.")
    for attempt in (1, 2):
        try:
            existing = read_existing(client, key)
        except FhirError as error:
            return _withdraw_failed(outcome, error)
        lines = [item for item in existing.values() if item.get("resourceType") == "ServiceRequest"]
        if not lines:
            outcome.reason = outcome.reason or "The EHR holds no draft order with this key."
            return outcome
        plan = plan_withdrawal(key, lines, context, device=existing.get("device"))
        dangling = check_references(client, plan.bundle, context, existing)
        if dangling:
            outcome.reason = dangling_reason(dangling, withdrawing=True)
            return outcome
        try:
            response = client.transaction(plan.bundle) if plan.bundle else None
        except (FhirConflict, FhirTransportError, FhirMalformedResponse) as error:
            if attempt == 1:
                continue
            return _withdraw_failed(outcome, error)
        except FhirError as error:
            return _withdraw_failed(outcome, error)
        outcome.written = plan.references(response)
        return outcome
    raise AssertionError("unreachable")  # pragma: no cover


def read_existing(client: FhirClient, key: str) -> dict[str, dict[str, Any]]:
    """What the EHR holds for an order key: its ServiceRequests (by requisition), its DocumentReferences and our
    Device, keyed as `plan_writes` expects. Reads bypass caches: they must see the last write."""
    searches = [
        ("ServiceRequest", {"requisition": f"{SYSTEM_REQUISITION}|{key}"}),
        (
            "DocumentReference",
            {"identifier": f"{IDENTIFIER_SYSTEM}|{key}.report,{IDENTIFIER_SYSTEM}|{key}.check-result"},
        ),
        ("Device", {"identifier": f"{SYSTEM_DEVICE}|{APP_NAME}"}),
    ]
    found: dict[str, dict[str, Any]] = {}
    for resource_type, params in searches:
        for resource in client.search(resource_type, params, no_cache=True).resources:
            item_key = existing_key(resource)
            if item_key and item_key not in found:
                found[item_key] = resource
    return found


def _provenance_of(client: FhirClient, plan: WritePlan) -> list[dict[str, str]]:
    """The Provenance an earlier attempt of `plan` wrote (its answer was lost), found again by its tag."""
    for entry in (plan.bundle or {}).get("entry", []):
        resource = entry["resource"]
        if resource["resourceType"] != "Provenance":
            continue
        tag = resource["meta"]["tag"][0]["code"]
        try:
            found = client.search("Provenance", {"_tag": f"{SYSTEM_PROVENANCE_TAG}|{tag}"}, no_cache=True)
        except FhirError:
            return []
        return [{"reference": f"Provenance/{item['id']}", "action": "created"} for item in found.resources[:1]]
    return []


def _merge(first: WritePlan, final: WritePlan, written: list[dict[str, str]]) -> list[dict[str, str]]:
    """After a retry, a resource the first attempt created or updated and the retry found in place was written by
    us: report the first attempt's action, not `unchanged`."""
    if first is final:
        return written
    first_actions = {write.key: write.action for write in first.writes}
    merged = []
    for write, item in zip(final.writes, written, strict=True):
        action = item["action"]
        if action == "unchanged" and first_actions.get(write.key) in ("created", "updated"):
            action = first_actions[write.key]
        merged.append({**item, "action": action})
    return merged


def _refused(
    store: DraftStore | None,
    client: FhirClient,
    draft: DraftOrder,
    error: FhirError,
    now: datetime,
    *,
    reading: bool = False,
) -> OrderOutcome:
    what = "read the order back" if reading else "save the order"
    return _keep(store, client, draft, f"{plain_reason(error, what)} {KEPT}", error.diagnostics, now)


def plain_reason(error: FhirError, what: str = "save the order") -> str:
    """One sentence a clinician can act on, for an EHR error."""
    if isinstance(error, FhirUnauthorized):
        return "The EHR session has expired: launch the app again from the EHR."
    if isinstance(error, FhirForbidden):
        return f"The EHR refused to {what}: this app or user is not allowed to."
    if error.status == 405:
        return f"The EHR does not let apps {what} (the operation is not supported)."
    if isinstance(error, FhirInvalid):
        return f"The EHR rejected the order as invalid when asked to {what}."
    if isinstance(error, FhirServerError):
        return f"The EHR failed (server error) when asked to {what}."
    if isinstance(error, FhirTransportError):
        return f"The EHR could not be reached to {what}."
    return f"The EHR could not {what} (HTTP {error.status})."


def _keep(
    store: DraftStore | None, client: FhirClient, draft: DraftOrder, reason: str, diagnostics: str, now: datetime
) -> OrderOutcome:
    if store is not None:
        store.keep(
            order_key=draft.key,
            patient=draft.patient,
            fhir_base=client.base_url,
            bundle=draft.transaction(),
            reason=reason,
            diagnostics=diagnostics,
            now=now,
        )
    logger.info("draft order %s kept locally", draft.key)
    return OrderOutcome(order_key=draft.key, kept_locally=True, reason=reason, diagnostics=diagnostics)


def _withdraw_failed(outcome: OrderOutcome, error: FhirError) -> OrderOutcome:
    outcome.reason = plain_reason(error, "withdraw the order")
    outcome.diagnostics = error.diagnostics
    return outcome
