"""The complete record of one patient, read fast: one batch round trip, then every `next` page concurrently.

1. One batch Bundle holds the Patient read and one search per type (`_count` = `page_size`, default 200).
2. Each type's remaining pages are followed in a small thread pool, one chain per type, all types at once
   (a chain is sequential: each page names the next). Longest chains start first.
3. When the server rejects the batch or answers with something unusable, the same per-type searches run in
   parallel instead (with a warning); a single unusable batch entry falls back alone.

Types outside `readable_types` are not requested (`.unreadable`: "not granted: patient/Observation.rs"). A 403
on one type, or a type that failed or could only be read in part (page cap, foreign `next` link, an error on a
later page), goes to `.unreadable` with the reason; the resources read are kept. Only a 401, a server that
cannot be reached for the batch, or a Patient that cannot be read stop the fetch. Resources are screened by
`lenient.py` in the worker thread that read them and de-duplicated by type/id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from smart_app.fhir.client import FhirClient, SearchResult
from smart_app.fhir.errors import (
    FhirError,
    FhirForbidden,
    FhirHttpError,
    FhirMalformedResponse,
    FhirTransportError,
    FhirUnauthorized,
    error_for_status,
)
from smart_app.fhir.lenient import screen_resource, warm_models
from smart_app.fhir.paging import bundle_total, next_link

# The searches of a record: resource type → the search parameter naming the patient.
RECORD_SEARCHES: dict[str, str] = {
    "Condition": "patient",
    "Procedure": "patient",
    "ImagingStudy": "patient",
    "Observation": "patient",
    "DiagnosticReport": "patient",
    "DocumentReference": "patient",
    "MedicationRequest": "patient",
    "MedicationStatement": "patient",
    "Coverage": "beneficiary",
    "ServiceRequest": "patient",
    "Device": "patient",  # implanted stimulators and pacemakers: "not an RFA candidate" (TX-03)
}
RECORD_TYPES: tuple[str, ...] = ("Patient", *RECORD_SEARCHES)
# Resources the record's resources point to, read in the same searches with `_include` (when that type may be
# read): the Medication of a medicationReference (which analgesic), the Organization paying a Coverage (which payer).
RECORD_INCLUDES: dict[str, tuple[str, str]] = {
    "MedicationRequest": ("MedicationRequest:medication", "Medication"),
    "MedicationStatement": ("MedicationStatement:medication", "Medication"),
    "Coverage": ("Coverage:payor", "Organization"),
}
RECORD_INCLUDED_TYPES: tuple[str, ...] = ("Medication", "Organization")
DEFAULT_WORKERS = 6
# `_count` of the record's searches. Servers cap it at their maximum (HAPI public: 500) and page on; 200 read a
# 2,000-resource record in 5 requests instead of 16 at 100 (scripts/bench_fetch.py, 50 ms latency: 0.35 s vs 0.49 s).
RECORD_PAGE_SIZE = 200

_PATIENT_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass
class PatientRecord:
    """Raw FHIR JSON of one patient plus what could not be read and why."""

    patient_id: str
    patient: dict[str, Any] | None = None
    resources: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    request_count: int = 0
    page_count: int = 0
    used_batch: bool = False

    def counts(self) -> dict[str, int]:
        """Resources kept per type, in the order of RECORD_TYPES (types with none included as 0), then the
        resources read by `_include` (Medication, Organization) when there are any."""
        counts = dict.fromkeys(RECORD_TYPES, 0)
        for resource in self.resources:
            counts[resource["resourceType"]] = counts.get(resource["resourceType"], 0) + 1
        return counts


@dataclass
class _TypeOutcome:
    """What one type's worker produced."""

    resource_type: str
    kept: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unreadable: str | None = None
    page_count: int = 0


def warm_up() -> None:
    """Build the validators of every type the record reads (see `lenient.warm_models`)."""
    warm_models((*RECORD_TYPES, *RECORD_INCLUDED_TYPES))


