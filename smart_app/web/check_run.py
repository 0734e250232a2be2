"""One check for a launch: read the patient's record through the launch's FHIR client, apply the attestations kept
for this request, run the checklist. Shared by the checklist page, its JSON API, the draft-order actions and the
report export, so they all see the same result for the same request.

The record is read fresh for every check (no cache): on the sandbox a 16-resource record takes about 10 ms to
read and 3 ms to check, so reloading the page is the "refresh".
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import metadata
from typing import Any

from smart_app.core.documents import OrderContext
from smart_app.core.model import InvalidRequest
from smart_app.fhir.record import PatientRecord, fetch_patient_record
from smart_app.rules.loader import load_rules
from smart_app.store.attestations import Attestation, AttestationStore, answers_of
from smart_app.store.drafts import DraftStore
from smart_app.web.errors import AppError
from smart_app.web.forms import CheckForm, read_check_form
from smart_app.web.launch_context import LaunchContext
from smart_app.web.record_reads import record_read_slot
from smart_app.web.services import services
from smart_app.workflow.check import run_check

_CLINICIAN = re.compile(r"^(Practitioner|PractitionerRole)/[A-Za-z0-9\-.]{1,64}$")


@dataclass(frozen=True)
class LaunchCheck:
    """A check result with the record it was computed from and what it took."""

    form: CheckForm
    result: dict[str, Any]
    record: PatientRecord
    resources: list[dict[str, Any]]
    attestations: list[Attestation]
    fetch_seconds: float
    check_seconds: float

    @property
    def attested(self) -> dict[str, Attestation]:
        return {item.criterion_id: item for item in self.attestations}


def run_launch_check(
    context: LaunchContext, form: CheckForm, *, extra_answers: Mapping[str, Any] | None = None
) -> LaunchCheck:
    """Read the record and check `form`'s request; answers given here (the API's `answers`) win over the
    attestations kept for this request.

    Raises:
        FhirError: the record could not be read (RelaunchRequired when the session's tokens are gone).
        InvalidRequest: malformed answers, or a record without its Patient.
    """
    if form.request is None or form.as_of is None:
        raise ValueError("run_launch_check needs a valid form")
    if extra_answers is not None and not isinstance(extra_answers, Mapping):
        raise InvalidRequest("answers must be a JSON object keyed by criterion id")
    with record_read_slot():  # sign-ins and pages are not held behind a burst of record reads
        started = time.perf_counter()
        record = fetch_patient_record(context.fhir_client(), context.patient_id, readable_types=context.readable_types)
        fetched = time.perf_counter()
        resources = list(record.resources)
        if record.patient is not None and not any(r.get("resourceType") == "Patient" for r in resources):
            resources.insert(0, record.patient)
        attestations = attestation_store().for_request(context.launch_id, form.key(), ehr=context.fhir_base)
        answers = {**answers_of(attestations), **(extra_answers or {})}
        result = run_check(
            resources,
            form.request,
            as_of=form.as_of,
            answers=answers or None,
            skipped=record.skipped,
            unreadable=record.unreadable,
            payer_from_record=form.payer_from_record,
            patient_id=context.patient_id,
        )
    return LaunchCheck(
        form=form,
        result=result,
        record=record,
        resources=resources,
        attestations=attestations,
        fetch_seconds=fetched - started,
        check_seconds=time.perf_counter() - fetched,
    )


def request_form(values: Mapping[str, Any]) -> CheckForm:
    """The check request in `values` (a query, a form post or a JSON body), read against today's date and the
    payers the rules know."""
    return read_check_form(values, today=today(), payers=payer_ids())


def valid_request_form(values: Mapping[str, Any]) -> CheckForm:
    """`request_form` for an action behind a page, whose request was valid when the page was made.

    Raises:
        AppError: 400 when it is not valid.
    """
    form = request_form(values)
    if not form.valid:
        problems = "; ".join(form.errors.values())
        raise AppError(400, "invalid-request", "Bad request", f"The request is not valid: {problems}")
    return form


def checked_request(context: LaunchContext, form: CheckForm) -> LaunchCheck:
    """`run_launch_check` for the actions behind a page (attest, save, withdraw, export): a request the record
    cannot answer becomes a 400 page, not a crash.

    Raises:
        AppError: 400 for InvalidRequest; FhirError and RelaunchRequired as `run_launch_check`.
    """
    try:
        return run_launch_check(context, form)
    except InvalidRequest as error:
        raise AppError(400, "invalid-request", "Bad request", str(error), issue_code="invalid") from error


def order_context(context: LaunchContext, check: LaunchCheck, clinician: str = "") -> OrderContext:
    """Who orders (the launch's clinician, when fhirUser names one; `clinician` is their name and NPI as shown), for
    whom (the record checked), and when."""
    return OrderContext(
        recorded=now(),
        resources=check.resources,
        requester=clinician_reference(context),
        requester_display=clinician,
        app_version=app_version(),
    )


def clinician_reference(context: LaunchContext) -> str | None:
    """The launch's fhirUser as a reference on the EHR's own server (`Practitioner/123`), or None when it names
    no clinician (a patient-facing launch, an open server, another server's user)."""
    user = context.fhir_user or ""
    base = context.fhir_base.rstrip("/") + "/"
    if user.startswith(base):
        user = user[len(base) :]
    return user if _CLINICIAN.match(user) else None


def attestation_store() -> AttestationStore:
    app_services = services()
    return AttestationStore(app_services.database, app_services.cipher)


def draft_store() -> DraftStore:
    app_services = services()
    return DraftStore(app_services.database, app_services.cipher)


def payer_ids() -> frozenset[str]:
    return frozenset(load_rules().payers)


def now() -> datetime:
    return datetime.fromtimestamp(services().clock(), UTC)


def today() -> date:
    """The app's local date (the default planned date of service)."""
    return datetime.fromtimestamp(services().clock()).date()


def app_version() -> str:
    try:
        return metadata.version("spine-auth")
    except metadata.PackageNotFoundError:
        return "0"