def fetch_patient_record(
    client: FhirClient,
    patient_id: str,
    *,
    readable_types: Collection[str] | None = None,
    max_workers: int = DEFAULT_WORKERS,
    page_size: int = RECORD_PAGE_SIZE,
) -> PatientRecord:
    """Read Patient, Condition, Procedure, … ServiceRequest of one patient (see the module docstring).

    Raises:
        ValueError: `patient_id` is not a FHIR id.
        FhirNotFound: the Patient does not exist.
        FhirUnauthorized: the token was refused (refresh or relaunch).
        FhirTransportError: the server could not be reached.
    """
    if not _PATIENT_ID.match(patient_id):
        raise ValueError(f"not a FHIR patient id: {patient_id!r}")
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    counted = client.counting()  # a view of the client: own request counter, the record's page size
    counted.page_size = page_size
    record = PatientRecord(patient_id=patient_id)
    wanted = []
    for resource_type in RECORD_TYPES:
        if readable_types is None or resource_type in readable_types:
            wanted.append(resource_type)
        else:
            record.unreadable[resource_type] = f"not granted: patient/{resource_type}.rs"

    includable = {t for t in RECORD_INCLUDED_TYPES if readable_types is None or t in readable_types}
    urls = {t: _request_url(counted, t, patient_id, includable) for t in wanted}
    first_pages, refused = _batch_first_pages(counted, urls, record)
    record.unreadable.update(refused)
    to_read = [t for t in wanted if t not in refused]
    outcomes = _run_workers(counted, patient_id, to_read, first_pages, urls, max_workers)
    _merge(record, outcomes)
    record.request_count = counted.request_count
    return record


def _request_url(client: FhirClient, resource_type: str, patient_id: str, includable: Collection[str]) -> str:
    """The relative URL reading one type of the record (`_include` only for types that may be read)."""
    if resource_type == "Patient":
        return f"Patient/{patient_id}"
    params = {RECORD_SEARCHES[resource_type]: f"Patient/{patient_id}"}
    include = RECORD_INCLUDES.get(resource_type)
    if include is not None and include[1] in includable:
        params["_include"] = include[0]
    return client.search_url(resource_type, params, relative=True)


def _absolute(client: FhirClient, relative_url: str) -> str:
    return f"{client.base_url}/{relative_url}"


def _batch_first_pages(
    client: FhirClient, urls: dict[str, str], record: PatientRecord
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """First page (or the Patient) per type from one batch, and the types refused (403) with the reason.

    Types without a usable answer are left out: their worker searches them alone. A 401 entry, or a 404 on the
    Patient, raises.
    """
    wanted = list(urls)
    if not wanted:
        return {}, {}
    entries = [{"request": {"method": "GET", "url": urls[t]}} for t in wanted]
    try:
        response = client.batch(entries)
    except (FhirUnauthorized, FhirTransportError):
        raise
    except (FhirHttpError, FhirMalformedResponse) as exc:
        record.warnings.append(f"batch refused ({exc.brief()}); fetched each type with its own search")
        return {}, {}
    answers = response.get("entry")
    if response.get("type") != "batch-response" or not isinstance(answers, list) or len(answers) != len(entries):
        record.warnings.append("batch answer unusable (not a batch-response of the same size); fetched each type alone")
        return {}, {}
    record.used_batch = True
    first_pages: dict[str, dict[str, Any]] = {}
    refused: dict[str, str] = {}
    for resource_type, answer, entry in zip(wanted, answers, entries, strict=True):
        status, resource, outcome = _entry_answer(answer)
        expected = "Patient" if resource_type == "Patient" else "Bundle"
        ok = status is not None and 200 <= status < 300
        if ok and isinstance(resource, dict) and resource.get("resourceType") == expected:
            first_pages[resource_type] = resource
            continue
        if status == 403:
            error = error_for_status(method="GET", url=entry["request"]["url"], status=status, outcome=outcome)
            refused[resource_type] = f"refused by the server: {error.brief()}"
            continue
        if status == 401 or (status == 404 and resource_type == "Patient"):
            raise error_for_status(
                method="GET", url=_absolute(client, entry["request"]["url"]), status=status, outcome=outcome
            )
        record.warnings.append(f"{resource_type}: batch entry unusable (status {status}); searched alone")
    return first_pages, refused


def _entry_answer(answer: Any) -> tuple[int | None, Any, dict[str, Any] | None]:
    """(status, resource, outcome) of one batch-response entry."""
    if not isinstance(answer, dict):
        return None, None, None
    response = answer.get("response")
    status_text = response.get("status") if isinstance(response, dict) else None
    status = None
    if isinstance(status_text, str) and status_text.split()[:1] and status_text.split()[0].isdigit():
        status = int(status_text.split()[0])
    outcome = response.get("outcome") if isinstance(response, dict) else None
    resource = answer.get("resource")
    if outcome is None and isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome":
        outcome = resource
    return status, resource, outcome if isinstance(outcome, dict) else None


def _run_workers(
    client: FhirClient,
    patient_id: str,
    wanted: list[str],
    first_pages: dict[str, dict[str, Any]],
    urls: dict[str, str],
    max_workers: int,
) -> list[_TypeOutcome]:
    """One job per type: follow its pages (or search it from scratch) and screen what it read."""
    jobs: list[tuple[str, Callable[[], _TypeOutcome]]] = []
    for resource_type in wanted:
        if resource_type == "Patient":
            jobs.append((resource_type, _patient_job(client, patient_id, first_pages.get("Patient"))))
        else:
            job = _search_job(client, resource_type, patient_id, urls[resource_type], first_pages)
            jobs.append((resource_type, job))
    jobs.sort(key=lambda job: -_remaining_pages(client, first_pages.get(job[0])))
    outcomes: dict[str, _TypeOutcome] = {}
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(jobs))), thread_name_prefix="fhir-fetch") as pool:
        futures: list[tuple[str, Future[_TypeOutcome]]] = [(t, pool.submit(job)) for t, job in jobs]
        try:
            for resource_type, future in futures:
                outcomes[resource_type] = future.result()
        except BaseException:
            for _, future in futures:
                future.cancel()
            raise
    return [outcomes[t] for t in wanted]


def _remaining_pages(client: FhirClient, first_page: dict[str, Any] | None) -> int:
    """A guess of the pages still to read, to start the longest chains first (unknown totals go first too)."""
    if first_page is None:
        return client.max_pages
    if next_link(first_page, base_url=client.base_url) is None:
        return 0
    total = bundle_total(first_page)
    return client.max_pages if total is None else -(-total // client.page_size)


def _patient_job(client: FhirClient, patient_id: str, patient: dict[str, Any] | None) -> Callable[[], _TypeOutcome]:
    def job() -> _TypeOutcome:
        outcome = _TypeOutcome("Patient")
        try:
            resource = patient if patient is not None else client.read("Patient", patient_id)
        except FhirForbidden as exc:
            outcome.unreadable = f"refused by the server: {exc.brief()}"
            return outcome
        screening = screen_resource(resource, patient_id=patient_id)
        if screening.kept is None:
            raise FhirMalformedResponse(
                f"Patient/{patient_id} could not be used: {screening.skip_reason}",
                method="GET",
                url=f"{client.base_url}/Patient/{patient_id}",
            )
        outcome.kept.append(screening.kept)
        if screening.warning:
            outcome.warnings.append(screening.warning)
        return outcome

    return job


def _search_job(
    client: FhirClient, resource_type: str, patient_id: str, url: str, first_pages: dict[str, dict[str, Any]]
) -> Callable[[], _TypeOutcome]:
    def job() -> _TypeOutcome:
        outcome = _TypeOutcome(resource_type)
        try:
            page = first_pages.get(resource_type)
            if page is None:
                page = client.get_bundle(_absolute(client, url))
            result = client.collect_pages(page, label=resource_type, keep_partial=True)
        except FhirUnauthorized:
            raise
        except FhirForbidden as exc:
            outcome.unreadable = f"refused by the server: {exc.brief()}"
            return outcome
        except FhirError as exc:
            outcome.unreadable = f"could not be read: {exc.brief()}"
            outcome.warnings.append(f"{resource_type}: {exc.brief()}")
            return outcome
        _screen(outcome, result, patient_id)
        return outcome

    return job


def _screen(outcome: _TypeOutcome, result: SearchResult, patient_id: str) -> None:
    outcome.page_count = result.page_count
    outcome.warnings.extend(result.warnings)
    if not result.complete:
        outcome.unreadable = f"incomplete: {result.warnings[-1] if result.warnings else 'paging stopped early'}"
    outcome.skipped.extend(result.unusable)
    for raw in result.resources:
        screening = screen_resource(raw, patient_id=patient_id)
        if screening.kept is None:
            outcome.skipped.append({"reference": screening.reference, "reason": screening.skip_reason or "unusable"})
            continue
        outcome.kept.append(screening.kept)
        if screening.warning:
            outcome.warnings.append(screening.warning)


def _merge(record: PatientRecord, outcomes: list[_TypeOutcome]) -> None:
    seen: set[tuple[str, str]] = set()
    duplicates = 0
    for outcome in outcomes:
        record.page_count += outcome.page_count
        record.warnings.extend(outcome.warnings)
        record.skipped.extend(outcome.skipped)
        if outcome.unreadable is not None:
            record.unreadable[outcome.resource_type] = outcome.unreadable
        for resource in outcome.kept:
            key = (resource["resourceType"], resource["id"])
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            record.resources.append(resource)
            if resource["resourceType"] == "Patient":
                record.patient = resource
    if duplicates:
        record.warnings.append(f"{duplicates} duplicate resource(s) (same type and id) read more than once; kept one")
